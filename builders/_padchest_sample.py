"""The PadChest synthetic tree: the labels CSV with Python-repr list cells and 16-bit PNGs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image

from cxrhub.builders import _sample

__all__ = ["MALFORMED", "MISSING", "ROWS", "pixels", "write"]

TABLE = "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"
_COMMON = {
    "MethodProjection": "Manual review of DICOM fields",
    "Pediatric": "No",
    "Modality_DICOM": "CR",
    "Manufacturer_DICOM": "PhilipsMedicalSystems",
    "PhotometricInterpretation_DICOM": "MONOCHROME2",
    "PixelRepresentation_DICOM": "0",
    "PixelAspectRatio_DICOM": "",
    "SpatialResolution_DICOM": "0.139",
    "BitsStored_DICOM": "12",
    "WindowCenter_DICOM": "2048.0",
    "WindowWidth_DICOM": "4096.0",
    "XRayTubeCurrent_DICOM": "250",
    "Exposure_DICOM": "4",
    "ExposureInuAs_DICOM": "4000.0",
    "ExposureTime": "16",
    "RelativeXRayExposure_DICOM": "1450.0",
    "MethodLabel": "Physician",
}
_P1, _P2, _P3 = (
    "193017432130358458541548573455702938734",
    "203846104219185838390374384521883451218",
    "306593418744235843101010925587017474561",
)
# Hand-written rows (only the columns that differ from _COMMON), unsorted like the release.
ROWS: tuple[dict[str, str], ...] = (
    {"ImageID": "14968019924555248865694512726537711769_3r162a.png", "ImageDir": "0",
     "StudyDate_DICOM": "20150622", "StudyID": "14968019924555248865694512726537711769",
     "PatientID": _P1, "PatientBirth": "1993.0", "PatientSex_DICOM": "F",
     "ViewPosition_DICOM": "POSTEROANTERIOR", "Projection": "PA", "Rows_DICOM": "2828",
     "Columns_DICOM": "2320", "ReportID": "4765777",
     "Report": " sin hallazgos patologicos significativos. ",
     "Labels": "['normal']", "Localizations": "[]",
     "LabelsLocalizationsBySentence": "[['normal'], ['normal']]", "labelCUIS": "[]",
     "LocalizationsCUIS": "[]"},
    {"ImageID": "20536686640136348236148679891455886468_k6ga29.png", "ImageDir": "0",
     "StudyDate_DICOM": "20121003", "StudyID": "20536686640136348236148679891455886468",
     "PatientID": _P1, "PatientBirth": "1993.0", "PatientSex_DICOM": "F",
     "ViewPosition_DICOM": "AP", "Projection": "AP_horizontal", "Rows_DICOM": "2500",
     "Columns_DICOM": "3000", "ReportID": "3017390", "MethodLabel": "RNN_model",
     "Report": "cardiomegalia. derrame pleural izquierdo, con atelectasia laminar basal. "
     "sin neumotórax.",
     "Labels": "['cardiomegaly', 'pleural effusion', 'laminar atelectasis', ' loc basal']",
     "Localizations": "['loc left', 'loc basal']",
     "LabelsLocalizationsBySentence": "[['cardiomegaly'], ['pleural effusion', 'loc left'], "
     "['laminar atelectasis', 'loc basal'], ['exclude']]",
     "labelCUIS": "['C0018800', 'C0032227', 'C0004144']",
     "LocalizationsCUIS": "['C0443246', 'C1282378']"},
    {"ImageID": "216840111366964012989926673512011117113028969_02-058-023.png", "ImageDir": "1",
     "StudyDate_DICOM": "20090114", "StudyID": "216840111366964012989926673512011117113028969",
     "PatientID": _P2, "PatientBirth": "1941.0", "PatientSex_DICOM": "M",
     "ViewPosition_DICOM": "LATERAL", "Projection": "L", "Rows_DICOM": "2022",
     "Columns_DICOM": "2022", "ReportID": "1048116", "Report": "",
     "Labels": "[]", "Localizations": "[]", "LabelsLocalizationsBySentence": "[]",
     "labelCUIS": "[]", "LocalizationsCUIS": "[]"},
    {"ImageID": "46523715740384360192496023767246369337_veyewt.png", "ImageDir": "1",
     "StudyDate_DICOM": "20170920", "StudyID": "46523715740384360192496023767246369337",
     "PatientID": _P3, "PatientBirth": "", "PatientSex_DICOM": "M",
     "ViewPosition_DICOM": "PA", "Projection": "PA", "Rows_DICOM": "2991.0",
     "Columns_DICOM": "2992", "WindowCenter_DICOM": "", "RelativeXRayExposure_DICOM": "",
     "ReportID": "5398814", "Modality_DICOM": "DX",
     "Report": "fractura costal antigua. neumotórax apical derecho, fibrosis pulmonar.",
     "Labels": "['rib fracture', 'pneumothorax', 'pulmonary fibrosis', 'loc basal']",
     "Localizations": "['loc rib', 'loc apical', 'loc right', 'loc basal']",
     "LabelsLocalizationsBySentence": "[['rib fracture', 'loc rib'], ['pneumothorax', "
     "'loc apical', 'loc right'], ['pulmonary fibrosis', 'loc basal']]",
     "labelCUIS": "['C0035522', 'C0032326', 'C0034069']",
     "LocalizationsCUIS": "['C0035561', 'C1522410', 'C0205090', 'C1282378']"},
)  # fmt: skip
# with faults=True: a row whose image is not on disk, and a row with a malformed list cell
MISSING = {**ROWS[0], "ImageID": "99999999999999999999999999999999999999_missing.png",
           "ImageDir": "2", "StudyID": "99999999999999999999999999999999999999"}  # fmt: skip
MALFORMED = {**ROWS[3], "ImageID": "55555555555555555555555555555555555555_broken.png",
             "StudyID": "55555555555555555555555555555555555555",
             "Localizations": "['loc rib', 'loc apical'"}  # fmt: skip


def pixels(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A deterministic uint16 radiograph using the whole 16-bit range (not a scaled 8-bit one)."""
    base = _sample.synthetic_radiograph(seed=seed, size=size).astype(np.uint16) * 256
    low = np.random.default_rng(1000 + seed).integers(0, 256, size=base.shape, dtype=np.uint16)
    out = base | low
    out[0, 0], out[0, 1] = 65535, 0
    return out


