"""NIH ChestX-ray14 (NIH Clinical Center, 2017): 112,120 frontal PNGs of 30,805 patients.

Layout (either download):

- NIH Box: ``images/<8-digit patient>_<3-digit follow-up>.png`` (from ``images_01..12.tar.gz``),
  ``Data_Entry_2017_v2020.csv``, ``BBox_List_2017.csv``, ``train_val_list.txt``, ``test_list.txt``.
- Kaggle (``nih-chest-xrays/data``): ``images_001/images/*.png`` ... ``images_012/images/*.png``,
  ``Data_Entry_2017.csv`` (trailing comma, CRLF, zero-padded ids, ages like ``058Y``), same lists.

Labels: 14 findings plus ``No Finding`` (``|``-joined). Boxes: 984 in ``BBox_List_2017.csv``, in
1024x1024 pixel space, where ``Infiltrate`` means ``Infiltration``. Splits: the official
``train_val_list.txt`` (train) and ``test_list.txt`` (test), patient-disjoint.

Access: public; the NIH asks for the citation and an acknowledgement of the NIH Clinical Center.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from datasets import ClassLabel, Features, Image, List, Value

from cxrhub.builders import _sample
from cxrhub.builders._spec import Access, CardStats, DatasetSpec, Record
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError

__all__ = ["FEATURES", "LABELS", "SPEC", "check", "iter_records", "write_sample"]

CITATION = """@inproceedings{wang2017chestxray8,
  title = {ChestX-ray8: Hospital-scale Chest X-ray Database and Benchmarks on Weakly-Supervised
           Classification and Localization of Common Thorax Diseases},
  author = {Wang, Xiaosong and Peng, Yifan and Lu, Le and Lu, Zhiyong and Bagheri, Mohammadhadi
            and Summers, Ronald M.},
  booktitle = {IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages = {3462--3471},
  year = {2017}
}"""

TABLES = ("Data_Entry_2017_v2020.csv", "Data_Entry_2017.csv")  # preferred first
BBOX_TABLE = "BBox_List_2017.csv"
SPLIT_LISTS = {"train": "train_val_list.txt", "test": "test_list.txt"}

SPEC = DatasetSpec(
    name="nih-cxr14",
    pretty_name="NIH ChestX-ray14",
    version="1.0.0",
    access=Access.PUBLIC,
    homepage="https://nihcc.app.box.com/v/ChestXray-NIHCC",
    citation=CITATION,
    terms=(
        "Public, no registration. The NIH Clinical Center asks users to cite the paper and to "
        "acknowledge the NIH Clinical Center as the data provider."
    ),
    license="cc0-1.0",
    expected_files=(
        "Data_Entry_2017_v2020.csv (NIH Box) or Data_Entry_2017.csv (Kaggle)",
        "images/*.png (NIH Box) or images_001/images/*.png ... images_012/images/*.png (Kaggle)",
        BBOX_TABLE,
        SPLIT_LISTS["train"],
        SPLIT_LISTS["test"],
    ),
    splits=("train", "test"),
    description=(
        "112,120 frontal chest radiographs (1024x1024 8-bit PNG) of 30,805 patients with 14 "
        "text-mined finding labels, 984 radiologist bounding boxes, age, sex and view position."
    ),
    card_stats=CardStats(labels="labels", age="age_years", sex="sex", view="view"),
    patient_field="patient_id",
)

LABELS = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema", "Fibrosis",
    "Hernia", "Infiltration", "Mass", "Nodule", "Pleural_Thickening", "Pneumonia", "Pneumothorax",
    "No Finding",
)  # fmt: skip
_BOX_ALIASES = {"Infiltrate": "Infiltration"}

FEATURES = Features(
    {
        "image": Image(),
        "image_id": Value("string"),
        "patient_id": Value("int32"),
        "follow_up": Value("int32"),
        "age_years": Value("float32"),
        "sex": Value("string"),
        "view": Value("string"),
        "labels": List(ClassLabel(names=list(LABELS))),
        "boxes": List(
            {
                "label": ClassLabel(names=list(LABELS)),
                "x": Value("float64"),
                "y": Value("float64"),
                "w": Value("float64"),
                "h": Value("float64"),
            }
        ),
        "original_width": Value("int32"),
        "original_height": Value("int32"),
        "pixel_spacing_x": Value("float64"),
        "pixel_spacing_y": Value("float64"),
    }
)

# feature -> accepted header names; the bracketed pairs are split across two CSV fields.
_COLUMNS = {
    "image_id": ("Image Index",),
    "labels": ("Finding Labels",),
    "follow_up": ("Follow-up #",),
    "patient_id": ("Patient ID",),
    "age": ("Patient Age",),
    "sex": ("Patient Gender", "Patient Sex"),
    "view": ("View Position",),
    "original_width": ("OriginalImage[Width",),
    "original_height": ("Height]",),
    "pixel_spacing_x": ("OriginalImagePixelSpacing[x",),
    "pixel_spacing_y": ("y]",),
}
_AGE = re.compile(r"^(\d+)([YMD]?)$")
_AGE_UNIT_YEARS = {"": 1.0, "Y": 1.0, "M": 1 / 12, "D": 1 / 365.25}


def check(root: Path) -> dict:
    """Validate the download's layout before any work; return what was found."""
    root = Path(root)
    table = next((root / name for name in TABLES if (root / name).is_file()), None)
    if table is None:
        raise MissingSourceError(
            f"{root}: no label table; expected one of {', '.join(TABLES)} (see {SPEC.homepage})"
        )
    columns = _header_columns(table)
    for name in (BBOX_TABLE, *SPLIT_LISTS.values()):
        if not (root / name).is_file():
            raise MissingSourceError(f"{root / name}: missing; the release ships this file")
    image_dirs = _image_dirs(root)
    if not image_dirs:
        raise MissingSourceError(
            f"{root}: no images folder; expected images/ (NIH Box) or "
            "images_001/images/ ... images_012/images/ (Kaggle)"
        )
    return {
        "table": table.name,
        "columns": columns,
        "image_dirs": [d.relative_to(root).as_posix() for d in image_dirs],
    }


def iter_records(root: Path) -> Iterator[Record | BadInputError]:
    """One record per row of the label table, with its split, boxes and image path."""
    root = Path(root)
    layout = check(root)
    images = _index_images(root, layout["image_dirs"])
    splits = _read_splits(root)
    boxes = _read_boxes(root)
    table = root / layout["table"]
    default_dir = layout["image_dirs"][0]
    for line, row in _read_rows(table):
        name = row[layout["columns"]["image_id"]].strip()
        media = images.get(name, f"{default_dir}/{name}")
        try:
            fields = _parse_row(row, layout["columns"])
        except ValueError as exc:
            yield BadInputError(media, "table", f"{table.name} line {line}: {exc}")
            continue
        fields["boxes"] = boxes.get(name, [])
        yield Record(
            key=_key(name),
            split=splits.get(name, ""),
            source=media,
            media={"image": media},
            fields=fields,
        )


def _header_columns(table: Path) -> dict[str, int]:
    with table.open(newline="", encoding="utf-8-sig") as f:
        header = [h.strip() for h in next(csv.reader(f), [])]
    found = {}
    for feature, accepted in _COLUMNS.items():
        index = next((header.index(a) for a in accepted if a in header), None)
        if index is None:
            raise SourceLayoutError(
                f"{table}: missing column {' or '.join(map(repr, accepted))}; "
                f"expected the release's header, found {header}"
            )
        found[feature] = index
    return found


def _image_dirs(root: Path) -> list[Path]:
    dirs = [root / "images"] if (root / "images").is_dir() else []
    dirs += sorted(p / "images" for p in root.glob("images_*") if (p / "images").is_dir())
    return dirs


def _index_images(root: Path, image_dirs: list[str]) -> dict[str, str]:
    images: dict[str, str] = {}
    for rel in image_dirs:
        for path in sorted((root / rel).glob("*.png")):
            images.setdefault(path.name, f"{rel}/{path.name}")
    return images


def _read_splits(root: Path) -> dict[str, str]:
    splits = {}
    for split, name in SPLIT_LISTS.items():
        for line in (root / name).read_text().split():
            splits.setdefault(line.strip(), split)
    return splits


def _read_boxes(root: Path) -> dict[str, list[dict]]:
    boxes: dict[str, list[dict]] = {}
    for line, row in _read_rows(root / BBOX_TABLE):
        try:
            name, label, *xywh = (v.strip() for v in row[:6])
            box = {"label": _BOX_ALIASES.get(label, label)}
            box.update(zip("xywh", map(float, xywh), strict=True))
            if box["label"] not in LABELS:
                raise ValueError(f"unknown label {label!r}")
        except ValueError as exc:
            raise SourceLayoutError(
                f"{root / BBOX_TABLE} line {line}: expected image, label, x, y, w, h ({exc})"
            ) from exc
        boxes.setdefault(name, []).append(box)
    return boxes


def _read_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if any(v.strip() for v in row):
                yield reader.line_num, row


def _parse_row(row: list[str], cols: dict[str, int]) -> dict:
    if len(row) <= max(cols.values()):
        raise ValueError(f"{len(row)} fields, expected at least {max(cols.values()) + 1}")
    value = {feature: row[i].strip() for feature, i in cols.items()}
    labels = [t.strip() for t in value["labels"].split("|") if t.strip()]
    unknown = sorted(set(labels) - set(LABELS))
    if unknown:
        raise ValueError(f"unknown finding label(s) {unknown}; expected {'|'.join(LABELS)}")
    return {
        "image_id": value["image_id"],
        "patient_id": _number(value, "patient_id", int),
        "follow_up": _number(value, "follow_up", int),
        "age_years": _age_years(value["age"]),
        "sex": value["sex"] or None,
        "view": value["view"] or None,
        "labels": labels,
        "original_width": _number(value, "original_width", int),
        "original_height": _number(value, "original_height", int),
        "pixel_spacing_x": _number(value, "pixel_spacing_x", float),
        "pixel_spacing_y": _number(value, "pixel_spacing_y", float),
    }


def _number(value: dict[str, str], feature: str, kind: type) -> int | float:
    try:
        return kind(value[feature])
    except ValueError:
        column = " or ".join(_COLUMNS[feature])
        raise ValueError(f"column {column!r}: {value[feature]!r} is not {kind.__name__}") from None


def _age_years(text: str) -> float | None:
    if not text:
        return None
    match = _AGE.match(text)
    if not match:
        raise ValueError(f"Patient Age {text!r}: expected digits with an optional Y/M/D unit")
    return int(match.group(1)) * _AGE_UNIT_YEARS[match.group(2)]


def _key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name.rsplit(".", 1)[0])


