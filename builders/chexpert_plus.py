"""CheXpert Plus (Stanford AIMI, 2024): 223,462 images, 187,711 studies, 64,725 patients.

Layout after unpacking:

- ``df_chexpert_plus_240401.csv``: one row per image, 27 columns (``path_to_image``,
  ``path_to_dcm``, view, ``report`` and 11 ``section_*`` columns, demographics, ``split``).
  ``path_to_image`` ends in ``.jpg`` although only PNG and DICOM are distributed.
- ``PNG/{train,valid}/patientN/studyM/viewK_frontal.png`` (some copies nest ``PNG/PNG/...``).
- ``DICOM/<subfolder>/{train,valid}/patientN/studyM/viewK_*.dcm`` (e.g. ``DICOM/Uncompressed``).
- ``chexbert_labels/{findings,impression,report}_fixed.json``: JSON Lines, 14 CheXbert labels
  per image, joined on ``path_to_image``.
- ``radgraph-XL-annotations/section_{findings,impression}.json``: JSON arrays of RadGraph-XL.

Splits: ``train`` (223,228 images) and ``valid`` (234); no test split. Archive names on the AIMI
portal, PNG bit depth and whether every ``path_to_dcm`` has a file are unconfirmed.

Images: ``--source-option png_root=...`` (the PNG tree: ``path_to_image`` with ``.png``) and/or
``dicom_root=...`` (the DICOM tree: ``path_to_dcm``; ``image``, ``image_512`` and ``dicom`` through
the decode core as MIMIC-CXR). The columns stay fixed; a column whose root was not given is null in
every row. A root that holds one nested folder (``PNG/PNG/train``, ``DICOM/Uncompressed/train``)
is followed down to its ``train``/``valid`` folders. Images listed but absent are counted by
``check`` and fail their row under the error policy. Section columns are kept exactly as released
(Stanford's assignment is not name-literal); blank cells are null. RadGraph-XL element ``i`` belongs
to the ``i``-th CSV row whose section has at least two whitespace-separated tokens (the release
README's rule); the element is stored as released.

Access: credentialed. Stanford AIMI research-use agreement: personal, non-commercial research; no
redistribution without Stanford's written permission.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from datasets import Features, Image, Json, Value

from cxrhub.builders import _dicom
from cxrhub.builders._labels import CHEXPERT_14, label_features, parse_label
from cxrhub.builders._spec import Access, CardStats, DatasetSpec, Record
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError

__all__ = ["FEATURES", "OPTIONS", "SPEC", "check", "iter_records", "write_sample"]

logger = logging.getLogger(__name__)

CITATION = """@article{chambon2024chexpertplus,
  title = {CheXpert Plus: Augmenting a Large Chest X-ray Dataset with Text Radiology Reports,
           Patient Demographics and Additional Image Formats},
  author = {Chambon, Pierre and Delbrouck, Jean-Benoit and Sounack, Thomas and
            Huang, Shih-Cheng and Chen, Zhihong and Varma, Maya and Truong, Steven Q. H. and
            Chuong, Chu The and Langlotz, Curtis P.},
  journal = {arXiv preprint arXiv:2405.19538},
  year = {2024}
}"""

_HOMEPAGE = "https://aimi.stanford.edu/datasets/chexpert-plus"

SPEC = DatasetSpec(
    name="chexpert-plus",
    pretty_name="CheXpert Plus",
    version="1.0.0",
    access=Access.CREDENTIALED,
    homepage=_HOMEPAGE,
    citation=CITATION,
    terms=(
        "Credentialed: each user must register with Stanford AIMI and accept its research-use "
        "agreement (personal, non-commercial research only). The data must not be "
        "redistributed or hosted elsewhere without Stanford's written permission; read the "
        f"agreement on the download page linked from {_HOMEPAGE}."
    ),
    license="other",
    license_name="stanford-aimi-research-use",
    license_link=_HOMEPAGE,
    expected_files=(
        "df_chexpert_plus_240401.csv",
        (
            "PNG/{train,valid}/patientN/studyM/viewK_frontal.png or viewK_lateral.png "
            "(PNG download; some copies nest PNG/PNG/...)"
        ),
        (
            "DICOM/<subfolder>/{train,valid}/patientN/studyM/viewK_*.dcm (DICOM download; "
            "at least one of the PNG and DICOM trees is present)"
        ),
        "chexbert_labels/{findings,impression,report}_fixed.json (optional; JSON Lines)",
        "radgraph-XL-annotations/section_{findings,impression}.json (optional)",
    ),
    splits=("train", "validation"),
    card_stats=CardStats(age="age", sex="sex", view="frontal_lateral"),
    patient_field="deid_patient_id",
    description=(
        "223,462 chest radiographs (PNG and DICOM) of 64,725 patients in 187,711 studies. "
        "Each image comes with its study's de-identified radiology report, split into 11 "
        "sections, and with patient demographics (age, sex, race, ethnicity, insurance, BMI), "
        "CheXbert labels and RadGraph-XL annotations. The images are the CheXpert training "
        "and validation images."
    ),
)

TABLE = "df_chexpert_plus_240401.csv"
OPTIONS = {
    "png_root": "the PNG tree (PNG/{train,valid}/...): fills image_png",
    "dicom_root": (
        "the DICOM tree (DICOM/<subfolder>/{train,valid}/...): fills image, image_512, dicom"
    ),
}
# the sample tree's own roots for those options (``cxrhub demo`` converts with them)
SAMPLE_OPTIONS = {"png_root": "PNG", "dicom_root": "DICOM"}
SECTIONS = (
    "narrative", "clinical_history", "history", "comparison", "technique", "procedure_comments",
    "findings", "impression", "end_of_impression", "summary", "accession_number",
)  # fmt: skip
_TEXT = ("frontal_lateral", "ap_pa", "deid_patient_id", "report")
_DEMOGRAPHICS = ("sex", "race", "ethnicity", "interpreter_needed", "insurance_type", "deceased")
_FLOATS = ("age", "recent_bmi")
COLUMNS = (
    "path_to_image", "path_to_dcm", "frontal_lateral", "ap_pa", "deid_patient_id",
    "patient_report_date_order", "report", *(f"section_{s}" for s in SECTIONS), "age", "sex",
    "race", "ethnicity", "interpreter_needed", "insurance_type", "recent_bmi", "deceased", "split",
)  # fmt: skip
CHEXBERT = {f: f"chexbert_labels/{f}_fixed.json" for f in ("findings", "impression", "report")}
RADGRAPH = {s: f"radgraph-XL-annotations/section_{s}.json" for s in ("findings", "impression")}
_SPLITS = {"train": "train", "valid": "validation"}
FEATURES = Features(
    {
        "image_png": Image(),
        **_dicom.FEATURES,
        "path_to_image": Value("string"),
        "path_to_dcm": Value("string"),
        **{name: Value("string") for name in _TEXT},
        "patient_report_date_order": Value("int32"),
        **{f"section_{s}": Value("string") for s in SECTIONS},
        "age": Value("float64"),
        "recent_bmi": Value("float64"),
        **{name: Value("string") for name in _DEMOGRAPHICS},
        **{f"chexbert_{f}": label_features() for f in CHEXBERT},
        **{f"radgraph_{s}": Json() for s in RADGRAPH},
    }
)


def _tree(root: str | None, option: str) -> Path | None:
    """The given image root, followed down single nested folders to its train/valid folders."""
    if not root:
        return None
    path = Path(root)
    if not path.is_dir():
        raise MissingSourceError(f"{path}: {option} is not a folder")
    for _ in range(2):
        if any((path / s).is_dir() for s in _SPLITS):
            break
        inner = [p for p in path.iterdir() if p.is_dir()]
        if len(inner) != 1:
            break
        path = inner[0]
    return path


def _png(row: dict) -> str:
    return row["path_to_image"].removesuffix(".jpg") + ".png"


def _rows(root: Path) -> Iterator[dict]:
    with (root / TABLE).open(newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def _eligible(text: str) -> bool:
    """The release README's RadGraph alignment: a section string of two tokens or more."""
    return len(text.split()) >= 2


