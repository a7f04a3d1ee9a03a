"""MIMIC-CXR-JPG v2.0.0/2.1.0 (PhysioNet, 2019): 377,110 JPGs of MIMIC-CXR, 14 report labels.

Layout: ``files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.jpg`` (MIMIC-CXR's ids; 8-bit, MONOCHROME1
inverted, histogram-equalised, quality 95), the gzip tables ``mimic-cxr-2.0.0-{metadata,split,
chexpert,negbio}.csv.gz``, in 2.1.0 ``mimic-cxr-2.1.0-test-set-labeled.csv`` (radiologist labels
of 687 test studies, ``Airspace Opacity`` for ``Lung Opacity``, column order unconfirmed: read by
name) and ``IMAGE_FILENAMES``. Split ``validate`` is published as HF ``validation``.

Rows are images, one per metadata row (config ``default``); config ``studies`` has one row per
study with its images as lists in dicom_id order (Parquet only). Required: metadata, split,
``files/``. The label tables are optional and the features never change: a family whose table
is absent is null in every row (``check()`` lists it under ``missing_optional``); a study
without a row in a table is null in that family too, while a row of blanks is 14 nulls
(labels: :mod:`cxrhub.builders._labels`). ``StudyDate``/``StudyTime`` are
``date32``/``time64[us]`` (Python ``date``/``time`` in records; ISO 8601 text in the WebDataset
JSON).

Access: credentialed (PhysioNet Credentialed Health Data License 1.5.0 and the DUA).
"""

from __future__ import annotations

import csv
import datetime
import gzip
import itertools
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from datasets import Features, Image, List, Value

from cxrhub.builders import _labels, _studies, mimic_sections
from cxrhub.builders._spec import Access, CardStats, DatasetSpec, Record
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError

__all__ = [
    "COLUMNS", "CONFIGS", "FEATURES", "SPEC", "STUDY_FEATURES", "TABLES", "check",
    "iter_records", "iter_study_records", "write_sample",
]  # fmt: skip

logger = logging.getLogger(__name__)

CITATION = """@article{johnson2019mimiccxrjpg,
  title = {MIMIC-CXR-JPG, a large publicly available database of labeled chest radiographs},
  author = {Johnson, Alistair E. W. and Pollard, Tom J. and Greenbaum, Nathaniel R. and
            Lungren, Matthew P. and Deng, Chih-ying and Peng, Yifan and Lu, Zhiyong and
            Mark, Roger G. and Berkowitz, Seth J. and Horng, Steven},
  journal = {arXiv preprint arXiv:1901.07042},
  year = {2019}
}"""

_LICENSE = "https://physionet.org/about/licenses/physionet-credentialed-health-data-license-150/"
TABLES = {
    "metadata": "mimic-cxr-2.0.0-metadata.csv.gz", "split": "mimic-cxr-2.0.0-split.csv.gz",
    "chexpert": "mimic-cxr-2.0.0-chexpert.csv.gz", "negbio": "mimic-cxr-2.0.0-negbio.csv.gz",
    "test_set_labeled": "mimic-cxr-2.1.0-test-set-labeled.csv",
}  # fmt: skip
REQUIRED = ("metadata", "split")
LABEL_FAMILIES = ("chexpert", "negbio", "test_set_labeled")
IMAGE_LIST = "IMAGE_FILENAMES"
SPLITS = {"train": "train", "validate": "validation", "test": "test"}
_SPLIT_IDS = ("study_id", "subject_id", "split")
_RADIOLOGIST = sorted(set(_labels.CHEXPERT_14) - {"Lung Opacity"} | {"Airspace Opacity"})
COLUMNS = {  # the release's headers, in order (test-set-labeled's order is unconfirmed)
    "metadata": ("dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription",
                 "ViewPosition", "Rows", "Columns", "StudyDate", "StudyTime",
                 "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning",
                 "PatientOrientationCodeSequence_CodeMeaning"),
    "split": ("dicom_id", "study_id", "subject_id", "split"),
    "chexpert": ("subject_id", "study_id", *_labels.CHEXPERT_14),
    "negbio": ("subject_id", "study_id", *_labels.CHEXPERT_14),
    "test_set_labeled": ("study_id", *_RADIOLOGIST),
}  # fmt: skip
# metadata column -> type (others: string, blank -> None)
_TYPES = {"subject_id": "int32", "study_id": "int32", "Rows": "int32", "Columns": "int32",
          "StudyDate": "date32", "StudyTime": "time64[us]"}  # fmt: skip
_FORMATS = {"int32": "an integer", "date32": "YYYYMMDD", "time64[us]": "HHMMSS.ffffff"}
_PARTIAL = (".gstmp", "._gstmp")  # gsutil's partial downloads (``x.jpg_.gstmp``)
_EXAMPLES = 5

