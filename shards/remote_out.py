"""Outputs at an fsspec URL (``s3://``, ``gs://``, ``memory://``...): convert into a local staging
folder (where resume works as usual), then upload it with every ``index.json`` last.

Object stores have no rename, so the index is the commit point: the remote ``index.json`` is
deleted first, every other file is uploaded (skipped when the local journal says the same content
went up and the remote copy is there at its size), the new index follows, and only then are
remote shards the new output no longer lists deleted. The staging folder holds the whole output.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from pathlib import Path

from cxrhub.shards.atomic import sha256_file, write_json
from cxrhub.shards.errors import CxrhubError, OutputError

__all__ = ["UploadError", "is_url", "upload"]

logger = logging.getLogger(__name__)
INDEX = "index.json"
STATE_DIR = ".cxrhub"
OWNER = f"{STATE_DIR}/owner"  # marks a remote folder as a cxrhub output


class UploadError(CxrhubError, OSError):
    """The staged output could not be uploaded (rerunning resumes the upload)."""


def is_url(out: str | Path) -> bool:
    """Whether ``out`` names a remote location (``proto://...``) rather than a local folder."""
    return "://" in str(out)


def upload(staging: Path, url: str) -> int:
    """Mirror the published files of ``staging`` at ``url``; return how many were sent."""
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(url)
    root = root.rstrip("/")
    local = _published(staging)
    indexes = [rel for rel in local if Path(rel).name == INDEX]
    try:
        _claim(fs, root, url)
        for rel in indexes:
            if fs.exists(f"{root}/{rel}"):
                fs.rm_file(f"{root}/{rel}")
        sent = _put_all(fs, staging, root, url, [rel for rel in local if rel not in indexes])
        for rel in indexes:
            _send(fs, staging / rel, f"{root}/{rel}")
        for rel in sorted(_remote_files(fs, root) - set(local)):
            if "/" in rel:  # a stale shard or plot; files beside the output are not ours
                fs.rm_file(f"{root}/{rel}")
    except OSError as exc:
        raise UploadError(f"upload to {url} failed ({exc}); rerun to resume it") from exc
    logger.info("uploaded %d files to %s (%d unchanged)", sent, url, len(local) - sent)
    return sent + len(indexes)


def _claim(fs, root: str, url: str) -> None:
    """Refuse a non-empty remote folder cxrhub did not write; mark it ours otherwise."""
    owner = f"{root}/{OWNER}"
    if fs.exists(owner):
        return
    if fs.exists(root) and fs.find(root):
        raise OutputError(f"{url}: exists, is not empty and holds no cxrhub output")
    fs.makedirs(posixpath.dirname(owner), exist_ok=True)
    fs.pipe_file(owner, b"cxrhub output\n")


def _send(fs, path: Path, remote: str) -> None:
    fs.makedirs(posixpath.dirname(remote), exist_ok=True)  # local and HDFS-like need folders
    fs.put_file(str(path), remote)


def _published(staging: Path) -> list[str]:
    """Every file of the staged output, the resume state left out, in a fixed order."""
    return sorted(
        p.relative_to(staging).as_posix()
        for p in staging.rglob("*")
        if p.is_file() and STATE_DIR not in p.relative_to(staging).parts
    )


def _put_all(fs, staging: Path, root: str, url: str, files: list[str]) -> int:
    """Upload ``files``, skipping those the journal says went up with the same content (and
    still there at their size); the journal (local, in the staging state) follows each file."""
    journal_path = (
        staging / STATE_DIR / "uploads" / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"
    )
    journal = json.loads(journal_path.read_text()) if journal_path.is_file() else {}
    digests = _digests(staging)
    sent = 0
    for rel in files:
        path, remote = staging / rel, f"{root}/{rel}"
        digest = digests.get(rel) or sha256_file(path)
        if (
            journal.get(rel) == digest
            and fs.exists(remote)
            and fs.size(remote) == path.stat().st_size
        ):
            continue
        _send(fs, path, remote)
        journal[rel] = digest
        write_json(journal_path, journal)
        sent += 1
    return sent


def _digests(staging: Path) -> dict[str, str]:
    """The shards' sha256 as their ``index.json`` files list them (no second read of a shard)."""
    digests = {}
    for index_path in staging.rglob(INDEX):
        base = index_path.parent.relative_to(staging).as_posix()
        for split in json.loads(index_path.read_text()).get("splits", {}).values():
            for entry in (e for fmt in ("parquet", "webdataset") for e in split.get(fmt, [])):
                rel = entry["file"] if base == "." else f"{base}/{entry['file']}"
                digests[rel] = entry["sha256"]
    return digests


def _remote_files(fs, root: str) -> set[str]:
    """The remote output's files, relative to ``root`` (the ownership mark left out)."""
    prefix = f"{root}/"
    found = {p[len(prefix) :] for p in fs.find(root) if p.startswith(prefix)}
    return {rel for rel in found if not rel.startswith(f"{STATE_DIR}/")}
