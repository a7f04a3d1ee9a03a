"""CheXpert v1.0 (Stanford AIMI, 2019): 224,316 chest radiographs of 65,240 patients, 14 labels.

Layout (any of these under the source root):

- ``CheXpert-v1.0-small/`` (downsampled JPEG, legacy/Kaggle) or ``CheXpert-v1.0/`` (legacy full
  resolution): ``train.csv``, ``valid.csv``, ``{train,valid}/patientNNNNN/studyM/viewK_frontal.jpg``
  (or ``viewK_lateral.jpg``). ``Path`` in the CSVs carries the root prefix (or none: the root
  itself may hold ``train.csv`` and ``valid.csv``).
- Current AIMI full resolution, unpacked: ``CheXpert-v1.0 batch 1 (validate & csv)/`` (``valid/``,
  ``valid.csv``; ``train.csv`` there or at the root: unconfirmed), ``... batch 2 (train 1)/`` to
  ``... batch 4 (train 3)/`` holding ``patientNNNNN/studyM/``; a train patient's images are looked
  up in whichever batch holds its folder.
- Optional at the root: ``train_cheXbert.csv`` and ``train_visualCheXbert.csv`` (label families
  ``chexbert`` and ``visual_chexbert``, joined on the image path; columns read by name) and the
  CheXlocalize test set ``test_labels.csv`` (``Path`` like ``test/patientNNNNN/...`` relative to
  the CSV's folder; at the root, in ``CheXpert/`` or next to ``valid.csv``).

Tables: 19 columns (``Path, Sex, Age, Frontal/Lateral, AP/PA`` + 14 observations), values ``1.0``,
``0.0``, ``-1.0`` (uncertain) or blank, stored as nullable int8 in CHEXPERT_14 order
(:mod:`cxrhub.builders._labels`). ``Age`` 0 means unknown and is null; ``Sex`` keeps ``Unknown``.
Splits: train (223,414 images), validation (``valid.csv``: 234 images, 200 patients, radiologist
labels 0/1) and test (``test_labels.csv``: 668 images, 500 patients; empty without it). A family
whose file is absent is null in every row (the features never change; ``check()`` reports which
families exist). Uncertain labels are kept as released: map them at load time with
``_labels.apply_uncertain(values, policy="ones" | "zeros" | "ignore")``.

Access: credentialed (Stanford AIMI Research Use Agreement: personal, non-commercial research;
no copy may be distributed without Stanford's written permission).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from datasets import Features, Image, Value

from cxrhub.builders import _labels
from cxrhub.builders._spec import Access, CardStats, DatasetSpec, Record
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError

__all__ = ["COLUMNS", "FEATURES", "LABEL_FAMILIES", "SPEC", "check", "iter_records", "write_sample"]

CITATION = """@inproceedings{irvin2019chexpert,
  title = {CheXpert: A Large Chest Radiograph Dataset with Uncertainty Labels and Expert
           Comparison},
  author = {Irvin, Jeremy and Rajpurkar, Pranav and Ko, Michael and Yu, Yifan and
            Ciurea-Ilcus, Silviana and Chute, Chris and Marklund, Henrik and Haghgoo, Behzad and
            Ball, Robyn and Shpanskaya, Katie and Seekins, Jayne and Mong, David A. and
            Halabi, Safwan S. and Sandberg, Jesse K. and Jones, Ricky and Larson, David B. and
            Langlotz, Curtis P. and Patel, Bhavik N. and Lungren, Matthew P. and Ng, Andrew Y.},
  booktitle = {Proceedings of the AAAI Conference on Artificial Intelligence},
  volume = {33},
  number = {01},
  pages = {590--597},
  year = {2019},
  doi = {10.1609/aaai.v33i01.3301590}
}"""

_HOMEPAGE = "https://aimi.stanford.edu/datasets/chexpert-chest-x-rays"

SPEC = DatasetSpec(
    name="chexpert",
    pretty_name="CheXpert",
    version="1.0.0",
    access=Access.CREDENTIALED,
    homepage=_HOMEPAGE,
    citation=CITATION,
    terms=(
        "Credentialed: each user must register with Stanford AIMI and accept the CheXpert "
        "Research Use Agreement (personal, non-commercial research only). The data must not be "
        "distributed, published or reproduced without Stanford's written permission; read the "
        f"agreement on the download page linked from {_HOMEPAGE}."
    ),
    license="other",
    license_name="stanford-aimi-research-use",
    license_link=_HOMEPAGE,
    expected_files=(
        "train.csv (Path prefixed CheXpert-v1.0-small/ or CheXpert-v1.0/)",
        "valid.csv",
        "train/patientNNNNN/studyM/viewK_frontal.jpg or viewK_lateral.jpg",
        "valid/patientNNNNN/studyM/viewK_frontal.jpg or viewK_lateral.jpg",
        (
            "or, current AIMI full-res: CheXpert-v1.0 batch 1 (validate & csv)/valid/..., "
            "CheXpert-v1.0 batch 2 (train 1)/ ... batch 4 (train 3)/patientNNNNN/studyM/..."
        ),
        "train_cheXbert.csv, train_visualCheXbert.csv (optional; AIMI download)",
        "test_labels.csv + test/patientNNNNN/... (optional; CheXlocalize test set)",
        "CHEXPERT DEMO.xlsx (optional; demographics keyed by PATIENT)",
    ),
    splits=("train", "validation", "test"),
    description=(
        "Frontal and lateral chest radiographs from Stanford Hospital with sex, age, view and "
        "14 observations labelled from the reports as positive, negative, uncertain or not "
        "mentioned: train (223,414 images) and a radiologist-labelled validation set (234 "
        "images, 200 patients), plus CheXpert's 668-image radiologist-labelled test set when its "
        "test_labels.csv is given; CheXbert and VisualCheXbert labels when present."
    ),
    card_stats=CardStats(age="age", sex="sex", view="ap_pa"),  # labels: int8 lists, not classes
    patient_field="patient_id",
)

BATCH1 = "CheXpert-v1.0 batch 1 (validate & csv)"
PREFIXES = {"small": "CheXpert-v1.0-small", "full": "CheXpert-v1.0"}
LABEL_FAMILIES = {"labels": None, "chexbert": "train_cheXbert.csv",
                  "visual_chexbert": "train_visualCheXbert.csv"}  # fmt: skip
TEST_TABLE = "test_labels.csv"
_INFO = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA")
_OBSERVATIONS = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices",
)  # fmt: skip
COLUMNS = (*_INFO, *_OBSERVATIONS)  # train.csv / valid.csv, in the release's order
SPLITS = {"train": "train", "valid": "validation", "test": "test"}
_PATH = re.compile(
    r"(?:CheXpert-v1\.0(?:-small)?/)?(train|valid|test)/(patient\d+)/study(\d+)/"
    r"(view\d+_(?:frontal|lateral))\.jpg"
)

FEATURES = Features({
    "image": Image(), "path": Value("string"), "patient_id": Value("string"),
    "study": Value("int32"), "sex": Value("string"), "age": Value("int32"),
    "frontal_lateral": Value("string"), "ap_pa": Value("string"),
    **{family: _labels.label_features() for family in LABEL_FAMILIES},
})  # fmt: skip


def check(root: Path) -> dict:
    """Find the layout and tables and check their headers; return what was found."""
    root = Path(root)
    if not root.is_dir():
        raise MissingSourceError(f"{root}: not a folder; expected a CheXpert v1.0 download")
    layout, base = _layout(root)
    tables = {"train": _first(root, [_join(base, "train.csv"), "train.csv"])}
    tables["valid"] = _join(base, "valid.csv")
    if tables["train"] is None:
        raise MissingSourceError(f"{root / base / 'train.csv'}: missing; expected {list(COLUMNS)}")
    tables["test"] = _first(root, [TEST_TABLE, f"CheXpert/{TEST_TABLE}", _join(base, TEST_TABLE)])
    for family, name in LABEL_FAMILIES.items():
        if name:
            tables[family] = _first(root, [name, _join(base, name)])
    for table, rel in tables.items():
        if rel is not None:
            _columns(root / rel, full=table in ("train", "valid"))
    families = {f: f == "labels" or tables[f] is not None for f in LABEL_FAMILIES}
    return {
        "layout": layout,
        "tables": tables,
        "label_families": families,
        "test_set": tables["test"] is not None,
        "missing_optional": [
            name
            for name, rel in (
                (TEST_TABLE, tables["test"]),
                *((n, tables[f]) for f, n in LABEL_FAMILIES.items() if n),
            )
            if rel is None
        ],  # fmt: skip
        "train_batches": _batches(root) if layout == "batches" else {},
    }


def _layout(root: Path) -> tuple[str, str]:
    if (root / BATCH1).is_dir():
        if not (root / BATCH1 / "valid.csv").is_file():
            raise MissingSourceError(f"{root / BATCH1 / 'valid.csv'}: missing; expected {COLUMNS}")
        return "batches", BATCH1
    for layout, prefix in PREFIXES.items():
        if (root / prefix / "valid.csv").is_file():
            return layout, prefix
    if (root / "valid.csv").is_file():
        return "plain", ""
    raise MissingSourceError(
        f"{root}: no valid.csv; expected CheXpert-v1.0-small/valid.csv, CheXpert-v1.0/valid.csv, "
        f"'{BATCH1}/valid.csv' or valid.csv (with train.csv and train/, valid/)"
    )


def _first(root: Path, candidates: list[str]) -> str | None:
    return next((c for c in candidates if (root / c).is_file()), None)


def _batches(root: Path) -> dict[str, str]:
    """patientNNNNN -> the train batch folder that holds it."""
    found: dict[str, str] = {}
    for folder in sorted(root.glob("CheXpert-v1.0 batch *")):
        for patient in sorted(folder.glob("patient*")):
            found.setdefault(patient.name, folder.name)
    return found


def _read(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for row in reader:
                if any(v.strip() for v in row):
                    yield reader.line_num, row
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceLayoutError(f"{path}: unreadable ({exc}); download it again") from exc


def _columns(path: Path, full: bool) -> dict[str, int]:
    """Column -> index by name: ``Path`` and the 14 observations (aliased) always, the four
    information columns too for train/valid.csv (optional elsewhere)."""
    header = [h.strip() for h in next(_read(path), (0, []))[1]]
    required = _INFO if full else ("Path",)
    missing = [c for c in required if c not in header]
    if missing:
        raise SourceLayoutError(
            f"{path}: missing column(s) {missing}; expected {list(COLUMNS)}, found {header}"
        )
    cols = {c: header.index(c) for c in _INFO if c in header}
    found = _labels.label_columns(header, where=str(path))
    return cols | dict(zip(_labels.CHEXPERT_14, found, strict=True))


def iter_records(root: Path) -> Iterator[Record | BadInputError]:
    """One record per row of train.csv, valid.csv and (when present) test_labels.csv, with the
    CheXbert and VisualCheXbert labels of the same image path (null without a row)."""
    root = Path(root)
    layout = check(root)
    tables = layout["tables"]
    extra = {f: _read_labels(root / tables[f]) for f in LABEL_FAMILIES if f != "labels"
             and tables[f]}  # fmt: skip
    for table in ("train", "valid", "test"):
        if tables[table] is None:
            continue
        path = root / tables[table]
        cols = _columns(path, full=table != "test")
        base = tables[table].rpartition("/")[0]
        for line, row in list(_read(path))[1:]:
            where = f"{path.name} line {line}"
            released = _cell(row, cols, "Path")
            match = _PATH.fullmatch(released)
            if match is None:
                message = f"{where}: column 'Path' {released!r}; expected train|valid|test/" \
                    "patientNNNNN/studyM/viewK_frontal|lateral.jpg"  # fmt: skip
                yield BadInputError(released or where, "table", message)
                continue
            rel = _image(layout, base, match)
            try:
                fields = _fields(row, cols, where, match)
                for family in extra:
                    fields[family] = extra[family].get(_name(match))
                    if isinstance(fields[family], str):
                        raise ValueError(fields[family])
            except ValueError as exc:
                yield BadInputError(rel, "table", f"{where}: {exc}")
                continue
            split = SPLITS[match.group(1)]
            if split != SPLITS[table]:
                yield BadInputError(rel, "table", f"{where}: a {split} image in {path.name}")
                continue
            fields |= {f: None for f in LABEL_FAMILIES if f not in fields}
            key = f"{match.group(2)}_study{match.group(3)}_{match.group(4)}"
            yield Record(key=key, split=split, source=rel, media={"image": rel}, fields=fields)


def _image(layout: dict, base: str, match: re.Match) -> str:
    """Where the image of a normalised ``Path`` lies, relative to the root."""
    split, patient, study, view = match.groups()
    inner = f"{patient}/study{study}/{view}.jpg"
    if layout["layout"] != "batches" or split == "test":  # test: relative to test_labels.csv
        return _join(base, f"{split}/{inner}")
    if split == "valid":
        return f"{BATCH1}/valid/{inner}"
    number = int(patient.removeprefix("patient"))
    batch = 2 if number < 21514 else 3 if number < 43018 else 4  # the rule when it is absent
    folder = layout["train_batches"].get(
        patient, f"CheXpert-v1.0 batch {batch} (train {batch - 1})"
    )
    return f"{folder}/{inner}"


def _name(match: re.Match) -> str:
    """The image's path without the dataset prefix: ``train/patientNNNNN/studyM/viewK_x.jpg``."""
    split, patient, study, view = match.groups()
    return f"{split}/{patient}/study{study}/{view}.jpg"


