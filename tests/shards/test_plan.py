"""plan_shards: a deterministic cut of sorted records by sample count and source bytes."""

from __future__ import annotations

import random

import pytest

from cxrhub.builders._spec import Record
from cxrhub.shards.plan import plan_shards

SPLITS = ("train", "validate", "test")
BIG = 1 << 30


def _records(root, sizes: dict[str, int], split: str = "train") -> list[Record]:
    """One record per key, with a media file of the given size."""
    out = []
    for key, size in sizes.items():
        rel = f"images/{key}.png"
        (root / "images").mkdir(exist_ok=True)
        (root / rel).write_bytes(b"x" * size)
        out.append(Record(key, split, f"table.csv#{key}", {"image": rel}, {"age": 40.0}))
    return out


def _keys(tasks, split=None):
    return [[r.key for r in t.records] for t in tasks if split is None or t.split == split]


def test_records_sorted_by_key_within_split(tmp_path):
    keys = ["k10", "k2", "a", "k1", "b_3"]
    records = _records(tmp_path, dict.fromkeys(keys, 1))
    tasks = plan_shards(records, ("train",), tmp_path, max_samples=100, max_bytes=BIG)
    assert _keys(tasks) == [sorted(keys)]


def test_max_samples(tmp_path):
    records = _records(tmp_path, {f"k{i:02d}": 1 for i in range(7)})
    tasks = plan_shards(records, ("train",), tmp_path, max_samples=3, max_bytes=BIG)
    assert [len(t.records) for t in tasks] == [3, 3, 1]
    assert [k for group in _keys(tasks) for k in group] == [f"k{i:02d}" for i in range(7)]


def test_max_bytes(tmp_path):
    records = _records(tmp_path, {"a": 40, "b": 40, "c": 30, "d": 50, "e": 10})
    tasks = plan_shards(records, ("train",), tmp_path, max_samples=100, max_bytes=100)
    assert _keys(tasks) == [["a", "b"], ["c", "d", "e"]]


def test_media_bytes_summed_over_fields(tmp_path):
    records = _records(tmp_path, {"a": 30, "b": 30})
    (tmp_path / "images" / "a-lateral.png").write_bytes(b"x" * 50)
    records[0] = Record("a", "train", "t", {"f": "images/a.png", "l": "images/a-lateral.png"})
    tasks = plan_shards(records, ("train",), tmp_path, max_samples=100, max_bytes=100)
    assert _keys(tasks) == [["a"], ["b"]]  # 30 + 50 + 30 > 100


def test_oversized_record_gets_its_own_shard(tmp_path):
    records = _records(tmp_path, {"a": 10, "b": 500, "c": 10, "d": 10})
    tasks = plan_shards(records, ("train",), tmp_path, max_samples=100, max_bytes=100)
    assert _keys(tasks) == [["a"], ["b"], ["c", "d"]]
    tasks = plan_shards(records[1:2], ("train",), tmp_path, max_samples=100, max_bytes=100)
    assert _keys(tasks) == [["b"]]


def test_a_split_without_records_gets_no_shard(tmp_path):
    records = _records(tmp_path, {"a": 1, "b": 1}, split="train")
    tasks = plan_shards(records, SPLITS, tmp_path, max_samples=1, max_bytes=BIG)
    assert [(t.split, t.index, t.count, len(t.records)) for t in tasks] == [
        ("train", 0, 2, 1),
        ("train", 1, 2, 1),
    ]


def test_splits_are_separate(tmp_path):
    records = _records(tmp_path, {"t1": 1, "t2": 1}, "train") + _records(
        tmp_path, {"s1": 1}, "test"
    )
    tasks = plan_shards(records, ("train", "test"), tmp_path, max_samples=10, max_bytes=BIG)
    assert _keys(tasks, "train") == [["t1", "t2"]]
    assert _keys(tasks, "test") == [["s1"]]


def test_count_and_file_names(tmp_path):
    records = _records(tmp_path, {f"k{i:02d}": 1 for i in range(12)})
    records += _records(tmp_path, {"z": 1}, "test")
    tasks = plan_shards(records, ("train", "test"), tmp_path, max_samples=5, max_bytes=BIG)
    assert [t.count for t in tasks if t.split == "train"] == [3, 3, 3]
    assert [t.parquet_file for t in tasks] == [
        "data/train-00000-of-00003.parquet",
        "data/train-00001-of-00003.parquet",
        "data/train-00002-of-00003.parquet",
        "data/test-00000-of-00001.parquet",
    ]
    assert [t.tar_file for t in tasks] == [
        "webdataset/train-000000.tar",
        "webdataset/train-000001.tar",
        "webdataset/train-000002.tar",
        "webdataset/test-000000.tar",
    ]
    assert len({t.name for t in tasks}) == len(tasks)


@pytest.mark.parametrize("seed", range(5))
def test_shuffled_input_same_plan(tmp_path, seed):
    records = _records(tmp_path, {f"k{i:03d}": (i * 37) % 50 + 1 for i in range(40)})
    records += _records(tmp_path, {f"t{i:03d}": 5 for i in range(9)}, "test")
    options = {"max_samples": 7, "max_bytes": 120}
    expected = plan_shards(records, ("train", "test"), tmp_path, **options)
    shuffled = records[:]
    random.Random(seed).shuffle(shuffled)
    assert plan_shards(shuffled, ("train", "test"), tmp_path, **options) == expected


OPTIONS = {"formats": ["parquet", "webdataset"], "row_group_bytes": 1 << 20}


def _fingerprint(records, root, options=OPTIONS):
    (task,) = plan_shards(records, ("train",), root, max_samples=100, max_bytes=BIG)
    return task.fingerprint(options)


def test_fingerprint_stable(tmp_path):
    records = _records(tmp_path, {"a": 1, "b": 2})
    again = [Record(r.key, r.split, r.source, dict(r.media), dict(r.fields)) for r in records]
    assert _fingerprint(records, tmp_path) == _fingerprint(again[::-1], tmp_path)
    reordered = {"row_group_bytes": 1 << 20, "formats": ["parquet", "webdataset"]}
    assert _fingerprint(records, tmp_path) == _fingerprint(records, tmp_path, reordered)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: Record(r.key, r.split, r.source, r.media, {"age": 41.0}),
        lambda r: Record(r.key, r.split, r.source, r.media, {**r.fields, "sex": "F"}),
        lambda r: Record(r.key, r.split, r.source, {"image": "images/b.png"}, r.fields),
        lambda r: Record(r.key, r.split, "other.csv", r.media, r.fields),
        lambda r: Record("a2", r.split, r.source, r.media, r.fields),
    ],
)
def test_fingerprint_changes_with_record(tmp_path, change):
    records = _records(tmp_path, {"a": 1, "b": 2})
    assert _fingerprint(records, tmp_path) != _fingerprint(
        [change(records[0]), records[1]], tmp_path
    )


def test_fingerprint_changes_with_records_and_options(tmp_path):
    records = _records(tmp_path, {"a": 1, "b": 2})
    base = _fingerprint(records, tmp_path)
    assert _fingerprint(records[:1], tmp_path) != base
    assert _fingerprint(records, tmp_path, {**OPTIONS, "row_group_bytes": 1 << 21}) != base
    assert _fingerprint(records, tmp_path, {**OPTIONS, "formats": ["parquet"]}) != base