SPEC = DatasetSpec(
    name="mimic-cxr-jpg", pretty_name="MIMIC-CXR-JPG", version="1.0.0", citation=CITATION,
    access=Access.CREDENTIALED, homepage="https://physionet.org/content/mimic-cxr-jpg/",
    terms=(
        "Credentialed: only PhysioNet credentialed users who completed the required training "
        "and signed the MIMIC-CXR-JPG data use agreement may use it, for research. Access must "
        "not be shared and the data must not be redistributed publicly; read the licence and "
        "DUA at https://physionet.org/content/mimic-cxr-jpg/."
    ),
    license="other", license_name="physionet-credentialed-health-data-1.5.0", license_link=_LICENSE,
    expected_files=(
        "files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.jpg", TABLES["metadata"], TABLES["split"],
        f"{TABLES['chexpert']}, {TABLES['negbio']} (optional: a missing one: null labels)",
        f"{TABLES['test_set_labeled']} (optional; 2.1.0 only)",
        f"{IMAGE_LIST}, LICENSE.txt, SHA256SUMS.txt (optional)",
    ),
    splits=("train", "validation", "test"),
    description=(
        "377,110 chest radiographs of 65,379 patients from MIMIC-CXR, converted from DICOM to "
        "8-bit JPG, with DICOM-derived metadata (view, size, study date and time), the official "
        "patient-disjoint train/validate/test split and 14 labels extracted from the reports "
        "by the CheXpert and NegBio labelers. Reports are not included."
    ),
    card_stats=CardStats(view="ViewPosition"),  # the card's prevalence counts class labels only
    patient_field="subject_id",
)  # fmt: skip

FEATURES = Features({
    "image": Image(),
    **{name: Value(_TYPES.get(name, "string")) for name in COLUMNS["metadata"]},
    **{family: _labels.label_features() for family in LABEL_FAMILIES},
    "report": mimic_sections.report_feature(),
})  # fmt: skip
# the ``studies`` config: one row per study, its images (as released) in dicom_id order
STUDY_FEATURES = Features({
    "subject_id": Value("int32"), "study_id": Value("int32"), "split": Value("string"),
    "dicom_ids": List(Value("string")), "ViewPosition": List(Value("string")),
    "images": List(Image()),
    **{family: _labels.label_features() for family in LABEL_FAMILIES},
    "report": mimic_sections.report_feature(),
})  # fmt: skip
_TIME = re.compile(r"(\d{1,6})(?:\.(\d*))?")
_DICOM_ID = re.compile(r"[0-9A-Za-z-]+")


OPTIONS = {"reports_root": "a MIMIC-CXR download whose files/pXX/pXXXXXXXX/sXXXXXXXX.txt to join"}


def check(root: Path, reports_root: str | None = None) -> dict:
    """Validate the tables, then compare the files on disk with the image list: log and return
    the missing, partial and zero-byte files (each such image then fails alone at conversion)."""
    root = Path(root)
    layout = check_tables(root)
    if reports_root is not None and not (Path(reports_root) / "files").is_dir():
        raise MissingSourceError(f"{reports_root}/files: missing; expected MIMIC-CXR's reports")
    layout["reports"] = reports_root is not None
    layout["images"] = images = _scan_images(root, layout["image_list"])
    for what in ("missing", "partial_downloads", "zero_byte", "unlisted"):
        if images[what]:
            found = (images[what], what, images["examples"][what])
            logger.warning("%s: %d %s file(s), e.g. %s", root, *found)
    for name in layout["missing_optional"]:
        logger.warning("%s: no %s; that label family is null in every row", root, name)
    return layout


def check_tables(root: Path) -> dict:
    if not root.is_dir():
        raise MissingSourceError(f"{root}: not a folder; expected the mimic-cxr-jpg release root")
    tables: dict[str, str | None] = {}
    for table, name in TABLES.items():
        present = (root / name).is_file()
        if not present and table in REQUIRED:
            partial = [p.name for p in root.glob(f"{name}*") if p.name.endswith(_PARTIAL)]
            raise MissingSourceError(
                f"{root / name}: missing; the release's {table} table ({', '.join(COLUMNS[table])})"
                " is required" + (f"; {partial[0]} is a partial download" if partial else "")
            )
        tables[table] = name if present and _columns(root / name, table) else None
    if not (root / "files").is_dir():
        raise MissingSourceError(
            f"{root / 'files'}: missing; expected files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.jpg"
        )
    return {
        "tables": tables,
        "label_families": {f: tables[f] is not None for f in LABEL_FAMILIES},
        "missing_optional": [TABLES[f] for f in LABEL_FAMILIES if tables[f] is None],
        "image_list": IMAGE_LIST if (root / IMAGE_LIST).is_file() else TABLES["metadata"],
    }


