"""The streaming loader: converted output (local folder, ``https://`` base URL or
``hf://datasets/ORG/REPO``) -> samples for training, exactly once per epoch across nodes x workers.

::

    from cxrhub.shards.loader import MixedDataset, StreamingDataset

    ds = StreamingDataset("/data/mimic-cxr", split="train", image="image_512", policy="ones")
    for sample in ds:   # {"key", "image", "labels", "label_mask", "dataset", ...}
        ...

- :mod:`~.source`: where the shards live; whole, checked shard files (``open_source``).
- :mod:`~.remote`, :mod:`~.hub`, :mod:`~.cache`: ``https://`` and ``hf://`` sources, retries,
  the shared sha256-keyed shard cache.
- :mod:`~.fetch`: shard files fetched in order, the next ones in flight (``prefetch``).
- :mod:`~.plan`: which samples each rank x worker reads, ``even`` modes, the shuffle order.
- :mod:`~.readers`: WebDataset tars and Parquet row groups -> raw records.
- :mod:`~.decode`: npy / JPEG / PNG (8 and 16 bit) / HTJ2K -> numpy; optional nvImageCodec.
- :mod:`~.labels`: CheXpert-14 families -> ``float32`` targets and mask (U-ones/zeros/ignore).
- :mod:`~.dataset`: :class:`StreamingDataset` (no torch needed), ``state_dict`` resume.
- :mod:`~.mix`: :class:`MixedDataset`, a seeded weighted interleave of datasets.
- :mod:`~.torch`: ``TorchStreamingDataset``, the ``IterableDataset`` wrapper (needs torch).
- :mod:`~.synthetic`: small converted-looking outputs for tests and benchmarks.
"""

from cxrhub.shards.loader.dataset import StreamingDataset
from cxrhub.shards.loader.decode import ImageDecodeError, decode_image
from cxrhub.shards.loader.mix import MixedDataset
from cxrhub.shards.loader.plan import LoaderConfigError
from cxrhub.shards.loader.readers import ShardFormatError
from cxrhub.shards.loader.source import LocalSource, ShardIntegrityError, Source, open_source

__all__ = [
    "ImageDecodeError",
    "LoaderConfigError",
    "LocalSource",
    "MixedDataset",
    "ShardFormatError",
    "ShardIntegrityError",
    "Source",
    "StreamingDataset",
    "decode_image",
    "open_source",
]
