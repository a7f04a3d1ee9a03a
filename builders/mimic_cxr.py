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
``mimic-cxr-2.0.0-split.csv.gz`` of MIMIC-CXR-JPG (keyed by dicom_id). v2.1.0 exists; its changes
are unconfirmed.

Access: credentialed. PhysioNet Credentialed Health Data License 1.5.0 and the project's data use
agreement: credentialed, trained users only; access must not be shared with anyone else.
"""

from __future__ import annotations

from cxrhub.builders._spec import Access, DatasetSpec

__all__ = ["SPEC"]

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
    version="0.0.0",
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
    splits=(),
    description=(
        "377,110 chest radiographs in DICOM from 227,835 imaging studies of 65,379 patients "
        "from the Beth Israel Deaconess Medical Center (Boston), each study with its "
        "de-identified free-text radiology report. The DICOMs keep their original pixel data "
        "and headers; subject, study and image ids are random and carry no chronology."
    ),
)
