"""A run SIGKILLed at a chosen point (mid-decode, mid-shard-write, mid-index-write) and rerun ends
exactly like an uninterrupted run: same shard sha256 set, every sample once, no temp files.

The kill is placed deterministically: the run executes in a child interpreter in which one
function is wrapped to SIGKILL the whole process group (the decode child included) on its n-th
call, at the moment the point names.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import same_tree

from cxrhub.builders import mimic_cxr
from cxrhub.shards.convert import ConvertOptions, convert

OPTIONS = ConvertOptions(max_shard_samples=3)
RUNNER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from cxrhub.shards import finalize, writers
    from cxrhub.shards.atomic import AtomicFile, dumps
    from cxrhub.shards.convert import ConvertOptions, convert
    from cxrhub.shards.dicom.guard import Guard

    calls = 0

    def die():
        os.killpg(0, signal.SIGKILL)

    def counted(original, nth, at_kill):
        def wrapper(*args, **kwargs):
            global calls
            calls += 1
            if calls == nth:
                at_kill(*args, **kwargs)
                die()
            return original(*args, **kwargs)
        return wrapper

    def send(self, request, *rest):  # the decode child holds the request when all dies
        if isinstance(request, tuple):
            self._conn.send(request)

    def half(self, example):  # a tar shard half written under its temp name
        ORIGINAL_WRITE(self, example)
        self._file.file.flush()

    def partial(path, value):  # manifest, errors and card done; index.json half written
        if Path(path).name == "index.json":
            f = AtomicFile(Path(path))
            f.file.write(dumps(value)[:200].encode())
            f.file.flush()
            die()

    ORIGINAL_WRITE = writers.TarShardWriter.write

    if __name__ == "__main__":  # the decode child is spawned: it imports this file too
        point, nth, src, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        if point == "decode":
            Guard._request = counted(Guard._request, nth, send)
        elif point == "shard-write":
            writers.TarShardWriter.write = counted(ORIGINAL_WRITE, nth, half)
        elif point == "index":
            finalize.write_json = counted(finalize.write_json, nth, partial)
        convert("mimic-cxr", Path(src), Path(out), ConvertOptions(max_shard_samples=3))
    """
)


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    return mimic_cxr.write_sample(tmp_path_factory.mktemp("kill") / "src", extra=10, image_size=96)


@pytest.fixture(scope="module")
def reference(src, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kill-ref") / "out"
    convert("mimic-cxr", src, out, OPTIONS)
    return out


def _shard_hashes(out: Path) -> set[str]:
    index = json.loads((out / "index.json").read_text())
    return {f["sha256"] for split in index["splits"].values() for fmt in ("parquet", "webdataset")
            for f in split[fmt]}  # fmt: skip


def _manifest_keys(out: Path) -> list[str]:
    rows = (out / "manifest.jsonl").read_text().splitlines()
    return [json.loads(r)["key"] for r in rows if json.loads(r)["status"] == "ok"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "nth", "left_behind"),
    [
        ("decode", 5, ".cxrhub/shards/train-00000.json"),
        ("shard-write", 8, "webdataset/.train-000002.tar.tmp"),
        ("index", 1, ".index.json.tmp"),
    ],
)
def test_killed_at_a_point_then_rerun_equals_an_uninterrupted_run(
    src, reference, tmp_path, point, nth, left_behind
):
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(RUNNER)
    killed = subprocess.run(
        [sys.executable, str(script), point, str(nth), str(src), str(out)],
        start_new_session=True, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr  # it died at the point, not before or after
    assert (out / left_behind).exists() and not (out / "index.json").exists()
    convert("mimic-cxr", src, out, OPTIONS)
    assert not list(out.rglob(".*.tmp"))
    assert _shard_hashes(out) == _shard_hashes(reference)
    keys = _manifest_keys(out)
    assert len(keys) == len(set(keys)) and set(keys) == set(_manifest_keys(reference))
    assert same_tree(reference, out)
