"""MIMIC-CXR-JPG v2.0.0/2.1.0 (PhysioNet, 2019): 377,110 JPGs of MIMIC-CXR, 14 report labels.

Layout (``mimic-cxr-jpg/2.1.0/``):

- ``files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.jpg``: same tree and ids as MIMIC-CXR; 8-bit,
  single channel, MONOCHROME1 inverted, histogram-equalised, JPEG quality 95. No reports.
- ``mimic-cxr-2.0.0-metadata.csv.gz``: 12 columns per dicom_id (view, rows, columns, date...).
- ``mimic-cxr-2.0.0-split.csv.gz``: ``dicom_id, study_id, subject_id, split`` with ``train``
  (368,960 images), ``validate`` (2,991; HF split ``validation``) and ``test`` (5,159).
- ``mimic-cxr-2.0.0-chexpert.csv.gz``, ``mimic-cxr-2.0.0-negbio.csv.gz``: study-level
  CheXpert/NegBio labels ``1.0``, ``0.0``, ``-1.0`` or blank, 227,827 studies.
- ``mimic-cxr-2.1.0-test-set-labeled.csv`` (2.1.0 only): radiologist labels of 687 test studies.
- ``IMAGE_FILENAMES`` (``RECORDS`` in the release notes), ``LICENSE.txt``, ``SHA256SUMS.txt``.

Access: credentialed. PhysioNet Credentialed Health Data License 1.5.0 and the project's data use
agreement: credentialed, trained users only; access must not be shared with anyone else.
"""

from __future__ import annotations

from cxrhub.builders._spec import Access, DatasetSpec

__all__ = ["SPEC"]

CITATION = """@article{johnson2019mimiccxrjpg,
  title = {MIMIC-CXR-JPG, a large publicly available database of labeled chest radiographs},
  author = {Johnson, Alistair E. W. and Pollard, Tom J. and Greenbaum, Nathaniel R. and
            Lungren, Matthew P. and Deng, Chih-ying and Peng, Yifan and Lu, Zhiyong and
            Mark, Roger G. and Berkowitz, Seth J. and Horng, Steven},
  journal = {arXiv preprint arXiv:1901.07042},
  year = {2019}
}"""

_LICENSE = "https://physionet.org/about/licenses/physionet-credentialed-health-data-license-150/"

SPEC = DatasetSpec(
    name="mimic-cxr-jpg",
    pretty_name="MIMIC-CXR-JPG",
    version="0.0.0",
    access=Access.CREDENTIALED,
    homepage="https://physionet.org/content/mimic-cxr-jpg/",
    citation=CITATION,
    terms=(
        "Credentialed: only PhysioNet credentialed users who completed the required training "
        "and signed the MIMIC-CXR-JPG data use agreement may use it, for research. Access must "
        "not be shared and the data must not be redistributed publicly; read the licence and "
        "DUA at https://physionet.org/content/mimic-cxr-jpg/."
    ),
    license="other",
    license_name="physionet-credentialed-health-data-1.5.0",
    license_link=_LICENSE,
    expected_files=(
        "files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.jpg",
        "mimic-cxr-2.0.0-metadata.csv.gz",
        "mimic-cxr-2.0.0-split.csv.gz",
        "mimic-cxr-2.0.0-chexpert.csv.gz",
        "mimic-cxr-2.0.0-negbio.csv.gz",
        "mimic-cxr-2.1.0-test-set-labeled.csv (optional; 2.1.0 only)",
        "IMAGE_FILENAMES, LICENSE.txt, SHA256SUMS.txt (optional)",
    ),
    splits=("train", "validation", "test"),
    description=(
        "377,110 chest radiographs of 65,379 patients from MIMIC-CXR, converted from DICOM to "
        "8-bit JPG, with DICOM-derived metadata (view, size, study date and time), the official "
        "patient-disjoint train/validate/test split and 14 labels extracted from the reports "
        "by the CheXpert and NegBio labelers. Reports are not included."
    ),
)
