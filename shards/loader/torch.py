"""PyTorch wrapper: a :class:`torch.utils.data.IterableDataset` over a streaming loader.

::

    from torchdata.stateful_dataloader import StatefulDataLoader   # or torch's DataLoader
    from cxrhub.shards.loader.torch import TorchStreamingDataset

    ds = TorchStreamingDataset("/data/mimic-cxr", image="image_512", even="pad")
    loader = StatefulDataLoader(ds, batch_size=64, num_workers=8)
    for epoch in range(epochs):
        ds.set_epoch(epoch)          # before the workers start (not with persistent_workers)
        for batch in loader: ...
    state = loader.state_dict()      # per-worker dataset states; load_state_dict() resumes

Each DataLoader worker reads its own share: the worker id and count come from
``torch.utils.data.get_worker_info()`` when the worker starts iterating; rank and world size
from ``torch.distributed`` (or ``RANK``/``WORLD_SIZE``). ``len(ds)`` is this rank's samples
per epoch. Samples are the plain loader's dicts; the default collate turns the numpy arrays
into tensors (``uint16`` images need torch >= 2.3). ``.npy`` images are read-only views of
the shard (zero copy; the collate's stack is their one copy), so the wrapper silences torch's
"NumPy array is not writable" warning in the process that iterates it. With ``gpu=True`` the
nvImageCodec image is handed over as a CUDA tensor (zero copy) with the channel axis dropped.

Needs PyTorch (``pip install cxrhub[torch]``; ``torchdata`` for ``StatefulDataLoader``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

try:
    import torch
    from torch.utils.data import IterableDataset, get_worker_info
except ImportError as exc:  # torch is optional
    raise ImportError(
        "cxrhub.shards.loader.torch needs PyTorch: pip install cxrhub[torch]"
    ) from exc

from cxrhub.shards.loader.dataset import StreamingDataset
from cxrhub.shards.loader.mix import MixedDataset

__all__ = ["TorchStreamingDataset"]


class TorchStreamingDataset(IterableDataset):
    """``TorchStreamingDataset(location, **options)`` (options as :class:`StreamingDataset`),
    or ``TorchStreamingDataset(dataset)`` around a built :class:`StreamingDataset` or
    :class:`MixedDataset`."""

    def __init__(self, dataset: str | Path | StreamingDataset | MixedDataset, **options):
        super().__init__()
        if isinstance(dataset, (StreamingDataset, MixedDataset)):
            if options:
                raise TypeError("options go to StreamingDataset(...) when passing a dataset")
            self.dataset = dataset
        else:
            self.dataset = StreamingDataset(dataset, **options)

    def _sync_worker(self) -> None:
        info = get_worker_info()
        if info is not None:
            self.dataset.set_worker(info.id, info.num_workers)

    def __iter__(self) -> Iterator[dict]:
        self._sync_worker()
        # .npy images are read-only views of the shard; collate copies them into the batch
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        for sample in self.dataset:
            image = sample.get("image")
            if image is not None and hasattr(image, "__cuda_array_interface__"):
                sample["image"] = torch.as_tensor(image, device="cuda").squeeze(-1)
            yield sample

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` (call before creating the DataLoader iterator)."""
        self.dataset.set_epoch(epoch)

    def state_dict(self) -> dict:
        """The wrapped loader's state (StatefulDataLoader calls this in each worker, also
        before the worker iterates)."""
        self._sync_worker()
        return self.dataset.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Resume from ``state`` (StatefulDataLoader calls this in each worker)."""
        self._sync_worker()
        self.dataset.load_state_dict(state)