def write_png16(path: Path, array: np.ndarray) -> None:
    """Write a 16-bit grayscale PNG (Pillow mode ``I;16``) and check it reads back as such."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = array.shape
    image = Image.frombytes("I;16", (width, height), array.astype("<u2").tobytes())
    image.save(path, format="PNG")
    with Image.open(path) as back:
        if back.mode != "I;16" or not np.array_equal(np.asarray(back), array):
            raise RuntimeError(f"{path}: wrote a 16-bit PNG that reads back as {back.mode}")


def write(root: Path, columns: list[str], faults: bool, index_column: bool) -> Path:
    rows = [{**_COMMON, **r} for r in ROWS]
    if faults:
        rows += [{**_COMMON, **MISSING}, {**_COMMON, **MALFORMED}]
    header = ([""] if index_column else []) + columns
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for i, row in enumerate(rows):
        writer.writerow(([str(i)] if index_column else []) + [row[c] for c in columns])
        if faults and row["ImageID"] == MISSING["ImageID"]:
            continue
        size = (40 + 8 * (i % 3), 48)
        write_png16(root / row["ImageDir"] / row["ImageID"], pixels(seed=i, size=size))
    root.mkdir(parents=True, exist_ok=True)
    (root / TABLE).write_bytes(text.getvalue().encode("utf-8"))
    return root
