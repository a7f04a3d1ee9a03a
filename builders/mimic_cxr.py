"""MIMIC-CXR v2.x (PhysioNet, 2019): 377,110 DICOMs, 227,835 studies, 65,379 subjects, reports.

Layout (``mimic-cxr/2.0.0/``):

- ``files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.dcm``: group folder ``p10``..``p19`` = first three
  characters of the patient folder; subject_id 8 digits starting with 1, study_id 8 digits
  starting with 5, dicom_id 40 hex characters in five dash-separated groups.
- ``files/pXX/pXXXXXXXX/sXXXXXXXX.txt``: the free-text report, next to its study folder
  (unpacked from ``mimic-cxr-reports.zip``).
- ``cxr-record-list.csv.gz`` (``subject_id, study_id, dicom_id, path``) and
  ``cxr-study-list.csv.gz`` (``subject_id``, ``study_id``, ``path`` to the report).

No split ships with this project: the official train/validate/test split is
``mimic-cxr-2.0.0-split.csv.gz`` of MIMIC-CXR-JPG (keyed by dicom_id). Pass the MIMIC-CXR-JPG root
(``--source-option jpg_root=...``) to join its split, metadata and CheXpert/NegBio labels;
without it every image is in ``train`` and those columns are null. v2.1.0 exists; its changes
are unconfirmed.

Images go through the DICOM core: ``image`` is the stored values, lossless 16-bit (HTJ2K),
``image_512`` a 512 px MONOCHROME2 JPEG for training, ``dicom`` the allow-listed header with how
each image was made. Config ``studies``: one row per study, its 512 px images and dicom ids as
lists in dicom_id order with the one report (Parquet only). Reports are sectioned exactly as
MIT-LCP's ``create_section_files.py`` (``mimic_sections``).

Access: credentialed. PhysioNet Credentialed Health Data License 1.5.0 and the project's data use
agreement: credentialed, trained users only; access must not be shared with anyone else.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from datasets import Features, Image, List, Value

from cxrhub.builders import _dicom, _sample, _studies, mimic_cxr_jpg, mimic_sections
from cxrhub.builders._spec import Access, DatasetSpec, Record
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError

__all__ = [
    "CONFIGS", "FEATURES", "OPTIONS", "SPEC", "STUDY_FEATURES", "check", "iter_records",
    "iter_study_records", "write_sample",
]  # fmt: skip

logger = logging.getLogger(__name__)

CITATION = """@article{johnson2019mimiccxr,
  title = {MIMIC-CXR, a de-identified publicly available database of chest radiographs with
           free-text reports},
  author = {Johnson, Alistair E. W. and Pollard, Tom J. and Berkowitz, Seth J. and
            Greenbaum, Nathaniel R. and Lungren, Matthew P. and Deng, Chih-ying and
            Mark, Roger G. and Horng, Steven},
  journal = {Scientific Data},
  volume = {6},
  number = {1},
  pages = {317},
  year = {2019},
  doi = {10.1038/s41597-019-0322-0}
}"""

_LICENSE = "https://physionet.org/about/licenses/physionet-credentialed-health-data-license-150/"

SPEC = DatasetSpec(
    name="mimic-cxr",
    pretty_name="MIMIC-CXR",
    version="1.0.0",
    access=Access.CREDENTIALED,
    homepage="https://physionet.org/content/mimic-cxr/",
    citation=CITATION,
    terms=(
        "Credentialed: only PhysioNet credentialed users who completed the required training "
        "and signed the MIMIC-CXR data use agreement may use it, for research. Access must not "
        "be shared and the data must not be redistributed publicly; read the licence and DUA at "
        "https://physionet.org/content/mimic-cxr/."
    ),
    license="other",
    license_name="physionet-credentialed-health-data-1.5.0",
    license_link=_LICENSE,
    expected_files=(
        "files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.dcm",
        "files/pXX/pXXXXXXXX/sXXXXXXXX.txt (reports, from mimic-cxr-reports.zip)",
        "cxr-record-list.csv.gz",
        "cxr-study-list.csv.gz",
        "SHA256SUMS.txt, LICENSE.txt (optional)",
    ),
    splits=("train", "validation", "test"),
    patient_field="subject_id",
    description=(
        "377,110 chest radiographs in DICOM from 227,835 imaging studies of 65,379 patients "
        "from the Beth Israel Deaconess Medical Center (Boston), each study with its "
        "de-identified free-text radiology report. The DICOMs keep their original pixel data "
        "and headers; subject, study and image ids are random and carry no chronology."
    ),
)

RECORD_LIST = "cxr-record-list.csv.gz"
STUDY_LIST = "cxr-study-list.csv.gz"
OPTIONS = {"jpg_root": "a MIMIC-CXR-JPG download to join (split, metadata, labels)"}
_RECORD_COLUMNS = ("subject_id", "study_id", "dicom_id", "path")
_STUDY_COLUMNS = ("subject_id", "study_id", "path")
_LEFTOVERS = ("*._gstmp", "*.tmp", "index.html*")

# joined from MIMIC-CXR-JPG when its root is given (else null): metadata and label families
_JOINED = tuple(
    name
    for name in mimic_cxr_jpg.FEATURES
    if name not in ("image", "dicom_id", "subject_id", "study_id", "Rows", "Columns", "report")
)
FEATURES = Features(
    {
        **_dicom.FEATURES,
        "subject_id": Value("int32"),
        "study_id": Value("int32"),
        "dicom_id": Value("string"),
        "report": mimic_sections.report_feature(),
        **{name: mimic_cxr_jpg.FEATURES[name] for name in _JOINED},
    }
)


# the ``studies`` config: one row per study; its images as the 512 px display JPEGs only (the
# 16-bit archival images would double the storage of the default config)
_FAMILIES = mimic_cxr_jpg.LABEL_FAMILIES
STUDY_FEATURES = Features(
    {
        "subject_id": Value("int32"),
        "study_id": Value("int32"),
        "split": Value("string"),
        "dicom_ids": List(Value("string")),
        "ViewPosition": List(Value("string")),
        "images_512": List(Image()),
        "report": mimic_sections.report_feature(),
        **{family: mimic_cxr_jpg.FEATURES[family] for family in _FAMILIES},
    }
)


def check(root: Path, jpg_root: str | None = None) -> dict:
    """The record and study lists and the files folder, checked before any work; missing files
    and partial-download leftovers are counted up front."""
    root = Path(root)
    for name in (RECORD_LIST, STUDY_LIST):
        if not (root / name).is_file():
            raise MissingSourceError(f"{root / name}: missing; the release ships this list")
    _header(root / RECORD_LIST, _RECORD_COLUMNS)
    _header(root / STUDY_LIST, _STUDY_COLUMNS)
    if not (root / "files").is_dir():
        raise MissingSourceError(f"{root}/files: missing; expected files/pXX/pXXXXXXXX/sXXXXXXXX/")
    listed = [row["path"] for row in _rows(root / RECORD_LIST)]
    missing = sum(not (root / p).is_file() for p in listed)
    empty = sum((root / p).is_file() and (root / p).stat().st_size == 0 for p in listed)
    leftovers = sorted(
        p.relative_to(root).as_posix() for pattern in _LEFTOVERS for p in root.rglob(pattern)
    )
    joined = mimic_cxr_jpg.check_tables(Path(jpg_root)) if jpg_root else None
    if missing or empty or leftovers:
        logger.warning(
            "%s: %d of %d listed DICOMs missing, %d empty, %d partial-download leftovers",
            root, missing, len(listed), empty, len(leftovers),
        )  # fmt: skip
    return {
        "images_listed": len(listed),
        "images_missing": missing,
        "images_empty": empty,
        "leftovers": leftovers[:20],
        "jpg_tables": joined["tables"] if joined else None,
    }


def _header(path: Path, expected: tuple[str, ...]) -> None:
    with gzip.open(path, "rt", newline="") as f:
        header = next(csv.reader(f), [])
    missing = [c for c in expected if c not in header]
    if missing:
        raise SourceLayoutError(f"{path}: missing column(s) {missing}; expected {list(expected)}")


def _rows(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", newline="") as f:
        yield from csv.DictReader(f)


def iter_records(root: Path, jpg_root: str | None = None) -> Iterator[Record | BadInputError]:
    """One record per listed DICOM, with its study's sectioned report."""
    root = Path(root)
    reports = {(r["subject_id"], r["study_id"]): r["path"] for r in _rows(root / STUDY_LIST)}
    joined = _jpg_rows(Path(jpg_root)) if jpg_root else None
    for row in _rows(root / RECORD_LIST):
        rel = row["path"]
        try:
            subject, study = int(row["subject_id"]), int(row["study_id"])
        except ValueError:
            yield BadInputError(rel, "table", f"{RECORD_LIST}: ids {row} are not integers")
            continue
        report_rel = reports.get((row["subject_id"], row["study_id"]))
        text = mimic_sections.read_report(root / report_rel) if report_rel else None
        if text is None:
            yield BadInputError(report_rel or rel, "report", "the study's report is missing")
            continue
        split, extra = (
            ("train", dict.fromkeys(_JOINED))
            if joined is None
            else joined.get(row["dicom_id"], (None, None))
        )
        if extra is None:
            yield BadInputError(rel, "join", "no row for this dicom_id in MIMIC-CXR-JPG's tables")
            continue
        yield Record(
            key=f"p{subject}_s{study}_{row['dicom_id']}",
            split=split,
            source=rel,
            media=_dicom.media(rel),
            fields={
                "subject_id": subject,
                "study_id": study,
                "dicom_id": row["dicom_id"],
                "report": mimic_sections.report_features(f"s{study}", text),
                **extra,
            },
        )


