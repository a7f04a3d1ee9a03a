"""StreamingDataset on real conversions: exact-once coverage over nodes x workers, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cxrhub.shards.loader import (
    LoaderConfigError,
    ShardFormatError,
    ShardIntegrityError,
    StreamingDataset,
)
from cxrhub.shards.loader import dataset as dataset_module
from cxrhub.shards.loader.synthetic import (
    converted_sample,
    encode,
    features,
    synthetic_image,
    write_output,
)

LAYOUTS = [(world, workers) for world in (1, 2, 3) for workers in (1, 2, 4)]


@pytest.fixture(scope="module")
def chexpert_out() -> Path:
    """CheXpert's synthetic download converted with one sample per shard (6 train shards)."""
    return converted_sample("chexpert", 1)


@pytest.fixture(scope="module")
def uneven_out(tmp_path_factory) -> Path:
    """23 samples in shards of 5 (5, 5, 5, 5, 3): no layout divides it."""
    out = tmp_path_factory.mktemp("uneven") / "out"
    labels = [1, 0, -1, None, 1, 0, -1, None, 1, 0, -1, None, 1, 0]
    write_output(
        out, lambda i: {"key": f"k{i:03d}", "image": encode(synthetic_image(i, 16), "png"),
                        "labels": labels},
        23, features(), max_shard_samples=5,
    )  # fmt: skip
    return out


def _ok_keys(out: Path, split: str) -> list[str]:
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    return sorted(r["key"] for r in rows if r["status"] == "ok" and r["split"] == split)


def _keys(ds) -> list[str]:
    return [s["key"] for s in ds]


def _outputs(request) -> list[tuple[Path, str]]:
    return [
        (request.getfixturevalue("nih_out"), "train"),  # 3 shards: 2, 2, 1
        (request.getfixturevalue("chexpert_out"), "train"),  # 6 shards of 1
        (request.getfixturevalue("uneven_out"), "train"),
    ]


@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
@pytest.mark.parametrize(("world", "workers"), LAYOUTS)
def test_union_over_ranks_and_workers_is_the_manifest(request, fmt, world, workers):
    for out, split in _outputs(request):
        seen = []
        for rank in range(world):
            for worker in range(workers):
                ds = StreamingDataset(
                    out, split=split, format=fmt, image=None, seed=5, buffer=3, rank=rank,
                    world_size=world, worker=worker, num_workers=workers,
                )  # fmt: skip
                seen += _keys(ds)
        assert len(seen) == len(set(seen)), (out, fmt)
        assert sorted(seen) == _ok_keys(out, split)


