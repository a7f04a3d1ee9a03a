"""PadChest (BIMCV, 2019): about 160,000 chest radiographs with Spanish reports and labels.

Layout:

- ``PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv`` (or ``.csv.gz``): one row per image,
  35 columns: ids (``ImageID``, ``ImageDir``, ``StudyID``, ``PatientID``), DICOM-derived fields
  (``*_DICOM``: date, sex, view, modality, manufacturer, photometric, resolution, exposure...),
  ``Projection`` (``PA``, ``AP``, ``AP_horizontal``, ``L``, ``COSTAL``, ``EXCLUDE``),
  ``Pediatric``, ``Report`` (Spanish), ``MethodLabel`` (``Physician`` or automatic) and the
  list columns ``Labels``, ``Localizations``, ``LabelsLocalizationsBySentence``, ``labelCUIS``,
  ``LocalizationsCUIS`` as Python-repr strings. A leading unnamed index column is unconfirmed.
- ``<ImageDir>/<ImageID>``: PNGs (16-bit, inferred) in integer-numbered folders, one per image
  archive (folder range unconfirmed); ImageID e.g.
  ``14968019924555248865694512726537711769_3r162a.png``.

No official split. Labels (per the paper): 174 radiographic findings, 19 differential diagnoses
and 104 anatomic locations mapped to UMLS; 27% of reports labelled manually by physicians, the
rest by a recurrent neural network.

Access: treated as credentialed. Downloading requires registering with BIMCV and accepting the
PadChest research licence (research use only).
"""

from __future__ import annotations

from cxrhub.builders._spec import Access, DatasetSpec

__all__ = ["SPEC"]

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

SPEC = DatasetSpec(
    name="padchest",
    pretty_name="PadChest",
    version="0.0.0",
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
        "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv (or .csv.gz)",
        "<ImageDir>/<ImageID> (ImageID ends in .png; ImageDir is the integer folder in the CSV)",
    ),
    splits=(),
    description=(
        "More than 160,000 chest radiographs of about 67,000 patients from Hospital San Juan "
        "(Alicante, Spain), 2009-2017, in six projections, with the Spanish radiology report, "
        "DICOM acquisition fields, patient sex and birth year, and hierarchical finding, "
        "diagnosis and location labels mapped to UMLS."
    ),
)
