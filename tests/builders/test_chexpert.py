"""CheXpert v1.0: exact records of every layout, label families, layout failures and a
conversion whose loaded values equal the CSVs and whose JPG bytes equal the source."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from datasets import Features, Image, load_dataset

from cxrhub.builders import _chexpert_sample, _labels, chexpert
from cxrhub.builders._spec import Record
from cxrhub.shards.convert import convert
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError
from cxrhub.shards.schema import output_features
from cxrhub.shards.verify import verify

HEADER = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
    "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
    "Pleural Effusion,Pleural Other,Fracture,Support Devices"
)
FIRST_ROW = "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,,,,,,,,0.0,,,,1.0"  # noqa: E501
KEYS = {
    "patient00001_study1_view1_frontal": "train",
    "patient00002_study1_view1_frontal": "train",
    "patient00002_study1_view2_lateral": "train",
    "patient00002_study2_view1_frontal": "train",
    "patient21600_study1_view1_frontal": "train",
    "patient64540_study1_view1_frontal": "train",
    "patient64541_study1_view1_frontal": "validation",
    "patient64541_study1_view2_lateral": "validation",
    "patient64542_study1_view1_frontal": "validation",
    "patient64741_study1_view1_frontal": "test",
    "patient64742_study1_view1_frontal": "test",
    "patient64742_study1_view2_lateral": "test",
}
COUNTS = {"train": 6, "validation": 3, "test": 3}
SMALL = "CheXpert-v1.0-small"
BATCH2 = "CheXpert-v1.0 batch 2 (train 1)"
VARIANTS = ("small", "full", "batches", "plain")


def _records(root: Path) -> dict[str, Record]:
    items = list(chexpert.iter_records(root))
    assert all(isinstance(i, Record) for i in items), items
    return {r.key: r for r in items}


def _csv_labels(row: dict) -> list[int | None]:
    return [_labels.parse_label(row[n], where=n) for n in _labels.CHEXPERT_14]


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    return chexpert.write_sample(tmp_path_factory.mktemp("chexpert") / "small")


@pytest.fixture
def copy(src, tmp_path) -> Path:
    return Path(shutil.copytree(src, tmp_path / "copy"))


def test_the_sample_has_the_release_headers_and_prefixes(tmp_path):
    for variant, train in (
        ("small", f"{SMALL}/train.csv"),
        ("full", "CheXpert-v1.0/train.csv"),
        ("batches", f"{chexpert.BATCH1}/train.csv"),
        ("plain", "train.csv"),
    ):
        root = chexpert.write_sample(tmp_path / variant, variant)
        lines = (root / train).read_text().splitlines()
        assert lines[0] == HEADER
        prefix = {"small": f"{SMALL}/", "plain": ""}.get(variant, "CheXpert-v1.0/")
        assert lines[1] == FIRST_ROW.replace(f"{SMALL}/", prefix)
    bert = (tmp_path / "small/train_cheXbert.csv").read_text().splitlines()
    assert bert[0] == HEADER and bert[1].startswith("CheXpert-v1.0/train/patient00001/")
    test = (tmp_path / "small/CheXpert/test_labels.csv").read_text().splitlines()
    assert test[0] == "Path," + HEADER.split(",", 5)[5]
    assert test[1].startswith("test/patient64741/study1/view1_frontal.jpg,0,0,1,")


def test_exact_records_of_the_small_sample(src):
    records = _records(src)
    assert {k: r.split for k, r in records.items()} == KEYS
    first = records["patient00001_study1_view1_frontal"]
    labels = [None] * 14
    for name, value in (("No Finding", 1), ("Pneumothorax", 0), ("Support Devices", 1)):
        labels[_labels.CHEXPERT_14.index(name)] = value
    assert first.source == f"{SMALL}/train/patient00001/study1/view1_frontal.jpg"
    assert first.media == {"image": first.source}
    assert first.fields == {
        "path": first.source, "patient_id": "patient00001", "study": 1, "sex": "Female",
        "age": 68, "frontal_lateral": "Frontal", "ap_pa": "AP", "labels": labels,
        "chexbert": labels, "visual_chexbert": [0 if v is None else v for v in labels],
    }  # fmt: skip
    lateral = records["patient00002_study1_view2_lateral"].fields
    assert (lateral["frontal_lateral"], lateral["ap_pa"]) == ("Lateral", None)
    assert records["patient21600_study1_view1_frontal"].fields["age"] is None  # Age 0
    assert records["patient64540_study1_view1_frontal"].fields["sex"] == "Unknown"
    assert records["patient64540_study1_view1_frontal"].fields["visual_chexbert"] is None
    assert records["patient00002_study2_view1_frontal"].fields["chexbert"] is None
    assert records["patient00002_study2_view1_frontal"].fields["labels"] == [None] * 14
    assert -1 in records["patient00002_study1_view1_frontal"].fields["labels"]
    test = records["patient64741_study1_view1_frontal"]
    assert test.source == "CheXpert/test/patient64741/study1/view1_frontal.jpg"
    assert test.fields["sex"] is test.fields["age"] is test.fields["chexbert"] is None
    for record in records.values():
        if record.split != "train":
            assert set(record.fields["labels"]) <= {0, 1}


@pytest.mark.parametrize("variant", VARIANTS[1:])
def test_every_variant_gives_the_same_records(src, tmp_path, variant):
    small = _records(src)
    root = chexpert.write_sample(tmp_path / variant, variant)
    other = _records(root)
    assert list(other) == list(small)
    prefix = {"plain": ""}.get(variant, "CheXpert-v1.0/")
    for key, record in other.items():
        assert (root / record.source).is_file()
        expected = small[key].fields | {
            "path": small[key].fields["path"].replace(f"{SMALL}/", prefix)
        }
        assert record.fields == expected
    if variant == "batches":
        assert other["patient00001_study1_view1_frontal"].source.startswith(f"{BATCH2}/")
        assert "batch 3" in other["patient21600_study1_view1_frontal"].source
        assert "batch 4" in other["patient64540_study1_view1_frontal"].source
        assert other["patient64541_study1_view1_frontal"].source.startswith(chexpert.BATCH1)


def test_optional_files_absent_keep_the_features(tmp_path):
    root = chexpert.write_sample(tmp_path / "s", chexbert=False, test=False)
    found = chexpert.check(root)
    assert found["label_families"] == {"labels": True, "chexbert": False, "visual_chexbert": False}
    assert found["test_set"] is False and "test_labels.csv" in found["missing_optional"]
    records = _records(root)
    assert {r.split for r in records.values()} == {"train", "validation"}
    assert all(
        r.fields["chexbert"] is r.fields["visual_chexbert"] is None for r in records.values()
    )


def test_a_missing_image_is_a_read_error_at_conversion(tmp_path):
    root = chexpert.write_sample(tmp_path / "s", missing_image=True)
    assert "patient00003_study1_view1_frontal" in _records(root)
    result = convert("chexpert", root, tmp_path / "out")
    assert result.samples == 12
    assert [(e["path"], e["stage"]) for e in result.errors] == [
        (f"{SMALL}/train/patient00003/study1/view1_frontal.jpg", "read")
    ]


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        (lambda r: (r / SMALL / "valid.csv").unlink(), MissingSourceError, "no valid.csv"),
        (lambda r: (r / SMALL / "train.csv").unlink(), MissingSourceError, "train.csv: missing"),
        (lambda r: _rewrite(r / SMALL / "train.csv", ",Sex,", ",Gender,"), SourceLayoutError,
         "train.csv: missing column(s) ['Sex']"),
        (lambda r: _rewrite(r / SMALL / "valid.csv", ",Edema,", ",Oedema,"), SourceLayoutError,
         "valid.csv: no column for ['Edema']"),
        (lambda r: _rewrite(r / "train_cheXbert.csv", "Path,", "Image,"), SourceLayoutError,
         "train_cheXbert.csv: missing column(s) ['Path']"),
    ],
)  # fmt: skip
def test_layout_failures_name_the_file_and_column(copy, damage, error, message):
    damage(copy)
    with pytest.raises(error) as info:
        chexpert.check(copy)
    assert message in str(info.value)


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_bad_row_fails_alone(copy):
    _rewrite(copy / SMALL / "train.csv", "Female,68,Frontal,AP,1.0,", "Female,68,Frontal,AP,2.0,")
    _rewrite(copy / SMALL / "valid.csv", "Male,73", "Male,seventy")
    items = list(chexpert.iter_records(copy))
    bad = [i for i in items if isinstance(i, BadInputError)]
    assert len(items) == 12 and len(bad) == 2
    assert bad[0].message == "train.csv line 2: column 'No Finding': label '2.0'; expected 1.0, " \
        "0.0, -1.0 or blank"  # fmt: skip
    assert bad[0].path.endswith("patient00001/study1/view1_frontal.jpg")
    assert bad[1].message.startswith("valid.csv line 2: column 'Age' 'seventy'")


# --- end to end -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def out(src, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chexpert-out") / "out"
    result = convert("chexpert", src, out)
    assert result.errors == [] and result.samples == 12
    return out


@pytest.fixture(scope="module")
def loaded(out, tmp_path_factory):
    return load_dataset(str(out), cache_dir=str(tmp_path_factory.mktemp("cache")))


def _table(path: Path) -> dict[str, dict]:
    with path.open(newline="") as f:
        return {row["Path"]: row for row in csv.DictReader(f)}


def test_load_dataset_gives_the_declared_features_and_counts(out, loaded):
    declared = Features.from_dict(json.loads((out / "index.json").read_text())["features"])
    assert declared == output_features(chexpert.FEATURES)
    assert list(loaded) == ["train", "validation", "test"]
    assert {s: loaded[s].num_rows for s in loaded} == COUNTS
    for split in loaded:
        assert loaded[split].features == declared
        assert dict.fromkeys(loaded[split]["key"], split) == {
            k: s for k, s in KEYS.items() if s == split
        }


def test_every_csv_value_round_trips(loaded, src):
    rows = _table(src / SMALL / "train.csv") | _table(src / SMALL / "valid.csv")
    rows |= {f"CheXpert/{p}": r for p, r in _table(src / "CheXpert/test_labels.csv").items()}
    bert = _table(src / "train_cheXbert.csv")
    visual = _table(src / "train_visualCheXbert.csv")
    seen = 0
    for split in loaded:
        for row in loaded[split]:
            key = row["path"] if split != "test" else f"CheXpert/{row['path']}"
            source = rows[key]
            assert row["labels"] == _csv_labels(source)
            assert row["sex"] == (source.get("Sex") or None)
            assert row["age"] == (int(source["Age"]) or None if source.get("Age") else None)
            assert row["frontal_lateral"] == (source.get("Frontal/Lateral") or None)
            assert row["ap_pa"] == (source.get("AP/PA") or None)
            name = "CheXpert-v1.0/" + row["path"].removeprefix(f"{SMALL}/")
            for family, table in (("chexbert", bert), ("visual_chexbert", visual)):
                expected = table.get(name)
                assert row[family] == (None if expected is None else _csv_labels(expected))
            seen += 1
    assert seen == len(rows) == 12


def test_image_bytes_are_the_source_jpgs(loaded, src):
    for split in loaded:
        for row in loaded[split].cast_column("image", Image(decode=False)):
            base = src / ("CheXpert" if split == "test" else "")
            assert row["image"]["bytes"] == (base / row["path"]).read_bytes()


def test_verify_index_and_card(out):
    assert verify(out) == []
    index = json.loads((out / "index.json").read_text())
    assert index["patients"]["field"] == "patient_id"
    assert index["patients"]["in_several_splits"] == 0
    card = (out / "README.md").read_text()
    assert "{{" not in card and "apply_uncertain" in card and "Stanford AIMI" in card


def test_sample_tables_match_the_module_constants():
    assert len(_chexpert_sample.SAMPLE) == 9 and len(_chexpert_sample.TEST) == 3
