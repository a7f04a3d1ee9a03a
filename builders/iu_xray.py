"""IU X-ray / Open-i Indiana (NLM, 2016): 3,955 reports with 7,470 chest radiographs.

Layout (either download):

- NLM original: ``NLMCXR_reports.tgz`` unpacks to ``ecgen-radiology/<N>.xml`` (3,955 files, N in
  1..3999 with gaps). Each ``<eCitation>`` holds the ``COMPARISON``, ``INDICATION``,
  ``FINDINGS`` and ``IMPRESSION`` texts (de-identified with ``XXXX``), MeSH ``major`` and
  ``automatic`` terms and 0-5 ``parentImage`` ids. The PNG archive unpacks to flat
  ``<parentImage id>.png`` files, e.g. ``CXR1_1_IM-0001-3001.png`` (only uid CXR1 has the ``_1_``).
- Kaggle copy (``raddar/chest-xrays-indiana-university``): ``indiana_reports.csv``
  (``uid, MeSH, Problems, image, indication, comparison, findings, impression``),
  ``indiana_projections.csv`` (``uid, filename, projection``) and
  ``images/images_normalized/<uid>_IM-XXXX-XXXX.dcm.png``.

No official split: every record is in ``train``. Archive names other than the reports archive
are unconfirmed.

Access: public, no registration. Distributed by the U.S. National Library of Medicine through
Open-i under CC BY-NC-ND 4.0 (attribution, non-commercial, no derivatives).

One record per image, carrying its report: ``uid`` (``CXR<N>``, the report; IU has no patient
id, so the split-leak report counts uids), ``image_id`` as released (the NLM ``parentImage`` id or
the Kaggle file name), ``projection`` (Kaggle's ``indiana_projections.csv``; the NLM release does
not say, so ``None`` there), the four sections (stripped; an empty element or blank cell is
``None``; ``XXXX`` kept), the full ``report`` (``LABEL: text`` paragraphs in that order),
``mesh_major`` and ``mesh_automatic`` (Kaggle has no automatic terms: ``None``) and ``labels``.
Keys are ``CXR<N>_IM-NNNN-NNNN`` in both releases: the NLM quirk ``CXR1_1_IM-...`` (only uid
CXR1 has the ``_1_``) drops its ``_1_``, and a PNG is found under either spelling. A report
without images yields no record.

Labels: :data:`MESH_TO_CHEXPERT` maps the MeSH *major* terms (``head/qualifier/...``, matched on
the longest listed prefix, case-insensitively) onto the shared CheXpert-14 vocabulary
(:mod:`cxrhub.builders._labels`) only where the finding is clearly the same; a mapped term is
``1``, everything else ``None`` (IU lists what it found and says nothing of the rest; ``normal``
is ``No Finding``). A report without major terms has ``labels`` ``None``.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from datasets import Features, Image, List, Value

from cxrhub.builders import _labels
from cxrhub.builders._spec import Access, CardStats, DatasetSpec, Record
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError

__all__ = [
    "FEATURES", "MESH_TO_CHEXPERT", "SECTIONS", "SPEC", "check", "iter_records", "labels_from_mesh",
    "write_sample",
]  # fmt: skip

CITATION = """@article{demnerfushman2016preparing,
  title = {Preparing a collection of radiology examinations for distribution and retrieval},
  author = {Demner-Fushman, Dina and Kohli, Marc D. and Rosenman, Marc B. and
            Shooshan, Sonya E. and Rodriguez, Laritza and Antani, Sameer and
            Thoma, George R. and McDonald, Clement J.},
  journal = {Journal of the American Medical Informatics Association},
  volume = {23},
  number = {2},
  pages = {304--310},
  year = {2016},
  doi = {10.1093/jamia/ocv080}
}"""

SPEC = DatasetSpec(
    name="iu-xray",
    pretty_name="IU X-ray (Open-i Indiana University Chest X-ray Collection)",
    version="0.0.0",
    access=Access.PUBLIC,
    homepage="https://openi.nlm.nih.gov/",
    citation=CITATION,
    terms=(
        "Public, no registration: the U.S. National Library of Medicine distributes the "
        "collection through Open-i under CC BY-NC-ND 4.0, so use must be non-commercial and "
        "credit the source (cite Demner-Fushman et al. 2016); see https://openi.nlm.nih.gov/faq."
    ),
    license="cc-by-nc-nd-4.0",
    expected_files=(
        "ecgen-radiology/<N>.xml (reports, from NLMCXR_reports.tgz)",
        "<parentImage id>.png, e.g. CXR1_1_IM-0001-3001.png (flat, from the NLM PNG archive)",
        (
            "or, Kaggle copy: indiana_reports.csv, indiana_projections.csv, "
            "images/images_normalized/<uid>_IM-XXXX-XXXX.dcm.png"
        ),
    ),
    splits=("train",),
    description=(
        "3,955 de-identified chest radiology reports from Indiana University with 7,470 "
        "frontal and lateral radiographs (mostly two per report). Each report has "
        "comparison, indication, findings and impression sections and manual (major) and "
        "automatic MeSH terms. There is no official split: every image is in `train`."
    ),
    card_stats=CardStats(view="projection"),
    patient_field="uid",
)

REPORTS_DIR = "ecgen-radiology"
KAGGLE_REPORTS = "indiana_reports.csv"
KAGGLE_PROJECTIONS = "indiana_projections.csv"
KAGGLE_IMAGES = "images/images_normalized"
KAGGLE_REPORT_COLUMNS = ("uid", "MeSH", "indication", "comparison", "findings", "impression")
KAGGLE_PROJECTION_COLUMNS = ("uid", "filename", "projection")
SECTIONS = ("COMPARISON", "INDICATION", "FINDINGS", "IMPRESSION")  # XML order
_ABSTRACT = "MedlineCitation/Article/Abstract/AbstractText"

# MeSH major term (lowercase ``head`` or ``head/qualifier`` prefix) -> CheXpert-14 observation.
MESH_TO_CHEXPERT: dict[str, str] = _labels.MAPPINGS["iu-xray"]

FEATURES = Features(
    {
        "image": Image(),
        "uid": Value("string"),
        "image_id": Value("string"),
        "projection": Value("string"),
        **{section.lower(): Value("string") for section in SECTIONS},
        "report": Value("string"),
        "mesh_major": List(Value("string")),
        "mesh_automatic": List(Value("string")),
        "labels": _labels.label_features(),
    }
)
_IMAGE_ID = re.compile(r"^(?:CXR)?(\d+)(?:_1)?_(IM-\d+-\d+)")


def check(root: Path) -> dict:
    """Detect the release (NLM or Kaggle) and validate its layout before any work."""
    root = Path(root)
    if (root / REPORTS_DIR).is_dir():
        count = sum(1 for _ in (root / REPORTS_DIR).glob("*.xml"))
        if not count:
            raise MissingSourceError(
                f"{root / REPORTS_DIR}: no report files; expected <N>.xml from NLMCXR_reports.tgz"
            )
        image_dir = next((d for d in (root, *sorted(root.iterdir())) if _has_png(d)), None)
        if image_dir is None:
            raise MissingSourceError(
                f"{root}: no PNG images; expected flat <parentImage id>.png files (NLM PNG archive)"
                " in the root or one folder below it"
            )
        rel = image_dir.relative_to(root).as_posix()
        return {"release": "nlm", "reports": REPORTS_DIR, "report_files": count, "image_dir": rel}
    if not (root / KAGGLE_REPORTS).is_file():
        raise MissingSourceError(
            f"{root}: no reports; expected {REPORTS_DIR}/<N>.xml (NLM release) or "
            f"{KAGGLE_REPORTS} + {KAGGLE_PROJECTIONS} + {KAGGLE_IMAGES}/ (Kaggle copy)"
        )
    if not (root / KAGGLE_PROJECTIONS).is_file():
        raise MissingSourceError(f"{root / KAGGLE_PROJECTIONS}: missing; the Kaggle copy ships it")
    _header(root / KAGGLE_REPORTS, KAGGLE_REPORT_COLUMNS)
    _header(root / KAGGLE_PROJECTIONS, KAGGLE_PROJECTION_COLUMNS)
    if not (root / KAGGLE_IMAGES).is_dir():
        raise MissingSourceError(
            f"{root / KAGGLE_IMAGES}: missing; expected the Kaggle images/images_normalized/ folder"
        )
    return {"release": "kaggle", "reports": KAGGLE_REPORTS, "image_dir": KAGGLE_IMAGES}


def iter_records(root: Path) -> Iterator[Record | BadInputError]:
    """One record per image of a report (its report's fields), in either release."""
    root = Path(root)
    layout = check(root)
    if layout["release"] == "nlm":
        yield from _nlm_records(root, layout["image_dir"])
    else:
        yield from _kaggle_records(root)


def labels_from_mesh(major: list[str] | None) -> list[int | None] | None:
    """The CheXpert-14 labels of a report's MeSH major terms via :data:`MESH_TO_CHEXPERT`."""
    if not major:
        return None
    labels: list[int | None] = [None] * len(_labels.CHEXPERT_14)
    for term in major:
        parts = [p.strip().lower() for p in term.split("/")]
        for n in range(len(parts), 0, -1):
            name = MESH_TO_CHEXPERT.get("/".join(parts[:n]))
            if name:
                labels[_labels.CHEXPERT_14.index(name)] = 1
                break
    return labels


def write_sample(root: Path, release: str = "nlm", missing_image: bool | str = False) -> Path:
    """Write a small synthetic download (see :mod:`cxrhub.builders._iu_sample`).

    Args:
        release: ``nlm`` (``ecgen-radiology/*.xml`` + flat PNGs) or ``kaggle`` (the two CSVs and
            ``images/images_normalized/``).
        missing_image: leave one listed image (``CXR4_IM-2050-2001``) off the disk.
    """
    from cxrhub.builders import _iu_sample

    missing = str(missing_image).lower() in ("1", "true", "yes")
    return _iu_sample.write(Path(root), release, missing)


def _has_png(folder: Path) -> bool:
    return folder.is_dir() and next(folder.glob("*.png"), None) is not None


def _header(path: Path, required: tuple[str, ...]) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        header = [h.strip() for h in next(csv.reader(f), [])]
    for column in required:
        if column not in header:
            raise SourceLayoutError(
                f"{path}: missing column {column!r}; expected {', '.join(required)}, found {header}"
            )
    return header


def _fields(uid: str, image_id: str, projection: str | None, sections: dict, major, auto) -> dict:
    texts = {s: sections.get(s) for s in SECTIONS}
    report = "\n\n".join(f"{s}: {t}" for s, t in texts.items() if t) or None
    return {
        "uid": uid,
        "image_id": image_id,
        "projection": projection,
        **{s.lower(): t for s, t in texts.items()},
        "report": report,
        "mesh_major": major,
        "mesh_automatic": auto,
        "labels": labels_from_mesh(major),
    }


def _key(uid: str, image_id: str) -> str | None:
    match = _IMAGE_ID.match(image_id)
    if not match or f"CXR{match.group(1)}" != uid:
        return None
    return f"{uid}_{match.group(2)}"


def _nlm_records(root: Path, image_dir: str) -> Iterator[Record | BadInputError]:
    folder = root / image_dir
    prefix = "" if image_dir == "." else f"{image_dir}/"
    for path in sorted((root / REPORTS_DIR).glob("*.xml"), key=_number_first):
        rel = path.relative_to(root).as_posix()
        try:
            report = _parse_xml(path)
        except (ET.ParseError, ValueError) as exc:
            yield BadInputError(rel, "read", str(exc))
            continue
        uid, sections, major, auto, images = report
        for image_id in images:
            key = _key(uid, image_id)
            if key is None:
                yield BadInputError(rel, "read", f"parentImage id {image_id!r}: expected {uid}_IM-")
                continue
            name = next((n for n in (image_id, key) if (folder / f"{n}.png").is_file()), image_id)
            media = f"{prefix}{name}.png"
            fields = _fields(uid, image_id, None, sections, major, auto)
            yield Record(
                key=key, split="train", source=media, media={"image": media}, fields=fields
            )


def _number_first(path: Path) -> tuple:
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def _parse_xml(path: Path) -> tuple:
    tree = ET.parse(path).getroot()
    uid_el = tree.find("uId")
    if tree.tag != "eCitation" or uid_el is None or not uid_el.get("id"):
        raise ValueError("expected an <eCitation> root with <uId id=...>")
    abstracts = tree.findall(_ABSTRACT)
    if not abstracts:
        raise ValueError(f"no {_ABSTRACT} elements; expected one per section {list(SECTIONS)}")
    sections = {}
    for element in abstracts:
        label = (element.get("Label") or "").strip().upper()
        text = "".join(element.itertext()).strip()
        if label in SECTIONS:
            sections[label] = text or None
    major = [t.strip() for t in (e.text or "" for e in tree.findall("MeSH/major")) if t.strip()]
    auto = [t.strip() for t in (e.text or "" for e in tree.findall("MeSH/automatic")) if t.strip()]
    images = [e.get("id", "").strip() for e in tree.findall("parentImage")]
    return uid_el.get("id").strip(), sections, major, auto, images


def _kaggle_records(root: Path) -> Iterator[Record | BadInputError]:
    reports = {}
    for _line, row in _rows(root / KAGGLE_REPORTS):
        sections = {s: (row[s.lower()] or "").strip() or None for s in SECTIONS}
        major = [t.strip() for t in (row["MeSH"] or "").split(";") if t.strip()]
        reports[row["uid"].strip()] = (sections, major)
    for line, row in _rows(root / KAGGLE_PROJECTIONS):
        filename = row["filename"].strip()
        media = f"{KAGGLE_IMAGES}/{filename}"
        uid = row["uid"].strip()
        key = _key(f"CXR{uid}", filename)
        where = f"{KAGGLE_PROJECTIONS} line {line}"
        if uid not in reports:
            yield BadInputError(media, "table", f"{where}: uid {uid!r} has no {KAGGLE_REPORTS} row")
            continue
        if key is None:
            yield BadInputError(media, "table", f"{where}: filename {filename!r}: expected "
                                f"{uid}_IM-NNNN-NNNN.dcm.png")  # fmt: skip
            continue
        sections, major = reports[uid]
        projection = row["projection"].strip() or None
        fields = _fields(f"CXR{uid}", filename, projection, sections, major, None)
        yield Record(key=key, split="train", source=media, media={"image": media}, fields=fields)


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        for row in reader:
            if any((v or "").strip() for v in row.values() if isinstance(v, str)):
                yield reader.line_num, row
