"""Atomic writes: a temp file beside the target, fsync, rename, fsync the folder.

Temp names are ``.<name>.tmp`` so that a killed run's leftovers are recognisable and removed by
:func:`remove_temps` when the run resumes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "AtomicFile",
    "atomic_open",
    "dumps",
    "fsync_dir",
    "remove_temps",
    "sha256_file",
    "write_json",
    "write_text",
]

_TEMP = ".tmp"


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}{_TEMP}")


class AtomicFile:
    """A binary file written under a temp name and published by :meth:`commit` (or dropped)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _temp_path(self.path)
        self.file: IO[bytes] = self._tmp.open("wb")

    def commit(self) -> None:
        """Flush, fsync, rename over the target and fsync the folder."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self._tmp, self.path)
        fsync_dir(self.path.parent)

    def abort(self) -> None:
        """Close and delete the temp file; the target is untouched."""
        self.file.close()
        self._tmp.unlink(missing_ok=True)


@contextmanager
def atomic_open(path: Path) -> Iterator[IO[bytes]]:
    """Open ``path`` for binary writing; it appears whole, under its name, only on success."""
    atomic = AtomicFile(path)
    try:
        yield atomic.file
    except BaseException:
        atomic.abort()
        raise
    atomic.commit()


def fsync_dir(folder: Path) -> None:
    """fsync a folder, so a rename in it survives a crash."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    """Atomically write UTF-8 text."""
    with atomic_open(path) as f:
        f.write(text.encode("utf-8"))


def dumps(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept; the same object gives the same text.
    Dates and times are written as ISO 8601 text."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
        default=_iso,
    )  # fmt: skip


def _iso(value: Any) -> str:
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_json(path: Path, obj: Any) -> None:
    """Atomically write canonical, indented JSON."""
    text = json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
    write_text(path, text + "\n")


def remove_temps(root: Path) -> int:
    """Delete the temp files a killed run left under ``root``; return how many."""
    count = 0
    for tmp in Path(root).rglob(f".*{_TEMP}"):
        if tmp.is_file():
            tmp.unlink()
            count += 1
    return count


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
