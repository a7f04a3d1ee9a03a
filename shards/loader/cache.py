"""A size-limited local cache of whole shard files, shared by processes and locations.

Files are keyed by their sha256 (``<root>/<sha[:2]>/<sha><suffix>``), so the same shard reached
through two base URLs or repos is stored once. A cached file is trusted when its size matches the
index entry (its sha256 was checked when it was downloaded; ``verify=True`` re-checks it once per
process).

Several processes (e.g. DataLoader workers) may share one root:

- a download goes to a unique temp file under ``<root>/.tmp`` and is renamed into place whole,
  so no reader ever sees a partial shard;
- a per-shard lock file (``fcntl.flock``) makes a second process wait for the first one's
  download instead of fetching the same bytes again;
- a file handed out by :meth:`ShardCache.lookup` / :meth:`ShardCache.publish` is *pinned*: this
  process holds a shared ``flock`` on it until :meth:`ShardCache.release` (or until more than
  ``max_pins`` files are pinned, oldest first). Eviction (least recently used first, by total
  bytes) skips any file some process holds pinned.

Without ``fcntl`` (non-POSIX) locks and pins are no-ops; the temp-then-rename publish still holds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cxrhub.shards.atomic import fsync_dir, sha256_file

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["DEFAULT_CACHE_BYTES", "PartialFile", "ShardCache", "default_cache_dir"]

log = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 20 * 2**30
_TMP = ".tmp"
_LOCKS = ".locks"
_PART = ".part"
_STALE_S = 60.0  # a temp file untouched this long, and unlocked, is a killed download's leftover


def default_cache_dir() -> Path:
    """``$CXRHUB_CACHE`` if set, else ``~/.cache/cxrhub/shards``."""
    env = os.environ.get("CXRHUB_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "cxrhub" / "shards"


def _suffix(name: str) -> str:
    """The file's extensions (``.tar``, ``.parquet``), kept so readers that look at them work."""
    suffix = "".join(Path(name).suffixes)
    return suffix if suffix.replace(".", "").isalnum() and len(suffix) <= 24 else ""


