"""VinDr-CXR 1.0.0 (VinBigData, PhysioNet, 2021): 18,000 DICOMs with radiologist annotations.

Layout (``vindr-cxr/1.0.0/``):

- ``train/<image_id>.dicom`` (15,000; each read by 3 of 17 radiologists, ``rad_id`` R1..R17) and
  ``test/<image_id>.dicom`` (3,000; consensus of 5 radiologists, no ``rad_id``).
- ``annotations/annotations_{train,test}.csv``: boxes (``image_id``, ``rad_id``, ``class_name``,
  ``x_min``, ``y_min``, ``x_max``, ``y_max``); ``No finding`` rows have empty coordinates.
- ``annotations/image_labels_{train,test}.csv``: ``image_id``, ``rad_id`` (train only) and 28 0/1
  columns (22 local findings, 6 global labels; ``Other diseases`` in train is ``Other disease``
  in test). Column orders are unconfirmed.

Some DICOMs lack TransferSyntaxUID in file_meta or PixelData (vinbigdata-medical/vindr-cxr#3).

Access: credentialed. PhysioNet Credentialed Health Data License and the project's data use
agreement: credentialed users only, research and education; the data must not be shared.

Records: one per image listed in ``image_labels_{train,test}.csv`` (the official split), its DICOM
through the decode core: ``image`` the stored values lossless 16-bit (HTJ2K), ``image_512`` a
512 px MONOCHROME2 JPEG (MONOCHROME1 inverted), ``dicom`` the allow-listed header. Columns are
read by name. ``labels`` is one ``{rad_id, findings}`` per radiologist on train (the positive
names of the 28, in :data:`FINDINGS` order; ``Other disease`` is normalised to
``Other diseases``), null on test; ``consensus`` the test consensus findings, null on train;
``boxes`` every box row with coordinates (``No finding`` rows have none), ``rad_id`` null where
the table has no ``rad_id`` (test). A DICOM without a transfer syntax or pixel data goes to the
error policy (stage ``header`` / ``decode``); VinDr has no patient id.

``chexpert_14``: the shared CheXpert-14 vocabulary (``_labels.label_features()``) through
:data:`TO_CHEXPERT`, VinDr finding -> CheXpert observation, only where the finding is the same:
Atelectasis, Cardiomegaly, Consolidation, Edema, Lung Opacity, Pleural effusion -> Pleural
Effusion, Pneumonia, Pneumothorax, Rib fracture and Clavicle fracture -> Fracture (positive if
either), No finding -> No Finding. Enlarged Cardiomediastinum, Lung Lesion, Pleural Other and
Support Devices have no same VinDr finding and stay null (Nodule/Mass, Pleural thickening and
Aortic enlargement are related but narrower or broader, so they are not mapped). Test: the
consensus (0/1). Train: the majority of the image's radiologists (1 when more than half of them
marked the finding, else 0; with the usual 3 readers, at least 2).
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterator
from pathlib import Path

from datasets import Features, List, Value

from cxrhub.builders import _dicom, _labels
from cxrhub.builders._spec import Access, DatasetSpec, Record
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError

__all__ = [
    "FEATURES", "FINDINGS", "SPEC", "TO_CHEXPERT", "check", "iter_records", "shared_labels",
    "write_sample",
]  # fmt: skip

logger = logging.getLogger(__name__)

CITATION = """@article{nguyen2022vindrcxr,
  title = {VinDr-CXR: An open dataset of chest X-rays with radiologist's annotations},
  author = {Nguyen, Ha Q. and Lam, Khanh and Le, Linh T. and Pham, Hieu H. and Tran, Dat Q. and
            Nguyen, Dung B. and Le, Dung D. and Pham, Chi M. and Tong, Hang T. T. and
            Dinh, Diep H. and Do, Cuong D. and Doan, Luu T. and Nguyen, Cuong N. and
            Nguyen, Binh T. and Nguyen, Que V. and Hoang, Au D. and Phan, Hien N. and
            Nguyen, Anh T. and Ho, Phuong H. and Ngo, Dat T. and Nguyen, Nghia T. and
            Nguyen, Nhan T. and Dao, Minh and Vu, Van},
  journal = {Scientific Data},
  volume = {9},
  number = {1},
  pages = {429},
  year = {2022},
  doi = {10.1038/s41597-022-01498-w}
}"""

_LICENSE = "https://physionet.org/about/licenses/physionet-credentialed-health-data-license-150/"

SPEC = DatasetSpec(
    name="vindr-cxr",
    pretty_name="VinDr-CXR",
    version="1.0.0",
    access=Access.CREDENTIALED,
    homepage="https://physionet.org/content/vindr-cxr/",
    citation=CITATION,
    terms=(
        "Credentialed: only PhysioNet credentialed users who signed the VinDr-CXR data use "
        "agreement may use it, for research and education. Access must not be shared and the "
        "data must not be redistributed publicly; read the licence and DUA at "
        "https://physionet.org/content/vindr-cxr/."
    ),
    license="other",
    license_name="physionet-credentialed-health-data-1.5.0",
    license_link=_LICENSE,
    expected_files=(
        "train/<image_id>.dicom",
        "test/<image_id>.dicom",
        "annotations/annotations_train.csv",
        "annotations/annotations_test.csv",
        "annotations/image_labels_train.csv",
        "annotations/image_labels_test.csv",
    ),
    splits=("train", "test"),
    description=(
        "18,000 de-identified chest radiographs in DICOM from two Vietnamese hospitals "
        "(2018-2020): 15,000 training images, each labelled independently by three "
        "radiologists, and 3,000 test images labelled by the consensus of five. Labels are 28 "
        "image-level findings and diagnoses plus bounding boxes for the local findings."
    ),
)

IMAGE_LABELS = {
    "train": "annotations/image_labels_train.csv",
    "test": "annotations/image_labels_test.csv",
}
ANNOTATIONS = {
    "train": "annotations/annotations_train.csv",
    "test": "annotations/annotations_test.csv",
}
FINDINGS: tuple[str, ...] = (
    "Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Clavicle fracture",
    "Consolidation", "Edema", "Emphysema", "Enlarged PA", "ILD", "Infiltration", "Lung Opacity",
    "Lung cavity", "Lung cyst", "Mediastinal shift", "Nodule/Mass", "Pleural effusion",
    "Pleural thickening", "Pneumothorax", "Pulmonary fibrosis", "Rib fracture", "Other lesion",
    "COPD", "Lung tumor", "Pneumonia", "Tuberculosis", "Other diseases", "No finding",
)  # fmt: skip
RENAMED = {"Other disease": "Other diseases"}  # the test table's spelling -> the train table's
# VinDr finding -> CheXpert observation (_labels.CHEXPERT_14), only where they are the same
TO_CHEXPERT: dict[str, str] = _labels.MAPPINGS["vindr-cxr"]
_BOX = ("x_min", "y_min", "x_max", "y_max")
_BOX_COLUMNS = ("image_id", "class_name", *_BOX)  # rad_id too where the table has it

FEATURES = Features(
    {
        **_dicom.FEATURES,
        "image_id": Value("string"),
        "split": Value("string"),
        "labels": List({"rad_id": Value("string"), "findings": List(Value("string"))}),
        "consensus": List(Value("string")),
        "boxes": List(
            {
                "rad_id": Value("string"),
                "class_name": Value("string"),
                **{c: Value("float64") for c in _BOX},
            }
        ),
        "chexpert_14": _labels.label_features(),
    }
)


def check(root: Path) -> dict:
    """The four annotation tables (columns by name) and the two image folders, before any work;
    listed images missing on disk are counted up front."""
    root = Path(root)
    found: dict = {}
    for split in SPEC.splits:
        for rel in (IMAGE_LABELS[split], ANNOTATIONS[split]):
            if not (root / rel).is_file():
                raise MissingSourceError(f"{root / rel}: missing; the release ships this table")
        if not (root / split).is_dir():
            raise MissingSourceError(f"{root / split}: missing; expected {split}/<image_id>.dicom")
        header = _header(root / IMAGE_LABELS[split])
        _finding_columns(header, root / IMAGE_LABELS[split], rad=split == "train")
        box_header = _header(root / ANNOTATIONS[split])
        _require(box_header, _BOX_COLUMNS, root / ANNOTATIONS[split])
        ids = {row["image_id"] for row in _rows(root / IMAGE_LABELS[split])}
        missing = sum(not (root / split / f"{i}.dicom").is_file() for i in ids)
        if missing:
            logger.warning("%s: %d of %d listed DICOMs missing", root / split, missing, len(ids))
        found[split] = {
            "images_listed": len(ids),
            "images_missing": missing,
            "box_rad_id": "rad_id" in box_header,
        }
    return found


def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [c.strip() for c in next(csv.reader(f), [])]


def _rows(path: Path) -> Iterator[dict]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [c.strip() for c in next(reader, [])]
        for row in reader:
            yield dict(zip(header, row, strict=False))


def _require(header: list[str], columns: tuple[str, ...], path: Path) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise SourceLayoutError(f"{path}: missing column(s) {missing}; found {header}")


def _finding_columns(header: list[str], path: Path, *, rad: bool) -> dict[str, str]:
    """Finding name (normalised) -> the table's column name; all 28 must be there once."""
    _require(header, ("image_id", "rad_id") if rad else ("image_id",), path)
    columns: dict[str, str] = {}
    for column in header:
        name = RENAMED.get(column, column)
        if name in FINDINGS:
            if name in columns:
                raise SourceLayoutError(f"{path}: two columns for {name!r} ({columns[name]!r})")
            columns[name] = column
    missing = [n for n in FINDINGS if n not in columns]
    if missing:
        raise SourceLayoutError(
            f"{path}: no column for finding(s) {missing}; expected the 28 VinDr labels "
            f"{list(FINDINGS)} (test spells {RENAMED}), found {header}"
        )
    return columns


def _flags(row: dict, columns: dict[str, str], where: str) -> dict[str, int]:
    flags = {}
    for name, column in columns.items():
        value = row.get(column, "").strip()
        if value not in ("0", "1", "0.0", "1.0"):
            raise ValueError(f"{where}: {column!r} is {value!r}; expected 0 or 1")
        flags[name] = int(float(value))
    return flags


def _positive(flags: dict[str, int]) -> list[str]:
    return [name for name in FINDINGS if flags[name]]


def shared_labels(readers: list[dict[str, int]]) -> list[int | None]:
    """CheXpert-14 values from one or more readers' 0/1 findings: an observation is 1 when more
    than half of the readers marked any VinDr finding mapped onto it, 0 otherwise, and null
    where no VinDr finding maps onto it (a single reader: the consensus itself)."""
    values: list[int | None] = []
    for observation in _labels.CHEXPERT_14:
        sources = [f for f, o in TO_CHEXPERT.items() if o == observation]
        if not sources:
            values.append(None)
            continue
        votes = sum(any(r[f] for f in sources) for r in readers)
        values.append(int(2 * votes > len(readers)))
    return values


def _boxes(path: Path) -> dict[str, list[dict]]:
    boxes: dict[str, list[dict]] = {}
    for line, row in enumerate(_rows(path), start=2):
        entries = boxes.setdefault(row["image_id"], [])
        cells = [row.get(c, "").strip() for c in _BOX]
        if all(c in ("", "nan", "NaN") for c in cells):
            continue  # a ``No finding`` row: no box
        try:
            coords = [float(c) for c in cells]
        except ValueError:
            coords = []
        if len(coords) != 4 or any(math.isnan(c) for c in coords):
            logger.warning("%s line %d: box %s is not four numbers; skipped", path, line, cells)
            continue
        rad_id = row.get("rad_id", "").strip() or None
        entry = {"rad_id": rad_id, "class_name": row["class_name"].strip()}
        entries.append(entry | dict(zip(_BOX, coords, strict=True)))
    return boxes


def iter_records(root: Path) -> Iterator[Record | BadInputError]:
    """One record per image of ``image_labels_{train,test}.csv``, in table order."""
    root = Path(root)
    for split in SPEC.splits:
        path = root / IMAGE_LABELS[split]
        columns = _finding_columns(_header(path), path, rad=split == "train")
        boxes = _boxes(root / ANNOTATIONS[split])
        readers: dict[str, list[tuple[str | None, dict[str, int]]]] = {}
        bad: dict[str, str] = {}
        for line, row in enumerate(_rows(path), start=2):
            image_id = row["image_id"].strip()
            try:
                flags = _flags(row, columns, f"{IMAGE_LABELS[split]} line {line}")
            except ValueError as exc:
                bad.setdefault(image_id, str(exc))
                flags = {}
            rad_id = row["rad_id"].strip() if split == "train" else None
            readers.setdefault(image_id, []).append((rad_id, flags))
        for image_id, reads in readers.items():
            rel = f"{split}/{image_id}.dicom"
            if image_id in bad:
                yield BadInputError(rel, "table", bad[image_id])
                continue
            if split == "test" and len(reads) != 1:
                yield BadInputError(rel, "table", f"{len(reads)} consensus rows; expected one")
                continue
            yield Record(
                key=image_id,
                split=split,
                source=rel,
                media=_dicom.media(rel),
                fields={
                    "image_id": image_id,
                    "split": split,
                    "labels": [{"rad_id": r, "findings": _positive(f)} for r, f in reads]
                    if split == "train"
                    else None,
                    "consensus": _positive(reads[0][1]) if split == "test" else None,
                    "boxes": boxes.get(image_id),
                    "chexpert_14": shared_labels([f for _, f in reads]),
                },
            )


def write_sample(root: Path, broken: bool = False) -> Path:
    """A small synthetic VinDr-CXR download (see ``_vindr_sample``); ``broken`` adds a DICOM
    without a transfer syntax (train) and one without pixel data (test), both listed."""
    from cxrhub.builders import _vindr_sample

    return _vindr_sample.write(Path(root), broken=broken)
