"""PadChest (BIMCV, 2019): about 160,000 chest radiographs with Spanish reports and labels.

Layout:

- ``PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv`` (or ``.csv.gz``): one row per image,
  35 columns: ids (``ImageID``, ``ImageDir``, ``StudyID``, ``PatientID``), DICOM-derived fields
  (``*_DICOM``: date, sex, view, modality, manufacturer, photometric, resolution, exposure...),
  ``Projection`` (``PA``, ``AP``, ``AP_horizontal``, ``L``, ``COSTAL``, ``EXCLUDE``),
  ``Pediatric``, ``Report`` (Spanish), ``MethodLabel`` (``Physician`` or automatic) and the
  list columns ``Labels``, ``Localizations``, ``LabelsLocalizationsBySentence``, ``labelCUIS``,
  ``LocalizationsCUIS`` as Python-repr strings. A leading unnamed index column is unconfirmed:
  columns are found by name, so the table reads with or without it.
- ``<ImageDir>/<ImageID>``: PNGs (16-bit, inferred) in integer-numbered folders, one per image
  archive (folder range unconfirmed); ImageID e.g.
  ``14968019924555248865694512726537711769_3r162a.png``.

Features: every column under its release name, typed (``ImageDir``, ``PatientBirth``, the
``*_DICOM`` counts as ints; resolution, window and exposure as floats; ``StudyDate_DICOM`` as a
date), except ``Labels``, stored as ``findings``: ``labels`` is the shared CheXpert-14 family and
two names differing only by case collide in WebDataset readers. The list columns are parsed with
``ast.literal_eval`` (a malformed cell fails that row alone, naming the column);
``LabelsLocalizationsBySentence`` is a list of lists. The PNG bytes are kept as released, so
``with_format("numpy")`` gives the 16-bit pixels exactly.

``labels`` maps PadChest findings onto :data:`~cxrhub.builders._labels.CHEXPERT_14` only where the
finding is the same (:data:`CHEXPERT_MAP`): ``normal`` -> No Finding, ``cardiomegaly``,
``pleural effusion``, ``pneumothorax``, ``atelectasis`` (and its lobar, laminar, segmental and
round forms), ``consolidation``, ``pneumonia``, ``pulmonary edema`` -> Edema and the fractures
(``fracture``, ``rib fracture``, ``clavicle fracture``, ``vertebral fracture``, ``humeral
fracture``) -> Fracture. A mapped finding is ``1``; every other observation is ``None`` (PadChest
lists what it saw, never an explicit negative or an uncertain finding).

No official split: every image is in ``train``; hold data out by ``PatientID``.

Labels (per the paper): 174 radiographic findings, 19 differential diagnoses and 104 anatomic
locations mapped to UMLS; 27% of reports labelled manually by physicians, the rest by a recurrent
neural network.

Access: treated as credentialed. Downloading requires registering with BIMCV and accepting the
PadChest research licence (research use only).
"""

from __future__ import annotations

import ast
import csv
import datetime
import gzip
import re
from collections.abc import Iterator
from pathlib import Path

from datasets import Features, Image, List, Value

from cxrhub.builders import _labels
from cxrhub.builders._spec import Access, CardStats, DatasetSpec, Record
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError

__all__ = ["CHEXPERT_MAP", "COLUMNS", "FEATURES", "SPEC", "check", "iter_records", "write_sample"]

CITATION = """@article{bustos2020padchest,
  title = {PadChest: A large chest x-ray image dataset with multi-label annotated reports},
  author = {Bustos, Aurelia and Pertusa, Antonio and Salinas, Jose-Maria and
            de la Iglesia-Vay{\\'a}, Maria},
  journal = {Medical Image Analysis},
  volume = {66},
  pages = {101797},
  year = {2020},
  doi = {10.1016/j.media.2020.101797}
}"""

_HOMEPAGE = "https://bimcv.cipf.es/bimcv-projects/padchest/"
TABLE = "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"
TABLES = (TABLE, TABLE + ".gz")

