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

No official split. Archive names other than the reports archive are unconfirmed.

Access: public, no registration. Distributed by the U.S. National Library of Medicine through
Open-i under CC BY-NC-ND 4.0 (attribution, non-commercial, no derivatives).
"""

from __future__ import annotations

from cxrhub.builders._spec import Access, DatasetSpec

__all__ = ["SPEC"]

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
    splits=(),
    description=(
        "3,955 de-identified chest radiology reports from Indiana University with 7,470 "
        "frontal and lateral radiographs (mostly two per report). Each report has "
        "comparison, indication, findings and impression sections and manual (major) and "
        "automatic MeSH terms."
    ),
)
