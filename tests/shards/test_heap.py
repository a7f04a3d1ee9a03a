"""Processes that handle full-size radiographs keep freed buffers instead of re-faulting them."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cxrhub.shards.dicom.guard import Guard
from cxrhub.shards.heap import reuse_freed_memory

MB = 1024**2


def _page_faults_per_image(rounds: int = 5) -> list[int]:
    """Minor page faults of an image's worth of large buffers (stored values, a bigger copy,
    a float32 copy) allocated and freed together, per round."""
    faults = []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        stored = np.ones(10 * MB, np.uint16)
        bigger = np.ones(12 * MB, np.uint16)
        widened = np.ones(7 * MB, np.float32)
        del stored, bigger, widened
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return faults


def _tuned_page_faults() -> tuple[bool, list[int]]:
    return reuse_freed_memory(), _page_faults_per_image()


@pytest.fixture(scope="module")
def glibc() -> None:
    probe = "from cxrhub.shards.heap import reuse_freed_memory as r; print(r())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if done.stdout.strip() != "True":
        pytest.skip("the C library is not glibc: nothing to tune")


def test_a_tuned_process_reuses_freed_image_buffers(glibc):
    """After the first image, the buffers come from the kept heap: no fresh pages to fault.
    (A fresh process, so the test runner's own allocator stays as it was.)"""
    code = "import json, test_heap as t; print(json.dumps(t._tuned_page_faults()))"
    here = Path(__file__).parent
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=here
    )
    ok, faults = json.loads(done.stdout)
    assert ok
    assert sum(faults[1:]) < 256, faults  # untuned glibc re-faults ~8 MB (2,048 pages) a round


def test_the_guarded_decode_child_is_tuned(glibc):
    with Guard(timeout=60) as guard:
        guard.call(_page_faults_per_image, 1)  # first image: the heap grows once
        faults = guard.call(_page_faults_per_image, 4)
    assert sum(faults) < 256, faults
