"""Labels: the chosen CheXpert-14 family -> float32 targets and mask under each policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from cxrhub.builders._labels import apply_uncertain
from cxrhub.shards.loader import LoaderConfigError, StreamingDataset
from cxrhub.shards.loader.labels import choose_family, label_families
from cxrhub.shards.loader.synthetic import (
    converted_sample,
    encode,
    features,
    synthetic_image,
    write_output,
)

P, N, U, B = 1, 0, -1, None
ROWS = {
    "r0": [P, N, U, B, P, N, U, B, P, N, U, B, P, N],
    "r1": [B] * 14,
    "r2": None,  # the study has no row in the label table
    "r3": [U] * 7 + [P] * 7,
}
# (policy, blank) -> key -> (targets, mask), written out by hand
EXPECTED = {
    ("ones", "zeros"): {
        "r0": ([1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0], [1] * 14),
        "r1": ([0] * 14, [1] * 14),
        "r2": ([0] * 14, [0] * 14),
        "r3": ([1] * 14, [1] * 14),
    },
    ("zeros", "zeros"): {
        "r0": ([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0], [1] * 14),
        "r1": ([0] * 14, [1] * 14),
        "r2": ([0] * 14, [0] * 14),
        "r3": ([0] * 7 + [1] * 7, [1] * 14),
    },
    ("ignore", "zeros"): {
        "r0": ([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0], [1, 1, 0, 1] * 3 + [1, 1]),
        "r1": ([0] * 14, [1] * 14),
        "r2": ([0] * 14, [0] * 14),
        "r3": ([0] * 7 + [1] * 7, [0] * 7 + [1] * 7),
    },
    ("ones", "ignore"): {
        "r0": ([1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0], [1, 1, 1, 0] * 3 + [1, 1]),
        "r1": ([0] * 14, [0] * 14),
        "r2": ([0] * 14, [0] * 14),
        "r3": ([1] * 14, [1] * 14),
    },
    ("ignore", "ignore"): {
        "r0": ([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0], [1, 1, 0, 0] * 3 + [1, 1]),
        "r1": ([0] * 14, [0] * 14),
        "r2": ([0] * 14, [0] * 14),
        "r3": ([0] * 7 + [1] * 7, [0] * 7 + [1] * 7),
    },
}


@pytest.fixture(scope="module")
def known_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("labels") / "out"
    keys = sorted(ROWS)
    write_output(
        out, lambda i: {"key": keys[i], "image": encode(synthetic_image(i, 8), "png"),
                        "chexpert": ROWS[keys[i]]},
        len(keys), features("chexpert"), max_shard_samples=3,
    )  # fmt: skip
    return out


@pytest.mark.parametrize(("policy", "blank"), sorted(EXPECTED))
@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_policies_give_the_hand_written_vectors(known_out, policy, blank, fmt):
    ds = StreamingDataset(known_out, format=fmt, image=None, policy=policy, blank=blank)
    got = {s["key"]: s for s in ds}
    assert set(got) == set(ROWS)
    for key, (targets, mask) in EXPECTED[policy, blank].items():
        assert got[key]["labels"].dtype == got[key]["label_mask"].dtype == np.float32
        assert got[key]["labels"].tolist() == targets, key
        assert got[key]["label_mask"].tolist() == mask, key


@pytest.mark.parametrize("policy", ["ones", "zeros", "ignore"])
@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_real_chexpert_labels_equal_apply_uncertain_on_the_stored_rows(policy, fmt):
    out = converted_sample("chexpert", 1)
    stored = {}
    for path in sorted((out / "data").glob("train-*.parquet")):
        table = pq.read_table(path, columns=["key", "labels"]).to_pylist()
        stored.update({row["key"]: row["labels"] for row in table})
    assert any(v is not None and -1 in v for v in stored.values())  # uncertain cells exist
    samples = list(StreamingDataset(out, format=fmt, image=None, policy=policy))
    assert {s["key"] for s in samples} == set(stored)
    for sample in samples:
        targets, mask = apply_uncertain(stored[sample["key"]], policy, batched=False)
        assert np.array_equal(sample["labels"], targets)
        assert np.array_equal(sample["label_mask"], mask)


@pytest.mark.parametrize(
    ("dataset", "family"),
    [("chexpert", "labels"), ("mimic-cxr", "chexpert"), ("chexpert-plus", "chexbert_findings")],
)
def test_auto_picks_the_dataset_s_main_family(dataset, family):
    out = converted_sample(dataset, 2 if dataset == "mimic-cxr" else 1)
    ds = StreamingDataset(out, image=None)
    assert ds.family == family
    assert family in label_families(ds.features)


def test_a_dataset_without_a_family_yields_fully_masked_labels(nih_out):
    samples = list(StreamingDataset(nih_out, image=None))
    assert samples and all(s["labels"].shape == (14,) for s in samples)
    assert all(not s["labels"].any() and not s["label_mask"].any() for s in samples)
    with pytest.raises(LoaderConfigError, match="overwrite"):
        StreamingDataset(nih_out, columns=["labels"])
    own = list(StreamingDataset(nih_out, image=None, label=None, columns=["labels"]))
    assert {type(s["labels"]) for s in own} == {list}  # NIH's own findings, as stored


def test_explicit_family_and_no_labels(known_out):
    assert choose_family({"a": {"_type": "Value", "dtype": "int8"}}, "auto") is None
    samples = list(StreamingDataset(known_out, image=None, label=None))
    assert samples and all("labels" not in s and "label_mask" not in s for s in samples)
    with pytest.raises(LoaderConfigError, match="label family"):
        StreamingDataset(known_out, label="image")
    with pytest.raises(LoaderConfigError, match="policy"):
        StreamingDataset(known_out, policy="maybe")


def test_label_vectors_are_not_shared_between_samples(known_out):
    samples = list(StreamingDataset(known_out, image=None, shuffle=False))
    samples[0]["labels"][:] = 7
    again = list(StreamingDataset(known_out, image=None, shuffle=False))
    assert again[0]["labels"].max() <= 1 and samples[1]["labels"].max() <= 1


@pytest.mark.parametrize("with_null_row", [False, True])
def test_batch_conversion_equals_row_by_row(with_null_row):
    import pyarrow as pa

    from cxrhub.shards.loader.labels import LabelMapper

    rows = [ROWS["r0"], ROWS["r1"], ROWS["r3"]] + ([None] if with_null_row else [])
    column = pa.array(rows, type=pa.list_(pa.int8(), 14))
    for policy in ("ones", "zeros", "ignore"):
        for blank in ("zeros", "ignore"):
            mapper = LabelMapper(policy, blank)
            targets, mask = mapper.batch(column)
            for i, row in enumerate(rows):
                expected = apply_uncertain(row, policy, blank=blank, batched=False)
                assert np.array_equal(targets[i], expected[0])
                assert np.array_equal(mask[i], expected[1])
