"""Outputs at an fsspec URL: staged locally, uploaded with index.json last, resumable."""

from __future__ import annotations

import logging

import pytest
from conftest import output_files
from fsspec.implementations.memory import MemoryFileSystem

from cxrhub.shards.cli import main
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.errors import OutputError
from cxrhub.shards.remote_out import UploadError, is_url, upload

OPTIONS = ConvertOptions(max_shard_samples=2)


@pytest.fixture
def url(tmp_path) -> str:
    return f"memory://{tmp_path.name}/out"


def _remote(url: str) -> dict[str, bytes]:
    fs, root = MemoryFileSystem(), url.removeprefix("memory:/")
    return {
        p[len(root) + 1 :]: fs.cat_file(p)
        for p in sorted(fs.find(root))
        if not p[len(root) + 1 :].startswith(".cxrhub/")
    }


def _record_puts(monkeypatch, fail_after: int | None = None) -> list[str]:
    sent: list[str] = []
    put = MemoryFileSystem.put_file

    def spy(self, lpath, rpath, *args, **kwargs):
        if fail_after is not None and len(sent) >= fail_after:
            raise ConnectionResetError("connection reset by peer")
        sent.append(rpath.rsplit("/out/", 1)[-1])
        return put(self, lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, "put_file", spy)
    return sent


def test_url_output_holds_the_local_bytes_index_last(nih_src, nih_out, url, tmp_path, monkeypatch):
    sent = _record_puts(monkeypatch)
    result = convert("nih-cxr14", nih_src, url, OPTIONS, staging=tmp_path / "stage")
    assert result.samples == 8 and result.out == tmp_path / "stage"
    assert _remote(url) == output_files(nih_out)
    assert sent[-1] == "index.json" and sent.count("index.json") == 1
    assert len(sent) == len(output_files(nih_out))
    sent.clear()
    assert upload(tmp_path / "stage", url) == 1  # unchanged files are not sent again
    assert sent == ["index.json"]


def test_an_interrupted_upload_resumes(nih_src, nih_out, url, tmp_path, monkeypatch):
    stage = tmp_path / "stage"
    _record_puts(monkeypatch, fail_after=5)
    with pytest.raises(UploadError, match="rerun to resume"):
        convert("nih-cxr14", nih_src, url, OPTIONS, staging=stage)
    assert "index.json" not in _remote(url) and len(_remote(url)) == 5
    monkeypatch.undo()
    sent = _record_puts(monkeypatch)
    result = convert("nih-cxr14", nih_src, url, OPTIONS, staging=stage)
    assert result.shards_reused == 5 and result.shards_written == 0
    assert _remote(url) == output_files(nih_out)
    assert len(sent) < len(output_files(nih_out)) and sent[-1] == "index.json"


def test_a_new_plan_replaces_stale_remote_shards(nih_src, url, tmp_path):
    stage = tmp_path / "stage"
    convert("nih-cxr14", nih_src, url, OPTIONS, staging=stage)
    MemoryFileSystem().pipe_file(url.removeprefix("memory:/") + "/notes.txt", b"mine")
    convert("nih-cxr14", nih_src, url, ConvertOptions(max_shard_samples=4), staging=stage)
    remote = _remote(url)
    assert remote.pop("notes.txt") == b"mine"  # beside the output: not cxrhub's to delete
    assert remote == output_files(stage)
    assert len([f for f in remote if f.startswith("data/")]) == 3


def test_a_foreign_remote_folder_is_refused(nih_src, url, tmp_path):
    MemoryFileSystem().pipe_file(url.removeprefix("memory:/") + "/other.bin", b"x")
    with pytest.raises(OutputError, match="holds no cxrhub output"):
        convert("nih-cxr14", nih_src, url, OPTIONS, staging=tmp_path / "stage")
    assert set(_remote(url)) == {"other.bin"}


def test_cli_url_output(nih_src, url, tmp_path, caplog):
    args = ["convert", "nih-cxr14", str(nih_src), url]
    with caplog.at_level(logging.ERROR):
        assert main(args) == 2
    assert "--staging DIR" in caplog.text
    assert main([*args, "--staging", str(tmp_path / "stage")]) == 0
    assert _remote(url) == output_files(tmp_path / "stage")


def test_is_url():
    assert is_url("s3://bucket/cxr") and is_url("memory://x") and is_url("file:///tmp/x")
    assert not is_url("/data/out") and not is_url("out")


def test_a_file_url_is_a_real_filesystem(nih_src, nih_out, tmp_path):
    target = tmp_path / "remote"
    convert("nih-cxr14", nih_src, f"file://{target}", OPTIONS, staging=tmp_path / "stage")
    assert output_files(target) == output_files(nih_out)
    assert (target / ".cxrhub" / "owner").is_file()
