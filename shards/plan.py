"""Deterministic shard planning: sorted records cut into shards by sample count and output bytes.

The plan depends only on the records, their source files' sizes and the size options, never on
the worker count, so any number of workers (local or Ray) writes the same shards.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from dataclasses import asdict, dataclass
from pathlib import Path

from cxrhub.builders._spec import Record
from cxrhub.shards import __version__
from cxrhub.shards.atomic import dumps

__all__ = [
    "ARCHIVAL_RATIO",
    "DISPLAY_RATIO",
    "FileSizes",
    "ShardTask",
    "media_paths",
    "output_bytes",
    "plan_shards",
    "source_bytes",
]

# Output bytes per source byte, by what a record makes of a file (the planner's size estimate).
# Uncompressed DICOM -> lossless HTJ2K: ~1/2.9 for 12-bit CR/DX (bench SYN: 1/2.83); noisier
# data compresses less (15-bit RG1_UNCR: 1/1.63), compressed releases not at all: pass
# --shard-size there.
ARCHIVAL_RATIO = 1 / 2.9
DISPLAY_RATIO = 0.01  # a 512 px JPEG or PNG of a multi-MB DICOM
_RATIOS = {"copy": 1.0, "archival": ARCHIVAL_RATIO, "display": DISPLAY_RATIO, "header": 0.0}


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
    multiple: int = 1,
    sizes: FileSizes | None = None,
) -> list[ShardTask]:
    """Cut each split's records (sorted by key) into shards of at most ``max_samples`` samples
    and about ``max_bytes`` estimated output bytes (:func:`output_bytes`). With ``multiple`` N
    above 1, each split's shard count becomes the next multiple of N (N x the workers that will
    read it), the records then cut into that many groups of equal size; a split of fewer than N
    samples gets one shard per sample. A split with no records gets no shard (``datasets``
    refuses a declared split without data). ``sizes`` shares stat results with a caller that
    needs them too."""
    if min(max_samples, max_bytes, multiple) < 1:
        raise ValueError("max_samples, max_bytes and multiple must be >= 1")
    sizes = sizes or FileSizes(root)
    tasks: list[ShardTask] = []
    for split in splits:
        chosen = sorted((r for r in records if r.split == split), key=lambda r: r.key)
        if not chosen:
            continue
        weights = [output_bytes(r, root, sizes) for r in chosen]
        groups = _cut(chosen, weights, max_samples=max_samples, max_bytes=max_bytes)
        if multiple > 1:
            count = _multiple_count(len(groups), len(chosen), multiple)
            weights = [max(max_bytes, w * max_samples) for w in weights]  # shard share, x M*B
            groups = _equal_cut(chosen, weights, count)
        tasks += [ShardTask(split, i, len(groups), tuple(g)) for i, g in enumerate(groups)]
    return tasks


def _cut(records: list[Record], sizes: list[int], *, max_samples: int, max_bytes: int) -> list:
    groups: list[list[Record]] = [[]]
    size = 0
    for record, record_bytes in zip(records, sizes, strict=True):
        current = groups[-1]
        if current and (len(current) >= max_samples or size + record_bytes > max_bytes):
            groups.append([])
            size = 0
        groups[-1].append(record)
        size += record_bytes
    return groups


def _multiple_count(cut: int, samples: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` not below ``cut``; at most one sample per shard."""
    if samples < multiple:
        return samples
    count = -(-cut // multiple) * multiple
    return count if count <= samples else samples // multiple * multiple


def _equal_cut(records: list[Record], weights: list[int], count: int) -> list[list[Record]]:
    """``count`` consecutive non-empty groups of about equal total weight (integer arithmetic:
    the same cut on every machine)."""
    prefix = list(itertools.accumulate(weights))
    total, bounds = prefix[-1], [0]
    for j in range(1, count):
        at = bisect.bisect_left(prefix, -(-j * total // count)) + 1  # first prefix >= j/count
        bounds.append(min(max(at, bounds[-1] + 1), len(records) - (count - j)))
    bounds.append(len(records))
    return [records[a:b] for a, b in itertools.pairwise(bounds)]


def output_bytes(record: Record, root: Path, sizes: FileSizes | None = None) -> int:
    """The bytes a record is expected to add to a shard, from its source files' sizes: a file
    kept as released counts whole, a DICOM's archival copy ``ARCHIVAL_RATIO`` of it (lossless
    HTJ2K of the usual uncompressed release), a display variant ``DISPLAY_RATIO``, a header
    nothing (a few KB)."""
    sizes = sizes or FileSizes(root)
    total = 0.0
    for media in _media_items(record):
        path = media if isinstance(media, str) else media["path"]
        output = "copy" if isinstance(media, str) else media.get("output", "copy")
        total += sizes(path) * _RATIOS.get(output, 1.0)
    return round(total)


def _media_items(record: Record) -> list:
    return [m for v in record.media.values() for m in (v if isinstance(v, list) else [v])]


def media_paths(record: Record) -> list[str]:
    """The distinct source files a record reads."""
    return sorted({m if isinstance(m, str) else m["path"] for m in _media_items(record)})


def source_bytes(record: Record, root: Path, sizes: FileSizes | None = None) -> int:
    """The bytes of the distinct source files a record reads (a missing file counts 0)."""
    sizes = sizes or FileSizes(root)
    return sum(sizes(rel) for rel in media_paths(record))


class FileSizes:
    """Sizes of source files under ``root``, each stat'ed once (a stat is a round trip on a
    network filesystem); a missing or unreadable file counts 0."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._known: dict[str, int] = {}

    def __call__(self, rel: str) -> int:
        """The size of ``root / rel`` in bytes."""
        if rel not in self._known:
            try:
                self._known[rel] = (self.root / rel).stat().st_size
            except OSError:
                self._known[rel] = 0
        return self._known[rel]
