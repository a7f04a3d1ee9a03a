"""Second configs (MIMIC ``studies``): OUT/<config>/ outputs, list-of-image columns, one card
listing every config, verify of each config, the format checks and the push plan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from datasets import Image, List, load_dataset

from cxrhub import builders
from cxrhub.builders import mimic_cxr, mimic_cxr_jpg
from cxrhub.shards import hub_plan
from cxrhub.shards.cli import main
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.errors import CxrhubError, UnknownDatasetError
from cxrhub.shards.verify import verify

PARQUET = ConvertOptions(formats=("parquet",), max_shard_samples=2)
STUDY_COUNTS = {"train": 5, "validation": 1, "test": 2}  # the JPG sample's 14 images


@pytest.fixture(scope="module")
def jpg_src(tmp_path_factory) -> Path:
    return mimic_cxr_jpg.write_sample(tmp_path_factory.mktemp("jpg") / "src")


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    return mimic_cxr.write_sample(tmp_path_factory.mktemp("dcm") / "src")


@pytest.fixture(scope="module")
def jpg_out(jpg_src, reports, tmp_path_factory) -> Path:
    """The studies config converted first, then the default config into the same folder."""
    out = tmp_path_factory.mktemp("jpg-out") / "out"
    extra = {"reports_root": str(reports)}
    result = convert("mimic-cxr-jpg", jpg_src, out, PARQUET, config="studies", source_options=extra)
    assert result.errors == [] and result.samples == 8 and result.out == out / "studies"
    result = convert("mimic-cxr-jpg", jpg_src, out, ConvertOptions(max_shard_samples=4))
    assert result.errors == [] and result.samples == 14
    return out


@pytest.fixture(scope="module")
def studies(jpg_out, tmp_path_factory):
    return load_dataset(str(jpg_out), "studies", cache_dir=str(tmp_path_factory.mktemp("c")))


def test_config_lookup_and_unknown_names():
    features, records, formats = builders.config(mimic_cxr_jpg, "studies")
    assert features is mimic_cxr_jpg.STUDY_FEATURES and formats == ("parquet",)
    assert records is mimic_cxr_jpg.iter_study_records
    assert builders.config(mimic_cxr_jpg)[0] is mimic_cxr_jpg.FEATURES
    with pytest.raises(UnknownDatasetError, match="configs: default, studies"):
        builders.config(mimic_cxr_jpg, "series")


def test_one_row_per_study_with_official_split_counts(studies, jpg_src):
    assert {s: studies[s].num_rows for s in studies} == STUDY_COUNTS
    assert studies["train"].features["images"] == List(Image())
    for split in studies:
        assert set(studies[split]["split"]) == {split}
        for row in studies[split]:
            assert row["key"] == f"p{row['subject_id']}_s{row['study_id']}"
            assert row["dicom_ids"] == sorted(row["dicom_ids"])
            assert len(row["images"]) == len(row["ViewPosition"]) == len(row["dicom_ids"])


def test_study_images_are_the_source_jpgs_in_dicom_id_order(studies, jpg_src):
    default = {r.fields["dicom_id"]: r for r in mimic_cxr_jpg.iter_records(jpg_src)}
    for split in studies:
        raw = studies[split].cast_column("images", List(Image(decode=False)))
        for row in raw:
            for dicom_id, view, image in zip(
                row["dicom_ids"], row["ViewPosition"], row["images"], strict=True
            ):
                record = default[dicom_id]
                assert image["bytes"] == (jpg_src / record.source).read_bytes()
                assert view == record.fields["ViewPosition"]


def test_study_labels_and_reports_equal_the_image_records(studies, jpg_src, reports):
    by_study = {
        r.fields["study_id"]: r.fields
        for r in mimic_cxr_jpg.iter_records(jpg_src, reports_root=str(reports))
    }
    for split in studies:
        for row in studies[split]:
            fields = by_study[row["study_id"]]
            for family in (*mimic_cxr_jpg.LABEL_FAMILIES, "report"):
                assert row[family] == fields[family], family
    first = studies["train"].filter(lambda r: r["study_id"] == 50414267)[0]
    assert first["report"]["conclusion"] == "No acute cardiopulmonary process."


def test_one_card_lists_both_configs_and_both_load(jpg_out, tmp_path):
    assert not (jpg_out / "studies" / "README.md").exists()
    card = (jpg_out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    names = [c["config_name"] for c in meta["configs"]]
    assert names == ["default", "studies"]
    assert meta["configs"][1]["data_files"][0] == {"split": "train", "path": "studies/data/train-*"}
    assert [i["config_name"] for i in meta["dataset_info"]] == names
    index = json.loads((jpg_out / "studies" / "index.json").read_text())
    assert index["config"] == "studies" and index["options"]["formats"] == ["parquet"]
    assert "config" not in json.loads((jpg_out / "index.json").read_text())
    default = load_dataset(str(jpg_out), cache_dir=str(tmp_path / "c"))
    assert {s: default[s].num_rows for s in default} == {"train": 9, "validation": 2, "test": 3}


def test_reconverting_the_study_config_keeps_the_card(jpg_out, jpg_src, reports, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(jpg_out, out)
    before = (out / "README.md").read_text()
    extra = {"reports_root": str(reports)}
    result = convert("mimic-cxr-jpg", jpg_src, out, PARQUET, config="studies", source_options=extra)
    assert result.shards_written == 0 and (out / "README.md").read_text() == before


def test_verify_checks_each_config(jpg_out, tmp_path):
    assert verify(jpg_out) == []
    out = tmp_path / "out"
    shutil.copytree(jpg_out, out)
    shard = next((out / "studies" / "data").glob("test-*.parquet"))
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    problems = verify(out)
    assert problems and all(p.startswith("studies: ") for p in problems)
    assert any("sha256 differs" in p for p in problems)


def test_webdataset_is_refused_before_work(jpg_src, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(CxrhubError, match="not available; this config writes parquet"):
        convert("mimic-cxr-jpg", jpg_src, out, ConvertOptions(), config="studies")
    assert not out.exists()
    code = main(["convert", "mimic-cxr-jpg", str(jpg_src), str(out), "--formats", "webdataset",
                 "--config", "studies"])  # fmt: skip
    assert code == 2 and not out.exists()
    code = main(["convert", "mimic-cxr-jpg", str(jpg_src), str(out), "--config", "series"])
    assert code == 2 and not out.exists()


def test_cli_config_defaults_to_its_formats(jpg_src, tmp_path):
    out = tmp_path / "out"
    assert main(["convert", "mimic-cxr-jpg", str(jpg_src), str(out), "--config", "studies"]) == 0
    assert (out / "studies" / "index.json").is_file() and not (out / "index.json").exists()
    assert verify(out) == []
    meta = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert [c["config_name"] for c in meta["configs"]] == ["studies"]


def test_push_plan_includes_the_config_folder_but_no_state(jpg_out):
    index = json.loads((jpg_out / "index.json").read_text())
    files = hub_plan.collect_files(jpg_out, index)
    paths = [f.path for f in files]
    study_index = json.loads((jpg_out / "studies" / "index.json").read_text())
    shards = [f["file"] for s in study_index["splits"].values() for f in s["parquet"]]
    assert {f"studies/{p}" for p in shards} <= set(paths)
    for name in ("index.json", "manifest.jsonl", "errors.jsonl"):
        assert f"studies/{name}" in paths
    assert not any(".cxrhub" in p for p in paths)
    assert hub_plan.unpublished_files(jpg_out, files) == []
    assert paths[-1] in ("index.json", "studies/index.json")
    assert paths.index("README.md") > paths.index("studies/manifest.jsonl")
