"""PadChest: exact records (parsed list cells, typed columns, label map), layouts, end to end."""

from __future__ import annotations

import csv
import datetime
import gzip
import json
import re

import numpy as np
import pytest
from datasets import Features, load_dataset
from PIL import Image

from cxrhub.builders import _labels, _padchest_sample, padchest
from cxrhub.builders._spec import Record
from cxrhub.shards.convert import convert
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError
from cxrhub.shards.verify import verify

TABLE = padchest.TABLE
NORMAL = "14968019924555248865694512726537711769_3r162a"
CARDIO = "20536686640136348236148679891455886468_k6ga29"
EMPTY = "216840111366964012989926673512011117113028969_02-058-023"
FRACTURE = "46523715740384360192496023767246369337_veyewt"
MISSING = "99999999999999999999999999999999999999_missing"
BROKEN = "55555555555555555555555555555555555555_broken"


def _records(root) -> dict[str, Record]:
    items = list(padchest.iter_records(root))
    assert all(isinstance(r, Record) for r in items), items
    return {r.key: r for r in items}


def _labels_of(*names: str) -> list[int | None]:
    return [1 if n in names else None for n in _labels.CHEXPERT_14]


@pytest.mark.parametrize("index_column", [False, True])
def test_exact_fields_of_a_labelled_row(tmp_path, index_column):
    root = padchest.write_sample(tmp_path / "s", index_column=index_column)
    records = _records(root)
    assert set(records) == {NORMAL, CARDIO, EMPTY, FRACTURE}
    record = records[CARDIO]
    assert record.split == "train" and record.source == f"0/{CARDIO}.png"
    assert record.media == {"image": record.source}
    assert record.fields == {
        "ImageID": f"{CARDIO}.png",
        "ImageDir": 0,
        "StudyDate_DICOM": datetime.date(2012, 10, 3),
        "StudyID": CARDIO.split("_")[0],
        "PatientID": "193017432130358458541548573455702938734",
        "PatientBirth": 1993,
        "PatientSex_DICOM": "F",
        "ViewPosition_DICOM": "AP",
        "Projection": "AP_horizontal",
        "MethodProjection": "Manual review of DICOM fields",
        "Pediatric": "No",
        "Modality_DICOM": "CR",
        "Manufacturer_DICOM": "PhilipsMedicalSystems",
        "PhotometricInterpretation_DICOM": "MONOCHROME2",
        "PixelRepresentation_DICOM": 0,
        "PixelAspectRatio_DICOM": None,
        "SpatialResolution_DICOM": 0.139,
        "BitsStored_DICOM": 12,
        "WindowCenter_DICOM": 2048.0,
        "WindowWidth_DICOM": 4096.0,
        "Rows_DICOM": 2500,
        "Columns_DICOM": 3000,
        "XRayTubeCurrent_DICOM": 250.0,
        "Exposure_DICOM": 4.0,
        "ExposureInuAs_DICOM": 4000.0,
        "ExposureTime": 16.0,
        "RelativeXRayExposure_DICOM": 1450.0,
        "ReportID": "3017390",
        "Report": "cardiomegalia. derrame pleural izquierdo, con atelectasia laminar basal. "
        "sin neumotórax.",
        "MethodLabel": "RNN_model",
        "findings": ["cardiomegaly", "pleural effusion", "laminar atelectasis", "loc basal"],
        "Localizations": ["loc left", "loc basal"],
        "LabelsLocalizationsBySentence": [
            ["cardiomegaly"],
            ["pleural effusion", "loc left"],
            ["laminar atelectasis", "loc basal"],
            ["exclude"],
        ],
        "labelCUIS": ["C0018800", "C0032227", "C0004144"],
        "LocalizationsCUIS": ["C0443246", "C1282378"],
        "labels": _labels_of("Cardiomegaly", "Pleural Effusion", "Atelectasis"),
    }


def test_label_map_empty_lists_and_blank_cells(tmp_path):
    records = _records(padchest.write_sample(tmp_path / "s"))
    normal, empty, fracture = (records[k].fields for k in (NORMAL, EMPTY, FRACTURE))
    assert normal["findings"] == ["normal"] and normal["labels"] == _labels_of("No Finding")
    assert normal["Localizations"] == [] and normal["Report"].startswith(" sin hallazgos")
    assert empty["findings"] == [] and empty["labels"] == [None] * 14
    assert empty["LabelsLocalizationsBySentence"] == [] and empty["Report"] is None
    # pulmonary fibrosis is not a CheXpert observation: it maps to nothing
    assert fracture["labels"] == _labels_of("Fracture", "Pneumothorax")
    assert fracture["PatientBirth"] is None and fracture["WindowCenter_DICOM"] is None
    assert fracture["RelativeXRayExposure_DICOM"] is None
    assert fracture["Rows_DICOM"] == 2991  # "2991.0" as pandas writes an int column with nulls
    assert set(padchest.CHEXPERT_MAP.values()) <= set(_labels.CHEXPERT_14)