class PartialFile:
    """A shard being downloaded into a temp file: the bytes written and their running sha256."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self.fd = fd
        self.file = os.fdopen(fd, "r+b", closefd=False)
        self.published = False
        self.restart()

    def restart(self) -> None:
        """Drop what was written (the download starts over)."""
        self.file.seek(0)
        self.file.truncate()
        self.written = 0
        self.hasher = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.hasher.update(chunk)
        self.written += len(chunk)


class ShardCache:
    """Whole shard files under ``root`` (default :func:`default_cache_dir`), at most
    ``max_bytes`` in all (a shard larger than that is still kept while it is in use).

    Args:
        root: the cache folder; created on first use.
        max_bytes: total size of cached shards above which the least recently used unpinned
            files are deleted before a new download.
        verify: re-check the sha256 of a cached file the first time this process uses it.
        max_pins: how many handed-out files this process keeps pinned at most.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        max_bytes: int = DEFAULT_CACHE_BYTES,
        *,
        verify: bool = False,
        max_pins: int = 8,
    ):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = int(max_bytes)
        self.verify = verify
        self.max_pins = max(1, int(max_pins))
        self._pins: OrderedDict[str, int] = OrderedDict()
        self._verified: set[str] = set()
        self._mutex = threading.Lock()
        for folder in (self.root, self.root / _TMP, self.root / _LOCKS):
            folder.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ShardCache({str(self.root)!r}, max_bytes={self.max_bytes})"

    def __getstate__(self) -> dict:  # pins belong to the process that took them
        state = self.__dict__.copy()
        state.update(_pins=OrderedDict(), _verified=set())
        del state["_mutex"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._mutex = threading.Lock()

    def path(self, entry: dict) -> Path:
        """Where the shard of index entry ``entry`` lives in the cache (present or not)."""
        sha = entry["sha256"].lower()
        return self.root / sha[:2] / f"{sha}{_suffix(entry['file'])}"

    def lookup(self, entry: dict) -> Path | None:
        """The cached, pinned file for ``entry``, or None. A file of the wrong size (or, with
        ``verify``, the wrong sha256) is deleted and reported as missing."""
        path = self.path(entry)
        fd = _open_pinned(path)
        if fd is None:
            return None
        sha = entry["sha256"].lower()
        if os.fstat(fd).st_size != entry["bytes"] or not self._verified_ok(path, sha):
            log.warning("%s: cached copy does not match index.json; dropping it", path)
            os.close(fd)
            path.unlink(missing_ok=True)
            return None
        _touch(path)
        self._pin(sha, fd)
        return path

    def _verified_ok(self, path: Path, sha: str) -> bool:
        if not self.verify or sha in self._verified:
            return True
        if sha256_file(path) != sha:
            return False
        self._verified.add(sha)
        return True

    @contextmanager
    def lock(self, entry: dict) -> Iterator[None]:
        """Hold the inter-process lock of one shard (taken around its download)."""
        lock_path = self.root / _LOCKS / f"{entry['sha256'].lower()}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    @contextmanager
    def temp(self, entry: dict) -> Iterator[PartialFile]:
        """A new unique temp file for downloading ``entry``, deleted on exit unless
        :meth:`publish` moved it into place. The writer holds an exclusive flock on it, which
        tells :meth:`reserve` that it is not a stale leftover."""
        tmp = self.root / _TMP / f"{entry['sha256'].lower()}.{uuid.uuid4().hex}{_PART}"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        part = PartialFile(tmp, fd)
        try:
            yield part
        finally:
            part.file.close()
            if not part.published:
                tmp.unlink(missing_ok=True)
                _close_quietly(fd)

    def publish(self, part: PartialFile, entry: dict) -> Path:
        """Move a fully written and checked temp file into place and pin it; its descriptor
        becomes the pin, so no other process can evict the file in between."""
        path = self.path(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        part.file.flush()
        os.fsync(part.fd)
        if fcntl is not None:
            fcntl.flock(part.fd, fcntl.LOCK_SH)  # downgrade: now a pin, not a writer
        os.replace(part.path, path)
        part.published = True
        fsync_dir(path.parent)
        self._pin(entry["sha256"].lower(), part.fd)
        self._verified.add(entry["sha256"].lower())
        return path

    def release(self, entry: dict) -> None:
        """Unpin ``entry``'s file: it may be evicted from now on."""
        with self._mutex:
            fd = self._pins.pop(entry["sha256"].lower(), None)
        if fd is not None:
            _close_quietly(fd)

    def release_all(self) -> None:
        """Unpin every file this process holds."""
        with self._mutex:
            fds = list(self._pins.values())
            self._pins.clear()
        for fd in fds:
            _close_quietly(fd)

    def _pin(self, sha: str, fd: int) -> None:
        dropped: list[int] = []
        with self._mutex:
            old = self._pins.pop(sha, None)
            if old is not None:
                dropped.append(old)
            self._pins[sha] = fd
            while len(self._pins) > self.max_pins:
                dropped.append(self._pins.popitem(last=False)[1])
        for old_fd in dropped:
            _close_quietly(old_fd)

    def files(self) -> list[tuple[Path, os.stat_result]]:
        """Every cached shard with its stat, least recently used first."""
        found = []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            found.extend((path, st) for path in folder.iterdir() if (st := _stat(path)))
        return sorted(found, key=lambda item: item[1].st_mtime)

    def total_bytes(self) -> int:
        """Bytes held by cached shards (temp files excluded)."""
        return sum(st.st_size for _, st in self.files())

    def reserve(self, nbytes: int) -> None:
        """Make room for a new file of ``nbytes``: delete stale temp files, then least recently
        used unpinned shards until the total plus ``nbytes`` fits in ``max_bytes``."""
        self._remove_stale_temps()
        files = self.files()
        total = sum(st.st_size for _, st in files) + nbytes
        with self._mutex:
            pinned = set(self._pins)  # other processes' pins show up as flocks in _evict
        for path, st in files:
            if total <= self.max_bytes:
                return
            if path.name[:64] in pinned:
                continue
            if _evict(path):
                log.debug("cache: evicted %s (%d bytes)", path.name, st.st_size)
                total -= st.st_size
        if total > self.max_bytes:
            log.info(
                "cache %s: %d bytes in use exceed max_bytes=%d", self.root, total, self.max_bytes
            )

    def _remove_stale_temps(self) -> None:
        old = time.time() - _STALE_S
        for tmp in (self.root / _TMP).glob(f"*{_PART}"):
            try:
                if tmp.stat().st_mtime > old:
                    continue
            except FileNotFoundError:
                continue
            _evict(tmp)  # a live download holds an exclusive lock, so it is skipped


def _open_pinned(path: Path) -> int | None:
    """Open ``path`` and take a shared flock on it; None if it is missing or was evicted while
    we waited for the lock (its inode no longer sits at ``path``)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        same = os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        os.close(fd)
        return None
    return fd


def _evict(path: Path) -> bool:
    """Delete ``path`` unless some process holds a flock on it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.stat(path).st_ino != os.fstat(fd).st_ino:
            return False  # replaced by a newer copy meanwhile: not the file we locked
        path.unlink(missing_ok=True)
        return True
    except (BlockingIOError, FileNotFoundError):
        return False
    finally:
        os.close(fd)


def _stat(path: Path) -> os.stat_result | None:
    """``path``'s stat, or None if another process just evicted it."""
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _touch(path: Path) -> None:
    now = time.time()
    try:
        os.utime(path, (now, now))
    except OSError:  # read-only shared cache: recency is best effort
        pass


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