def _join(base: str, rest: str) -> str:
    return f"{base}/{rest}" if base not in ("", ".") else rest


def _cell(row: list[str], cols: dict[str, int], column: str) -> str:
    return row[cols[column]].strip() if column in cols and cols[column] < len(row) else ""


def _fields(row: list[str], cols: dict[str, int], where: str, match: re.Match) -> dict:
    if len(row) <= max(cols.values()):
        raise ValueError(f"{len(row)} fields, expected {max(cols.values()) + 1}")
    age = _cell(row, cols, "Age")
    if age and not age.isdigit():
        raise ValueError(f"column 'Age' {age!r}: expected a whole number of years")
    return {
        "path": _cell(row, cols, "Path"),
        "patient_id": match.group(2),
        "study": int(match.group(3)),
        "sex": _cell(row, cols, "Sex") or None,
        "age": int(age) or None if age else None,  # 0: unknown
        "frontal_lateral": _cell(row, cols, "Frontal/Lateral") or None,
        "ap_pa": _cell(row, cols, "AP/PA") or None,
        "labels": _label_row(row, cols),
    }


def _label_row(row: list[str], cols: dict[str, int]) -> list[int | None]:
    return [_labels.parse_label(_cell(row, cols, n), where=f"column {n!r}")
            for n in _labels.CHEXPERT_14]  # fmt: skip


