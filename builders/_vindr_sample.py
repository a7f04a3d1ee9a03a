"""The synthetic VinDr-CXR sample tree: the release's names and table headers, small DICOMs.

Train: three images, each read by three radiologists; test: two images with the consensus (the
test tables spell ``Other disease``). DICOMs in three transfer syntaxes, MONOCHROME1 and
MONOCHROME2, 12-bit values in 16 bits. ``broken`` adds, listed in the tables, a train DICOM
whose file meta has no TransferSyntaxUID and a test DICOM without PixelData.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cxrhub.builders import _sample
from cxrhub.builders.vindr_cxr import FINDINGS as _NAMES

__all__ = ["BROKEN", "TEST", "TRAIN", "write"]

# image_id -> per radiologist (rad_id, positive findings); the consensus on test
TRAIN = {
    "000434271f63a053c4128a0ba6352c7f": (
        ("R2", ("Cardiomegaly", "Pleural effusion")),
        ("R3", ("Cardiomegaly",)),
        ("R9", ("Rib fracture", "Other diseases")),
    ),
    "00053190460d56c53cc3e57321387478": (
        ("R8", ("No finding",)),
        ("R10", ("No finding",)),
        ("R11", ("No finding",)),
    ),
    "0005e8e3701dfb1dd93d53e2ff537b6e": (
        ("R8", ("Lung Opacity", "Pneumonia")),
        ("R9", ("Lung Opacity", "Nodule/Mass")),
        ("R10", ("Pneumothorax",)),
    ),
}
TEST = {
    "002a34c58c5b758217ed1f584ccbcfe9": ("Cardiomegaly", "Clavicle fracture", "Other diseases"),
    "004f33259ee4aef671c2b95d54e4be68": ("No finding",),
}
BROKEN = {"train": "0061f5d7e1c2a8a6c1e3b4d5f6a7b8c9", "test": "0070a1b2c3d4e5f60718293a4b5c6d7e"}
# image_id -> box rows (rad_id, class_name, x_min, y_min, x_max, y_max); blank coordinates for
# ``No finding``; the test table has no rad_id
BOXES = {
    "000434271f63a053c4128a0ba6352c7f": (
        ("R2", "Cardiomegaly", "20.5", "40.0", "70.25", "60.0"),
        ("R2", "Pleural effusion", "5.0", "50.0", "30.0", "70.0"),
        ("R3", "Cardiomegaly", "21.0", "41.0", "69.0", "61.5"),
        ("R9", "Other lesion", "10.0", "10.0", "15.0", "15.0"),
    ),
    "00053190460d56c53cc3e57321387478": (
        ("R8", "No finding", "", "", "", ""),
        ("R10", "No finding", "", "", "", ""),
        ("R11", "No finding", "", "", "", ""),
    ),
    "0005e8e3701dfb1dd93d53e2ff537b6e": (
        ("R8", "Lung Opacity", "12.0", "8.0", "30.0", "33.0"),
        ("R9", "Nodule/Mass", "50.0", "20.0", "58.0", "28.0"),
        ("R10", "Pneumothorax", "60.0", "5.0", "79.0", "40.0"),
    ),
    "002a34c58c5b758217ed1f584ccbcfe9": (
        (None, "Cardiomegaly", "22.0", "40.0", "68.0", "62.0"),
        (None, "Clavicle fracture", "3.0", "2.0", "20.0", "9.0"),
    ),
    "004f33259ee4aef671c2b95d54e4be68": ((None, "No finding", "", "", "", ""),),
}


def write(root: Path, broken: bool = False) -> Path:
    """Write the tree under ``root``; returns ``root``."""
    from pydicom import uid

    syntaxes = (uid.ExplicitVRLittleEndian, uid.JPEG2000Lossless, uid.RLELossless)
    ids = {"train": list(TRAIN), "test": list(TEST)}
    if broken:
        for split, image_id in BROKEN.items():
            ids[split].append(image_id)
    for i, (split, image_id) in enumerate((s, x) for s in ("train", "test") for x in ids[s]):
        pixels = _sample.synthetic_radiograph(seed=i, size=(80, 96)).astype(np.uint16) * 16
        path = root / split / f"{image_id}.dicom"
        _sample.write_dicom(
            path,
            pixels,
            syntaxes[i % len(syntaxes)],
            photometric="MONOCHROME1" if i % 2 else "MONOCHROME2",
            bits_stored=12,
            header={"PatientSex": "O", "PatientAge": "040Y"},
        )
        if image_id == BROKEN["train"]:
            _strip(path, "TransferSyntaxUID")
        elif image_id == BROKEN["test"]:
            _strip(path, "PixelData")
    labels = [["image_id", "rad_id", *_NAMES]]
    for image_id in ids["train"]:
        for rad_id, positive in TRAIN.get(image_id, (("R1", ("No finding",)),)):
            labels.append([image_id, rad_id, *(int(n in positive) for n in _NAMES)])
    _sample.write_table(root / "annotations/image_labels_train.csv", labels)
    test_names = [n.replace("Other diseases", "Other disease") for n in _NAMES]
    labels = [["image_id", *test_names]]
    for image_id in ids["test"]:
        positive = TEST.get(image_id, ("No finding",))
        labels.append([image_id, *(int(n in positive) for n in _NAMES)])
    _sample.write_table(root / "annotations/image_labels_test.csv", labels)
    for split, header in (
        ("train", ["image_id", "rad_id", "class_name", "x_min", "y_min", "x_max", "y_max"]),
        ("test", ["image_id", "class_name", "x_min", "y_min", "x_max", "y_max"]),
    ):
        rows = [header]
        for image_id in ids[split]:
            for rad_id, *box in BOXES.get(image_id, ()):
                rows.append([image_id, *([rad_id] if split == "train" else []), *box])
        _sample.write_table(root / f"annotations/annotations_{split}.csv", rows)
    return root


def _strip(path: Path, keyword: str) -> None:
    """Rewrite ``path`` without ``keyword`` (file meta or data set), as the broken releases are."""
    import pydicom

    ds = pydicom.dcmread(path)
    little = ds.file_meta.TransferSyntaxUID.is_little_endian
    implicit = ds.file_meta.TransferSyntaxUID.is_implicit_VR
    if keyword in ds.file_meta:
        delattr(ds.file_meta, keyword)
    else:
        delattr(ds, keyword)
    pydicom.dcmwrite(path, ds, implicit_vr=implicit, little_endian=little)
