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

Access: credentialed. Stanford AIMI research-use agreement: personal, non-commercial research; no
redistribution without Stanford's written permission.
"""

from __future__ import annotations

from cxrhub.builders._spec import Access, DatasetSpec

__all__ = ["SPEC"]

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
    version="0.0.0",
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
    description=(
        "223,462 chest radiographs (PNG and DICOM) of 64,725 patients in 187,711 studies. "
        "Each image comes with its study's de-identified radiology report, split into 11 "
        "sections, and with patient demographics (age, sex, race, ethnicity, insurance, BMI), "
        "CheXbert labels and RadGraph-XL annotations. The images are the CheXpert training "
        "and validation images."
    ),
)
