"""The ``datasets`` builder adapter gives the rows and features ``load_dataset(OUT)`` gives."""

from __future__ import annotations

import pytest
from datasets import Image, List, load_dataset

from cxrhub import builders
from cxrhub.shards.errors import MissingSourceError, UnknownDatasetError
from cxrhub.shards.hf_builder import CxrhubBuilder, load_builder


def _rows(ds):
    return ds.cast_column("image", Image(decode=False)).to_list()


@pytest.mark.parametrize("num_proc", [None, 2])
def test_adapter_matches_the_converted_output(nih_src, nih_out, tmp_path, num_proc):
    builder = load_builder("nih-cxr14", data_dir=nih_src, cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare(num_proc=num_proc)
    built = builder.as_dataset()
    converted = load_dataset(str(nih_out), cache_dir=str(tmp_path / "c2"))
    assert set(built) == set(converted) == {"train", "test"}
    for split in built:
        assert built[split].features == converted[split].features
        assert _rows(built[split]) == _rows(converted[split])


def test_streaming_adapter_yields_the_same_rows(nih_src, nih_out, tmp_path):
    builder = load_builder("nih-cxr14", data_dir=nih_src, cache_dir=str(tmp_path / "cache"))
    streamed = builder.as_streaming_dataset(split="test").cast_column("image", Image(decode=False))
    converted = load_dataset(str(nih_out), cache_dir=str(tmp_path / "c2"))
    assert list(streamed) == _rows(converted["test"])


def test_configs_are_the_convertible_datasets_and_data_dir_is_required(tmp_path, monkeypatch):
    convertible = [n for n in builders.names() if builders.is_convertible(builders.load(n))]
    assert [c.name for c in CxrhubBuilder.BUILDER_CONFIGS] == convertible
    assert {"nih-cxr14", "mimic-cxr", "mimic-cxr-jpg"} <= set(convertible)
    builder = CxrhubBuilder(config_name="nih-cxr14", cache_dir=str(tmp_path))
    with pytest.raises(MissingSourceError, match="data_dir"):
        builder.download_and_prepare()
    monkeypatch.setitem(builders.BUILDERS, "spec-only", "fixtures.spec_only_builder")
    with pytest.raises(MissingSourceError, match="not implemented yet"):
        load_builder("spec-only", data_dir=tmp_path)


@pytest.mark.parametrize("name", ["mimic-cxr", "mimic-cxr-jpg"])
def test_adapter_matches_conversion_for_the_mimic_releases(name, tmp_path):
    from cxrhub.shards.convert import convert

    module = builders.load(name)
    src = module.write_sample(tmp_path / "src")
    convert(name, src, tmp_path / "out")
    builder = load_builder(name, data_dir=src, cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    built = builder.as_dataset()
    converted = load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "c2"))
    assert set(built) == set(converted)
    for split in built:
        images = [c for c, f in built[split].features.items() if isinstance(f, Image)]
        a, b = built[split], converted[split]
        for column in images:
            a, b = (d.cast_column(column, Image(decode=False)) for d in (a, b))
        assert a.features == b.features and a.to_list() == b.to_list()


def test_adapter_builds_a_builders_other_config_like_convert_does(tmp_path):
    """MIMIC-CXR's ``studies`` config (one row per study, a list of images): the same rows as
    ``cxrhub convert --config studies`` read back with ``load_dataset(OUT, "studies")``."""
    from cxrhub.shards.convert import ConvertOptions, convert

    src = builders.load("mimic-cxr").write_sample(tmp_path / "src")
    options = ConvertOptions(formats=("parquet",))
    convert("mimic-cxr", src, tmp_path / "out", options, config="studies")
    builder = load_builder(
        "mimic-cxr", data_dir=src, config="studies", cache_dir=str(tmp_path / "cache")
    )
    builder.download_and_prepare()
    built = builder.as_dataset()
    converted = load_dataset(str(tmp_path / "out"), "studies", cache_dir=str(tmp_path / "c2"))
    assert set(built) == set(converted)
    for split in built:
        a, b = (
            d.cast_column("images_512", List(Image(decode=False)))
            for d in (built[split], converted[split])
        )
        assert a.features == b.features and a.to_list() == b.to_list()
        assert len(a) < len(_default_rows(src, tmp_path, split))  # studies < images
    with pytest.raises(
        UnknownDatasetError, match="unknown config .nope.; configs: default, studies"
    ):
        load_builder("mimic-cxr", data_dir=src, config="nope")


def _default_rows(src, tmp_path, split):
    builder = load_builder("mimic-cxr", data_dir=src, cache_dir=str(tmp_path / "cache-default"))
    builder.download_and_prepare()
    return builder.as_dataset(split=split)
