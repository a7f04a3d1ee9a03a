"""VinDr-CXR 1.0.0 (VinBigData, PhysioNet, 2021): 18,000 DICOMs with radiologist annotations.

Layout (``vindr-cxr/1.0.0/``):

- ``train/<image_id>.dicom`` (15,000; each read by 3 of 17 radiologists, ``rad_id`` R1..R17) and
  ``test/<image_id>.dicom`` (3,000; consensus of 5 radiologists, no ``rad_id``).
- ``annotations/annotations_{train,test}.csv``: boxes (``image_id``, ``rad_id``, ``class_name``,
  ``x_min``, ``y_min``, ``x_max``, ``y_max``); ``No finding`` rows have empty coordinates.
- ``annotations/image_labels_{train,test}.csv``: ``image_id``, ``rad_id`` (train only) and 28 0/1
  columns (22 local findings, 6 global labels; ``Other diseases`` in train is ``Other disease``
  in test). Column orders are unconfirmed.

Some DICOMs lack TransferSyntaxUID in file_meta or PixelData (vinbigdata-medical/vindr-cxr#3).

Access: credentialed. PhysioNet Credentialed Health Data License and the project's data use
agreement: credentialed users only, research and education; the data must not be shared.
"""

from __future__ import annotations

from cxrhub.builders._spec import Access, DatasetSpec

__all__ = ["SPEC"]

CITATION = """@article{nguyen2022vindrcxr,
  title = {VinDr-CXR: An open dataset of chest X-rays with radiologist's annotations},
  author = {Nguyen, Ha Q. and Lam, Khanh and Le, Linh T. and Pham, Hieu H. and Tran, Dat Q. and
            Nguyen, Dung B. and Le, Dung D. and Pham, Chi M. and Tong, Hang T. T. and
            Dinh, Diep H. and Do, Cuong D. and Doan, Luu T. and Nguyen, Cuong N. and
            Nguyen, Binh T. and Nguyen, Que V. and Hoang, Au D. and Phan, Hien N. and
            Nguyen, Anh T. and Ho, Phuong H. and Ngo, Dat T. and Nguyen, Nghia T. and
            Nguyen, Nhan T. and Dao, Minh and Vu, Van},
  journal = {Scientific Data},
  volume = {9},
  number = {1},
  pages = {429},
  year = {2022},
  doi = {10.1038/s41597-022-01498-w}
}"""

_LICENSE = "https://physionet.org/about/licenses/physionet-credentialed-health-data-license-150/"

SPEC = DatasetSpec(
    name="vindr-cxr",
    pretty_name="VinDr-CXR",
    version="0.0.0",
    access=Access.CREDENTIALED,
    homepage="https://physionet.org/content/vindr-cxr/",
    citation=CITATION,
    terms=(
        "Credentialed: only PhysioNet credentialed users who signed the VinDr-CXR data use "
        "agreement may use it, for research and education. Access must not be shared and the "
        "data must not be redistributed publicly; read the licence and DUA at "
        "https://physionet.org/content/vindr-cxr/."
    ),
    license="other",
    license_name="physionet-credentialed-health-data-1.5.0",
    license_link=_LICENSE,
    expected_files=(
        "train/<image_id>.dicom",
        "test/<image_id>.dicom",
        "annotations/annotations_train.csv",
        "annotations/annotations_test.csv",
        "annotations/image_labels_train.csv",
        "annotations/image_labels_test.csv",
    ),
    splits=("train", "test"),
    description=(
        "18,000 de-identified chest radiographs in DICOM from two Vietnamese hospitals "
        "(2018-2020): 15,000 training images, each labelled independently by three "
        "radiologists, and 3,000 test images labelled by the consensus of five. Labels are 28 "
        "image-level findings and diagnoses plus bounding boxes for the local findings."
    ),
)
