"""Shard files fetched in order, the next ones under way while the current one is read.

:func:`fetch_ahead` calls ``source.fetch`` for each entry in turn and keeps the next
``prefetch`` of them in flight: through the source's own ``prefetch(entries)`` where it has one
(the remote sources: parallel downloads into their cache), else in one background thread (a
local source then checks sizes, and sha256 with ``verify``, ahead of the reader). Errors are
raised in order, when the shard they belong to is reached.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path

from cxrhub.shards.loader.source import Source

__all__ = ["fetch_ahead"]


def fetch_ahead(source: Source, entries: list[dict], prefetch: int = 1) -> Iterator[Path]:
    """The local path of each index entry, in order (``prefetch < 1``: fetched inline)."""
    if prefetch < 1 or len(entries) < 2:
        yield from (source.fetch(e) for e in entries)
    elif hasattr(source, "prefetch"):
        yield from _source_prefetch(source, entries, prefetch)
    else:
        yield from _threaded(source, entries, prefetch)


def _source_prefetch(source: Source, entries: list[dict], prefetch: int) -> Iterator[Path]:
    requested = 1
    for i, entry in enumerate(entries):
        upto = min(len(entries), i + 1 + prefetch)
        if upto > requested:
            source.prefetch(entries[requested:upto])
            requested = upto
        yield source.fetch(entry)  # waits for its download when one is under way


def _threaded(source: Source, entries: list[dict], prefetch: int) -> Iterator[Path]:
    pool = ThreadPoolExecutor(1, thread_name_prefix="cxrhub-prefetch")
    try:
        ahead = iter(entries)
        queue = deque(pool.submit(source.fetch, e) for e in islice(ahead, prefetch))
        while queue:
            path = queue.popleft().result()
            upcoming = next(ahead, None)
            if upcoming is not None:
                queue.append(pool.submit(source.fetch, upcoming))
            yield path
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