def _columns(path: Path, table: str) -> dict[str, int]:
    """Column -> index by name (label tables: ``study_id`` and the 14 observations, aliased)."""
    header = next(_read(path, skip=0), (0, []))[1]
    required = ("study_id",) if table in LABEL_FAMILIES else COLUMNS[table]
    missing = [name for name in required if name not in header]
    if missing:
        raise SourceLayoutError(
            f"{path}: missing column(s) {missing}; expected {list(COLUMNS[table])}, found {header}"
        )
    cols = {name: header.index(name) for name in required}
    if table in LABEL_FAMILIES:
        found = _labels.label_columns(header, where=str(path))
        cols.update(zip(_labels.CHEXPERT_14, found, strict=True))
    return cols


def _read(path: Path, skip: int = 1) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of a CSV (gzip by suffix) after ``skip`` rows; damage names the file."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = ((reader.line_num, row) for row in reader if any(row))
            yield from itertools.islice(rows, skip, None)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceLayoutError(f"{path}: unreadable ({exc}); download it again") from exc


def _scan_images(root: Path, image_list: str) -> dict:
    expected = _expected_images(root, image_list)
    found: set[str] = set()
    odd: dict[str, list[str]] = {"partial_downloads": [], "zero_byte": []}
    for folder, dirs, names in os.walk(root):  # one stat per file
        dirs.sort()
        prefix = os.path.relpath(folder, root).replace(os.sep, "/") + "/"
        for name in sorted(names):
            rel = prefix.removeprefix("./") + name
            if name.endswith(_PARTIAL):
                odd["partial_downloads"].append(rel)
            elif os.stat(os.path.join(folder, name)).st_size == 0:
                odd["zero_byte"].append(rel)
            else:
                found.add(rel)
    odd["missing"] = sorted(expected - found - set(odd["zero_byte"]))
    odd["unlisted"] = sorted(r for r in found - expected if r.startswith("files/"))
    return {
        "listed_in": image_list, "expected": len(expected), "found": len(expected & found),
        **{k: len(v) for k, v in odd.items()},
        "examples": {k: v[:_EXAMPLES] for k, v in odd.items()},
    }  # fmt: skip


def _expected_images(root: Path, image_list: str) -> set[str]:
    if image_list == IMAGE_LIST:
        lines = (root / IMAGE_LIST).read_text(encoding="utf-8").splitlines()
        return {line.strip() for line in lines if line.strip()}
    cols = _columns(root / TABLES["metadata"], "metadata")
    return {_image_path(row, cols) for _, row in _read(root / TABLES["metadata"])}


def _image_path(row: list[str], cols: dict[str, int]) -> str:
    return _path(*(_cell(row, cols, c) for c in ("subject_id", "study_id", "dicom_id")))


def _cell(row: list[str], cols: dict[str, int], column: str) -> str:
    return row[cols[column]] if cols[column] < len(row) else ""


def _path(subject: str | int, study: str | int, dicom_id: str) -> str:
    return f"files/p{str(subject)[:2]}/p{subject}/s{study}/{dicom_id}.jpg"


def iter_records(root: Path, reports_root: str | None = None) -> Iterator[Record | BadInputError]:
    """One record per metadata row, joined with its split (by dicom_id), labels (by study) and,
    given MIMIC-CXR's root, its study's sectioned report (null when the study has none)."""
    root = Path(root)
    layout = check_tables(root)
    split_table = root / TABLES["split"]
    split_cols = _columns(split_table, "split")
    splits = {  # dicom_id -> (line, study_id, subject_id, split)
        _cell(row, split_cols, "dicom_id"): (line, *(_cell(row, split_cols, c) for c in _SPLIT_IDS))
        for line, row in _read(split_table)
    }
    labels = {f: _read_labels(root, f) for f in LABEL_FAMILIES if layout["tables"][f]}
    table = root / TABLES["metadata"]
    cols = _columns(table, "metadata")
    for line, row in _read(table):
        rel = _image_path(row, cols)
        entry = splits.pop(_cell(row, cols, "dicom_id"), None)
        try:
            fields = _metadata_fields(row, cols)
            split = _split_of(entry, fields)
            for family in LABEL_FAMILIES:
                fields[family] = labels.get(family, {}).get(fields["study_id"])
                if isinstance(fields[family], str):  # what is wrong with the study's row
                    raise ValueError(fields[family])
        except ValueError as exc:
            yield BadInputError(rel, "table", f"{table.name} line {line}: {exc}")
            continue
        fields["report"] = _report(reports_root, fields["subject_id"], fields["study_id"])
        key = f"p{fields['subject_id']}_s{fields['study_id']}_{fields['dicom_id']}"
        yield Record(key=key, split=split, source=rel, media={"image": rel}, fields=fields)
    for dicom_id, (line, study, subject, _) in splits.items():
        message = f"{split_table.name} line {line}: no row in {table.name}"
        yield BadInputError(_path(subject, study, dicom_id), "table", message)