def test_the_sample_pngs_are_16_bit(tmp_path):
    root = padchest.write_sample(tmp_path / "s")
    for record in _records(root).values():
        with Image.open(root / record.source) as image:
            assert image.mode == "I;16" and image.format == "PNG"
            array = np.asarray(image)
        assert array.dtype == np.uint16 and array.max() == 65535 and array.min() == 0


def test_the_raw_table_has_the_release_header_and_repr_lists(tmp_path):
    root = padchest.write_sample(tmp_path / "s", faults=True)
    with (root / TABLE).open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(padchest.COLUMNS) and len(rows[0]) == 35
    labels = rows[0].index("Labels")
    assert [r[labels] for r in rows[1:4]] == [
        "['normal']",
        "['cardiomegaly', 'pleural effusion', 'laminar atelectasis', ' loc basal']",
        "[]",
    ]


def test_faults_fail_alone(tmp_path):
    root = padchest.write_sample(tmp_path / "s", faults=True)
    items = list(padchest.iter_records(root))
    bad = [i for i in items if isinstance(i, BadInputError)]
    assert len(items) == 6 and len(bad) == 1
    assert bad[0].path == f"1/{BROKEN}.png" and bad[0].stage == "table"
    assert bad[0].message.startswith(f"{TABLE} line 7: column 'Localizations'")
    record = next(i for i in items if isinstance(i, Record) and i.key == MISSING)
    assert not (root / record.media["image"]).exists()


def test_a_gzipped_table_reads_the_same(tmp_path):
    root = padchest.write_sample(tmp_path / "s")
    plain = _records(root)
    table = root / TABLE
    (root / f"{TABLE}.gz").write_bytes(gzip.compress(table.read_bytes()))
    table.unlink()
    assert padchest.check(root)["table"] == f"{TABLE}.gz"
    assert _records(root) == plain


def test_missing_table(tmp_path):
    root = padchest.write_sample(tmp_path / "s")
    (root / TABLE).unlink()
    with pytest.raises(MissingSourceError, match=rf"no label table; expected {TABLE}"):
        padchest.check(root)


def test_missing_column(tmp_path):
    root = padchest.write_sample(tmp_path / "s")
    path = root / TABLE
    path.write_text(path.read_text().replace("StudyDate_DICOM,", "StudyDate,", 1))
    with pytest.raises(SourceLayoutError, match=r"missing column\(s\) \['StudyDate_DICOM'\]"):
        padchest.check(root)


def test_missing_image_folders(tmp_path):
    root = padchest.write_sample(tmp_path / "s")
    for folder in ("0", "1"):
        for png in (root / folder).iterdir():
            png.unlink()
        (root / folder).rmdir()
    with pytest.raises(MissingSourceError, match=r"no image folder; expected integer-numbered"):
        padchest.check(root)


def test_a_bad_number_or_date_names_the_column():
    row = dict.fromkeys(padchest.COLUMNS, "")
    for column, text, message in [
        ("Rows_DICOM", "2828.5", "'Rows_DICOM': '2828.5' is not an integer"),
        ("StudyDate_DICOM", "2015-06-22", "'StudyDate_DICOM': '2015-06-22' is not a YYYYMMDD"),
        ("LabelsLocalizationsBySentence", "['a']", "is not a list of lists of strings"),
        ("labelCUIS", "[1, 2]", "'labelCUIS': '[1, 2]' is not a list of strings"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            padchest.parse_row({**row, column: text})


def test_convert_and_load_end_to_end(tmp_path):
    src = padchest.write_sample(tmp_path / "src", faults=True)
    out = tmp_path / "out"
    result = convert("padchest", src, out)
    assert result.samples == 4 and len(result.errors) == 2
    errors = [json.loads(line) for line in (out / "errors.jsonl").open()]
    assert sorted(e["path"] for e in errors) == [f"1/{BROKEN}.png", f"2/{MISSING}.png"]
    index = json.loads((out / "index.json").read_text())
    assert index["patients"] == {"field": "PatientID", "total": 3, "in_several_splits": 0}

    ds = load_dataset(str(out), cache_dir=str(tmp_path / "c"))["train"]
    assert ds.num_rows == 4
    assert ds.features == Features.from_dict(index["features"])
    assert {k: v for k, v in ds.features.items() if k != "key"} == dict(padchest.FEATURES)
    expected = _records(padchest.write_sample(tmp_path / "again"))
    for row in ds:
        record = expected[row["key"]]
        assert {k: row[k] for k in record.fields} == record.fields
    for row in ds.with_format("numpy"):
        path = src / expected[row["key"]].source
        with Image.open(path) as image:
            reference = np.asarray(image)
        assert row["image"].dtype == np.uint16 and np.array_equal(row["image"], reference)
    raw = ds.cast_column("image", ds.features["image"].__class__(decode=False))
    for row in raw:
        assert row["image"]["bytes"] == (src / expected[row["key"]].source).read_bytes()
    assert verify(out) == []
    card = (out / "README.md").read_text()
    assert "no official split" in card and "PatientID" in card
    assert _padchest_sample.TABLE == TABLE