def _read_labels(path: Path) -> dict[str, list | str]:
    """``train/patient.../viewK_*.jpg`` -> its 14 labels, or what is wrong with its row."""
    cols = _columns(path, full=False)
    found: dict[str, list | str] = {}
    for line, row in list(_read(path))[1:]:
        where = f"{path.name} line {line}"
        match = _PATH.fullmatch(_cell(row, cols, "Path"))
        if match is None:
            raise SourceLayoutError(f"{path} line {line}: column 'Path' {row[:1]}: not an image")
        name = _name(match)
        try:
            if len(row) <= max(cols.values()):
                raise ValueError(f"{len(row)} fields, expected {max(cols.values()) + 1}")
            values: list | str = _label_row(row, cols)
        except ValueError as exc:
            values = f"{where}: {exc}"
        found[name] = f"{where}: a second row for {name}" if name in found else values
    return found


def write_sample(
    root: Path, variant: str = "small", chexbert: bool = True, test: bool = True,
    missing_image: bool = False,
) -> Path:  # fmt: skip
    """A synthetic download in the release's exact layout (made-up patients and values).

    Args:
        variant: ``small`` (``CheXpert-v1.0-small/``), ``full`` (``CheXpert-v1.0/``), ``batches``
            (the unpacked current AIMI zips) or ``plain`` (CSVs at the root, no Path prefix).
        chexbert: write ``train_cheXbert.csv`` and ``train_visualCheXbert.csv``.
        test: write the CheXlocalize ``CheXpert/test_labels.csv`` and its images.
        missing_image: add a train.csv row whose image is not on disk.
    """
    from cxrhub.builders import _chexpert_sample

    return _chexpert_sample.write(Path(root), variant, chexbert, test, missing_image)
