"""``cxrhub verify`` passes on a good output and fails on every kind of damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cxrhub.shards.cli import main
from cxrhub.shards.verify import verify


@pytest.fixture
def copy(nih_out, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(nih_out, out)
    return out


def test_good_output_verifies(nih_out, capsys):
    assert verify(nih_out) == []
    assert main(["verify", str(nih_out)]) == 0
    assert "matches its index.json" in capsys.readouterr().out


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "shard", ["data/train-00001-of-00003.parquet", "webdataset/test-000000.tar"]
)
def test_flipped_byte_fails(copy, shard, capsys):
    path = copy / shard
    _flip(path, path.stat().st_size // 2)
    problems = verify(copy)
    assert any(shard in p and "sha256" in p for p in problems)
    assert main(["verify", str(copy)]) == 1
    assert f"FAIL {shard}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "shard", ["data/test-00001-of-00002.parquet", "webdataset/train-000002.tar"]
)
def test_truncated_shard_fails(copy, shard):
    path = copy / shard
    path.write_bytes(path.read_bytes()[:-700])
    assert any(shard in p and "bytes" in p for p in verify(copy))


def test_deleted_shard_fails(copy):
    (copy / "webdataset/train-000001.tar").unlink()
    problems = verify(copy)
    assert "webdataset/train-000001.tar: missing" in problems
    assert any("webdataset train: 3 samples read, index says 5" in p for p in problems)
    assert any("manifest samples missing" in p for p in problems)


def test_damaged_manifest_and_missing_index_fail(copy):
    manifest = copy / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace("00000001_000", "00000009_000"))
    assert any("manifest.jsonl: sha256" in p for p in verify(copy))
    (copy / "index.json").unlink()
    assert "cannot read the index" in verify(copy)[0]


def test_a_shard_that_hashes_right_but_reads_wrong_fails(copy):
    """A tar rewritten without one member and re-indexed: only the read-back catches it."""
    import json
    import tarfile

    from cxrhub.shards.atomic import sha256_file

    rel = "webdataset/test-000000.tar"
    path = copy / rel
    with tarfile.open(path) as src, tarfile.open(copy / "x.tar", "w") as dst:
        for member in src:
            if not member.name.endswith(".labels.json"):
                dst.addfile(member, src.extractfile(member))
    (copy / "x.tar").replace(path)
    index = json.loads((copy / "index.json").read_text())
    entry = index["splits"]["test"]["webdataset"][0]
    entry.update(bytes=path.stat().st_size, sha256=sha256_file(path))
    (copy / "index.json").write_text(json.dumps(index))
    assert any(rel in p and "cannot be read back" in p for p in verify(copy))
