"""VinDr-CXR (DICOM, per-radiologist labels and boxes): records, broken DICOMs, a conversion."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pydicom
import pytest
from datasets import Features, load_dataset

from cxrhub.builders import _labels, _vindr_sample, vindr_cxr
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError
from cxrhub.shards.verify import verify

CARDIO = "000434271f63a053c4128a0ba6352c7f"
NORMAL = "00053190460d56c53cc3e57321387478"
OPACITY = "0005e8e3701dfb1dd93d53e2ff537b6e"
TEST_CARDIO = "002a34c58c5b758217ed1f584ccbcfe9"
TEST_NORMAL = "004f33259ee4aef671c2b95d54e4be68"


def _vector(**values):
    return [values.get(n.replace(" ", "_")) for n in _labels.CHEXPERT_14]


# mapped observations are 0 unless set; the unmapped four stay None
_ZERO = dict.fromkeys((n.replace(" ", "_") for n in vindr_cxr.TO_CHEXPERT.values()), 0)


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    return vindr_cxr.write_sample(tmp_path_factory.mktemp("vindr") / "src", broken=True)


@pytest.fixture(scope="module")
def out(src, tmp_path_factory):
    out = tmp_path_factory.mktemp("vindr-out") / "out"
    convert("vindr-cxr", src, out, ConvertOptions(max_shard_samples=2))
    return out


def test_sample_tree_is_the_release_layout(src):
    header = (src / "annotations/image_labels_train.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["image_id", "rad_id"] and len(header) == 30
    assert set(header[2:]) == set(vindr_cxr.FINDINGS)
    test = (src / "annotations/image_labels_test.csv").read_text().splitlines()[0].split(",")
    assert "Other disease" in test and "Other diseases" not in test and "rad_id" not in test
    boxes = (src / "annotations/annotations_train.csv").read_text().splitlines()
    assert boxes[0] == "image_id,rad_id,class_name,x_min,y_min,x_max,y_max"
    assert f"{NORMAL},R8,No finding,,,," in boxes
    assert (src / "train" / f"{CARDIO}.dicom").is_file()
    assert (src / "test" / f"{TEST_CARDIO}.dicom").is_file()
    assert {len(r) for r in _vindr_sample.TRAIN.values()} == {3}
    photometric = {
        str(pydicom.dcmread(p).PhotometricInterpretation) for p in src.glob("t*/*.dicom")
    }
    assert photometric == {"MONOCHROME1", "MONOCHROME2"}


def test_records_carry_labels_per_radiologist_boxes_and_consensus(src):
    records = {r.key: r for r in vindr_cxr.iter_records(src)}
    assert not [r for r in records.values() if isinstance(r, BadInputError)]
    assert len(records) == 7
    cardio = records[CARDIO].fields
    assert records[CARDIO].split == "train" and cardio["split"] == "train"
    assert records[CARDIO].source == f"train/{CARDIO}.dicom"
    assert cardio["labels"] == [
        {"rad_id": "R2", "findings": ["Cardiomegaly", "Pleural effusion"]},
        {"rad_id": "R3", "findings": ["Cardiomegaly"]},
        {"rad_id": "R9", "findings": ["Rib fracture", "Other diseases"]},
    ]
    assert cardio["consensus"] is None
    assert cardio["boxes"][0] == {
        "rad_id": "R2", "class_name": "Cardiomegaly",
        "x_min": 20.5, "y_min": 40.0, "x_max": 70.25, "y_max": 60.0,
    }  # fmt: skip
    assert len(cardio["boxes"]) == 4
    # majority of 3: Cardiomegaly 2/3 -> 1; Pleural effusion and Fracture 1/3 -> 0
    assert cardio["chexpert_14"] == _vector(**_ZERO | {"Cardiomegaly": 1})
    assert records[NORMAL].fields["boxes"] == []  # 'No finding' rows: no box
    assert records[NORMAL].fields["chexpert_14"] == _vector(**_ZERO | {"No_Finding": 1})
    assert records[OPACITY].fields["chexpert_14"] == _vector(**_ZERO | {"Lung_Opacity": 1})
    test = records[TEST_CARDIO].fields
    assert records[TEST_CARDIO].split == "test" and test["labels"] is None
    assert test["consensus"] == ["Cardiomegaly", "Clavicle fracture", "Other diseases"]
    assert [b["rad_id"] for b in test["boxes"]] == [None, None]
    assert test["chexpert_14"] == _vector(**_ZERO | {"Cardiomegaly": 1, "Fracture": 1})
    assert records[TEST_NORMAL].fields["consensus"] == ["No finding"]


def test_mapping_names_real_findings_and_observations():
    assert set(vindr_cxr.TO_CHEXPERT) <= set(vindr_cxr.FINDINGS)
    assert set(vindr_cxr.TO_CHEXPERT.values()) <= set(_labels.CHEXPERT_14)
    assert vindr_cxr.TO_CHEXPERT["Rib fracture"] == "Fracture"
    unmapped = set(_labels.CHEXPERT_14) - set(vindr_cxr.TO_CHEXPERT.values())
    assert unmapped == {"Enlarged Cardiomediastinum", "Lung Lesion", "Pleural Other",
                        "Support Devices"}  # fmt: skip
    readers = [dict.fromkeys(vindr_cxr.FINDINGS, 0) for _ in range(3)]
    readers[0]["Rib fracture"] = readers[1]["Clavicle fracture"] = 1  # 2 of 3: any fracture
    fracture = _labels.CHEXPERT_14.index("Fracture")
    assert vindr_cxr.shared_labels(readers)[fracture] == 1


def test_broken_dicoms_go_to_the_error_policy_with_their_stage(out):
    errors = [json.loads(line) for line in (out / "errors.jsonl").open()]
    stages = {e["path"]: (e["stage"], e["message"]) for e in errors}
    train, test = (f"{s}/{i}.dicom" for s, i in _vindr_sample.BROKEN.items())
    assert set(stages) == {train, test}
    assert stages[train][0] == "header" and "TransferSyntaxUID" in stages[train][1]
    assert stages[test][0] == "decode" and "PixelData" in stages[test][1]


def test_conversion_round_trips_the_tables_and_pixels(out, src, tmp_path):
    ds = load_dataset(str(out), cache_dir=str(tmp_path))
    assert {s: ds[s].num_rows for s in ds} == {"train": 3, "test": 2}
    index = json.loads((out / "index.json").read_text())
    assert ds["train"].features == Features.from_dict(index["features"])
    for name, feature in vindr_cxr.FEATURES.items():
        assert ds["train"].features[name] == feature, name
    with open(src / "annotations/annotations_train.csv", newline="") as f:
        table = [r for r in csv.DictReader(f) if r["x_min"]]
    rows = {r["image_id"]: r for s in ds for r in ds[s]}
    for entry in table:
        box = {k: entry[k] for k in ("rad_id", "class_name")}
        box |= {k: float(entry[k]) for k in ("x_min", "y_min", "x_max", "y_max")}
        assert box in rows[entry["image_id"]]["boxes"]
    assert sum(len(r["boxes"]) for r in rows.values() if r["split"] == "train") == len(table)
    with open(src / "annotations/image_labels_train.csv", newline="") as f:
        for line in csv.DictReader(f):
            if line["image_id"] not in rows:
                continue
            found = {r["rad_id"]: r["findings"] for r in rows[line["image_id"]]["labels"]}
            assert found[line["rad_id"]] == [n for n in vindr_cxr.FINDINGS if line[n] == "1"]
    with open(src / "annotations/image_labels_test.csv", newline="") as f:
        for line in csv.DictReader(f):
            if line["image_id"] in rows:
                names = [n for n, v in line.items() if v == "1"]
                expected = [vindr_cxr.RENAMED.get(n, n) for n in names]
                assert rows[line["image_id"]]["consensus"] == expected
    assert all(not math.isnan(b["x_min"]) for r in rows.values() for b in r["boxes"])
    syntaxes = set()
    for split in ds:
        for row in ds[split].with_format("numpy"):
            reference = pydicom.dcmread(src / split / f"{row['image_id']}.dicom").pixel_array
            assert row["image"].dtype == np.uint16 and np.array_equal(row["image"], reference)
        for row in ds[split]:
            syntaxes.add(row["dicom"]["transfer_syntax"]["name"])
            assert row["image_512"].mode == "L"
    assert len(syntaxes) == 3
    assert verify(out) == []


def test_clean_sample_converts_without_errors(tmp_path):
    src = vindr_cxr.write_sample(tmp_path / "src")
    result = convert("vindr-cxr", src, tmp_path / "out")
    assert not result.errors and result.samples == 5


def test_missing_table_or_finding_column_fails_before_work(src, tmp_path):
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(src, copy)
    (copy / "annotations/annotations_test.csv").unlink()
    with pytest.raises(MissingSourceError, match="annotations_test.csv: missing"):
        convert("vindr-cxr", copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    shutil.copy(src / "annotations/annotations_test.csv", copy / "annotations")
    labels = copy / "annotations/image_labels_test.csv"
    labels.write_text(labels.read_text().replace("Other disease,", "Other,", 1))
    with pytest.raises(SourceLayoutError, match=r"no column for finding\(s\) \['Other diseases'\]"):
        vindr_cxr.check(copy)


def test_a_label_that_is_not_0_or_1_fails_that_image_alone(src, tmp_path):
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(src, copy)
    labels = copy / "annotations/image_labels_test.csv"
    lines = labels.read_text().splitlines()
    lines[1] = lines[1][:-1] + "x"
    labels.write_text("\n".join(lines) + "\n")
    items = list(vindr_cxr.iter_records(copy))
    bad = [i for i in items if isinstance(i, BadInputError)]
    assert [(b.path, b.stage) for b in bad] == [(f"test/{TEST_CARDIO}.dicom", "table")]
    assert len(items) == 7
