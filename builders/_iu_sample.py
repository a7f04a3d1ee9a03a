"""The synthetic IU X-ray download: five reports in the NLM XML schema or the Kaggle CSVs."""

from __future__ import annotations

import csv
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from cxrhub.builders import _sample

__all__ = ["MISSING", "REPORTS", "write"]

# uid number, pmcId, caption, sections (None: empty element / blank cell), MeSH major, automatic,
# images (NLM parentImage id, projection). Report 5 has no image; CXR1 has the ``_1_`` quirk.
REPORTS = (
    (1, "Xray Chest PA and Lateral",
     {"COMPARISON": "None.", "INDICATION": "Positive TB test",
      "FINDINGS": "The cardiac silhouette and mediastinum size are within normal limits. There is "
      "no pulmonary edema. There is no focal consolidation. There are no XXXX of a pleural "
      "effusion. There is no evidence of pneumothorax.",
      "IMPRESSION": "Normal chest x-XXXX."},
     ["normal"], [],
     [("CXR1_1_IM-0001-3001", "Frontal"), ("CXR1_1_IM-0001-4001", "Lateral")]),
    (2, "Chest, 2 views, frontal and lateral",
     {"COMPARISON": None, "INDICATION": "Preop bariatric surgery.",
      "FINDINGS": "Borderline cardiomegaly. Midline sternotomy XXXX. Enlarged pulmonary arteries. "
      "Clear lungs. Inferior XXXX XXXX XXXX.",
      "IMPRESSION": "No acute pulmonary findings."},
     ["Cardiomegaly/borderline", "Pulmonary Artery/enlarged"], [],
     [("CXR2_IM-0652-1001", "Frontal"), ("CXR2_IM-0652-2001", "Lateral")]),
    (3, "PA and lateral chest XXXX XXXX",
     {"COMPARISON": "XXXX, XXXX", "INDICATION": "XXXX-year-old male, shortness of breath",
      "FINDINGS": "Left basilar airspace opacity, with a small left pleural effusion, \"likely\" "
      "atelectasis; no pneumothorax.",
      "IMPRESSION": None},
     ["Opacity/lung/base/left", "Pleural Effusion/left/small", "Pulmonary Atelectasis/base/left"],
     ["opacity", "Atelectasis"],
     [("CXR3_IM-1384-1001", "Frontal")]),
    (4, "Xray Chest PA and Lateral",
     {"COMPARISON": None, "INDICATION": None,
      "FINDINGS": "Right IJ catheter tip in the SVC. Calcified granuloma right upper lobe.",
      "IMPRESSION": "Line in XXXX position. No acute disease."},
     ["Catheters, Indwelling", "Calcified Granuloma/lung/upper lobe/right"], ["Granuloma"],
     [("CXR4_IM-2050-1001", "Frontal"), ("CXR4_IM-2050-2001", "Lateral")]),
    (5, "Xray Chest PA and Lateral",
     {"COMPARISON": None, "INDICATION": "Cough", "FINDINGS": None,
      "IMPRESSION": "No active disease."},
     ["normal"], [], []),
)  # fmt: skip
MISSING = "CXR4_IM-2050-2001"
_SIZES = ((64, 64), (56, 64), (64, 48))


def write(root: Path, release: str, missing: bool) -> Path:
    """Write the sample in ``release`` (``nlm`` or ``kaggle``) layout under ``root``."""
    if release not in ("nlm", "kaggle"):
        raise ValueError(f"release {release!r}: choose nlm or kaggle")
    root.mkdir(parents=True, exist_ok=True)
    n = 0
    for uid, caption, sections, major, auto, images in REPORTS:
        if release == "nlm":
            xml = _xml(uid, caption, sections, major, auto, images)
            (root / "ecgen-radiology").mkdir(exist_ok=True)
            (root / "ecgen-radiology" / f"{uid}.xml").write_text(xml, encoding="utf-8")
        for image_id, _ in images:
            n += 1
            if missing and image_id == MISSING:
                continue
            pixels = _sample.synthetic_radiograph(seed=n, size=_SIZES[n % 3])
            _sample.write_png(root / _image_path(release, uid, image_id), pixels)
    if release == "kaggle":
        _kaggle_tables(root)
    return root


def _image_path(release: str, uid: int, image_id: str) -> str:
    if release == "nlm":
        return f"{image_id}.png"
    return f"images/images_normalized/{uid}_{image_id.rsplit('_', 1)[1]}.dcm.png"


def _kaggle_tables(root: Path) -> None:
    reports = [["uid", "MeSH", "Problems", "image", "indication", "comparison", "findings",
                "impression"]]  # fmt: skip
    projections = [["uid", "filename", "projection"]]
    for uid, caption, sections, major, _, images in REPORTS:
        problems = list(dict.fromkeys(t.split("/")[0] for t in major))
        texts = [sections[s] or "" for s in ("INDICATION", "COMPARISON", "FINDINGS", "IMPRESSION")]
        reports.append([uid, ";".join(major), ";".join(problems), caption, *texts])
        for image_id, projection in images:
            name = _image_path("kaggle", uid, image_id).rsplit("/", 1)[1]
            projections.append([uid, name, projection])
    for name, rows in (("indiana_reports.csv", reports), ("indiana_projections.csv", projections)):
        with (root / name).open("w", newline="", encoding="utf-8") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)


def _xml(uid: int, caption: str, sections: dict, major: list, auto: list, images: list) -> str:
    abstract = "".join(
        f'<AbstractText Label="{label}">{escape(text)}</AbstractText>'
        if text else f'<AbstractText Label="{label}"/>'
        for label, text in sections.items()
    )  # fmt: skip
    mesh = "".join(f"<major>{escape(t)}</major>" for t in major)
    mesh += "".join(f"<automatic>{escape(t)}</automatic>" for t in auto)
    parents = "".join(
        f'<parentImage id="{image_id}"><figureId>F{i}</figureId>'
        f"<caption>{escape(caption)}</caption>"
        f'<panel type="single"><url>/hadoop/storage/radiology/extract/{image_id}.jpg</url></panel>'
        f"<imgModality>7</imgModality></parentImage>"
        for i, (image_id, _) in enumerate(images, 1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<eCitation><meta type="rr"/><uId id="CXR{uid}"/><pmcId id="{uid}"/>'
        f"<docSource>CXR</docSource><IUXRId id={quoteattr(str(uid))}/>"
        "<licenseType>open-access</licenseType>"
        "<licenseURL>http://creativecommons.org/licenses/by-nc-nd/4.0/</licenseURL>"
        "<ccLicense>byncnd</ccLicense><articleURL/><articleDate>2013-08-01</articleDate>"
        "<articleType>XR</articleType><publisher>Indiana University</publisher>"
        "<title>Indiana University Chest X-ray Collection</title><note/><specialty>pulmonary "
        "diseases</specialty><subset>CXR</subset>"
        '<MedlineCitation Owner="Indiana University" Status="supplied">'
        '<Article PubModel="Electronic"><Journal><JournalIssue><PubDate><Year>2013</Year>'
        "</PubDate></JournalIssue></Journal><ArticleTitle>Indiana University Chest X-ray "
        f"Collection</ArticleTitle><Abstract>{abstract}</Abstract></Article></MedlineCitation>"
        f"<MeSH>{mesh}</MeSH>{parents}</eCitation>\n"
    )
