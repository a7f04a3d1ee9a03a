"""Bad inputs under each policy, and layouts rejected before any work."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from cxrhub.builders import nih_cxr14
from cxrhub.shards.cli import main
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.errors import ConversionStopped, MissingSourceError, SourceLayoutError

BAD = {
    "images/00000001_001.png": ("decode", "random bytes"),
    "images/00000003_001.png": ("decode", "truncated"),
    "images/00000005_000.png": ("read", "missing"),
}


@pytest.fixture
def broken_src(nih_src, tmp_path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(nih_src, src)
    (src / "images/00000001_001.png").write_bytes(bytes(range(256)) * 8)
    data = (src / "images/00000003_001.png").read_bytes()
    (src / "images/00000003_001.png").write_bytes(data[: len(data) // 2])
    (src / "images/00000005_000.png").unlink()
    return src


def _errors(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "errors.jsonl").open()]


def test_bad_images_are_listed_and_every_good_sample_converted(broken_src, tmp_path, caplog):
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        code = main(["convert", "nih-cxr14", str(broken_src), str(out), "--shard-samples", "2"])
    assert code == 1  # finished, but partial
    errors = _errors(out)
    assert {e["path"]: e["stage"] for e in errors} == {p: s for p, (s, _) in BAD.items()}
    missing = next(e for e in errors if e["stage"] == "read")
    assert missing["error"] == "FileNotFoundError" and missing["key"] == "00000005_000"
    assert all(e["message"] for e in errors)
    assert sum(r.levelno == logging.WARNING for r in caplog.records) == 3
    index = json.loads((out / "index.json").read_text())
    assert index["splits"]["train"]["samples"] + index["splits"]["test"]["samples"] == 5
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").open()]
    assert sorted(m["source"] for m in manifest) == sorted(
        f"images/{name}" for name, *_ in nih_cxr14._SAMPLE
    )
    assert sorted(m["source"] for m in manifest if m["status"] == "error") == sorted(BAD)
    assert main(["verify", str(out)]) == 0


def test_skip_policy_is_quiet_but_still_counts(broken_src, tmp_path, caplog):
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        result = convert("nih-cxr14", broken_src, out, ConvertOptions(on_error="skip"))
    assert len(result.errors) == 3 and result.samples == 5
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_error_policy_stops_at_the_first_bad_input(broken_src, tmp_path, caplog):
    out = tmp_path / "out"
    with pytest.raises(ConversionStopped, match=r"images/00000001_001.png: decode: not a readable"):
        convert("nih-cxr14", broken_src, out, ConvertOptions(on_error="error"))
    assert not (out / "index.json").exists()
    assert main(["convert", "nih-cxr14", str(broken_src), str(out), "--on-error", "error"]) == 2
    assert "--on-error error" in caplog.text


def test_error_policy_stops_a_pool_too(broken_src, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ConversionStopped):
        convert("nih-cxr14", broken_src, out, ConvertOptions(on_error="error", max_shard_samples=1),
                workers=2)  # fmt: skip
    assert not (out / "index.json").exists()
    assert not list(out.rglob(".*.tmp"))


def test_row_outside_both_split_lists_is_reported(nih_src, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(nih_src, src)
    listed = (src / "test_list.txt").read_text().split()
    (src / "test_list.txt").write_text("\n".join(listed[1:]) + "\n")
    result = convert("nih-cxr14", src, tmp_path / "out")
    assert [(e["path"], e["stage"]) for e in result.errors] == [(f"images/{listed[0]}", "plan")]
    assert "in no split list" in result.errors[0]["message"]


def _drop_column(table: Path, column: str) -> None:
    lines = table.read_text().splitlines()
    header = lines[0].split(",")
    i = header.index(column)
    table.write_text(
        "\n".join(",".join(f[:i] + f[i + 1 :]) for f in (line.split(",") for line in lines))
    )


def test_missing_column_fails_before_any_work(nih_src, tmp_path, caplog):
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(nih_src, src)
    _drop_column(src / "Data_Entry_2017_v2020.csv", "View Position")
    with pytest.raises(
        SourceLayoutError, match=r"Data_Entry_2017_v2020.csv: missing column 'View Position'"
    ):
        convert("nih-cxr14", src, out)
    assert not out.exists()
    assert main(["convert", "nih-cxr14", str(src), str(out)]) == 2
    assert "View Position" in caplog.text and "expected" in caplog.text


def test_missing_images_folder_fails_before_any_work(nih_src, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(nih_src, src)
    shutil.rmtree(src / "images")
    with pytest.raises(MissingSourceError, match=r"no images folder; expected images/"):
        convert("nih-cxr14", src, out)
    assert not out.exists()


def test_refuses_a_foreign_non_empty_output_folder(nih_src, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(["convert", "nih-cxr14", str(nih_src), str(out)]) == 2
    assert (out / "thesis.tex").read_text() == "precious" and not (out / "data").exists()
