"""plan_shards: a deterministic cut of sorted records by sample count and output bytes, and
``--shard-multiple``."""

from __future__ import annotations

import json
import random

import pytest

from cxrhub.builders._spec import Record
from cxrhub.shards.cli import main
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.plan import ARCHIVAL_RATIO, DISPLAY_RATIO, output_bytes, plan_shards

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


def _split(records, root, **options):
    options = {"max_samples": 100, "max_bytes": BIG, **options}
    return plan_shards(records, ("train",), root, **options)


def test_multiple_rounds_the_shard_count_up_into_equal_shards(tmp_path):
    records = _records(tmp_path, {f"k{i:02d}": 1 for i in range(23)})
    assert len(_split(records, tmp_path, max_samples=5)) == 5
    tasks = _split(records, tmp_path, max_samples=5, multiple=4)
    assert [len(t.records) for t in tasks] == [3, 3, 3, 3, 3, 3, 3, 2]
    assert {t.count for t in tasks} == {8} and [t.index for t in tasks] == list(range(8))
    assert [k for group in _keys(tasks) for k in group] == [f"k{i:02d}" for i in range(23)]


def test_multiple_of_one_is_the_plain_plan_and_an_even_plan_stays(tmp_path):
    records = _records(tmp_path, {f"k{i:02d}": 1 for i in range(20)})
    assert _split(records, tmp_path, max_samples=5, multiple=4) == _split(
        records, tmp_path, max_samples=5
    )
    assert _split(records, tmp_path, max_samples=5, multiple=1) == _split(
        records, tmp_path, max_samples=5
    )


def test_multiple_above_the_sample_count_gives_one_shard_per_sample(tmp_path):
    records = _records(tmp_path, {"a": 1, "b": 1, "c": 1})
    assert _keys(_split(records, tmp_path, multiple=8)) == [["a"], ["b"], ["c"]]


def test_multiple_never_makes_more_shards_than_samples(tmp_path):
    records = _records(tmp_path, {f"k{i:02d}": 1 for i in range(10)})
    tasks = _split(records, tmp_path, max_samples=1, multiple=4)  # 12 would leave shards empty
    assert [len(t.records) for t in tasks] == [2, 1, 1, 1, 2, 1, 1, 1]


def test_multiple_balances_bytes_and_keeps_the_byte_limit(tmp_path):
    sizes = {"a": 90, "b": 10, "c": 10, "d": 10, "e": 90, "f": 10}
    records = _records(tmp_path, sizes)
    assert len(_split(records, tmp_path, max_bytes=100)) == 3
    tasks = _split(records, tmp_path, max_bytes=100, multiple=2)
    assert _keys(tasks) == [["a"], ["b", "c"], ["d", "e"], ["f"]]
    assert all(sum(sizes[r.key] for r in t.records) <= 100 for t in tasks)


def test_multiple_is_per_split(tmp_path):
    records = _records(tmp_path, {f"t{i}": 1 for i in range(7)})
    records += _records(tmp_path, {f"s{i}": 1 for i in range(2)}, "test")
    tasks = plan_shards(records, ("train", "test"), tmp_path, max_samples=3, max_bytes=BIG,
                        multiple=3)  # fmt: skip
    assert [len(t.records) for t in tasks if t.split == "train"] == [3, 2, 2]
    assert [len(t.records) for t in tasks if t.split == "test"] == [1, 1]


@pytest.mark.parametrize("bad", [{"multiple": 0}, {"max_samples": 0}, {"max_bytes": 0}])
def test_sizes_below_one_are_refused(tmp_path, bad):
    records = _records(tmp_path, {"a": 1})
    with pytest.raises(ValueError, match="must be >= 1"):
        _split(records, tmp_path, **bad)


@pytest.mark.parametrize("seed", range(3))
def test_shuffled_input_same_plan_with_a_multiple(tmp_path, seed):
    records = _records(tmp_path, {f"k{i:03d}": (i * 37) % 50 + 1 for i in range(40)})
    expected = _split(records, tmp_path, max_samples=7, max_bytes=120, multiple=4)
    assert len(expected) % 4 == 0
    random.Random(seed).shuffle(records)
    assert _split(records, tmp_path, max_samples=7, max_bytes=120, multiple=4) == expected


