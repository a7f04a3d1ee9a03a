"""Converted outputs over HTTP(S) (:class:`HttpSource`; the Hub's ``hf://`` locations build on it
in :mod:`~cxrhub.shards.loader.hub`), fetched whole into a
:class:`~cxrhub.shards.loader.cache.ShardCache` (unique temp file, sha256 computed while writing,
fsync, rename); a path is returned only once size and sha256 match the index entry.

Connection errors, resets, timeouts, HTTP 408/429/5xx and bodies shorter than announced are
retried with exponential backoff, resuming with ``Range`` where the server honours it. 401/403
raise :class:`RemoteAuthError`, 404 :class:`RemoteNotFoundError`, at once. A wrong sha256 is
fetched once more from scratch (a corrupted transfer), then raises ``ShardIntegrityError`` (a
corrupted store). The bearer token goes only to the origin it was given for (not across
redirects) and never into logs, reprs or messages. HTTP is the standard library's ``urllib``.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit

from cxrhub.shards.errors import CxrhubError
from cxrhub.shards.loader.cache import DEFAULT_CACHE_BYTES, PartialFile, ShardCache
from cxrhub.shards.loader.source import INDEX, ShardIntegrityError

__all__ = [
    "HttpSource",
    "RemoteAuthError",
    "RemoteFetchError",
    "RemoteNotFoundError",
]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class RemoteAuthError(CxrhubError, PermissionError):
    """The server refused the request (HTTP 401/403): no token, or a token without access."""


class RemoteNotFoundError(CxrhubError, FileNotFoundError):
    """The server has no such file (HTTP 404)."""


class RemoteFetchError(CxrhubError, ConnectionError):
    """A download failed for good: retries exhausted or an unexpected HTTP status."""


class _Retryable(Exception):
    """A transient failure; ``restart``: the partial download cannot be resumed; ``wait``: the
    server's ``Retry-After`` in seconds."""

    def __init__(self, reason: str, *, restart: bool = False, wait: float = 0.0):
        super().__init__(reason)
        self.restart = restart
        self.wait = wait


