"""The shared CheXpert label vocabulary: names, one encoding, aliases, load-time policies."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from datasets import Dataset, Features, List, Value

from cxrhub.builders import _labels
from cxrhub.builders._labels import (
    ALIASES,
    CHEXPERT_14,
    apply_uncertain,
    canonical,
    label_columns,
    label_features,
    parse_label,
)
from cxrhub.shards.errors import SourceLayoutError

# the MIMIC-CXR-JPG chexpert/negbio header after subject_id, study_id (datasets.md §4.4)
MIMIC_HEADER = (
    "Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,"
    "Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,"
    "Support Devices"
).split(",")
# CheXpert's train.csv (datasets.md §2.2): another order, five leading columns
CHEXPERT_HEADER = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
    "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
    "Pleural Effusion,Pleural Other,Fracture,Support Devices"
).split(",")
ROW = [1, 0, -1, None, 1, None, None, 0, None, -1, None, None, None, 1]


def test_the_14_observations_in_release_order():
    assert list(CHEXPERT_14) == MIMIC_HEADER
    assert len(set(CHEXPERT_14)) == 14
    assert sorted(CHEXPERT_14) == list(CHEXPERT_14)  # the release's order is alphabetical


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.0", 1), ("0.0", 0), ("-1.0", -1), ("1", 1), ("0", 0), ("-1", -1), ("", None)],
)
def test_parse_label_accepts_the_release_spellings(text, value):
    assert parse_label(text, where="t.csv line 2, 'Edema'") == value


@pytest.mark.parametrize(("number", "value"), [(1.0, 1), (0.0, 0), (-1.0, -1), (None, None)])
def test_parse_label_accepts_json_numbers_and_null(number, value):
    parsed = parse_label(number, where="x.json")
    assert parsed == value and (parsed is None or type(parsed) is int)


@pytest.mark.parametrize(
    "text", ["2.0", "1.00", " 1.0", "1.0 ", "nan", "yes", "+1", "-0.5", 2.0, 0.5, math.nan, True]
)
def test_parse_label_rejects_anything_else_naming_where(text):
    with pytest.raises(ValueError, match=r"^t\.csv line 7, 'Edema': label .*expected 1\.0"):
        parse_label(text, where="t.csv line 7, 'Edema'")


def test_label_feature_is_a_fixed_size_int8_list():
    feature = label_features()
    assert feature == List(Value("int8"), length=14)
    schema = Features({"labels": feature}).arrow_schema
    assert schema.field("labels").type == pa.list_(pa.int8(), 14)


def test_aliases_map_other_vocabularies_onto_the_14():
    assert ALIASES == {"Airspace Opacity": "Lung Opacity"}
    assert set(ALIASES.values()) <= set(CHEXPERT_14)
    assert canonical("Airspace Opacity") == "Lung Opacity"
    assert canonical("Edema") == "Edema"


def test_label_columns_by_name_in_any_order():
    assert label_columns(["subject_id", "study_id", *MIMIC_HEADER], where="m") == list(range(2, 16))
    indices = label_columns(CHEXPERT_HEADER, where="train.csv")
    assert [CHEXPERT_HEADER[i] for i in indices] == list(CHEXPERT_14)
    radiologist = ["study_id", *sorted(n if n != "Lung Opacity" else "Airspace Opacity"
                                       for n in CHEXPERT_14)]  # fmt: skip
    indices = label_columns(radiologist, where="test-set")
    assert radiologist[indices[CHEXPERT_14.index("Lung Opacity")]] == "Airspace Opacity"
    assert radiologist[indices[0]] == "Atelectasis"


def test_label_columns_name_the_file_and_the_missing_or_doubled_observation():
    with pytest.raises(SourceLayoutError, match=r"^a\.csv: no column for \['Edema'\]"):
        label_columns([n for n in MIMIC_HEADER if n != "Edema"], where="a.csv")
    with pytest.raises(SourceLayoutError, match=r"^b\.csv: two columns for \['Lung Opacity'\]"):
        label_columns([*MIMIC_HEADER, "Airspace Opacity"], where="b.csv")


@pytest.mark.parametrize(
    ("policy", "blank", "targets", "mask"),
    [
        ("ones", "zeros", [1, 0, 1, 0], [1, 1, 1, 1]),
        ("zeros", "zeros", [1, 0, 0, 0], [1, 1, 1, 1]),
        ("ignore", "zeros", [1, 0, 0, 0], [1, 1, 0, 1]),
        ("ones", "ignore", [1, 0, 1, 0], [1, 1, 1, 0]),
        ("ignore", "ignore", [1, 0, 0, 0], [1, 1, 0, 0]),
    ],
)
def test_apply_uncertain_policies(policy, blank, targets, mask):
    got_targets, got_mask = apply_uncertain(ROW, policy, blank=blank)
    assert got_targets.dtype == got_mask.dtype == np.float32
    assert got_targets.shape == got_mask.shape == (14,)
    assert got_targets[:4].tolist() == targets and got_mask[:4].tolist() == mask
    assert set(got_targets.tolist()) <= {0.0, 1.0}


def test_apply_uncertain_masks_a_study_without_a_row():
    targets, mask = apply_uncertain(None)
    assert targets.tolist() == [0.0] * 14 and mask.tolist() == [0.0] * 14
    # a released row of blanks is "nothing mentioned": negatives by default
    assert apply_uncertain([None] * 14)[1].tolist() == [1.0] * 14
    assert apply_uncertain([None] * 14, batched=True)[1].tolist() == [[0.0] * 14] * 14


def test_apply_uncertain_on_batches_as_datasets_formats_them():
    rows = [ROW, None, [None] * 14]
    ds = Dataset.from_dict({"chexpert": rows}, features=Features({"chexpert": label_features()}))
    assert ds["chexpert"] == rows  # nulls survive Arrow
    expected = np.stack([apply_uncertain(r, "ignore")[1] for r in rows])
    with_null = ds.with_format("numpy")[:]["chexpert"]
    assert with_null.dtype == object  # a batch holding a null row
    for batch in (rows, with_null):
        targets, mask = apply_uncertain(batch, "ignore")
        assert targets.shape == mask.shape == (3, 14)
        assert np.array_equal(mask, expected)
    dense = ds.select([0, 2]).with_format("numpy")[:]["chexpert"]
    assert dense.dtype == np.float32 and dense.shape == (2, 14) and np.isnan(dense[1]).all()
    targets, mask = apply_uncertain(dense, "ones")
    assert np.array_equal(targets[0], apply_uncertain(ROW, "ones")[0])
    assert np.array_equal(mask, np.ones((2, 14), dtype=np.float32))


def test_apply_uncertain_refuses_bad_input():
    with pytest.raises(ValueError, match="policy 'u-ones'"):
        apply_uncertain(ROW, "u-ones")
    with pytest.raises(ValueError, match="blank 'ones'"):
        apply_uncertain(ROW, blank="ones")
    with pytest.raises(ValueError, match="13 labels; expected 14"):
        apply_uncertain(ROW[:13])
    with pytest.raises(ValueError, match="1, 0, -1 or None"):
        apply_uncertain([2, *ROW[1:]])


def test_conversion_never_applies_a_policy():
    """The module's public names: parsing keeps -1; the policy exists only for loaders."""
    assert parse_label("-1.0", where="x") == _labels.UNCERTAIN == -1
    assert _labels.POLICIES == ("ones", "zeros", "ignore")