def iter_study_records(
    root: Path, reports_root: str | None = None
) -> Iterator[Record | BadInputError]:
    """The ``studies`` config: one record per study (``p<subject>_s<study>``), its images' JPGs,
    dicom ids and views in dicom_id order, with the study's labels and report."""
    return _studies.study_records(
        iter_records(root, reports_root),
        media=lambda images: {"images": [r.media["image"] for r in images]},
        fields=lambda images: {
            "ViewPosition": [r.fields["ViewPosition"] for r in images],
            **{k: images[0].fields[k] for k in (*LABEL_FAMILIES, "report")},
        },
    )


CONFIGS = {
    "studies": {"features": STUDY_FEATURES, "records": iter_study_records, "formats": ("parquet",)}
}


def _report(reports_root: str | None, subject: int, study: int) -> dict | None:
    if reports_root is None:
        return None
    text = mimic_sections.read_report(
        Path(reports_root) / mimic_sections.report_path(subject, study)
    )
    return None if text is None else mimic_sections.report_features(f"s{study}", text)


def _split_of(entry: tuple | None, fields: dict) -> str:
    if entry is None:
        raise ValueError(f"no row in {TABLES['split']}")
    line, *ids, split = entry
    if ids != [str(fields["study_id"]), str(fields["subject_id"])] or split not in SPLITS:
        raise ValueError(
            f"{TABLES['split']} line {line}: study, subject, split {[*ids, split]}; expected the "
            f"metadata's ids and a split of {list(SPLITS)}"
        )
    return SPLITS[split]


def _read_labels(root: Path, family: str) -> dict[int, list | str]:
    """study_id -> its 14 labels, or what is wrong with its row(s)."""
    path = root / TABLES[family]
    cols = _columns(path, family)
    found: dict[int, list | str] = {}
    for line, row in _read(path):
        where = f"{path.name} line {line}"
        if not _cell(row, cols, "study_id").isdigit():
            raise SourceLayoutError(f"{path} line {line}: no integer study_id in {row}")
        study = int(row[cols["study_id"]])
        try:
            names = _labels.CHEXPERT_14
            values = [_labels.parse_label(row[cols[n]], where=f"column {n!r}") for n in names]
        except (ValueError, IndexError) as exc:  # a bad value, or a short row
            values = f"{where}: {exc}"
        found[study] = f"{where}: study {study} has a second row" if study in found else values
    return found


def _metadata_fields(row: list[str], cols: dict[str, int]) -> dict:
    if len(row) <= max(cols.values()):
        raise ValueError(f"{len(row)} fields, expected {len(cols)}")
    fields = {name: _typed(name, row[i].strip()) for name, i in cols.items()}
    ids = [fields[c] for c in ("subject_id", "study_id", "dicom_id")]
    if None in ids or not _DICOM_ID.fullmatch(ids[2]):
        raise ValueError(f"ids {ids}: expected two integers and letters, digits and dashes")
    return fields


def _typed(column: str, text: str) -> str | int | datetime.date | datetime.time | None:
    """A metadata value as its feature stores it (blank: None): StudyDate ``21800506`` as a date,
    StudyTime ``80556.875`` (HHMMSS.fff, leading zeros lost) as a time of day, digits past the
    microsecond dropped."""
    kind = _TYPES.get(column, "string")
    if not text or kind == "string":
        return text or None
    time = _TIME.fullmatch(text) if kind == "time64[us]" else None
    try:
        if kind == "int32":
            return int(text)
        if kind == "date32":
            if len(text) != 8:
                raise ValueError(text)
            return datetime.datetime.strptime(text, "%Y%m%d").date()
        hhmmss, fraction = time.group(1).zfill(6), (time.group(2) or "")[:6].ljust(6, "0")
        value = datetime.time(*(int(hhmmss[i : i + 2]) for i in (0, 2, 4)), int(fraction))
    except (ValueError, TypeError, AttributeError):  # no match, or out of range
        raise ValueError(f"{column} {text!r}: expected {_FORMATS[kind]}") from None
    return value


def write_sample(root: Path, version: str = "2.1.0", extra: int = 0, image_size: int = 64) -> Path:
    """A synthetic download in the release's exact layout (made-up ids and values); ``version``
    2.1.0 adds test-set-labeled; ``extra`` studies of ``image_size`` pixels are for benchmarks."""
    from cxrhub.builders import _mimic_jpg_sample

    return _mimic_jpg_sample.write(Path(root), version, int(extra), int(image_size))
