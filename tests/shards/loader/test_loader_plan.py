"""The epoch plan: exact-once slots over ranks x workers, even modes, seeded orders."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from cxrhub.shards.loader.plan import (
    LoaderConfigError,
    buffer_order,
    distributed_rank,
    plan_slot,
    rank_sizes,
    shard_order,
)

# shard sample counts: divisible and not by nodes x workers, empty shards, fewer samples than slots
COUNTS = [[2] * 12, [3, 3, 3, 3, 1], [5], [1, 0, 4, 0, 2, 7, 1], [1, 1], [], [10, 10, 10]]
LAYOUTS = [(world, workers) for world in (1, 2, 3) for workers in (1, 2, 4)]


def _samples(counts, world, workers, even=None, seed=3, epoch=1, buffer=4):
    """Global ``(shard, index)`` ids each (rank, worker) reads, in emit order."""
    out = {}
    for rank in range(world):
        for worker in range(workers):
            slot = plan_slot(
                counts, seed=seed, epoch=epoch, shuffle=True, buffer=buffer, rank=rank,
                world_size=world, worker=worker, num_workers=workers, even=even,
            )  # fmt: skip
            ids = [(u.shard, i) for u in slot.units for i in range(u.start, u.stop)]
            assert sorted(slot.order.tolist()) == list(range(len(ids)))
            out[rank, worker] = [ids[p] for p in slot.order]
    return out


def _all_ids(counts):
    return sorted((s, i) for s, n in enumerate(counts) for i in range(n))


@pytest.mark.parametrize("counts", COUNTS)
@pytest.mark.parametrize(("world", "workers"), LAYOUTS)
def test_every_sample_once_per_epoch(counts, world, workers):
    got = _samples(counts, world, workers)
    flat = [x for ids in got.values() for x in ids]
    assert sorted(flat) == _all_ids(counts)
    per_rank = [sum(len(got[r, w]) for w in range(workers)) for r in range(world)]
    assert max(per_rank) - min(per_rank) <= 1
    assert per_rank == rank_sizes(sum(counts), world, None)


@pytest.mark.parametrize("counts", [c for c in COUNTS if sum(c)])
@pytest.mark.parametrize(("world", "workers"), LAYOUTS)
def test_pad_gives_equal_ranks_by_repeating_a_few(counts, world, workers):
    got = _samples(counts, world, workers, even="pad")
    per_worker = {r: [len(got[r, w]) for w in range(workers)] for r in range(world)}
    assert len({tuple(v) for v in per_worker.values()}) == 1  # same per-worker counts: same batches
    flat = [x for ids in got.values() for x in ids]
    assert set(flat) == set(_all_ids(counts))
    total = sum(counts)
    assert len(flat) == -(-total // world) * world
    repeats = sum(n - 1 for n in Counter(flat).values())
    assert repeats == len(flat) - total and repeats < world or total < world


@pytest.mark.parametrize("counts", COUNTS)
@pytest.mark.parametrize(("world", "workers"), LAYOUTS)
def test_drop_gives_equal_ranks_by_skipping_a_few(counts, world, workers):
    got = _samples(counts, world, workers, even="drop")
    sizes = {sum(len(got[r, w]) for w in range(workers)) for r in range(world)}
    assert len(sizes) == 1
    flat = [x for ids in got.values() for x in ids]
    assert len(flat) == len(set(flat)) == sum(counts) // world * world
    assert set(flat) <= set(_all_ids(counts))


def test_order_depends_on_seed_and_epoch_only():
    counts = [4] * 10
    a = _samples(counts, 2, 2, seed=1, epoch=0)
    assert a == _samples(counts, 2, 2, seed=1, epoch=0)
    assert a != _samples(counts, 2, 2, seed=1, epoch=1)
    assert a != _samples(counts, 2, 2, seed=2, epoch=0)
    assert shard_order(10, 5, 7, True) == shard_order(10, 5, 7, True) != list(range(10))
    assert shard_order(10, 5, 7, False) == list(range(10))


def test_no_shuffle_reads_in_index_order():
    counts = [3, 2, 4]
    slot = plan_slot(
        counts, seed=0, epoch=0, shuffle=False, buffer=100, rank=0, world_size=1,
        worker=0, num_workers=1,
    )  # fmt: skip
    assert [(u.shard, u.start, u.stop) for u in slot.units] == [(0, 0, 3), (1, 0, 2), (2, 0, 4)]
    assert slot.order.tolist() == list(range(9))


@pytest.mark.parametrize("size", [1, 2, 7, 50])
def test_buffer_order_is_a_bounded_permutation(size):
    n = 40
    order = buffer_order(n, size, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(n))
    for t, pos in enumerate(order.tolist()):  # never needs more than `size` read ahead
        assert pos <= t + size - 1 or size <= 1 and pos == t
    if size > 1:
        assert order.tolist() != list(range(n))
    same = buffer_order(n, size, np.random.default_rng(0))
    assert np.array_equal(order, same)


def test_rank_from_arguments_then_environment(monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert distributed_rank() == (2, 4)
    assert distributed_rank(1, 3) == (1, 3)
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert distributed_rank() == (0, 1)


@pytest.mark.parametrize(("rank", "world"), [(2, 2), (-1, 2), (0, 0)])
def test_bad_rank_is_refused(rank, world):
    with pytest.raises(LoaderConfigError):
        distributed_rank(rank, world)


def test_bad_even_and_worker_are_refused():
    with pytest.raises(LoaderConfigError, match="even"):
        rank_sizes(10, 2, "yes")
    with pytest.raises(LoaderConfigError, match="worker"):
        plan_slot(
            [3], seed=0, epoch=0, shuffle=True, buffer=2, rank=0, world_size=1, worker=2,
            num_workers=2,
        )  # fmt: skip