class _SameOriginAuth(urllib.request.HTTPRedirectHandler):
    """Follows redirects, dropping ``Authorization`` when one leads to another origin."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl)[:2] != urlsplit(req.full_url)[:2]:
            new.remove_header("Authorization")  # another scheme or host[:port]
        return new


class HttpSource:
    """A converted output under a base URL (``{base}/index.json``, ``{base}/{file}``).

    Args:
        base_url: ``http(s)://host/path`` of the folder holding ``index.json``.
        token: sent as ``Authorization: Bearer <token>``; never logged or shown.
        cache_dir: the shard cache folder (default ``$CXRHUB_CACHE`` or
            ``~/.cache/cxrhub/shards``); ``cache`` may pass a ready :class:`ShardCache` instead.
        cache_bytes: the cache's size limit (least recently used shards are evicted).
        verify: re-check the sha256 of already cached shards once per process.
        retries: extra attempts after a transient failure; ``backoff`` is the first delay in
            seconds, doubled each time up to ``max_backoff`` (with jitter).
        timeout: seconds to wait for a connection or for data on it.
        prefetch_workers: threads :meth:`prefetch` uses to fetch shards ahead.
    """

    _auth_hint = "pass token=... to open_source()/HttpSource"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        cache_dir: str | Path | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        cache: ShardCache | None = None,
        verify: bool = False,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 60.0,
        prefetch_workers: int = 2,
    ):
        self.location = base_url
        self._base = base_url.rstrip("/")
        self._token = token or None
        self.cache = cache or ShardCache(cache_dir, cache_bytes, verify=verify)
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.prefetch_workers = max(1, int(prefetch_workers))
        self._setup()

    def _setup(self) -> None:
        self._opener = urllib.request.build_opener(_SameOriginAuth)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = os.getpid()
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        auth = ", token=<hidden>" if self._token else ""
        return f"{type(self).__name__}({self.location!r}{auth}, cache={self.cache!r})"

    def __getstate__(self) -> dict:  # picklable for DataLoader workers; threads are rebuilt
        state = self.__dict__.copy()
        for key in ("_opener", "_pool", "_pool_lock", "_pool_pid"):
            state.pop(key)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._setup()

    def url(self, file: str) -> str:
        """The URL of ``file``, a path relative to the base (as ``index.json`` names it)."""
        return f"{self._base}/{quote(file)}"

    def index(self) -> dict:
        """The parsed ``index.json`` (fetched each call, not cached)."""
        url = self.url(INDEX)
        body = self._retrying(url, lambda: self._read_small(url))
        try:
            return json.loads(body)
        except ValueError as exc:
            raise RemoteFetchError(f"{url}: not a JSON index ({exc})") from None

    def fetch(self, entry: dict) -> Path:
        """A local path to the whole shard ``entry`` (an index.json file entry), downloaded
        into the cache unless already there, checked against its size and sha256. The file
        stays pinned (not evicted) until :meth:`release` or until ``cache.max_pins`` newer
        files are pinned (prefetched ones count)."""
        path = self.cache.lookup(entry)
        if path is not None:
            return path
        with self.cache.lock(entry):
            path = self.cache.lookup(entry)  # another process may have fetched it meanwhile
            if path is not None:
                return path
            self.cache.reserve(entry["bytes"])
            with self.cache.temp(entry) as part:
                self._download_checked(self.url(entry["file"]), entry, part)
                return self.cache.publish(part, entry)

    def prefetch(self, entries: list[dict]) -> list[Future]:
        """Start fetching ``entries`` in background threads (at most ``prefetch_workers`` at a
        time); returns one future per entry, whose result is :meth:`fetch`'s. A later
        ``fetch`` of the same entry waits for the download under way instead of repeating it."""
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():  # none yet, or forked
                self._pool = ThreadPoolExecutor(self.prefetch_workers, "cxrhub-prefetch")
                self._pool_pid = os.getpid()
            return [self._pool.submit(self.fetch, entry) for entry in entries]

    def release(self, entry: dict) -> None:
        """Done reading ``entry``'s file: the cache may evict it from now on."""
        self.cache.release(entry)

    def close(self) -> None:
        """Stop prefetching (waiting for downloads under way) and unpin every file."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.cache.release_all()

    def __enter__(self) -> HttpSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _download_checked(self, url: str, entry: dict, progress: PartialFile) -> None:
        """Download ``url`` into ``progress``; refetch once if the sha256 is wrong, then raise."""
        for attempt in (1, 2):
            progress.restart()
            self._retrying(url, lambda: self._download_once(url, entry, progress))
            found = progress.hasher.hexdigest()
            if found == entry["sha256"].lower():
                log.debug("%s: fetched %d bytes", url, progress.written)
                return
            if attempt == 1:
                log.warning("%s: sha256 %s differs from index.json; fetching it again", url, found)
        raise ShardIntegrityError(
            f"{url}: sha256 {found} differs from index.json's {entry['sha256']} "
            "(twice; the stored file is not the one the index describes)"
        )

    def _download_once(self, url: str, entry: dict, progress: PartialFile) -> None:
        headers = {"Range": f"bytes={progress.written}-"} if progress.written else {}
        try:
            resp = self._open(url, headers)
        except _Retryable as exc:
            if exc.restart:
                progress.restart()
            raise
        with resp:
            if progress.written and not _resumes_at(resp, progress.written):
                log.debug("%s: no resume at byte %d; starting over", url, progress.written)
                progress.restart()
            total = _total_size(resp)
            if total is not None and total != entry["bytes"]:
                raise ShardIntegrityError(
                    f"{url}: server has {total} bytes, index.json expects {entry['bytes']}"
                )
            expected_now = entry["bytes"] - progress.written
            got = _copy_body(resp, progress, limit=entry["bytes"], url=url)
        if got < expected_now:
            raise _Retryable(f"body cut off at {progress.written} of {entry['bytes']} bytes")

    def _read_small(self, url: str) -> bytes:
        with self._open(url, {}) as resp:
            length = resp.headers.get("Content-Length")
            try:
                body = resp.read()
            except (http.client.HTTPException, OSError) as exc:
                raise _Retryable(_reason(exc)) from None
        if length is not None and len(body) != int(length):
            raise _Retryable(f"body of {len(body)} bytes, Content-Length says {length}")
        return body

    def _open(self, url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        request = urllib.request.Request(url, headers=headers)
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            return self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise self._status_error(url, exc.code, str(exc.reason), exc.headers) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise _Retryable(_reason(exc)) from None

    def _status_error(self, url: str, code: int, reason: str, headers) -> Exception:
        if code in (401, 403):
            given = "the token given was refused" if self._token else "no token was given"
            return RemoteAuthError(f"{url}: HTTP {code} {reason}; {given}: {self._auth_hint}")
        if code == 404:
            return RemoteNotFoundError(f"{url}: HTTP 404 not found; check the location and file")
        if code == 416:
            return _Retryable("HTTP 416 range not satisfiable", restart=True)
        if code in _RETRY_STATUS:
            after = (headers or {}).get("Retry-After", "")
            return _Retryable(f"HTTP {code} {reason}", wait=float(after) if after.isdigit() else 0)
        return RemoteFetchError(f"{url}: HTTP {code} {reason}")

    def _retrying(self, url: str, attempt_fn):
        """Run ``attempt_fn`` until it does not raise :class:`_Retryable`, sleeping between."""
        for attempt in range(self.retries + 1):
            try:
                return attempt_fn()
            except _Retryable as exc:  # noqa: PERF203 - the loop is the retry
                if attempt == self.retries:
                    raise RemoteFetchError(
                        f"{url}: failed after {attempt + 1} attempts; last: {exc}"
                    ) from None
                delay = min(self.max_backoff, self.backoff * 2**attempt)
                delay = max(delay * (0.5 + random.random() / 2), min(exc.wait, self.max_backoff))
                log.warning(
                    "%s: %s; retry %d/%d in %.2fs", url, exc, attempt + 1, self.retries, delay
                )
                time.sleep(delay)
        raise AssertionError("unreachable")


def _resumes_at(resp: http.client.HTTPResponse, offset: int) -> bool:
    """Whether a ranged response continues at ``offset`` (a 206 with a matching range)."""
    if resp.status != 206:
        return False
    content_range = resp.headers.get("Content-Range", "")
    return content_range.startswith(f"bytes {offset}-")


def _total_size(resp: http.client.HTTPResponse) -> int | None:
    """The full file size the response reports (Content-Range total, else Content-Length)."""
    if resp.status == 206:
        total = resp.headers.get("Content-Range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = resp.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _copy_body(
    resp: http.client.HTTPResponse, progress: PartialFile, *, limit: int, url: str
) -> int:
    """Append the response body to ``progress``; return the bytes read. More than ``limit``
    bytes in all means the server's file is not the indexed one."""
    got = 0
    try:
        while chunk := resp.read(_CHUNK):
            if progress.written + len(chunk) > limit:
                raise ShardIntegrityError(
                    f"{url}: server sent more than the {limit} bytes expected"
                )
            progress.write(chunk)
            got += len(chunk)
    except (http.client.HTTPException, OSError) as exc:
        raise _Retryable(f"{_reason(exc)} after {progress.written} bytes") from None
    return got


def _reason(exc: BaseException) -> str:
    """A short description of a transport error (no request headers in it)."""
    inner = getattr(exc, "reason", None)
    if isinstance(inner, BaseException):
        exc = inner
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
