"""Shared fixtures: offline, isolated caches, and converted NIH sample trees."""

from __future__ import annotations

import os
import tempfile

# Before datasets / huggingface_hub are imported: no network, no token, a private cache.
_CACHE = tempfile.mkdtemp(prefix="cxrhub-tests-hf-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HOME"] = _CACHE
os.environ["HF_DATASETS_CACHE"] = os.path.join(_CACHE, "datasets")
os.environ.pop("HF_TOKEN", None)

import filecmp  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from cxrhub.builders import nih_cxr14  # noqa: E402
from cxrhub.shards.convert import ConvertOptions, convert  # noqa: E402


def output_files(out: Path) -> dict[str, bytes]:
    """Every published file of a converted folder (the resume state excluded) with its bytes."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".cxrhub" not in p.relative_to(out).parts
    }


def same_tree(a: Path, b: Path) -> bool:
    """Whether two folders hold the same files with the same bytes."""
    cmp = filecmp.dircmp(a, b)
    return not (cmp.left_only or cmp.right_only) and output_files(a) == output_files(b)


@pytest.fixture(scope="session")
def nih_src(tmp_path_factory) -> Path:
    """The synthetic NIH download (NIH Box layout, v2020 table)."""
    return nih_cxr14.write_sample(tmp_path_factory.mktemp("nih") / "src")


@pytest.fixture(scope="session")
def nih_out(nih_src, tmp_path_factory) -> Path:
    """The synthetic NIH download converted with small shards (several per split)."""
    out = tmp_path_factory.mktemp("nih-out") / "out"
    result = convert("nih-cxr14", nih_src, out, ConvertOptions(max_shard_samples=2))
    assert not result.errors
    return out