def iter_study_records(root: Path, jpg_root: str | None = None) -> Iterator[Record | BadInputError]:
    """The ``studies`` config: one record per study (``p<subject>_s<study>``) with its images'
    512 px JPEGs and dicom ids in dicom_id order, its report and, given MIMIC-CXR-JPG's root,
    its views (else null), split and labels."""
    return _studies.study_records(
        iter_records(root, jpg_root),
        media=lambda images: {"images_512": [r.media["image_512"] for r in images]},
        fields=lambda images: {
            "ViewPosition": [r.fields["ViewPosition"] for r in images] if jpg_root else None,
            **{k: images[0].fields[k] for k in (*_FAMILIES, "report")},
        },
    )


CONFIGS = {
    "studies": {"features": STUDY_FEATURES, "records": iter_study_records, "formats": ("parquet",)}
}


def _jpg_rows(jpg_root: Path) -> dict[str, tuple[str, dict]]:
    """dicom_id -> (official split, joined columns) from MIMIC-CXR-JPG's tables."""
    joined = {}
    for item in mimic_cxr_jpg.iter_records(jpg_root):
        if isinstance(item, BadInputError):
            logger.warning("MIMIC-CXR-JPG: %s", item)
            continue
        joined[item.fields["dicom_id"]] = (item.split, {k: item.fields[k] for k in _JOINED})
    return joined