SPEC = DatasetSpec(
    name="padchest",
    pretty_name="PadChest",
    version="1.0.0",
    access=Access.CREDENTIALED,
    homepage=_HOMEPAGE,
    citation=CITATION,
    terms=(
        "Treated as credentialed: each user must register with BIMCV and accept the PadChest "
        "research licence (research use only) before downloading, so converted copies must not "
        f"be redistributed publicly; read the licence at {_HOMEPAGE}."
    ),
    license="other",
    license_name="bimcv-padchest",
    license_link=_HOMEPAGE,
    expected_files=(
        f"{TABLE} (or .csv.gz)",
        "<ImageDir>/<ImageID> (ImageID ends in .png; ImageDir is the integer folder in the CSV)",
    ),
    splits=("train",),  # no official split
    description=(
        "More than 160,000 chest radiographs of about 67,000 patients from Hospital San Juan "
        "(Alicante, Spain), 2009-2017, in six projections, with the Spanish radiology report, "
        "DICOM acquisition fields, patient sex and birth year, and hierarchical finding, "
        "diagnosis and location labels mapped to UMLS."
    ),
    card_stats=CardStats(sex="PatientSex_DICOM", view="Projection"),
    patient_field="PatientID",
)

_S, _I, _F = Value("string"), Value("int32"), Value("float64")
_LIST = List(Value("string"))
# release column -> feature name and type, in the release's column order
COLUMNS: dict[str, tuple[str, object]] = {
    "ImageID": ("ImageID", _S),
    "ImageDir": ("ImageDir", _I),
    "StudyDate_DICOM": ("StudyDate_DICOM", Value("date32")),
    "StudyID": ("StudyID", _S),
    "PatientID": ("PatientID", _S),
    "PatientBirth": ("PatientBirth", _I),
    "PatientSex_DICOM": ("PatientSex_DICOM", _S),
    "ViewPosition_DICOM": ("ViewPosition_DICOM", _S),
    "Projection": ("Projection", _S),
    "MethodProjection": ("MethodProjection", _S),
    "Pediatric": ("Pediatric", _S),
    "Modality_DICOM": ("Modality_DICOM", _S),
    "Manufacturer_DICOM": ("Manufacturer_DICOM", _S),
    "PhotometricInterpretation_DICOM": ("PhotometricInterpretation_DICOM", _S),
    "PixelRepresentation_DICOM": ("PixelRepresentation_DICOM", _I),
    "PixelAspectRatio_DICOM": ("PixelAspectRatio_DICOM", _S),
    "SpatialResolution_DICOM": ("SpatialResolution_DICOM", _F),
    "BitsStored_DICOM": ("BitsStored_DICOM", _I),
    "WindowCenter_DICOM": ("WindowCenter_DICOM", _F),
    "WindowWidth_DICOM": ("WindowWidth_DICOM", _F),
    "Rows_DICOM": ("Rows_DICOM", _I),
    "Columns_DICOM": ("Columns_DICOM", _I),
    "XRayTubeCurrent_DICOM": ("XRayTubeCurrent_DICOM", _F),
    "Exposure_DICOM": ("Exposure_DICOM", _F),
    "ExposureInuAs_DICOM": ("ExposureInuAs_DICOM", _F),
    "ExposureTime": ("ExposureTime", _F),
    "RelativeXRayExposure_DICOM": ("RelativeXRayExposure_DICOM", _F),
    "ReportID": ("ReportID", _S),
    "Report": ("Report", _S),
    "MethodLabel": ("MethodLabel", _S),
    "Labels": ("findings", _LIST),
    "Localizations": ("Localizations", _LIST),
    "LabelsLocalizationsBySentence": ("LabelsLocalizationsBySentence", List(_LIST)),
    "labelCUIS": ("labelCUIS", _LIST),
    "LocalizationsCUIS": ("LocalizationsCUIS", _LIST),
}
FEATURES = Features(
    {
        "image": Image(),
        **dict(COLUMNS.values()),
        "labels": _labels.label_features(),
    }
)

# PadChest finding (``Labels``, stripped) -> CheXpert observation; only the same finding.
CHEXPERT_MAP: dict[str, str] = _labels.MAPPINGS["padchest"]
_INDEX_HEADERS = ("", "Unnamed: 0")  # the unconfirmed leading index column


