"""CheXpert v1.0 (Stanford AIMI, 2019): 224,316 chest radiographs of 65,240 patients, 14 labels.

Layout (either download):

- ``CheXpert-v1.0-small/`` (downsampled JPEG, legacy/Kaggle) or ``CheXpert-v1.0/`` (legacy full
  resolution): ``train.csv``, ``valid.csv``, ``{train,valid}/patientNNNNN/studyM/viewK_frontal.jpg``
  (or ``viewK_lateral.jpg``). ``Path`` in the CSVs carries the root prefix.
- Current AIMI full resolution: ``CheXpert-v1.0 batch 1 (validate & csv)/`` (``valid/``,
  ``valid.csv``; where ``train.csv`` sits is unconfirmed), ``... batch 2 (train 1)/`` to
  ``... batch 4 (train 3)/`` holding ``patientNNNNN/studyM/``, plus ``train_cheXbert.csv``,
  ``train_visualCheXbert.csv`` and ``CHEXPERT DEMO.xlsx``.

Tables: 19 columns (``Path, Sex, Age, Frontal/Lateral, AP/PA`` + 14 observations), values ``1.0``,
``0.0``, ``-1.0`` (uncertain) or blank. Splits: train (223,414 images, patients 00001-64540) and
valid (234 images, 200 patients, radiologist labels, 0/1 only). The test set (668 images, 500
patients) is a separate AIMI release with CheXlocalize and is not part of this spec.

Access: credentialed (Stanford AIMI Research Use Agreement: personal, non-commercial research;
no copy may be distributed without Stanford's written permission).
"""

from __future__ import annotations

from cxrhub.builders._spec import Access, DatasetSpec

__all__ = ["SPEC"]

CITATION = """@inproceedings{irvin2019chexpert,
  title = {CheXpert: A Large Chest Radiograph Dataset with Uncertainty Labels and Expert
           Comparison},
  author = {Irvin, Jeremy and Rajpurkar, Pranav and Ko, Michael and Yu, Yifan and
            Ciurea-Ilcus, Silviana and Chute, Chris and Marklund, Henrik and Haghgoo, Behzad and
            Ball, Robyn and Shpanskaya, Katie and Seekins, Jayne and Mong, David A. and
            Halabi, Safwan S. and Sandberg, Jesse K. and Jones, Ricky and Larson, David B. and
            Langlotz, Curtis P. and Patel, Bhavik N. and Lungren, Matthew P. and Ng, Andrew Y.},
  booktitle = {Proceedings of the AAAI Conference on Artificial Intelligence},
  volume = {33},
  number = {01},
  pages = {590--597},
  year = {2019},
  doi = {10.1609/aaai.v33i01.3301590}
}"""

_HOMEPAGE = "https://aimi.stanford.edu/datasets/chexpert-chest-x-rays"

SPEC = DatasetSpec(
    name="chexpert",
    pretty_name="CheXpert",
    version="0.0.0",
    access=Access.CREDENTIALED,
    homepage=_HOMEPAGE,
    citation=CITATION,
    terms=(
        "Credentialed: each user must register with Stanford AIMI and accept the CheXpert "
        "Research Use Agreement (personal, non-commercial research only). The data must not be "
        "distributed, published or reproduced without Stanford's written permission; read the "
        f"agreement on the download page linked from {_HOMEPAGE}."
    ),
    license="other",
    license_name="stanford-aimi-research-use",
    license_link=_HOMEPAGE,
    expected_files=(
        "train.csv (Path prefixed CheXpert-v1.0-small/ or CheXpert-v1.0/)",
        "valid.csv",
        "train/patientNNNNN/studyM/viewK_frontal.jpg or viewK_lateral.jpg",
        "valid/patientNNNNN/studyM/viewK_frontal.jpg or viewK_lateral.jpg",
        (
            "or, current AIMI full-res: CheXpert-v1.0 batch 1 (validate & csv)/valid/..., "
            "CheXpert-v1.0 batch 2 (train 1)/ ... batch 4 (train 3)/patientNNNNN/studyM/..."
        ),
        "train_cheXbert.csv, train_visualCheXbert.csv (optional; AIMI download)",
        "CHEXPERT DEMO.xlsx (optional; demographics keyed by PATIENT)",
    ),
    splits=("train", "validation"),
    description=(
        "Frontal and lateral chest radiographs from Stanford Hospital with sex, age, view and "
        "14 observations labelled from the reports as positive, negative, uncertain or not "
        "mentioned: train (223,414 images) and a radiologist-labelled validation set (234 "
        "images, 200 patients). CheXpert's separate 668-image test set is not included."
    ),
)
