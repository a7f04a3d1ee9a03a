"""The synthetic MIMIC-CXR-JPG download: exact file names, gzip headers and value encodings."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from pathlib import Path

from PIL import Image as PILImage

from cxrhub.builders import _labels, _sample
from cxrhub.builders.mimic_cxr_jpg import COLUMNS, IMAGE_LIST, TABLES, _path

__all__ = ["write"]


def write(root: Path, version: str, extra: int, image_size: int) -> Path:
    """The synthetic MIMIC-CXR-JPG tree (see ``mimic_cxr_jpg.write_sample``)."""
    if version not in ("2.0.0", "2.1.0"):
        raise ValueError(f"version {version!r}: choose 2.0.0 or 2.1.0")
    tables = {t: [COLUMNS[t]] for t in ("metadata", "split", "chexpert", "negbio")}
    images = []
    for n, study in enumerate(_SAMPLE + tuple(_generated_study(j) for j in range(extra))):
        subject, study_id, split, date, time, views, chexpert, negbio = study
        procedure = "CHEST (PORTABLE AP)" if views[:2] == "AP" else "CHEST (PA AND LAT)"
        for i, view in enumerate(views.split(",")):
            digest = hashlib.sha1(f"{study_id}/{i}".encode()).hexdigest()
            dicom_id = _KNOWN_IDS.get((study_id, i), "-".join(re.findall(".{8}", digest[:40])))
            size = (48 + 8 * (i % 3), 64) if n < len(_SAMPLE) else (image_size, image_size)
            images.append(_path(subject, study_id, dicom_id))
            (root / images[-1]).parent.mkdir(parents=True, exist_ok=True)
            pixels = _sample.synthetic_radiograph(len(images), size)  # a small real JPEG
            PILImage.fromarray(pixels).save(root / images[-1], format="JPEG", quality=95)
            meta = (procedure, view, size[1], size[0], date, time, procedure, *_VIEWS[view])
            tables["metadata"].append((dicom_id, subject, study_id, *meta))
            tables["split"].append((dicom_id, study_id, subject, split))
        negbio = chexpert if negbio == "=" else negbio
        for family, codes in (("chexpert", chexpert), ("negbio", negbio)):
            if codes is not None:
                tables[family].append((subject, study_id, *_codes(codes)))
    for table, rows in tables.items():
        (root / TABLES[table]).write_bytes(gzip.compress(_csv_bytes(rows), mtime=0))
    if version == "2.1.0":
        rows = [COLUMNS["test_set_labeled"]]
        for study_id, codes in _TEST_SET:  # CHEXPERT_14 order -> the file's names and order
            values = dict(zip(_labels.CHEXPERT_14, _codes(codes), strict=True))
            rows.append((study_id, *(values[_labels.canonical(n)] for n in rows[0][1:])))
        (root / TABLES["test_set_labeled"]).write_bytes(_csv_bytes(rows))
    (root / IMAGE_LIST).write_text("\n".join(images) + "\n", encoding="utf-8")
    return root


def _csv_bytes(rows: list) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue().encode("utf-8")


def _codes(codes: str) -> list[str]:
    return [{"1": "1.0", "0": "0.0", "u": "-1.0", ".": ""}[c] for c in codes]


def _generated_study(j: int) -> tuple:
    split = {8: "validate", 9: "test"}.get(j % 10, "train")
    codes = "".join("10u."[(j + k) % 4] for k in range(14))
    return (12000000 + j, 56000000 + j, split, "21900101", "120000.0", "PA", codes, "=")


_VIEWS = {"PA": ("postero-anterior", "Erect"), "AP": ("antero-posterior", "Recumbent")}
_VIEWS |= {"LATERAL": ("lateral", "Erect"), "LL": ("left lateral", "Erect"), "": ("", "")}
_KNOWN_IDS = {(50414267, 0): "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014"}
# subject, study, split, StudyDate, StudyTime, views, CheXpert and NegBio labels in CHEXPERT_14
# order (1 = 1.0, 0 = 0.0, u = -1.0, . = blank; None: the study has no row; "=": as CheXpert)
_SAMPLE = (
    (10000032, 50414267, "train", "21800506", "213014.531", "PA,LATERAL", "........1.....", "="),
    (10000032, 53189527, "train", "21800626", "165500.312", "PA,LATERAL", "1u..0..1.u....",
     "1u..0..1.1...."),
    (10000032, 53911762, "train", "21800723", "80556.875", "AP", None, None),
    (10000764, 57375967, "train", "21321115", "4513.0", "AP,", "..............", "="),
    (10000898, 50771383, "validate", "21500821", "90110.906", "PA,LL", ".1.0u....1...1",
     ".1.0.....1...1"),
    (10000935, 50578979, "test", "21871008", "123906.375", "PA,LATERAL", "u...0..1.0u...", "="),
    (10000935, 51178377, "test", "21870726", "104542.0", "AP", "0.1u......1..1", "0.1u......1..."),
    (11000011, 55203040, "train", "21460214", "235959.999", "PA,LATERAL", "...1...u.0.0.1", "="),
)  # fmt: skip
# 2.1.0's radiologist labels (CHEXPERT_14 order; written under the file's own column names)
_TEST_SET = ((50578979, "1...0..1.0u..."), (51178377, "..1.......1..0"))
