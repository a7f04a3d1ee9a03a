"""The synthetic CheXpert v1.0 download: exact file names, headers and value encodings."""

from __future__ import annotations

from pathlib import Path

from PIL import Image as PILImage

from cxrhub.builders import _labels, _sample
from cxrhub.builders.chexpert import BATCH1, COLUMNS, LABEL_FAMILIES, PREFIXES, TEST_TABLE

__all__ = ["SAMPLE", "TEST", "write"]

_CODES = {"1": "1.0", "0": "0.0", "u": "-1.0", ".": ""}
# split, patient, study, view, Sex, Age, Frontal/Lateral, AP/PA, labels in the CSV's column order
# (1 = 1.0, 0 = 0.0, u = -1.0, . = blank), cheXbert codes (None: no row), visualCheXbert codes
SAMPLE = (
    ("train", "patient00001", 1, "view1_frontal", "Female", "68", "Frontal", "AP",
     "1........0...1", "1........0...1", "10000000000001"),
    ("train", "patient00002", 1, "view1_frontal", "Female", "87", "Frontal", "AP",
     ".u1u.u...u....", ".u1..1...u....", "01110100000000"),
    ("train", "patient00002", 1, "view2_lateral", "Female", "87", "Lateral", "",
     "..1.....u.....", "..1...........", "00100000000000"),
    ("train", "patient00002", 2, "view1_frontal", "Female", "83", "Frontal", "PA",
     "..............", None, "00000000000000"),
    ("train", "patient21600", 1, "view1_frontal", "Male", "0", "Frontal", "AP",
     "..u1..0.1.1..1", "...1..0.1.1..1", "00010000101001"),
    ("train", "patient64540", 1, "view1_frontal", "Unknown", "55", "Frontal", "LL",
     "1.............", "1.............", None),
    ("valid", "patient64541", 1, "view1_frontal", "Male", "73", "Frontal", "AP",
     "00000100100001", None, None),
    ("valid", "patient64541", 1, "view2_lateral", "Male", "73", "Lateral", "",
     "00000100100001", None, None),
    ("valid", "patient64542", 1, "view1_frontal", "Female", "70", "Frontal", "PA",
     "10000000000000", None, None),
)  # fmt: skip
# the CheXlocalize test set: patient, study, view, 14 labels (0/1 only) in the CSV's order
TEST = (
    ("patient64741", 1, "view1_frontal", "00100010000001"),
    ("patient64742", 1, "view1_frontal", "10000000000000"),
    ("patient64742", 1, "view2_lateral", "10000000000000"),
)
MISSING = ("train", "patient00003", 1, "view1_frontal", "Male", "40", "Frontal", "PA",
           "1.............", None, None)  # fmt: skip
_OBSERVATIONS = COLUMNS[5:]


def write(root: Path, variant: str, chexbert: bool, test: bool, missing_image: bool) -> Path:
    """The synthetic CheXpert tree (see ``chexpert.write_sample``)."""
    if variant not in ("small", "full", "batches", "plain"):
        raise ValueError(f"variant {variant!r}: choose small, full, batches or plain")
    prefix = {"small": PREFIXES["small"] + "/", "plain": ""}.get(variant, PREFIXES["full"] + "/")
    base = {"batches": root / BATCH1, "plain": root}.get(variant, root / prefix)
    size = (40, 48) if variant == "small" else (80, 96)
    tables: dict[str, list] = {"train": [COLUMNS], "valid": [COLUMNS]}
    families: dict[str, list] = {"chexbert": [COLUMNS], "visual_chexbert": [_visual_header()]}
    rows = SAMPLE + ((MISSING,) if missing_image else ())
    for n, (split, patient, study, view, sex, age, fl, ap, codes, cb, vcb) in enumerate(rows):
        inner = f"{split}/{patient}/study{study}/{view}.jpg"
        tables[split].append((prefix + inner, sex, age, fl, ap, *_codes(codes)))
        info = ("CheXpert-v1.0/" + inner, sex, age, fl, ap)
        if cb is not None:
            families["chexbert"].append((*info, *_codes(cb)))
        if vcb is not None:  # written in CHEXPERT_14 order under the alphabetical header
            visual = dict(zip(_OBSERVATIONS, _codes(vcb), strict=True))
            families["visual_chexbert"].append((*info, *(visual[o] for o in _labels.CHEXPERT_14)))
        if (split, patient) == MISSING[:2]:
            continue
        _jpeg(root / _image_path(variant, base, split, inner), n, size)
    train_dir = base
    for split, table in tables.items():
        _sample.write_table(train_dir / f"{split}.csv", table)
    if chexbert:
        for family, table in families.items():
            _sample.write_table(root / LABEL_FAMILIES[family], table)
    if test:
        folder = root / "CheXpert"
        table = [("Path", *_OBSERVATIONS)]
        for n, (patient, study, view, codes) in enumerate(TEST):
            inner = f"test/{patient}/study{study}/{view}.jpg"
            table.append((inner, *codes))
            _jpeg(folder / inner, 100 + n, size)
        _sample.write_table(folder / TEST_TABLE, table)
    return root


def _image_path(variant: str, base: Path, split: str, inner: str) -> Path:
    if variant != "batches" or split == "valid":
        return base / inner
    patient = inner.split("/")[1]
    number = int(patient.removeprefix("patient"))
    batch = 2 if number < 21514 else 3 if number < 43018 else 4
    return base.parent / f"CheXpert-v1.0 batch {batch} (train {batch - 1})" / inner.split("/", 1)[1]


def _jpeg(path: Path, seed: int, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = _sample.synthetic_radiograph(seed, size)
    PILImage.fromarray(pixels).save(path, format="JPEG", quality=95)


def _codes(codes: str) -> list[str]:
    if len(codes) != 14:
        raise ValueError(f"{codes!r}: 14 codes expected")
    return [_CODES[c] for c in codes]


def _visual_header() -> tuple[str, ...]:
    return (*COLUMNS[:5], *_labels.CHEXPERT_14)
