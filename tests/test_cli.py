"""The ``cxrhub`` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from datasets import load_dataset

from cxrhub import builders
from cxrhub.shards.cli import main, parse_size


def test_demo_converts_verifies_and_says_how_to_load(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "cxrhub.shards.cli", "demo", "--dir", str(tmp_path / "demo")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = tmp_path / "demo" / "output"
    assert f"converted output:   {out}" in run.stdout and "verify: ok" in run.stdout
    assert "load_dataset(" in run.stdout
    assert load_dataset(str(out), cache_dir=str(tmp_path / "c"))["train"].num_rows == 5


def test_kaggle_layout_and_2017_table_convert_with_two_workers(tmp_path, nih_out):
    src, out = tmp_path / "kaggle", tmp_path / "out"
    assert main(["sample", "nih-cxr14", str(src), "--option", "layout=kaggle",
                 "--option", "table=2017"]) == 0  # fmt: skip
    assert (src / "images_001" / "images").is_dir() and (src / "Data_Entry_2017.csv").is_file()
    assert main(["convert", "nih-cxr14", str(src), str(out), "--workers", "2"]) == 0
    kaggle = load_dataset(str(out), cache_dir=str(tmp_path / "c"))["train"]
    box = load_dataset(str(nih_out), cache_dir=str(tmp_path / "c2"))["train"]
    assert kaggle["key"] == box["key"]
    assert kaggle["labels"] == box["labels"] and kaggle["patient_id"] == box["patient_id"]
    ages = dict(zip(kaggle["key"], kaggle["age_years"], strict=True))
    assert ages["00000002_000"] == pytest.approx(26 / 12)  # "026M" in the 2017 table
    index = json.loads((out / "index.json").read_text())
    assert index["source_layout"]["table"] == "Data_Entry_2017.csv"
    assert index["source_layout"]["image_dirs"][0] == "images_001/images"


@pytest.mark.parametrize(
    ("text", "size"),
    [("500MB", 500_000_000), ("1GiB", 1 << 30), ("4096", 4096), ("1.5 kB", 1500), ("2t", 2e12)],
)
def test_sizes(text, size):
    assert parse_size(text) == size


def test_bad_arguments_exit_2(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "nih-cxr14", str(tmp_path), str(tmp_path / "o"), "--shard-size", "big"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["convert", "no-such-set", "a", "b"])
    assert "invalid choice" in capsys.readouterr().err
    monkeypatch.setitem(builders.BUILDERS, "spec-only", "fixtures.spec_only_builder")
    assert main(["sample", "spec-only", str(tmp_path / "m")]) == 2  # registered, SPEC only


def test_unknown_source_option_is_refused_before_any_work(nih_src, tmp_path, caplog):
    out = tmp_path / "out"
    args = ["convert", "nih-cxr14", str(nih_src), str(out), "--source-option", "jpg_root=/x"]
    assert main(args) == 2
    assert "unknown source option(s) ['jpg_root']; this dataset takes: none" in caplog.text
    assert not out.exists()


@pytest.mark.parametrize("name", ["mimic-cxr", "chexpert-plus", "vindr-cxr"])
def test_demo_runs_for_other_datasets_with_their_sample_roots(name, tmp_path):
    assert main(["demo", "--dataset", name, "--dir", str(tmp_path / "d")]) == 0
    out = tmp_path / "d" / "output"
    index = json.loads((out / "index.json").read_text())
    assert sum(s["samples"] for s in index["splits"].values()) > 0
    if name == "chexpert-plus":  # both sample roots given: no image column left null
        rows = load_dataset(str(out), cache_dir=str(tmp_path / "c"))["train"]
        assert all(r["image_png"] is not None and r["image"] is not None for r in rows)
