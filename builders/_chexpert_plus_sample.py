"""The synthetic CheXpert Plus tree: the 27-column CSV (multi-line quoted reports), the three
CheXbert JSON Lines files, the two RadGraph-XL arrays, small PNGs under ``PNG/`` and synthetic
DICOMs under ``DICOM/`` (uncompressed, as the release)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from cxrhub.builders import _sample
from cxrhub.builders._labels import CHEXPERT_14

__all__ = ["ROWS", "write"]

# README key order of the CheXbert files
_CHEXBERT_ORDER = (
    "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices", "No Finding",
)  # fmt: skip
_REPORT_1 = (
    "NARRATIVE:\nChest 1 View, 8-8-2005\n\nHISTORY: 61 years Female, ICU patient\n\n"
    "COMPARISON: 8/8/2005.\n\nIMPRESSION:\n\n1.TRACHEOSTOMY TUBE IN PLACE.\n2. NO PNEUMOTHORAX."
    "\n\nSUMMARY: 2-ABNORMAL, PREVIOUSLY REPORTED\n\nACCESSION NUMBER:\n9959089\nThis report has "
    "been anonymized. All dates are offset from the actual dates by a fixed interval associated "
    "with the patient."
)
_REPORT_2 = (
    'FINDINGS:\nThe lungs are clear, "no" effusion.\nHeart size normal.\n\n'
    "IMPRESSION:\nNo acute disease."
)
_REPORT_3 = "IMPRESSION:\nStable cardiomegaly."
_EMPTY = dict.fromkeys(
    ("narrative", "clinical_history", "history", "comparison", "technique",
     "procedure_comments", "findings", "impression", "end_of_impression", "summary",
     "accession_number"), "",
)  # fmt: skip
_S1 = {
    **_EMPTY, "narrative": "Chest 1 View, 8-8-2005",
    "clinical_history": "61 years Female, ICU patient",
    "comparison": "8/8/2005.",
    "findings": "1.TRACHEOSTOMY TUBE IN PLACE.\n2. NO PNEUMOTHORAX.",  # not name-literal
    "end_of_impression": "2-ABNORMAL, PREVIOUSLY REPORTED\nI have personally reviewed the images.",
    "accession_number": "9959089",
}  # fmt: skip
_S2 = {
    **_EMPTY, "findings": 'The lungs are clear, "no" effusion.\nHeart size normal.',
    "impression": "No acute disease.",
}  # fmt: skip
_S3 = {**_EMPTY, "findings": "\n", "impression": "Stable cardiomegaly."}
_WHO_1 = (
    "62.0",
    "Female",
    "White",
    "Non-Hispanic/Non-Latino",
    "No",
    "Private Insurance",
    "22.2",
    "No",
)
_WHO_2 = ("45.0", "Male", "Unknown", "Patient Refused", "Unknown", "Medicare", "", "Unknown")
_WHO_3 = ("", "Unknown", "Patient Refused", "Unknown", "Yes", "Medicaid", "31.5", "Yes")
# path_to_image, frontal_lateral, ap_pa, order, report, sections, demographics, split
ROWS = (
    ("train/patient42142/study5/view1_frontal.jpg", "Frontal", "AP", 5, _REPORT_1, _S1, _WHO_1),
    ("train/patient42142/study5/view2_lateral.jpg", "Lateral", "", 5, _REPORT_1, _S1, _WHO_1),
    ("train/patient00007/study1/view1_frontal.jpg", "Frontal", "PA", 1, _REPORT_2, _S2, _WHO_2),
    ("train/patient00007/study2/view1_frontal.jpg", "Frontal", "LL", 2, _REPORT_3, _S3, _WHO_2),
    ("valid/patient64541/study1/view1_frontal.jpg", "Frontal", "PA", 1, _REPORT_2, _S2, _WHO_3),
    ("valid/patient64541/study1/view2_lateral.jpg", "Lateral", "", 1, _REPORT_2, _S2, _WHO_3),
)  # fmt: skip
MISSING = (
    "train/patient00009/study1/view1_frontal.jpg",
    "Frontal",
    "AP",
    1,
    _REPORT_3,
    _S3,
    _WHO_2,
)


def _radgraph(text: str) -> dict:
    tokens = " ".join(text.split()).split(" ")
    entities = {
        str(i + 1): {
            "tokens": token,
            "label": "Observation::definitely present" if i % 2 else "Anatomy::definitely present",
            "start_ix": i,
            "end_ix": i,
            "relations": [["located_at", str(i)]] if i else [],
        }
        for i, token in enumerate(tokens[:3])
    }
    return {"0": {"text": " ".join(tokens), "entities": entities, "data_source": None,
                  "data_split": "inference"}}  # fmt: skip


def _labels(i: int) -> list:
    cycle = (1.0, 0.0, -1.0, None)
    return [cycle[(i + j) % 4] for j in range(len(_CHEXBERT_ORDER))]


def write(root: Path, missing_image: bool = False) -> Path:
    """Write the tree; ``missing_image`` adds a CSV row whose PNG and DICOM are absent."""
    from pydicom import uid

    from cxrhub.builders.chexpert_plus import CHEXBERT, COLUMNS, RADGRAPH, TABLE

    rows = ROWS + ((MISSING,) if missing_image else ())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for path, view, ap_pa, order, report, sections, who in rows:
        split, patient = path.split("/")[:2]
        writer.writerow(
            (path, path.removesuffix(".jpg") + ".dcm", view, ap_pa, patient, order, report,
             *sections.values(), *who, split)
        )  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    (root / TABLE).write_bytes(out.getvalue().encode("utf-8"))
    for n, rel in enumerate(CHEXBERT.values()):
        lines = [
            json.dumps(
                {"path_to_image": r[0], **dict(zip(_CHEXBERT_ORDER, _labels(i + n), strict=True))}
            )
            for i, r in enumerate(rows)
        ]
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("\n".join(lines) + "\n", encoding="utf-8")
    for section, rel in RADGRAPH.items():
        texts = [r[5][section] for r in rows if len(r[5][section].split()) >= 2]
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(json.dumps([_radgraph(t) for t in texts]), encoding="utf-8")
    for i, (path, *_rest) in enumerate(ROWS):
        pixels = _sample.synthetic_radiograph(seed=i, size=(48 + 8 * i, 40))
        _sample.write_png(root / "PNG" / (path.removesuffix(".jpg") + ".png"), pixels)
        _sample.write_dicom(
            root / "DICOM" / (path.removesuffix(".jpg") + ".dcm"),
            pixels.astype(np.uint16) * 16,
            uid.ExplicitVRLittleEndian,
            bits_stored=12,
            photometric="MONOCHROME1" if i % 3 == 2 else "MONOCHROME2",
            header={"ViewPosition": _rest[1] or "LL"},
        )
    assert set(CHEXPERT_14) == set(_CHEXBERT_ORDER)
    return root
