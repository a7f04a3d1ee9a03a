"""Shard writers: deterministic tars and Parquet files that read back as the same examples."""

from __future__ import annotations

import gc
import io
import json
import random
import sys
import tarfile

import pyarrow.parquet as pq
import pytest
import webdataset as wds
from datasets import ClassLabel, Features, Image, List, Value
from PIL import Image as PILImage

from cxrhub.shards.writers import ParquetShardWriter, TarShardWriter

FEATURES = Features(
    {
        "key": Value("string"),
        "image": Image(),
        "labels": List(ClassLabel(names=["a", "b"])),
        "age": Value("float32"),
    }
)
FIELDS = ("age", "image", "labels")  # sorted member order within a sample


def _png(shade: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("L", (8, 8), shade).save(buf, format="PNG")
    return buf.getvalue()


def _examples(n: int = 4) -> list[dict]:
    raw = [
        {
            "key": f"p{i:03d}_s{i}",
            "image": {"bytes": _png(10 * i), "path": f"{i}.png"},
            "labels": [["a"], ["b"], ["a", "b"], []][i % 4],
            "age": None if i == 2 else 20.5 + i,
        }
        for i in range(n)
    ]
    return [FEATURES.encode_example(r) for r in raw]


def _write(writer, examples):
    for example in examples:
        writer.write(example)
    writer.close()
    return writer


def test_tar_member_order_names_and_metadata(tmp_path):
    examples = _examples()
    path = tmp_path / "webdataset" / "train-000000.tar"
    assert _write(TarShardWriter(path, FEATURES), examples).samples == len(examples)
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    expected = [
        f"{e['key']}.{f}.{'png' if f == 'image' else 'json'}" for e in examples for f in FIELDS
    ]
    assert [m.name for m in members] == expected
    for m in members:
        assert m.isfile()
        assert (m.mtime, m.uid, m.gid) == (0, 0, 0)
        assert (m.uname, m.gname) == ("cxrhub", "cxrhub")
        assert m.mode == 0o444


def test_tar_rewrite_is_byte_identical(tmp_path):
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    _write(TarShardWriter(a, FEATURES), _examples())
    _write(TarShardWriter(b, FEATURES), _examples())
    assert a.read_bytes() == b.read_bytes()


def test_tar_reads_back_with_webdataset(tmp_path):
    examples = _examples()
    path = tmp_path / "s.tar"
    _write(TarShardWriter(path, FEATURES), examples)
    samples = list(wds.WebDataset([str(path)], shardshuffle=False))
    assert [s["__key__"] for s in samples] == [e["key"] for e in examples]
    for sample, example in zip(samples, examples, strict=True):
        assert sample["image.png"] == example["image"]["bytes"]
        assert json.loads(sample["labels.json"]) == example["labels"]
        assert json.loads(sample["age.json"]) == example["age"]
    assert json.loads(samples[2]["age.json"]) is None  # missing values stay null


def test_tar_image_extension_follows_source(tmp_path):
    example = FEATURES.encode_example(
        {"key": "k", "image": {"bytes": b"\xff\xd8jpeg", "path": "X.JPG"}, "labels": [], "age": 1}
    )
    path = tmp_path / "s.tar"
    _write(TarShardWriter(path, FEATURES), [example])
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["k.age.json", "k.image.jpg", "k.labels.json"]


def test_tar_abort_leaves_nothing(tmp_path):
    writer = TarShardWriter(tmp_path / "s.tar", FEATURES)
    writer.write(_examples(1)[0])
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_parquet_rows_read_back(tmp_path):
    examples = _examples()
    path = tmp_path / "data" / "train-00000-of-00001.parquet"
    writer = ParquetShardWriter(path, FEATURES, row_group_bytes=1 << 20)
    for example in examples:
        writer.write(example)
    assert not path.exists(), "the shard must not appear under its name before close()"
    writer.close()
    assert writer.samples == len(examples)
    assert pq.read_table(path).to_pylist() == examples


@pytest.mark.parametrize(("row_group_bytes", "groups"), [(1, 4), (1 << 30, 1)])
def test_parquet_row_groups_follow_size(tmp_path, row_group_bytes, groups):
    path = tmp_path / "s.parquet"
    _write(ParquetShardWriter(path, FEATURES, row_group_bytes=row_group_bytes), _examples(4))
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == groups
    assert meta.num_rows == 4


def test_parquet_schema_recovers_features(tmp_path):
    path = tmp_path / "s.parquet"
    _write(ParquetShardWriter(path, FEATURES, row_group_bytes=1 << 20), _examples())
    recovered = Features.from_arrow_schema(pq.read_schema(path))
    assert recovered == FEATURES
    assert recovered["labels"].feature.names == ["a", "b"]
    assert isinstance(recovered["image"], Image)


def test_parquet_rewrite_is_byte_identical(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    _write(ParquetShardWriter(a, FEATURES, row_group_bytes=300), _examples())
    _write(ParquetShardWriter(b, FEATURES, row_group_bytes=300), _examples())
    assert a.read_bytes() == b.read_bytes()


def test_parquet_empty_shard_is_valid(tmp_path):
    path = tmp_path / "s.parquet"
    _write(ParquetShardWriter(path, FEATURES, row_group_bytes=1 << 20), [])
    assert pq.read_table(path).num_rows == 0
    assert Features.from_arrow_schema(pq.read_schema(path)) == FEATURES


def test_parquet_abort_leaves_nothing(tmp_path):
    path = tmp_path / "s.parquet"
    path.parent.mkdir(exist_ok=True)
    writer = ParquetShardWriter(path, FEATURES, row_group_bytes=1)
    for example in _examples():
        writer.write(example)
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["parquet", "tar"])
def test_abort_is_quiet(tmp_path, monkeypatch, kind):
    """abort() also closes the inner writer, so collecting it later prints nothing."""
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    if kind == "parquet":
        writer = ParquetShardWriter(tmp_path / "s.parquet", FEATURES, row_group_bytes=1)
    else:
        writer = TarShardWriter(tmp_path / "s.tar", FEATURES)
    writer.write(_examples(1)[0])
    writer.abort()
    del writer
    gc.collect()
    assert [repr(u.exc_value) for u in unraisable] == []


def test_a_null_image_column_is_a_json_null_member(tmp_path):
    """An image column the source did not provide (e.g. no PNG root given) stays null in both
    formats; the tar holds ``<field>.json`` = ``null`` so every sample has the same members."""
    import tarfile

    from cxrhub.shards.writers import TarShardWriter

    features = Features({"key": Value("string"), "image": Image(), "png": Image()})
    png = _png(100)
    example = features.encode_example(
        {"key": "a", "image": {"bytes": png, "path": "a.png"}, "png": None}
    )
    writer = TarShardWriter(tmp_path / "x.tar", features)
    writer.write(example)
    writer.close()
    with tarfile.open(tmp_path / "x.tar") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}
    assert members == {"a.image.png": png, "a.png.json": b"null"}


def _noise(n: int, seed: int) -> bytes:
    """Incompressible bytes (encoded images are: Parquet cannot shrink them)."""
    return random.Random(seed).randbytes(n)


def test_parquet_row_groups_land_near_their_target(tmp_path):
    features = Features({"key": Value("string"), "image": Image()})
    path = tmp_path / "s.parquet"
    examples = [{"key": f"k{i}", "image": {"bytes": _noise(10_000, i), "path": None}}
                for i in range(20)]  # fmt: skip
    _write(ParquetShardWriter(path, features, row_group_bytes=50_000), examples)
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [5, 5, 5, 5]
    assert all(50_000 <= meta.row_group(i).total_byte_size < 62_000 for i in range(4))


def test_parquet_row_groups_count_every_image_of_a_list(tmp_path):
    features = Features({"key": Value("string"), "images": List(Image())})
    path = tmp_path / "s.parquet"
    examples = [
        {"key": f"k{i}", "images": [{"bytes": _noise(10_000, 3 * i + j), "path": None}
                                    for j in range(3)]}
        for i in range(6)
    ]  # fmt: skip
    _write(ParquetShardWriter(path, features, row_group_bytes=55_000), examples)
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [2, 2, 2]
    assert pq.read_table(path).to_pylist() == examples
