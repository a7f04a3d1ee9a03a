"""Which samples each (node rank, DataLoader worker) reads in an epoch, and in what order.

An epoch is one global list of sample positions: the split's shards in a seeded order (the
same on every rank: it depends on ``(seed, epoch)`` only), each shard's samples in file order.
The list is cut into ``world_size x num_workers`` contiguous *slots* (rank-major), so a shard
is split at sample granularity wherever a cut falls in it and every sample is in exactly one
slot, whatever the shard count. A slot is described by :class:`Unit` ranges inside shards.

``even``: DDP needs every rank to see the same number of samples, or the collective ops of
the last step wait forever.

- ``None``: exact-once; rank sizes differ by at most one sample.
- ``"pad"`` or ``True`` (the DDP/``DistributedSampler`` convention): the list is extended to a
  multiple of ``world_size`` by repeating its first positions (at most ``world_size - 1``).
- ``"drop"``: the list is cut to a multiple of ``world_size`` (at most ``world_size - 1``
  samples, the last ones of this epoch's order, are skipped this epoch).

With ``pad``/``drop`` every rank's range has the same length and is split into workers the same
way, so per-worker counts, and therefore per-rank batch counts, are identical across ranks.

Within a slot a bounded shuffle buffer reorders samples. The order is computed up front from
positions alone (:func:`buffer_order`), so resuming after ``k`` delivered samples is skipping
the first ``k`` positions of a known sequence, exactly, without reading or decoding them.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cxrhub.shards.errors import CxrhubError

__all__ = [
    "EVEN_MODES",
    "LoaderConfigError",
    "Slot",
    "Unit",
    "buffer_order",
    "distributed_rank",
    "even_mode",
    "plan_slot",
    "rank_sizes",
    "shard_order",
]

EVEN_MODES = (None, "pad", "drop")


class LoaderConfigError(CxrhubError, ValueError):
    """A loader option that cannot work (bad rank/worker numbers, unknown column or format)."""


@dataclass(frozen=True)
class Unit:
    """Samples ``start <= i < stop`` (file order) of shard ``shard`` (index in the split's list)."""

    shard: int
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Slot:
    """One worker's share of an epoch: its units in read order and the order it emits them in."""

    units: tuple[Unit, ...]
    order: np.ndarray  # a permutation of range(samples): slot positions in emit order

    @property
    def samples(self) -> int:
        return len(self.order)


def distributed_rank(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """``(rank, world_size)``: the explicit values, else ``torch.distributed`` when it is
    initialised, else the ``RANK``/``WORLD_SIZE`` environment (torchrun sets them), else (0, 1)."""
    if rank is None or world_size is None:
        found = _torch_rank() or _env_rank()
        rank = found[0] if rank is None else rank
        world_size = found[1] if world_size is None else world_size
    _check_member("rank", rank, world_size)
    return rank, world_size


def _torch_rank() -> tuple[int, int] | None:
    try:
        import torch.distributed as dist
    except ImportError:
        return None
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return None


def _env_rank() -> tuple[int, int]:
    try:
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    except ValueError as exc:
        raise LoaderConfigError(f"RANK/WORLD_SIZE must be integers ({exc})") from exc


def _check_member(name: str, index: int, count: int) -> None:
    if count < 1 or not 0 <= index < count:
        raise LoaderConfigError(f"{name} {index} of {count}: need 0 <= {name} < count, count >= 1")


def shard_order(shards: int, seed: int, epoch: int, shuffle: bool) -> list[int]:
    """The epoch's shard order: a permutation seeded by ``(seed, epoch)`` only, identical on
    every rank and worker; file order when ``shuffle`` is off."""
    if not shuffle:
        return list(range(shards))
    return np.random.default_rng([seed, epoch, 0]).permutation(shards).tolist()


def rank_sizes(total: int, world_size: int, even: str | bool | None) -> list[int]:
    """How many samples each rank reads this epoch (see the module docstring for ``even``)."""
    length = _epoch_length(total, world_size, even)
    cuts = [_cut(length, world_size, r) for r in range(world_size + 1)]
    return [b - a for a, b in zip(cuts, cuts[1:], strict=False)]


def even_mode(even: str | bool | None) -> str | None:
    """``even`` as one of :data:`EVEN_MODES` (``True`` is ``"pad"``, ``False`` is ``None``)."""
    even = {True: "pad", False: None}.get(even, even) if isinstance(even, bool) else even
    if even not in EVEN_MODES:
        raise LoaderConfigError(f"even={even!r}: choose None, 'pad' (or True) or 'drop'")
    return even


def _epoch_length(total: int, world_size: int, even: str | bool | None) -> int:
    even = even_mode(even)
    if even == "pad" and total:
        return -(-total // world_size) * world_size
    if even == "drop":
        return total // world_size * world_size
    return total


def _cut(length: int, parts: int, i: int) -> int:
    return i * length // parts


def plan_slot(
    counts: Sequence[int],
    *,
    seed: int,
    epoch: int,
    shuffle: bool,
    buffer: int,
    rank: int,
    world_size: int,
    worker: int,
    num_workers: int,
    even: str | bool | None = None,
) -> Slot:
    """The units and emit order of worker ``worker`` of rank ``rank`` for one epoch.

    ``counts``: samples per shard, in the split's index order.
    """
    _check_member("rank", rank, world_size)
    _check_member("worker", worker, num_workers)
    total = sum(counts)
    length = _epoch_length(total, world_size, even)
    lo, hi = _cut(length, world_size, rank), _cut(length, world_size, rank + 1)
    span = hi - lo
    lo, hi = lo + _cut(span, num_workers, worker), lo + _cut(span, num_workers, worker + 1)
    order = shard_order(len(counts), seed, epoch, shuffle)
    units = _units(counts, order, lo, hi)
    size = buffer if shuffle else 0
    rng = np.random.default_rng([seed, epoch, 1, rank, world_size, worker, num_workers])
    return Slot(units=tuple(units), order=buffer_order(hi - lo, size, rng))


def _units(counts: Sequence[int], order: list[int], lo: int, hi: int) -> list[Unit]:
    """Global positions ``[lo, hi)`` of the epoch list (wrapping past its end when padded)."""
    ends = np.cumsum([counts[s] for s in order]).tolist()
    total = ends[-1] if ends else 0
    units: list[Unit] = []
    pos = lo
    while pos < hi:
        q = pos % total
        i = bisect.bisect_right(ends, q)
        begin = ends[i] - counts[order[i]]
        take = min(hi - pos, ends[i] - q)
        units.append(Unit(order[i], q - begin, q - begin + take))
        pos += take
    return units


def buffer_order(samples: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """The emit order of a shuffle buffer of ``size`` fed positions ``0..samples-1`` in order.

    Each arriving position enters the buffer; once it holds ``size``, a uniformly chosen one
    leaves. The rest leave in a random order at the end. When the ``t``-th position is emitted
    at most ``t + size`` have been read, so a reader holds at most ``size`` pending samples.
    ``size <= 1``: reading order.
    """
    if size <= 1:
        return np.arange(samples, dtype=np.int64)
    draws = rng.random(samples)
    out = np.empty(samples, dtype=np.int64)
    buf: list[int] = []
    k = 0
    for pos in range(samples):
        buf.append(pos)
        if len(buf) >= size:
            j = int(draws[pos] * len(buf))
            buf[j], buf[-1] = buf[-1], buf[j]
            out[k] = buf.pop()
            k += 1
    out[k:] = np.asarray(buf, dtype=np.int64)[rng.permutation(len(buf))]
    return out