def write_sample(
    root: Path, layout: str = "box", table: str = "v2020", extra: int = 0, image_size: int = 64
) -> Path:
    """Write a small synthetic download in the release's exact layout.

    Args:
        root: where to write it (created).
        layout: ``box`` (``images/``) or ``kaggle`` (``images_001/images/`` ... ``images_012/``).
        table: ``v2020`` (``Data_Entry_2017_v2020.csv``, LF, ``Patient Gender``),
            ``v2020-sex`` (the same with ``Patient Sex`` and a trailing comma) or ``2017``
            (``Data_Entry_2017.csv``: trailing comma, CRLF, zero-padded ids, ``058Y`` ages).
        extra: generated rows beyond the eight hand-written ones (for load and benchmarks).
        image_size: side of the generated rows' images (the hand-written ones are small).
    """
    root, extra, image_size = Path(root), int(extra), int(image_size)
    old = table == "2017"
    header = list(_SAMPLE_HEADER)
    if table == "v2020-sex":
        header[5] = "Patient Sex"
    rows = [header + ([""] if table != "v2020" else [])]
    samples = list(_SAMPLE) + [_generated_row(j) for j in range(extra)]
    per_folder = -(-len(samples) // 12)
    for i, (image_id, labels, age_y, age_old, sex, view, size, spacing, _) in enumerate(samples):
        pid, follow = (int(p) for p in image_id[:-4].split("_"))
        ident = (f"{follow:03d}", f"{pid:08d}", age_old) if old else (follow, pid, age_y)
        rows.append([image_id, labels, *ident, sex, view, *size, spacing, spacing])
        folder = "images" if layout == "box" else f"images_{1 + i // per_folder:03d}/images"
        shape = (64, 48 + 8 * (i % 3)) if i < len(_SAMPLE) else (image_size, image_size)
        pixels = _sample.synthetic_radiograph(seed=i, size=shape)
        _sample.write_png(root / folder / image_id, pixels, mode="RGBA" if i == 5 else "L")
    _sample.write_table(root / (TABLES[1] if old else TABLES[0]), rows, "\r\n" if old else "\n")
    _sample.write_table(root / BBOX_TABLE, [_BBOX_HEADER, *_SAMPLE_BOXES])
    for split, list_name in SPLIT_LISTS.items():
        ids = [row[0] for row in samples if row[-1] == split]
        (root / list_name).write_text("\n".join(ids) + "\n")
    return root


def _generated_row(j: int) -> tuple:
    pid, follow = 100 + j // 3, j % 3
    age = 20 + j % 60
    labels = "|".join(sorted({LABELS[j % 14], LABELS[(j * 7) % 14]})) if j % 4 else "No Finding"
    split = "test" if pid % 5 == 0 else "train"
    view = "PA" if j % 3 else "AP"
    return (f"{pid:08d}_{follow:03d}.png", labels, age, f"{age:03d}Y", "MF"[j % 2], view,
            (2500, 2048), 0.143, split)  # fmt: skip


_SAMPLE_HEADER = (
    "Image Index", "Finding Labels", "Follow-up #", "Patient ID", "Patient Age", "Patient Gender",
    "View Position", "OriginalImage[Width", "Height]", "OriginalImagePixelSpacing[x", "y]",
)  # fmt: skip
_BBOX_HEADER = ("Image Index", "Finding Label", "Bbox [x", "y", "w", "h]", "", "", "")
# image, labels, age (v2020), age (2017), sex, view, original size, spacing, split; rows unsorted
# like the real table.
_SAMPLE = (
    ("00000001_000.png", "Cardiomegaly", 58, "058Y", "M", "PA", (2682, 2749), 0.143, "train"),
    ("00000001_001.png", "Cardiomegaly|Emphysema", 58, "058Y", "M", "PA", (2894, 2729), 0.143,
     "train"),
    ("00000003_000.png", "Hernia", 81, "081Y", "F", "PA", (2582, 2991), 0.143, "test"),
    ("00000001_002.png", "No Finding", 58, "058Y", "M", "PA", (2500, 2048), 0.168, "train"),
    ("00000002_000.png", "No Finding", 2, "026M", "M", "AP", (2048, 2500), 0.171, "train"),
    ("00000003_001.png", "Infiltration|Effusion", 74, "074Y", "F", "AP", (2048, 2500), 0.168,
     "test"),
    ("00000004_000.png", "Atelectasis|Mass|Nodule", 1, "001D", "M", "AP", (3056, 2544), 0.139,
     "test"),
    ("00000005_000.png", "Pleural_Thickening|Pneumothorax", 60, "060Y", "F", "PA", (2992, 2991),
     0.143, "train"),
)  # fmt: skip
_SAMPLE_BOXES = (
    ("00000003_001.png", "Infiltrate", 225.084745762712, 547.019216763771, 86.7796610169491,
     79.1864406779661),
    ("00000003_001.png", "Effusion", 686.101694915254, 131.742372881356, 185.491525423729,
     313.491525423729),
    ("00000004_000.png", "Atelectasis", 14.2222222222222, 483.555555555556, 213.333333333333,
     111.644444444444),
)  # fmt: skip