def test_output_bytes_by_what_a_record_makes_of_its_files(tmp_path):
    (tmp_path / "a.dcm").write_bytes(b"x" * 2900)
    (tmp_path / "a.png").write_bytes(b"x" * 500)
    media = {
        "image": {"path": "a.dcm", "output": "archival"},
        "image_512": {"path": "a.dcm", "output": "display", "size": 512},
        "header": {"path": "a.dcm", "output": "header"},
    }
    dicom = Record("a", "train", "t", media)
    assert output_bytes(dicom, tmp_path) == round(2900 * ARCHIVAL_RATIO + 2900 * DISPLAY_RATIO)
    assert output_bytes(dicom, tmp_path) == 1029
    passthrough = Record("b", "train", "t", {"image": "a.png", "views": ["a.png", "a.png"]})
    assert output_bytes(passthrough, tmp_path) == 1500
    assert output_bytes(Record("c", "train", "t", {"image": "missing.png"}), tmp_path) == 0


def test_dicom_shards_are_cut_by_their_archival_size(tmp_path):
    for key in "abcd":
        (tmp_path / f"{key}.dcm").write_bytes(b"x" * 290)  # ~100 bytes out each
    records = [Record(k, "train", "t", {"image": {"path": f"{k}.dcm", "output": "archival"}})
               for k in "abcd"]  # fmt: skip
    assert _keys(_split(records, tmp_path, max_bytes=200)) == [["a", "b"], ["c", "d"]]


def test_default_sizes_aim_at_1gb_shards_and_100mb_row_groups():
    options = ConvertOptions()
    assert options.max_shard_bytes == 1000**3 and options.row_group_bytes == 100 * 1000**2
    assert options.shard_multiple == 1
    assert ConvertOptions(shard_multiple=8).to_dict()["shard_multiple"] == 8
    with pytest.raises(ValueError, match="shard_multiple"):
        ConvertOptions(shard_multiple=0)


def test_cli_shard_multiple_is_planned_and_recorded(nih_src, tmp_path):
    out = tmp_path / "out"
    args = ["convert", "nih-cxr14", str(nih_src), str(out), "--shard-samples", "4"]
    assert main([*args, "--shard-multiple", "2"]) == 0
    index = json.loads((out / "index.json").read_text())
    assert index["options"]["shard_multiple"] == 2
    counts = {s: (len(v["parquet"]), v["samples"]) for s, v in index["splits"].items()}
    assert counts == {"train": (2, 5), "test": (2, 3)}
    assert all(len(v["webdataset"]) == 2 for v in index["splits"].values())
    assert main(["verify", str(out)]) == 0
    assert main([*args, "--shard-multiple", "4"]) == 0  # another plan: rewritten, old files gone
    index = json.loads((out / "index.json").read_text())
    assert {s: len(v["parquet"]) for s, v in index["splits"].items()} == {"train": 4, "test": 3}
    assert len(list((out / "data").glob("*.parquet"))) == 7
    assert main(["verify", str(out)]) == 0


def test_a_shard_renamed_by_a_new_count_is_rewritten_not_reused(nih_src, tmp_path):
    out = tmp_path / "out"
    convert("nih-cxr14", nih_src, out, ConvertOptions(max_shard_samples=2))  # train: 2+2+1
    result = convert(  # train: 2+1+1+1, its first shard the same records under a new name
        "nih-cxr14", nih_src, out, ConvertOptions(max_shard_samples=2, shard_multiple=2)
    )
    assert (result.shards_written, result.shards_reused) == (4, 2)  # test's two shards kept
    index = json.loads((out / "index.json").read_text())
    names = [f["file"] for f in index["splits"]["train"]["parquet"]]
    assert names == [f"data/train-{i:05d}-of-00004.parquet" for i in range(4)]
    assert sorted(p.name for p in (out / "data").glob("train-*")) == [n[5:] for n in names]
