"""``StreamingDataset``: one converted split as an iterable of training samples, without torch.

::

    from cxrhub.shards.loader import StreamingDataset

    ds = StreamingDataset("/data/mimic-cxr", split="train", image="image_512", policy="ones",
                          seed=0, buffer=1000)            # local folder, https:// or hf://
    ds.set_epoch(epoch)
    for sample in ds:   # {"key", "image": uint8/uint16 array, "labels", "label_mask", "dataset"}
        ...

Each iteration yields this process's share of the epoch (``rank``/``world_size`` from the
arguments, else ``torch.distributed``, else ``RANK``/``WORLD_SIZE``; ``worker``/``num_workers``
from the arguments, or from ``torch.utils.data.get_worker_info()`` in the torch wrapper
:class:`cxrhub.shards.loader.torch.TorchStreamingDataset`). Every sample of the split is in
exactly one share; :mod:`cxrhub.shards.loader.plan` says how, and what ``even`` does.

Order: with ``shuffle`` (default) the shards are read in a ``(seed, epoch)`` order and samples
pass a ``buffer``-sized shuffle buffer; the same ``seed``, ``epoch`` and layout always give the
same sequence. ``state_dict()`` after ``k`` samples and ``load_state_dict()`` on a fresh dataset
continue with sample ``k + 1`` of that sequence; nothing before it is decoded again.

Iterating again continues where the previous iterator stopped; an epoch iterated to its end
starts over (a restored state at the end of an epoch yields nothing: the epoch is done);
``set_epoch(e)`` starts epoch ``e`` from its beginning.

Samples: ``key``; ``image`` (the ``image`` column decoded by :mod:`~.decode`, resized and
cropped when asked; ``image=None`` reads no image; ``None`` for a sample without one; ``.npy``
images are read-only zero-copy views of the shard unless ``writable=True``);
``labels``/``label_mask`` (``float32[14]``, see :mod:`~.labels`); ``dataset`` (``name`` or
index.json's dataset name); plus each of ``columns`` under its own name (images decoded,
everything else as stored: JSON values).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from cxrhub.shards.loader.decode import ImageDecodeError, gpu_decoder, make_decoder
from cxrhub.shards.loader.fetch import fetch_ahead
from cxrhub.shards.loader.labels import LabelMapper, choose_family
from cxrhub.shards.loader.plan import (
    LoaderConfigError,
    Slot,
    distributed_rank,
    even_mode,
    plan_slot,
    rank_sizes,
)
from cxrhub.shards.loader.readers import LABELS, ShardFormatError, read_parquet, read_tar
from cxrhub.shards.loader.source import Source, open_source

__all__ = ["FORMATS", "StreamingDataset"]

logger = logging.getLogger(__name__)
FORMATS = ("webdataset", "parquet")
STATE_VERSION = 1
_LAYOUT = (
    "split", "format", "shards", "samples", "rank", "world_size", "worker", "num_workers",
    "shuffle", "buffer", "even",
)  # fmt: skip


class StreamingDataset:
    """One split of a converted output, streamed shard by shard.

    Args:
        location: a local folder, ``https://`` base URL, ``hf://datasets/ORG/REPO``, or a
            :class:`~cxrhub.shards.loader.source.Source`.
        split: the split in index.json.
        format: ``"webdataset"`` (default where the split has tars) or ``"parquet"``.
        image: the image column to decode into ``image`` (``"image"``, ``"image_512"``, ...).
        columns: other columns to add to each sample.
        label, policy, blank: the label family and its uncertainty handling (:mod:`~.labels`).
        shuffle, seed, buffer: shard-order shuffle and sample shuffle buffer size.
        rank, world_size, worker, num_workers: this process's place (see the module docstring).
        even: ``None``, ``"pad"`` (or ``True``) or ``"drop"``: equal per-rank counts
            (:mod:`~.plan`).
        size, crop, resize_mode: area downscale and centre crop on decode (:mod:`~.decode`).
        writable: copy ``.npy`` images out of the shard (default: zero-copy read-only views).
        gpu: decode with nvImageCodec into GPU memory (off by default; needs the package).
        prefetch: shards fetched ahead in a background thread (remote sources download, local
            ones check size/sha256, while the current shard is read); 0: fetch inline.
        name: the ``dataset`` value of each sample (default: index.json's ``dataset``).
        source_options: passed to :func:`~cxrhub.shards.loader.source.open_source`.
    """

    def __init__(
        self,
        location: str | Path | Source,
        *,
        split: str = "train",
        format: str | None = None,  # noqa: A002 - the option's public name
        image: str | None = "image",
        columns: Sequence[str] = (),
        label: str | None = "auto",
        policy: str = "ones",
        blank: str = "zeros",
        shuffle: bool = True,
        seed: int = 0,
        buffer: int = 1000,
        epoch: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        worker: int = 0,
        num_workers: int = 1,
        even: str | bool | None = None,
        size: int | None = None,
        crop: int | None = None,
        resize_mode: str = "long",
        writable: bool = False,
        gpu: bool = False,
        prefetch: int = 1,
        name: str | None = None,
        source_options: dict | None = None,
    ):
        self.source = (
            open_source(location, **(source_options or {}))
            if isinstance(location, (str, Path))
            else location
        )
        self.index = self.source.index()
        self.features: dict = self.index["features"]
        self.split = split
        self.format = self._format(format)
        self.entries: list[dict] = self.index["splits"][split][self.format]
        self.counts = [int(e["samples"]) for e in self.entries]
        self.name = name or self.index.get("dataset", "")
        self.image, self.columns, self.label = image, list(columns), label
        self._check_columns()
        self.family = choose_family(self.features, label)
        if label is not None and self.family is None:
            logger.info("%s: no CheXpert-14 label family; labels are fully masked", self.name)
        self.labels = LabelMapper(policy, blank)
        self.shuffle, self.seed, self.buffer, self.epoch = shuffle, seed, buffer, epoch
        self.rank, self.world_size, self.even = rank, world_size, even_mode(even)
        self.worker, self.num_workers = worker, num_workers
        self._decode = gpu_decoder() if gpu else make_decoder(size, crop, resize_mode, writable)
        self.prefetch = prefetch
        self._delivered, self._finished = 0, False
        self._pending_state: dict | None = None
        self._slot_cache: tuple[tuple, Slot] | None = None

    # -- configuration ---------------------------------------------------------------------

    def _format(self, fmt: str | None) -> str:
        splits = self.index.get("splits", {})
        if self.split not in splits:
            raise LoaderConfigError(f"split {self.split!r}: this output has {sorted(splits)}")
        have = [f for f in FORMATS if splits[self.split].get(f) is not None]
        if fmt is None:
            fmt = have[0] if have else "webdataset"
        if fmt not in FORMATS or fmt not in have:
            raise LoaderConfigError(f"format {fmt!r}: this split has {have}")
        return fmt

    def _check_columns(self) -> None:
        wanted = [c for c in [self.image, *self.columns] if c is not None]
        unknown = [c for c in wanted if c not in self.features]
        if unknown:
            raise LoaderConfigError(f"unknown columns {unknown}; known: {sorted(self.features)}")
        taken = {"key", "dataset"}
        taken |= {"image"} if self.image is not None else set()
        taken |= {"labels", "label_mask"} if self.label is not None else set()
        if taken & set(self.columns):
            raise LoaderConfigError(
                f"columns {sorted(taken & set(self.columns))} would overwrite the sample's own "
                "keys; pass label=None (or image=None) to read such a column under its name"
            )
        if self.image is not None and self.features[self.image].get("_type") != "Image":
            raise LoaderConfigError(f"image={self.image!r} is not an Image column")
        if self.format == "webdataset":
            members = self.index.get("webdataset_members", {})
            missing = [c for c in wanted if c not in members]
            if missing:
                raise LoaderConfigError(f"columns {missing} have no tar member; use parquet")

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` from its beginning (a different shard order and buffer)."""
        self.epoch, self._delivered, self._pending_state = epoch, 0, None
        self._finished = False

    def set_worker(self, worker: int, num_workers: int) -> None:
        """This process's DataLoader worker id and count (the torch wrapper calls it)."""
        self.worker, self.num_workers = worker, num_workers

    def layout(self) -> dict:
        """Where this process stands: split, format, shard/sample counts, rank, worker."""
        rank, world = distributed_rank(self.rank, self.world_size)
        return {
            "split": self.split,
            "format": self.format,
            "shards": len(self.entries),
            "samples": sum(self.counts),
            "rank": rank,
            "world_size": world,
            "worker": self.worker,
            "num_workers": self.num_workers,
        }

    def __len__(self) -> int:
        """Samples this rank reads in one epoch (all its workers together)."""
        layout = self.layout()
        return rank_sizes(layout["samples"], layout["world_size"], self.even)[layout["rank"]]

    def slot(self) -> Slot:
        """This worker's units and emit order for the current epoch."""
        layout = self.layout()
        key = (self.epoch, self.seed, self.shuffle, self.buffer, self.even, *layout.values())
        if self._slot_cache is None or self._slot_cache[0] != key:
            slot = plan_slot(
                self.counts, seed=self.seed, epoch=self.epoch, shuffle=self.shuffle,
                buffer=self.buffer, rank=layout["rank"], world_size=layout["world_size"],
                worker=self.worker, num_workers=self.num_workers, even=self.even,
            )  # fmt: skip
            self._slot_cache = (key, slot)
        return self._slot_cache[1]

    # -- state -------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Enough to continue this epoch exactly: seed, epoch, samples delivered, layout."""
        if self._pending_state is not None:  # restored but not iterated yet
            return dict(self._pending_state)
        return {
            "version": STATE_VERSION,
            "seed": self.seed,
            "epoch": self.epoch,
            "delivered": self._delivered,
            **self.layout(),
            "shuffle": self.shuffle,
            "buffer": self.buffer,
            "even": self.even,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state`` at the next iteration (the layout is checked then: the
        DataLoader worker id is only known inside the worker)."""
        if state.get("version") != STATE_VERSION:
            raise LoaderConfigError(f"state version {state.get('version')!r}; expected 1")
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])
        self._delivered, self._finished = int(state["delivered"]), False
        self._pending_state = dict(state)

    def _check_state(self) -> None:
        state, self._pending_state = self._pending_state, None
        if state is None:
            return
        now = {**self.layout(), "shuffle": self.shuffle, "buffer": self.buffer, "even": self.even}
        changed = {k: (state.get(k), now[k]) for k in _LAYOUT if state.get(k) != now[k]}
        if changed:
            raise LoaderConfigError(
                f"saved state does not match this loader (saved, now): {changed}; resume with "
                "the same split, format, shards, world size, worker count and shuffle options"
            )

    # -- iteration ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[dict]:
        self._check_state()
        slot = self.slot()
        if self._finished:
            self._delivered, self._finished = 0, False
        start = self._delivered
        skip = np.zeros(slot.samples, dtype=bool)
        skip[slot.order[:start]] = True
        stream = self._records(slot, skip)
        pending: dict[int, tuple] = {}
        for pos in slot.order[start:].tolist():
            while pos not in pending:
                found = next(stream, None)
                if found is None:
                    where = self.source.location
                    raise ShardFormatError(
                        f"{where}: the shards hold fewer samples than index.json"
                    )
                pending[found[0]] = found[1:]
            record = pending.pop(pos)
            sample = self._sample(*record)
            self._delivered += 1
            yield sample
        self._finished = True
        stream.close()  # releases the last shard

    def _records(self, slot: Slot, skip: np.ndarray) -> Iterator[tuple]:
        jobs, base = [], 0
        for unit in slot.units:  # units with something left to read, and their slot offset
            offset = base - unit.start
            base += len(unit)
            if not skip[offset + unit.start : offset + unit.stop].all():
                jobs.append((unit, offset))
        entries = [self.entries[unit.shard] for unit, _ in jobs]
        release = getattr(self.source, "release", None)
        for (unit, offset), entry, path in zip(
            jobs, entries, fetch_ahead(self.source, entries, self.prefetch), strict=True
        ):

            def want(i: int, offset: int = offset) -> bool:
                return not skip[offset + i]

            try:
                for index, key, values in self._read(path, unit.start, unit.stop, want):
                    yield offset + index, key, values, path
            finally:  # read, or the iteration dropped: a cached remote shard may go now
                if release is not None:
                    release(entry)

    def _read(self, path: Path, start: int, stop: int, want) -> Iterator[tuple]:
        if self.format == "webdataset":
            members = self.index["webdataset_members"]
            needed = [c for c in [self.image, self.family, *self.columns] if c is not None]
            return read_tar(path, start, stop, {c: members[c] for c in needed}, want)
        extras = [c for c in [self.image, *self.columns] if c is not None]
        return read_parquet(
            path, start, stop, [*extras, *[self.family] * (self.family is not None)], want,
            batch_labels=self.family, convert_labels=self.labels.batch,
        )  # fmt: skip

    def _sample(self, key: str, values: dict, path: Path) -> dict:
        sample: dict = {"key": key, "dataset": self.name}
        try:
            if self.image is not None:
                sample["image"] = self._image(values[self.image])
            for column in self.columns:
                sample[column] = self._value(column, values[column])
        except ImageDecodeError as exc:
            raise ImageDecodeError(f"{path}: sample {key!r}: {exc}") from exc
        if self.label is not None:
            sample["labels"], sample["label_mask"] = self._labels(values)
        return sample

    def _labels(self, values: dict) -> tuple[np.ndarray, np.ndarray]:
        if self.family is None:
            return self.labels.missing()
        if LABELS in values:  # parquet: converted per row group
            return values[LABELS]
        return self.labels.from_json(values[self.family])

    def _image(self, value: memoryview | None) -> object:
        """The decoded image, or ``None`` where the sample has none (Parquet null, or the tar's
        ``<column>.json`` member holding ``null``)."""
        if value is None or (len(value) == 4 and bytes(value) == b"null"):
            return None
        return self._decode(value)

    def _value(self, column: str, value: object) -> object:
        if self.features[column].get("_type") == "Image":
            return self._image(value)
        if self.format == "webdataset":
            return json.loads(bytes(value))
        return value