def check(root: Path, png_root: str | None = None, dicom_root: str | None = None) -> dict:
    """The table's columns, the label and RadGraph files and the image roots, checked before any
    work; listed images absent from a given root are counted up front."""
    root = Path(root)
    if not (root / TABLE).is_file():
        raise MissingSourceError(f"{root / TABLE}: missing; the release ships this table")
    with (root / TABLE).open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SourceLayoutError(f"{root / TABLE}: missing column(s) {missing}; expected {COLUMNS}")
    pngs, dicoms = _tree(png_root, "png_root"), _tree(dicom_root, "dicom_root")
    rows = list(_rows(root))
    radgraph = {}
    for section, rel in RADGRAPH.items():
        if (root / rel).is_file():
            expected = sum(_eligible(r[f"section_{section}"]) for r in rows)
            found = len(json.loads((root / rel).read_text(encoding="utf-8")))
            if found != expected:
                raise SourceLayoutError(
                    f"{root / rel}: {found} elements; the table has {expected} rows whose "
                    f"section_{section} has two tokens or more (the release's alignment rule)"
                )
            radgraph[section] = found
    found = {
        "table": TABLE,
        "rows": len(rows),
        "image_columns": (["image_png"] if pngs else [])
        + (list(_dicom.REQUESTS) if dicoms else []),
        "png_root": str(pngs) if pngs else None,
        "dicom_root": str(dicoms) if dicoms else None,
        "png_missing": sum(not (pngs / _png(r)).is_file() for r in rows) if pngs else None,
        "dicom_missing": sum(not (dicoms / r["path_to_dcm"]).is_file() for r in rows)
        if dicoms
        else None,
        "chexbert": [f for f, rel in CHEXBERT.items() if (root / rel).is_file()],
        "radgraph": radgraph,
    }
    if not (pngs or dicoms):
        logger.warning("%s: no png_root or dicom_root given; every image column is null", root)
    if found["png_missing"] or found["dicom_missing"]:
        logger.warning(
            "%s: of %d listed images, %s PNGs and %s DICOMs missing; those rows fail under the "
            "error policy", root, len(rows), found["png_missing"] or 0, found["dicom_missing"] or 0,
        )  # fmt: skip
    return found