def check(root: Path) -> dict:
    """Validate the download's layout before any work; return what was found."""
    root = Path(root)
    table = next((root / name for name in TABLES if (root / name).is_file()), None)
    if table is None:
        raise MissingSourceError(
            f"{root}: no label table; expected {TABLE} or {TABLE}.gz (see {SPEC.homepage})"
        )
    with _open(table) as f:
        header = next(csv.reader(f), [])
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SourceLayoutError(
            f"{table}: missing column(s) {missing}; expected the release's 35 columns "
            f"{list(COLUMNS)}, found {header}"
        )
    folders = sorted((p.name for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=int)
    if not folders:
        raise MissingSourceError(
            f"{root}: no image folder; expected integer-numbered folders <ImageDir>/ holding "
            "<ImageID>.png, as named in the table's ImageDir column"
        )
    return {
        "table": table.name,
        "index_column": bool(header) and header[0] in _INDEX_HEADERS,
        "image_dirs": folders,
    }


def iter_records(root: Path) -> Iterator[Record | BadInputError]:
    """One record per row of the labels table; the image is ``<ImageDir>/<ImageID>``."""
    root = Path(root)
    table = root / check(root)["table"]
    with _open(table) as f:
        reader = csv.DictReader(f)
        for row in reader:
            if not any((v or "").strip() for v in row.values()):
                continue
            image_id = (row["ImageID"] or "").strip()
            media = f"{(row['ImageDir'] or '').strip()}/{image_id}"
            try:
                fields = parse_row(row)
            except ValueError as exc:
                yield BadInputError(media, "table", f"{table.name} line {reader.line_num}: {exc}")
                continue
            yield Record(
                key=_key(image_id),
                split="train",
                source=media,
                media={"image": media},
                fields=fields,
            )


def parse_row(row: dict[str, str]) -> dict:
    """The typed fields of one table row (``ValueError`` naming the column on a bad cell)."""
    fields = {}
    for column, (name, feature) in COLUMNS.items():
        text = row.get(column)
        if text is None:
            raise ValueError(f"row has too few fields (no {column!r})")
        fields[name] = _value(column, text, feature)
    fields["labels"] = chexpert_labels(fields["findings"])
    return fields


def chexpert_labels(findings: list[str] | None) -> list[int | None]:
    """The CheXpert-14 family of one row: ``1`` for each mapped finding, else ``None``."""
    present = {CHEXPERT_MAP[f] for f in findings or () if f in CHEXPERT_MAP}
    return [1 if name in present else None for name in _labels.CHEXPERT_14]


def _value(column: str, text: str, feature: object):
    if isinstance(feature, List):
        return _list(column, text, nested=isinstance(feature.feature, List))
    if column != "Report":  # the report text is kept as released
        text = text.strip()
    if text == "" or text.lower() == "nan":
        return None
    dtype = feature.dtype
    try:
        if dtype == "int32":
            number = float(text)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if dtype == "float64":
            return float(text)
        if dtype == "date32":
            return datetime.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        kind = {"int32": "an integer", "float64": "a number", "date32": "a YYYYMMDD date"}[dtype]
        raise ValueError(f"column {column!r}: {text!r} is not {kind}") from None
    return text


def _list(column: str, text: str, nested: bool) -> list | None:
    text = text.strip()
    if text == "" or text.lower() == "nan":
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    items = value if isinstance(value, (list, tuple)) else None
    if items is not None and nested:
        items = [list(i) if isinstance(i, (list, tuple)) else None for i in items]
        flat = [s for i in items if i is not None for s in i]
        ok = all(i is not None for i in items) and all(isinstance(s, str) for s in flat)
    else:
        ok = items is not None and all(isinstance(s, str) for s in items)
    if not ok:
        shape = "a list of lists of strings" if nested else "a list of strings"
        raise ValueError(f"column {column!r}: {text[:80]!r} is not {shape} (Python repr)")
    if nested:
        return [[s.strip() for s in i] for i in items]
    return [s.strip() for s in items]


def _open(table: Path):
    if table.suffix == ".gz":
        return gzip.open(table, "rt", newline="", encoding="utf-8-sig")
    return table.open(newline="", encoding="utf-8-sig")


def _key(image_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", image_id.rsplit(".", 1)[0])


def write_sample(root: Path, faults: bool = False, index_column: bool = False) -> Path:
    """Write a small synthetic download in the release's exact layout (16-bit PNGs).

    Args:
        root: where to write it (created).
        faults: add a row whose image is missing and a row with a malformed list cell.
        index_column: start the table with the (unconfirmed) unnamed integer index column.
    """
    from cxrhub.builders import _padchest_sample

    return _padchest_sample.write(Path(root), list(COLUMNS), faults, index_column)