@pytest.mark.parametrize(("world", "workers"), [(2, 2), (3, 4), (3, 1)])
def test_even_pad_gives_equal_rank_counts(uneven_out, world, workers):
    counts, seen = [], set()
    for rank in range(world):
        ds = StreamingDataset(uneven_out, image=None, rank=rank, world_size=world, even=True)
        assert ds.even == "pad"
        keys = []
        for worker in range(workers):
            ds.set_worker(worker, workers)
            keys += _keys(ds)
        counts.append(len(keys))
        assert len(ds) == len(keys)
        seen |= set(keys)
    assert len(set(counts)) == 1 and counts[0] == -(-23 // world)
    assert seen == set(_ok_keys(uneven_out, "train"))


def test_decode_is_deferred_past_delivered_samples(uneven_out):
    full = list(StreamingDataset(uneven_out, seed=9, buffer=6))
    first = StreamingDataset(uneven_out, seed=9, buffer=6)
    taken = [s for _, s in zip(range(10), first, strict=False)]
    state = first.state_dict()
    assert state["delivered"] == 10
    calls = []
    resumed = StreamingDataset(uneven_out, seed=0, buffer=6)
    real = resumed._decode
    resumed._decode = lambda data: calls.append(1) or real(data)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert [s["key"] for s in taken + rest] == [s["key"] for s in full]
    assert len(calls) == len(rest) == 13  # the 10 delivered ones were never decoded again
    for a, b in zip(rest, full[10:], strict=True):
        assert np.array_equal(a["image"], b["image"])


@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
@pytest.mark.parametrize(("world", "workers"), [(1, 1), (2, 2)])
def test_resume_after_k_gives_the_rest_of_the_epoch(request, fmt, world, workers):
    for out, split in _outputs(request):
        for rank in range(world):
            for worker in range(workers):
                options = {
                    "split": split, "format": fmt, "image": None, "seed": 11, "epoch": 2,
                    "buffer": 4, "rank": rank, "world_size": world, "worker": worker,
                    "num_workers": workers,
                }  # fmt: skip
                full = _keys(StreamingDataset(out, **options))
                for k in range(len(full) + 1):
                    ds = StreamingDataset(out, **options)
                    it = iter(ds)
                    head = [next(it)["key"] for _ in range(k)]
                    fresh = StreamingDataset(out, **{**options, "seed": 0, "epoch": 0})
                    fresh.load_state_dict(ds.state_dict())
                    assert head + _keys(fresh) == full, (out, fmt, rank, worker, k)


def test_epoch_and_seed_change_the_order_and_repeat_exactly(uneven_out):
    ds = StreamingDataset(uneven_out, image=None, seed=1, buffer=8)
    first = _keys(ds)
    assert _keys(ds) == first  # a finished epoch starts over
    ds.set_epoch(1)
    second = _keys(ds)
    assert sorted(second) == sorted(first) and second != first
    assert _keys(StreamingDataset(uneven_out, image=None, seed=2, buffer=8)) != first
    ordered = _keys(StreamingDataset(uneven_out, image=None, shuffle=False))
    assert ordered == sorted(ordered)


def test_a_second_iterator_continues_where_the_first_stopped(uneven_out):
    full = _keys(StreamingDataset(uneven_out, image=None, seed=4))
    ds = StreamingDataset(uneven_out, image=None, seed=4)
    head = [s["key"] for _, s in zip(range(7), ds, strict=False)]
    assert head + _keys(ds) == full


def test_restored_state_must_match_the_layout(uneven_out):
    ds = StreamingDataset(uneven_out, image=None, rank=0, world_size=2)
    next(iter(ds))
    other = StreamingDataset(uneven_out, image=None, rank=0, world_size=3)
    other.load_state_dict(ds.state_dict())
    with pytest.raises(LoaderConfigError, match="world_size"):
        next(iter(other))
    with pytest.raises(LoaderConfigError, match="version"):
        other.load_state_dict({"version": 99})


def test_formats_give_the_same_samples(chexpert_out):
    options = {"split": "train", "columns": ["path", "sex"], "seed": 3, "buffer": 4}
    wds = list(StreamingDataset(chexpert_out, format="webdataset", **options))
    pq = list(StreamingDataset(chexpert_out, format="parquet", **options))
    assert [s["key"] for s in wds] == [s["key"] for s in pq]
    for a, b in zip(wds, pq, strict=True):
        assert np.array_equal(a["image"], b["image"]) and a["image"].dtype == np.uint8
        assert np.array_equal(a["labels"], b["labels"])
        assert np.array_equal(a["label_mask"], b["label_mask"])
        assert (a["path"], a["sex"], a["dataset"]) == (b["path"], b["sex"], "chexpert")


def test_bad_options_are_named(chexpert_out):
    with pytest.raises(LoaderConfigError, match="nope"):
        StreamingDataset(chexpert_out, columns=["nope"])
    with pytest.raises(LoaderConfigError, match="split"):
        StreamingDataset(chexpert_out, split="nope")
    with pytest.raises(LoaderConfigError, match="format"):
        StreamingDataset(chexpert_out, format="csv")
    with pytest.raises(LoaderConfigError, match="Image"):
        StreamingDataset(chexpert_out, image="sex")


def test_damaged_shards_are_reported(uneven_out, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(uneven_out, out)
    index = json.loads((out / "index.json").read_text())
    tar = out / index["splits"]["train"]["webdataset"][0]["file"]
    tar.write_bytes(tar.read_bytes()[:-2048])
    with pytest.raises(ShardIntegrityError):
        _keys(StreamingDataset(out, image=None, shuffle=False))
    index["splits"]["train"]["webdataset"][0]["samples"] = 6  # one more than the tar holds
    index["splits"]["train"]["samples"] = 24
    index["splits"]["train"]["webdataset"][0]["bytes"] = tar.stat().st_size
    (out / "index.json").write_text(json.dumps(index))
    with pytest.raises(ShardFormatError):
        _keys(StreamingDataset(out, image=None, shuffle=False))


def test_module_docstring_names_the_public_api():
    assert "StreamingDataset" in dataset_module.__doc__


@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_samples_without_an_image_give_none(tmp_path, fmt):
    out = tmp_path / "out"
    write_output(
        out, lambda i: {"key": f"m{i}", "labels": None,
                        "image": None if i % 3 == 1 else encode(synthetic_image(i, 8), "png")},
        6, features(), max_shard_samples=4,
    )  # fmt: skip
    got = {s["key"]: s["image"] for s in StreamingDataset(out, format=fmt)}
    assert {k for k, v in got.items() if v is None} == {"m1", "m4"}
    assert np.array_equal(got["m5"], synthetic_image(5, 8))


def test_restored_state_must_match_the_shuffle_options(uneven_out):
    ds = StreamingDataset(uneven_out, image=None, buffer=4)
    next(iter(ds))
    other = StreamingDataset(uneven_out, image=None, buffer=8)
    other.load_state_dict(ds.state_dict())
    with pytest.raises(LoaderConfigError, match="buffer"):
        next(iter(other))


def test_a_dataset_pickles_for_spawned_workers(uneven_out):
    import pickle

    ds = StreamingDataset(uneven_out, size=8, crop=6, seed=2, buffer=4)
    head = [s["key"] for _, s in zip(range(5), ds, strict=False)]
    copy = pickle.loads(pickle.dumps(ds))
    rest = list(copy)
    assert head + [s["key"] for s in rest] == _keys(StreamingDataset(uneven_out, seed=2, buffer=4))
    assert all(s["image"].shape == (6, 6) for s in rest)


class _CountingSource:
    """A local source that records which shard files were fetched, in order."""

    def __init__(self, root: Path):
        from cxrhub.shards.loader import LocalSource

        self.inner = LocalSource(root)
        self.location = self.inner.location
        self.fetched: list[str] = []

    def index(self) -> dict:
        return self.inner.index()

    def fetch(self, entry: dict) -> Path:
        self.fetched.append(entry["file"])
        return self.inner.fetch(entry)


def test_the_next_shard_is_fetched_in_the_background(uneven_out):
    import time

    options = {"image": None, "seed": 6, "buffer": 2}
    inline = StreamingDataset(_CountingSource(uneven_out), prefetch=0, **options)
    ahead = StreamingDataset(_CountingSource(uneven_out), prefetch=2, **options)
    it = iter(ahead)
    first = next(it)["key"]
    deadline = time.monotonic() + 5
    while len(ahead.source.fetched) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(ahead.source.fetched) == 3  # the current shard and the next two
    assert [first] + [s["key"] for s in it] == _keys(inline)
    assert ahead.source.fetched == inline.source.fetched  # same shards, same order, once each


def test_a_bad_prefetched_shard_fails_when_its_turn_comes(uneven_out, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(uneven_out, out)
    index = json.loads((out / "index.json").read_text())
    bad = out / index["splits"]["train"]["webdataset"][1]["file"]
    bad.write_bytes(bad.read_bytes()[:-512])
    got = []
    with pytest.raises(ShardIntegrityError):
        got.extend(s["key"] for s in StreamingDataset(out, image=None, shuffle=False, prefetch=3))
    assert got == [f"k{i:03d}" for i in range(5)]  # the first shard, whole


class _PinningSource(_CountingSource):
    """A source with the remote sources' extras: ``prefetch(entries)`` and ``release(entry)``."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.calls: list[tuple[str, str]] = []

    def prefetch(self, entries: list[dict]) -> list:
        self.calls += [("prefetch", e["file"]) for e in entries]
        return []

    def fetch(self, entry: dict) -> Path:
        self.calls.append(("fetch", entry["file"]))
        return super().fetch(entry)

    def release(self, entry: dict) -> None:
        self.calls.append(("release", entry["file"]))


def test_sources_with_prefetch_and_release_get_both(uneven_out):
    source = _PinningSource(uneven_out)
    keys = _keys(StreamingDataset(source, image=None, seed=1, buffer=3, prefetch=2))
    assert sorted(keys) == _ok_keys(uneven_out, "train")
    files = [f for kind, f in source.calls if kind == "fetch"]
    assert len(files) == len(set(files)) == 5
    for i, file in enumerate(files):  # asked ahead before its turn, released after its turn
        calls = source.calls
        assert i == 0 or calls.index(("prefetch", file)) < calls.index(("fetch", file))
        assert calls.index(("fetch", file)) < calls.index(("release", file))
    assert [f for kind, f in source.calls if kind == "prefetch"] == files[1:]
    assert source.calls.index(("prefetch", files[2])) < source.calls.index(("fetch", files[1]))


def test_a_dropped_iteration_releases_its_shard(uneven_out):
    source = _PinningSource(uneven_out)
    it = iter(StreamingDataset(source, image=None, shuffle=False, prefetch=0))
    next(it)
    it.close()
    assert source.calls == [("fetch", "webdataset/train-000000.tar")] + [
        ("release", "webdataset/train-000000.tar")
    ]


def test_the_same_epoch_over_http_as_from_the_folder(uneven_out, tmp_path):
    """Through the remote source (the remote tests' local HTTP server, token and cache)."""
    http_server = pytest.importorskip("http_server")
    from cxrhub.shards.loader import open_source

    options = {"seed": 3, "buffer": 4, "rank": 1, "world_size": 2, "prefetch": 2}
    local = _keys(StreamingDataset(uneven_out, **options))
    with http_server.ShardServer({"/ds": uneven_out}, token=http_server.TOKEN) as server:

        def remote() -> StreamingDataset:
            source = open_source(
                f"{server.url}/ds", token=http_server.TOKEN, cache_dir=tmp_path / "cache"
            )
            return StreamingDataset(source, **options)

        assert _keys(remote()) == local
        first = remote()
        it = iter(first)
        head = [next(it)["key"] for _ in range(4)]
        resumed = remote()
        resumed.load_state_dict(first.state_dict())
        assert head + _keys(resumed) == local
