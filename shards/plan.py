"""Deterministic shard planning: sorted records cut into shards by sample count and source bytes.

The plan depends only on the records and the size options, never on the worker count, so any
number of workers writes the same shards.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from cxrhub.builders._spec import Record
from cxrhub.shards import __version__
from cxrhub.shards.atomic import dumps

__all__ = ["ShardTask", "media_paths", "plan_shards"]


@dataclass(frozen=True)
class ShardTask:
    """One unit of work: the records of one shard of one split, and where its files go."""

    split: str
    index: int
    count: int
    records: tuple[Record, ...]

    @property
    def name(self) -> str:
        """A short id for markers and logs."""
        return f"{self.split}-{self.index:05d}"

    @property
    def parquet_file(self) -> str:
        """Relative path of the Parquet shard (the layout the Hub auto-detects)."""
        return f"data/{self.split}-{self.index:05d}-of-{self.count:05d}.parquet"

    @property
    def tar_file(self) -> str:
        """Relative path of the WebDataset shard."""
        return f"webdataset/{self.split}-{self.index:06d}.tar"

    def fingerprint(self, options: dict) -> str:
        """Identifies the shard's content: its records, the output options and the code version."""
        payload = dumps(
            {"records": [asdict(r) for r in self.records], "options": options, "v": __version__}
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def plan_shards(
    records: list[Record],
    splits: tuple[str, ...],
    root: Path,
    *,
    max_samples: int,
    max_bytes: int,
) -> list[ShardTask]:
    """Cut each split's records (sorted by key) into shards of at most ``max_samples`` samples
    and about ``max_bytes`` bytes of source media. A split with no records gets no shard
    (``datasets`` refuses a declared split without data)."""
    tasks: list[ShardTask] = []
    for split in splits:
        chosen = sorted((r for r in records if r.split == split), key=lambda r: r.key)
        if not chosen:
            continue
        groups = _cut(chosen, root, max_samples=max_samples, max_bytes=max_bytes)
        tasks += [ShardTask(split, i, len(groups), tuple(g)) for i, g in enumerate(groups)]
    return tasks


def _cut(records: list[Record], root: Path, *, max_samples: int, max_bytes: int) -> list[list]:
    groups: list[list[Record]] = [[]]
    size = 0
    for record in records:
        record_bytes = sum(_size(root / rel) for rel in media_paths(record))
        current = groups[-1]
        if current and (len(current) >= max_samples or size + record_bytes > max_bytes):
            groups.append([])
            size = 0
        groups[-1].append(record)
        size += record_bytes
    return groups


def media_paths(record: Record) -> list[str]:
    """The distinct source files a record reads."""
    items = [m for v in record.media.values() for m in (v if isinstance(v, list) else [v])]
    return sorted({m if isinstance(m, str) else m["path"] for m in items})


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
