"""End to end: a NIH download converted, then read back by datasets and webdataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import webdataset as wds
from datasets import Features, load_dataset

from cxrhub.shards.convert import ConvertOptions, convert


def _list_count(src: Path, name: str) -> int:
    return len((src / name).read_text().split())


@pytest.fixture(scope="module")
def index(nih_out) -> dict:
    return json.loads((nih_out / "index.json").read_text())


@pytest.fixture(scope="module")
def parquet_rows(nih_out, tmp_path_factory) -> dict[str, list[dict]]:
    cache = tmp_path_factory.mktemp("cache")
    ds = load_dataset(str(nih_out), cache_dir=str(cache)).cast_column("image", _raw_image())
    return {split: ds[split].to_list() for split in ds}


def _raw_image():
    from datasets import Image

    return Image(decode=False)


def test_load_dataset_gives_declared_features_and_source_counts(nih_out, nih_src, index, tmp_path):
    ds = load_dataset(str(nih_out), cache_dir=str(tmp_path))
    assert set(ds) == {"train", "test"}
    assert ds["train"].num_rows == _list_count(nih_src, "train_val_list.txt") == 5
    assert ds["test"].num_rows == _list_count(nih_src, "test_list.txt") == 3
    declared = Features.from_dict(index["features"])
    assert ds["train"].features == declared
    first = ds["test"][0]
    assert first["image"].mode == "L" and first["image"].size == (64, 64)
    names = declared["labels"].feature.names
    assert [names[i] for i in first["labels"]] == ["Hernia"]


def test_streaming_yields_the_same_rows(nih_out, parquet_rows, tmp_path):
    stream = load_dataset(str(nih_out), streaming=True, cache_dir=str(tmp_path))
    for split, rows in parquet_rows.items():
        streamed = list(stream[split].cast_column("image", _raw_image()))
        assert streamed == rows


def test_image_bytes_are_the_source_files(nih_src, parquet_rows):
    for rows in parquet_rows.values():
        for row in rows:
            source = nih_src / "images" / row["image_id"]
            assert row["image"]["bytes"] == source.read_bytes()
            assert row["image"]["path"] == row["image_id"]


def test_webdataset_readers_yield_every_sample_with_parquet_labels(nih_out, parquet_rows, tmp_path):
    for split, rows in parquet_rows.items():
        by_key = {r["key"]: r for r in rows}
        tars = sorted(str(p) for p in (nih_out / "webdataset").glob(f"{split}-*.tar"))
        samples = list(wds.WebDataset(tars, shardshuffle=False).decode())
        assert [s["__key__"] for s in samples] == [r["key"] for r in rows]
        for sample in samples:
            row = by_key[sample["__key__"]]
            assert sample["labels.json"] == row["labels"]
            assert sample["boxes.json"] == row["boxes"]
            assert sample["image.png"] == row["image"]["bytes"]
        hf = load_dataset("webdataset", data_files={split: tars}, cache_dir=str(tmp_path))[split]
        assert hf["__key__"] == [r["key"] for r in rows]
        assert hf["labels.json"] == [r["labels"] for r in rows]


def test_index_accounts_for_every_source_once(nih_out, index, nih_src):
    manifest = [json.loads(line) for line in (nih_out / "manifest.jsonl").open()]
    sources = sorted(m["source"] for m in manifest)
    assert sources == sorted(f"images/{p.name}" for p in (nih_src / "images").glob("*.png"))
    assert {m["status"] for m in manifest} == {"ok"}
    for entry in index["splits"].values():
        assert entry["samples"] == sum(s["samples"] for s in entry["parquet"])
        assert [s["samples"] for s in entry["parquet"]] == [
            s["samples"] for s in entry["webdataset"]
        ]
    assert len(index["splits"]["train"]["parquet"]) == 3  # 5 samples, 2 per shard
    assert (nih_out / "errors.jsonl").read_text() == ""


def test_rerun_reuses_every_shard_and_changes_nothing(nih_out, nih_src, tmp_path):
    from conftest import output_files

    before = output_files(nih_out)
    result = convert("nih-cxr14", nih_src, nih_out, ConvertOptions(max_shard_samples=2))
    assert (result.shards_written, result.shards_reused) == (0, 5)
    assert output_files(nih_out) == before


def test_new_shard_size_replaces_the_old_shards(nih_src, tmp_path):
    out = tmp_path / "out"
    convert("nih-cxr14", nih_src, out, ConvertOptions(max_shard_samples=1))
    convert("nih-cxr14", nih_src, out, ConvertOptions(max_shard_samples=4))
    assert sorted(p.name for p in (out / "data").iterdir()) == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet",
    ]
    assert load_dataset(str(out), cache_dir=str(tmp_path / "c"))["train"].num_rows == 5


def test_single_format_output_loads(nih_src, tmp_path):
    out = tmp_path / "wds-only"
    convert("nih-cxr14", nih_src, out, ConvertOptions(formats=("webdataset",)))
    assert not (out / "data").exists()
    ds = load_dataset(str(out), cache_dir=str(tmp_path / "c"))
    assert ds["train"].num_rows == 5 and "labels.json" in ds["train"].column_names
