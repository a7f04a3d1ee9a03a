"""``MixedDataset``: several converted datasets interleaved with weights, one label vocabulary.

::

    from cxrhub.shards.loader import MixedDataset, StreamingDataset

    mix = MixedDataset(
        [StreamingDataset("/data/mimic-cxr", image="image_512"),
         StreamingDataset("/data/chexpert", image="image")],
        weights=[0.7, 0.3], seed=0, stop="all",
    )

Every CheXpert-style dataset labels the same 14 observations in the same order
(:data:`~cxrhub.builders._labels.CHEXPERT_14`), so ``labels``/``label_mask`` mean the same in
every sample; ``dataset`` says where each sample came from. A dataset without a CheXpert-14
family gives all-masked labels (:mod:`~.labels`), so it still batches with the others.

Each draw picks a source with probability proportional to its weight among the sources still
running, from a generator seeded by ``(seed, epoch, rank, worker)``: the same arguments give
the same interleave. Each source reads its own share of its own shards (:mod:`~.plan`).

When an epoch ends (``stop``):

- ``"all"`` (default): when every source is exhausted: each sample of every source once per
  epoch; once a source runs out, the mix shifts to the remaining ones.
- ``"first"``: when the first source runs out: the proportions hold for the whole epoch, the
  other sources' remaining samples are not seen this epoch (their next epoch starts afresh).

With DDP, per-rank counts under ``"first"`` depend on the draws; use ``"all"`` with
``even="pad"`` on every source for equal per-rank counts.

``state_dict()`` holds each source's state and the generator's, so a resumed epoch continues
with exactly the samples an uninterrupted one would have given.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np

from cxrhub.shards.loader.dataset import StreamingDataset
from cxrhub.shards.loader.plan import LoaderConfigError

__all__ = ["STOPS", "MixedDataset"]

STOPS = ("all", "first")


class MixedDataset:
    """A weighted, seeded interleave of :class:`StreamingDataset` sources."""

    def __init__(
        self,
        datasets: Sequence[StreamingDataset],
        weights: Sequence[float] | None = None,
        *,
        seed: int = 0,
        stop: str = "all",
        epoch: int = 0,
    ):
        if not datasets:
            raise LoaderConfigError("MixedDataset needs at least one dataset")
        weights = [1.0] * len(datasets) if weights is None else [float(w) for w in weights]
        if len(weights) != len(datasets) or min(weights) < 0 or sum(weights) <= 0:
            raise LoaderConfigError(f"weights {weights}: one non-negative weight per dataset")
        if stop not in STOPS:
            raise LoaderConfigError(f"stop={stop!r}: choose from {STOPS}")
        self.datasets, self.weights = list(datasets), np.asarray(weights, dtype=np.float64)
        self.seed, self.stop, self.epoch = seed, stop, epoch
        self._rng_state: dict | None = None
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` from its beginning on every source."""
        self.epoch, self._rng_state = epoch, None
        for ds in self.datasets:
            ds.set_epoch(epoch)

    def set_worker(self, worker: int, num_workers: int) -> None:
        """This process's DataLoader worker id and count, for every source."""
        for ds in self.datasets:
            ds.set_worker(worker, num_workers)

    def __len__(self) -> int:
        """Samples this rank reads per epoch with ``stop="all"`` (an upper bound for first)."""
        return sum(len(ds) for ds in self.datasets)

    def _rng(self) -> np.random.Generator:
        layout = self.datasets[0].layout()
        rng = np.random.default_rng(
            [self.seed, self.epoch, 2, layout["rank"], layout["worker"], layout["num_workers"]]
        )
        if self._rng_state is not None:
            rng.bit_generator.state = copy.deepcopy(self._rng_state)
        return rng

    def state_dict(self) -> dict:
        """Every source's state plus the interleave generator's."""
        return {
            "version": 1,
            "seed": self.seed,
            "epoch": self.epoch,
            "rng": copy.deepcopy(self._rng_state),
            "datasets": [ds.state_dict() for ds in self.datasets],
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state`` (``len(datasets)`` must match)."""
        if len(state.get("datasets", ())) != len(self.datasets):
            raise LoaderConfigError(
                f"state has {len(state.get('datasets', ()))} sources; this mix has "
                f"{len(self.datasets)}"
            )
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])
        for ds, sub in zip(self.datasets, state["datasets"], strict=True):
            ds.load_state_dict(sub)
        self._rng_state = copy.deepcopy(state["rng"])

    def __iter__(self) -> Iterator[dict]:
        rng = self._rng()
        iterators = [iter(ds) for ds in self.datasets]
        active = self.weights > 0
        while active.any():
            p = np.where(active, self.weights, 0.0)
            choice = int(np.searchsorted(np.cumsum(p / p.sum()), rng.random(), side="right"))
            choice = min(choice, len(p) - 1)
            self._rng_state = rng.bit_generator.state
            sample = next(iterators[choice], None)
            if sample is None:
                active[choice] = False
                if self.stop == "first":
                    break
                continue
            yield sample
        for ds in self.datasets:  # the epoch is over for every source, also under "first"
            ds.set_epoch(self.epoch)
        self._rng_state = None