def write_sample(root: Path, extra: int = 0, image_size: int = 96) -> Path:
    """A small synthetic MIMIC-CXR download: lists, DICOMs in several transfer syntaxes and
    MONOCHROME1/2, and reports that exercise the sectioning rules; ``extra`` more one-view
    studies of ``image_size`` px (uncompressed, as the release) for load and benchmarks."""
    from pydicom import uid

    root, extra, image_size = Path(root), int(extra), int(image_size)
    syntaxes = (uid.ExplicitVRLittleEndian, uid.JPEG2000Lossless, uid.JPEGLosslessSV1)
    records, studies = [], []
    generated = [(12000000 + j, 56000000 + j, ("PA",), _NORMAL) for j in range(extra)]
    for i, (subject, study, views, report) in enumerate(_SAMPLE_STUDIES + tuple(generated)):
        folder = f"files/p{str(subject)[:2]}/p{subject}"
        studies.append((subject, study, f"{folder}/s{study}.txt"))
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / f"s{study}.txt").write_text(report)
        for j, view in enumerate(views):
            dicom_id = _dicom_id(f"{study}-{j}")
            rel = f"{folder}/s{study}/{dicom_id}.dcm"
            size = (96, 80) if i < len(_SAMPLE_STUDIES) else (image_size, image_size)
            pixels = _sample.synthetic_radiograph(seed=10 * i + j, size=size).astype(np.uint16) * 16
            write_dicom_args = {
                "photometric": "MONOCHROME1" if j % 2 else "MONOCHROME2",
                "bits_stored": 12,
            }
            _sample.write_dicom(
                root / rel,
                pixels,
                syntaxes[(i + j) % 3] if i < len(_SAMPLE_STUDIES) else syntaxes[0],
                header={"ViewPosition": view},
                **write_dicom_args,
            )
            records.append((subject, study, dicom_id, rel))
    _write_gz(root / RECORD_LIST, _RECORD_COLUMNS, records)
    _write_gz(root / STUDY_LIST, _STUDY_COLUMNS, studies)
    return root


def _dicom_id(seed: str) -> str:
    digest = hashlib.sha1(seed.encode()).hexdigest()[:40]
    return "-".join(digest[i : i + 8] for i in range(0, 40, 8))


def _write_gz(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())


def _report(*lines: str) -> str:
    """The release's format: every line starts with one space, blank lines are a single space."""
    title = "                                FINAL REPORT"
    return "".join(f" {line}\n" for line in (title, *lines))


_NORMAL = _report(
    "EXAMINATION:  CHEST (PA AND LAT)", "",
    "INDICATION:  ___F with new onset ascites  // eval for infection", "",
    "TECHNIQUE:  Chest PA and lateral", "",
    "COMPARISON:  None.", "",
    "FINDINGS: ", "",
    "There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral",
    "nodular opacities that most likely represent nipple shadows. The",
    "cardiomediastinal silhouette is normal.", "",
    "IMPRESSION: ", "",
    "No acute cardiopulmonary process.",
)  # fmt: skip
_ADDENDUM = " ADDENDUM:  The right PICC tip is in the low SVC.\n " + "_" * 78 + "\n" + _report(
    "INDICATION:  ___-year-old man with cough.", "",
    "FINDINGS:  Mild cardiomegaly.", "",
    "IMPRESSOIN:  Mild cardiomegaly without pulmonary edema.",
)  # fmt: skip
_NO_HEADERS = _report(
    "PORTABLE CHEST ___ AT 08:00", "",
    "Lines and tubes are unchanged in position.", "",
    "No pneumothorax.",
)  # fmt: skip
_CUSTOM_RULE = _report(  # s58235663: a study the official rules map to an empty conclusion
    "HISTORY:  Dyspnea.", "",
    "FINDINGS:  Small left pleural effusion.", "",
    "IMPRESSION:", "",
)  # fmt: skip
# subject, study, views, report
_SAMPLE_STUDIES = (
    (10000032, 50414267, ("PA", "LATERAL"), _NORMAL),
    (10000032, 53189527, ("AP",), _ADDENDUM),
    (10000764, 57375967, ("AP", "LATERAL"), _NO_HEADERS),
    (11000011, 58235663, ("PA",), _CUSTOM_RULE),
)
