"""Dataset cards: valid Hub YAML (licence, configs, dataset_info) and filled prose."""

from __future__ import annotations

import dataclasses
import re

import pytest
from datasets import Features
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

from cxrhub.builders import nih_cxr14
from cxrhub.shards.cards import render
from cxrhub.shards.schema import output_features, tar_features

SPLIT_SAMPLES = {"train": 3, "test": 1}
MEMBERS = {
    name: f"{name}.png" if name == "image" else f"{name}.json" for name in nih_cxr14.FEATURES
}


def _shard(file: str, samples: int, nbytes: int) -> dict:
    return {"file": file, "samples": samples, "bytes": nbytes, "sha256": "0" * 64}


def _index(formats=("parquet", "webdataset"), errors: int = 2) -> dict:
    """The structure finalize.write_outputs builds."""
    files = {
        "train": [("00000-of-00002", "000000", 2, 100), ("00001-of-00002", "000001", 1, 50)],
        "test": [("00000-of-00001", "000000", 1, 70)],
    }
    splits = {}
    for name, shards in files.items():
        entry = {"samples": SPLIT_SAMPLES[name]}
        if "parquet" in formats:
            entry["parquet"] = [_shard(f"data/{name}-{p}.parquet", n, b) for p, _, n, b in shards]
        if "webdataset" in formats:
            entry["webdataset"] = [
                _shard(f"webdataset/{name}-{t}.tar", n, 2 * b) for _, t, n, b in shards
            ]
        splits[name] = entry
    return {
        "format_version": 1,
        "dataset": nih_cxr14.SPEC.name,
        "builder_version": nih_cxr14.SPEC.version,
        "cxrhub_version": "9.9.9-test",
        "access": nih_cxr14.SPEC.access.value,
        "source_layout": {"table": "Data_Entry_2017_v2020.csv"},
        "options": {"formats": list(formats)},
        "features": output_features(nih_cxr14.FEATURES).to_dict(),
        "splits": splits,
        "webdataset_members": dict(MEMBERS),
        "manifest": {"file": "manifest.jsonl", "rows": 6, "sha256": "1" * 64},
        "errors": {"file": "errors.jsonl", "rows": errors, "sha256": "2" * 64},
    }


@pytest.fixture(scope="module")
def card_text() -> str:
    return render(nih_cxr14.SPEC, _index())


def test_yaml_has_hub_metadata(card_text):
    data = DatasetCard(card_text).data.to_dict()
    assert data["license"] == "cc0-1.0"
    assert data["pretty_name"] == "NIH ChestX-ray14"
    assert "object-detection" in data["task_categories"]  # the template's own keys are kept
    assert set(nih_cxr14.SPEC.tags) <= set(data["tags"])
    (config,) = data["configs"]
    assert config["config_name"] == "default"
    assert config["data_files"] == [
        {"split": "train", "path": "data/train-*"},
        {"split": "test", "path": "data/test-*"},
    ]


def test_dataset_info_features_and_splits(card_text):
    info = DatasetCard(card_text).data.to_dict()["dataset_info"]
    features = Features._from_yaml_list(info["features"])
    assert features == Features.from_dict(_index()["features"])
    assert features["labels"].feature.names == list(nih_cxr14.LABELS)
    splits = {s["name"]: s for s in info["splits"]}
    assert {k: s["num_examples"] for k, s in splits.items()} == SPLIT_SAMPLES
    assert splits["train"]["num_bytes"] == 150  # the Parquet shards' bytes


def test_datasets_reads_the_card(card_text):
    data = DatasetCard(card_text).data
    infos = DatasetInfosDict.from_dataset_card_data(data)
    assert infos["default"].features == output_features(nih_cxr14.FEATURES)
    assert infos["default"].splits["test"].num_examples == 1
    configs = MetadataConfigs.from_dataset_card_data(data)
    assert set(configs) == {"default"}


def test_prose_is_filled(card_text):
    body = DatasetCard(card_text).text
    assert not re.search(r"\{\{.*?\}\}", card_text)
    assert nih_cxr14.CITATION in body
    assert "cxrhub 9.9.9-test" in body
    assert "| train | 3 | 2 | 2 |" in body
    assert "| test | 1 | 1 | 1 |" in body
    assert "`labels` | list of class label (Atelectasis," in body
    assert "2 source inputs could not be converted" in body
    assert "webdataset/train-{000000..000001}.tar" in body


def test_no_errors_note():
    body = render(nih_cxr14.SPEC, _index(errors=0))
    assert "Every source sample listed by the release was converted." in body


def test_render_is_deterministic(card_text):
    assert render(nih_cxr14.SPEC, _index()) == card_text


def test_webdataset_only_points_configs_at_tars():
    index = _index(formats=("webdataset",))
    text = render(nih_cxr14.SPEC, index)
    data = DatasetCard(text).data.to_dict()
    paths = [f["path"] for f in data["configs"][0]["data_files"]]
    assert paths == ["webdataset/train-*", "webdataset/test-*"]
    info = data["dataset_info"]
    assert {s["name"]: s["num_bytes"] for s in info["splits"]} == {"train": 300, "test": 140}
    # the columns `datasets`' WebDataset builder yields: one per member, plus __key__ / __url__
    features = Features._from_yaml_list(info["features"])
    assert features == tar_features(Features.from_dict(index["features"]), MEMBERS)
    assert {"__key__", "__url__", "image.png", "labels.json"} <= set(features)
    assert "key" not in features
    assert "from datasets import load_dataset" not in text  # no Parquet to load


def test_webdataset_only_with_no_converted_sample():
    index = _index(formats=("webdataset",))
    index["webdataset_members"] = {}
    for split in index["splits"].values():
        split["samples"], split["webdataset"] = 0, split["webdataset"][:1]
    data = DatasetCard(render(nih_cxr14.SPEC, index)).data.to_dict()
    # a split without samples is left out: datasets refuses a declared split with no data
    assert not data["dataset_info"].get("splits")


def test_other_licence_default_template():
    spec = dataclasses.replace(
        nih_cxr14.SPEC,
        name="no-such-template",
        license="other",
        license_name="x-terms",
        license_link="https://example.org/terms",
    )
    text = render(spec, _index())
    card = DatasetCard(text)
    data = card.data.to_dict()
    assert data["license"] == "other"
    assert data["license_name"] == "x-terms"
    assert data["license_link"] == "https://example.org/terms"
    assert not re.search(r"\{\{.*?\}\}", text)
    assert "no-such-template" in card.text  # `cxrhub convert {{ dataset }}` in _default.md
    assert "object-detection" not in data["task_categories"]  # not the nih-cxr14 template
    assert nih_cxr14.CITATION in card.text


def test_licence_fields_absent_when_unset(card_text):
    data = DatasetCard(card_text).data.to_dict()
    assert "license_name" not in data
    assert "license_link" not in data
