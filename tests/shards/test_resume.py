"""Determinism and crash safety: same bytes whatever the worker count, and after SIGKILL + rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import output_files, same_tree

from cxrhub.builders import nih_cxr14
from cxrhub.shards.convert import ConvertOptions, convert

CLI = [sys.executable, "-m", "cxrhub.shards.cli"]


def test_same_bytes_for_one_and_two_workers_and_across_runs(nih_src, nih_out, tmp_path):
    two = tmp_path / "two"
    again = tmp_path / "again"
    convert("nih-cxr14", nih_src, two, ConvertOptions(max_shard_samples=2), workers=2)
    convert("nih-cxr14", nih_src, again, ConvertOptions(max_shard_samples=2), workers=1)
    assert len(output_files(nih_out)) == 18  # 5 + 5 shards, 4 plots, card, index, manifest, errors
    assert same_tree(nih_out, two)
    assert same_tree(nih_out, again)


@pytest.fixture(scope="module")
def big_src(tmp_path_factory) -> Path:
    """Enough work (100 images of 256 px) for a kill to land mid-run."""
    root = tmp_path_factory.mktemp("big") / "src"
    return nih_cxr14.write_sample(root, extra=92, image_size=256)


@pytest.fixture(scope="module")
def big_reference(big_src, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("big-ref") / "out"
    convert("nih-cxr14", big_src, out, ConvertOptions(max_shard_samples=3))
    return out


def _start(src: Path, out: Path, workers: int) -> subprocess.Popen:
    args = ["convert", "nih-cxr14", str(src), str(out), "--shard-samples", "3"]
    return subprocess.Popen(
        [*CLI, *args, "--workers", str(workers)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the run finished before the kill point was reached"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.002)


def _markers(out: Path) -> int:
    folder = out / ".cxrhub" / "shards"
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


def _temps(out: Path) -> list[Path]:
    return list(out.rglob(".*.tmp")) if out.is_dir() else []


KILL_POINTS = {
    "after-some-shards": lambda out: _markers(out) >= 4,
    "during-a-shard-write": lambda out: _markers(out) >= 2 and bool(_temps(out)),
}


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_sigkill_then_rerun_matches_an_uninterrupted_run(
    big_src, big_reference, tmp_path, point, workers
):
    out = tmp_path / "out"
    proc = _start(big_src, out, workers)
    try:
        _wait_for(lambda: KILL_POINTS[point](out), proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "index.json").exists()  # the kill landed mid-run
    rerun = subprocess.run([*CLI, "convert", "nih-cxr14", str(big_src), str(out),
                            "--shard-samples", "3"], capture_output=True, text=True)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert "already written" in rerun.stderr
    assert not _temps(out)
    assert same_tree(big_reference, out)