def _chexbert(path: Path) -> dict[str, dict]:
    """path_to_image -> its line of a JSON Lines label file."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as f:
        lines = (json.loads(line) for line in f if line.strip())
        return {line["path_to_image"]: line for line in lines}


def _labels(line: dict | None, where: str) -> list | None:
    if line is None:
        return None
    return [parse_label(line.get(name), where=f"{where}: {name}") for name in CHEXPERT_14]


def _number(text: str, kind: type, column: str) -> float | int | None:
    if text.strip() == "":
        return None
    try:
        return kind(float(text)) if kind is int else kind(text)
    except ValueError:
        raise ValueError(f"{TABLE}: {column} {text!r} is not a number") from None


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def iter_records(
    root: Path, png_root: str | None = None, dicom_root: str | None = None
) -> Iterator[Record | BadInputError]:
    """One record per CSV row (image), with its report, demographics, labels and RadGraph."""
    root = Path(root)
    pngs, dicoms = _tree(png_root, "png_root"), _tree(dicom_root, "dicom_root")
    labels = {f: _chexbert(root / rel) for f, rel in CHEXBERT.items()}
    graphs = {
        s: iter(json.loads((root / rel).read_text(encoding="utf-8")))
        for s, rel in RADGRAPH.items()
        if (root / rel).is_file()
    }
    for row in _rows(root):
        path = row["path_to_image"]
        radgraph = {f"radgraph_{s}": None for s in RADGRAPH}
        for section, elements in graphs.items():  # consumed in CSV order, even on a bad row
            if _eligible(row[f"section_{section}"]):
                radgraph[f"radgraph_{section}"] = next(elements, None)
        try:
            fields = _fields(row, path, labels)
        except ValueError as exc:
            yield BadInputError(path, "table", str(exc))
            continue
        media: dict = {}
        if pngs:
            media["image_png"] = _rel(pngs / _png(row), root)
        else:
            fields["image_png"] = None
        if dicoms:
            media.update(_dicom.media(_rel(dicoms / row["path_to_dcm"], root)))
        else:
            fields.update(dict.fromkeys(_dicom.REQUESTS))
        yield Record(
            key="_".join(path.removesuffix(".jpg").split("/")[1:]),
            split=_SPLITS[row["split"]],
            source=_source(media),
            media=media,
            fields={**fields, **radgraph},
        )


def _source(media: dict) -> str:
    """The image file the row reads (the PNG, else the DICOM), else the table."""
    first = media.get("image_png") or media.get("image") or {"path": TABLE}
    return first if isinstance(first, str) else first["path"]


def _fields(row: dict, path: str, labels: dict[str, dict]) -> dict:
    if row["split"] not in _SPLITS:
        raise ValueError(f"{TABLE}: split {row['split']!r}; expected one of {list(_SPLITS)}")
    if len(path.split("/")) != 4 or not path.endswith(".jpg"):
        raise ValueError(f"{TABLE}: path_to_image {path!r}; expected split/patient/study/view.jpg")
    text = ("path_to_image", "path_to_dcm", *_TEXT, *(f"section_{s}" for s in SECTIONS))
    return {
        **{c: row[c] if row[c] != "" else None for c in (*text, *_DEMOGRAPHICS)},
        "patient_report_date_order": _number(
            row["patient_report_date_order"], int, "patient_report_date_order"
        ),
        **{c: _number(row[c], float, c) for c in _FLOATS},
        **{f"chexbert_{f}": _labels(found.get(path), CHEXBERT[f]) for f, found in labels.items()},
    }


def write_sample(root: Path, missing_image: bool = False) -> Path:
    """A small synthetic CheXpert Plus download (see ``_chexpert_plus_sample``)."""
    from cxrhub.builders._chexpert_plus_sample import write

    return write(Path(root), missing_image=missing_image)
