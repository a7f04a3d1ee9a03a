"""MixedDataset: seeded weighted interleave, exact-once under stop="all", exact resume."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cxrhub.shards.loader import LoaderConfigError, MixedDataset, StreamingDataset
from cxrhub.shards.loader.synthetic import (
    converted_sample,
    encode,
    features,
    synthetic_image,
    write_output,
)


def _write(out: Path, prefix: str, count: int) -> Path:
    write_output(
        out, lambda i: {"key": f"{prefix}{i:03d}", "image": encode(synthetic_image(i, 8), "png"),
                        "labels": [1] * 14},
        count, features(), dataset=prefix, max_shard_samples=7,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def outs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("mix")
    return {"a": _write(base / "a", "a", 60), "b": _write(base / "b", "b", 30)}


def _mix(outs, weights=(3, 1), stop="all", seed=0, **options):
    sources = [StreamingDataset(outs[n], image=None, seed=seed, buffer=5, **options) for n in "ab"]
    return MixedDataset(sources, weights, seed=seed, stop=stop)


def test_all_gives_every_sample_of_every_source_once(outs):
    samples = list(_mix(outs))
    keys = [s["key"] for s in samples]
    assert len(keys) == len(set(keys)) == 90
    assert all(s["dataset"] == s["key"][0] for s in samples)
    head = Counter(s["dataset"] for s in samples[:40])
    assert head["a"] > head["b"]  # weights 3:1 while both run


def test_first_stops_when_a_source_runs_out(outs):
    samples = list(_mix(outs, weights=(3, 1), stop="first"))
    counts = Counter(s["dataset"] for s in samples)
    assert counts["a"] == 60 and counts["b"] < 30
    again = list(_mix(outs, weights=(3, 1), stop="first"))  # a new epoch starts afresh
    assert [s["key"] for s in again] == [s["key"] for s in samples]


def test_interleave_is_seeded(outs):
    a = [s["key"] for s in _mix(outs, seed=1)]
    assert a == [s["key"] for s in _mix(outs, seed=1)]
    assert a != [s["key"] for s in _mix(outs, seed=2)]
    mix = _mix(outs, seed=1)
    mix.set_epoch(1)
    assert [s["key"] for s in mix] != a


def test_zero_weight_is_never_drawn(outs):
    assert {s["dataset"] for s in _mix(outs, weights=(1, 0))} == {"a"}


@pytest.mark.parametrize("stop", ["all", "first"])
def test_resume_mid_mix_gives_the_rest(outs, stop):
    full = [s["key"] for s in _mix(outs, stop=stop, seed=4)]
    for k in (0, 1, 17, 55, len(full) - 1, len(full)):
        mix = _mix(outs, stop=stop, seed=4)
        it = iter(mix)
        head = [next(it)["key"] for _ in range(k)]
        fresh = _mix(outs, stop=stop, seed=9)
        fresh.load_state_dict(mix.state_dict())
        assert head + [s["key"] for s in fresh] == full, k


def test_ranks_and_workers_split_every_source(outs):
    seen = []
    for rank in range(2):
        for worker in range(2):
            mix = _mix(outs, rank=rank, world_size=2)
            mix.set_worker(worker, 2)
            seen += [s["key"] for s in mix]
    assert len(seen) == len(set(seen)) == 90


def test_real_datasets_share_the_label_vocabulary(nih_out):
    chexpert = StreamingDataset(converted_sample("chexpert", 1), image="image", buffer=2)
    nih = StreamingDataset(nih_out, image="image", buffer=2)
    samples = list(MixedDataset([chexpert, nih], [1, 1], seed=3))
    assert Counter(s["dataset"] for s in samples) == {"chexpert": 6, "nih-cxr14": 5}
    for s in samples:
        assert s["labels"].shape == s["label_mask"].shape == (14,)
        assert s["image"].dtype == np.uint8
        if s["dataset"] == "nih-cxr14":
            assert not s["label_mask"].any()
    assert any(s["label_mask"].any() for s in samples if s["dataset"] == "chexpert")


def test_bad_mix_options(outs):
    source = [StreamingDataset(outs["a"], image=None)]
    with pytest.raises(LoaderConfigError):
        MixedDataset([], [])
    with pytest.raises(LoaderConfigError, match="weights"):
        MixedDataset(source, [1, 2])
    with pytest.raises(LoaderConfigError, match="stop"):
        MixedDataset(source, stop="never")
    with pytest.raises(LoaderConfigError, match="sources"):
        MixedDataset(source).load_state_dict({"datasets": [{}, {}]})
