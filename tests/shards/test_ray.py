"""The Ray executor on a local 2-CPU cluster: the local executor's bytes, retries, resume."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray
from conftest import same_tree

from cxrhub import builders
from cxrhub.builders import nih_cxr14
from cxrhub.shards import worker
from cxrhub.shards.cli import main
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.errors import ConversionStopped, MissingSourceError
from cxrhub.shards.plan import ShardTask
from cxrhub.shards.ray_executor import TASK_NAME, TransientShardError, _drain, _ray_shard

CLI = [sys.executable, "-m", "cxrhub.shards.cli"]
BIG_OPTIONS = ConvertOptions(max_shard_samples=4, shard_multiple=4)


@pytest.fixture(scope="module")
def cluster() -> str:
    """One local Ray cluster for the module; its address, for other drivers to join."""
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield context.address_info["address"]
    ray.shutdown()


@pytest.fixture(scope="module")
def big_src(tmp_path_factory) -> Path:
    """Enough work (40 images of 512 px, 10 shards of 4) for a kill to land mid-run."""
    return nih_cxr14.write_sample(tmp_path_factory.mktemp("big") / "src", extra=32, image_size=512)


@pytest.fixture(scope="module")
def big_reference(big_src, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("big-ref") / "out"
    convert("nih-cxr14", big_src, out, BIG_OPTIONS)
    return out


def _shard_pids() -> list[int]:
    """Ray workers busy with a shard (Ray titles the process ``ray::<task name>``)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            title = (proc / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if proc.name.isdigit() and title == f"ray::{TASK_NAME}".encode():
            pids.append(int(proc.name))
    return pids


def _temps(out: Path) -> list[Path]:
    return list(out.rglob(".*.tmp")) if out.is_dir() else []


def _markers(out: Path) -> int:
    folder = out / ".cxrhub" / "shards"
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


def _shards(out: Path) -> int:
    return len(list((out / "data").glob("*.parquet")))


def test_nih_same_bytes_as_the_local_executor(cluster, nih_src, nih_out, tmp_path):
    out = tmp_path / "ray"
    result = convert("nih-cxr14", nih_src, out, ConvertOptions(max_shard_samples=2), executor="ray")
    assert result.shards_written == 5 and result.samples == 8
    assert same_tree(nih_out, out)
    again = convert("nih-cxr14", nih_src, out, ConvertOptions(max_shard_samples=2), executor="ray")
    assert (again.shards_written, again.shards_reused) == (0, 5)
    assert same_tree(nih_out, out)


def test_dicom_same_bytes_as_the_local_executor(cluster, tmp_path):
    src = builders.load("mimic-cxr").write_sample(tmp_path / "src")
    options = ConvertOptions(max_shard_samples=2)
    local = convert("mimic-cxr", src, tmp_path / "local", options)
    remote = convert("mimic-cxr", src, tmp_path / "ray", options, executor="ray")
    assert remote.samples == local.samples > 2 and remote.errors == local.errors
    assert remote.shards_written > 1
    assert same_tree(tmp_path / "local", tmp_path / "ray")


def test_a_killed_worker_is_retried_and_the_bytes_stay(cluster, big_src, big_reference, tmp_path):
    out, killed = tmp_path / "out", []

    def kill_one_busy_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            pids = _shard_pids() if _temps(out) else []
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.002)

    killer = threading.Thread(target=kill_one_busy_worker)
    killer.start()
    try:
        result = convert("nih-cxr14", big_src, out, BIG_OPTIONS, executor="ray")
    finally:
        killer.join()
    assert killed, "no shard task was running when the killer looked"
    assert result.shards_written == _shards(big_reference) and not result.errors
    assert not _temps(out)
    assert same_tree(big_reference, out)


def test_a_killed_driver_resumes_with_the_same_bytes(cluster, big_src, big_reference, tmp_path):
    out = tmp_path / "out"
    args = [
        "convert",
        "nih-cxr14",
        str(big_src),
        str(out),
        "--shard-samples",
        "4",
        "--shard-multiple",
        "4",
    ]
    proc = subprocess.Popen(
        [*CLI, *args, "--executor", "ray", "--address", cluster],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while _markers(out) < 2:
            assert proc.poll() is None, "the run finished before the kill point"
            assert time.monotonic() < deadline, "kill point never reached"
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "index.json").exists()
    deadline = time.monotonic() + 30
    while _shard_pids():  # Ray ends the dead driver's tasks
        assert time.monotonic() < deadline, "the dead driver's tasks still run"
        time.sleep(0.05)
    result = convert("nih-cxr14", big_src, out, BIG_OPTIONS, executor="ray")
    assert result.shards_reused >= 2
    assert result.shards_written + result.shards_reused == _shards(big_reference)
    assert not _temps(out)
    assert same_tree(big_reference, out)


def test_error_policy_stops_the_ray_run(cluster, nih_src, tmp_path, caplog):
    src = tmp_path / "src"
    shutil.copytree(nih_src, src)
    (src / "images/00000003_001.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    options = ConvertOptions(on_error="error", max_shard_samples=1)
    with pytest.raises(ConversionStopped, match="00000003_001.png: decode"):
        convert("nih-cxr14", src, out, options, executor="ray")
    assert not (out / "index.json").exists()
    assert not _temps(out)
    args = ["convert", "nih-cxr14", str(src), str(out), "--on-error", "error"]
    with caplog.at_level(logging.ERROR):
        assert main([*args, "--executor", "ray"]) == 2
    assert "stopped at the first bad input" in caplog.text
    assert not (out / "index.json").exists()


def test_without_ray_the_flag_says_what_to_install(nih_src, tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with caplog.at_level(logging.ERROR):
        code = main(["convert", "nih-cxr14", str(nih_src), str(tmp_path / "out"),
                     "--executor", "ray"])  # fmt: skip
    assert code == 2
    assert 'pip install "cxrhub[ray]"' in caplog.text
    assert not (tmp_path / "out").exists()


def test_address_is_refused_by_the_local_executor(nih_src, tmp_path):
    with pytest.raises(ValueError, match="address is for the ray executor"):
        convert("nih-cxr14", nih_src, tmp_path / "out", address="auto")


class _Messages:
    """What ``_drain`` reads of a ``ray.util.queue.Queue``."""

    def __init__(self, items):
        self.items = list(items)

    def empty(self):
        return not self.items

    def qsize(self):
        return len(self.items)

    def get_nowait_batch(self, n):
        batch, self.items = self.items[:n], self.items[n:]
        return batch


class _Bar:
    def __init__(self):
        self.n = 0

    def update(self, n):
        self.n += n


def test_progress_counts_a_retried_task_once():
    bar, seen = _Bar(), {}
    _drain(_Messages([("a", 3), ("b", 2), ("a", 5)]), seen, bar)
    assert bar.n == 7
    _drain(_Messages([("a", 1), ("a", 4), ("a", 6), ("b", 2)]), seen, bar)  # a restarted
    assert bar.n == 8 and seen == {"a": 6, "b": 2}


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (PermissionError("NFS hiccup"), TransientShardError),  # Ray retries these
        (MissingSourceError("gone for good"), MissingSourceError),  # a cxrhub error: as it is
        (ConversionStopped("--on-error error"), ConversionStopped),
    ],
)
def test_only_plain_os_errors_become_retryable(monkeypatch, raised, expected):
    def fail(*args):
        raise raised

    monkeypatch.setattr(worker, "run", fail)
    with pytest.raises(expected) as info:
        _ray_shard(ShardTask("train", 0, 1, ()), {}, progress=None)
    assert isinstance(info.value, TransientShardError) == (expected is TransientShardError)
