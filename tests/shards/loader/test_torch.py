"""The torch wrapper: DataLoader workers split the epoch; StatefulDataLoader resumes exactly.

Skipped where torch (and torchdata, for the resume test) is not installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cxrhub.shards.loader import StreamingDataset
from cxrhub.shards.loader.synthetic import encode, features, synthetic_image, write_output

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader  # noqa: E402

from cxrhub.shards.loader.torch import TorchStreamingDataset  # noqa: E402

COUNT = 29


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("torch") / "out"
    write_output(
        out, lambda i: {"key": f"t{i:03d}", "image": encode(synthetic_image(i, 16), "npy"),
                        "labels": [1, 0, -1] + [None] * 11},
        COUNT, features(), max_shard_samples=4,
    )  # fmt: skip
    return out


def _keys(batches) -> list[str]:
    return [k for batch in batches for k in batch["key"]]


@pytest.mark.parametrize("workers", [0, 2, 3])
def test_dataloader_workers_cover_the_split_once(out, workers):
    ds = TorchStreamingDataset(out, buffer=4, seed=1)
    loader = DataLoader(ds, batch_size=5, num_workers=workers)
    batches = list(loader)
    keys = _keys(batches)
    assert sorted(keys) == [f"t{i:03d}" for i in range(COUNT)]
    assert batches[0]["image"].dtype == torch.uint8 and batches[0]["image"].shape[1:] == (16, 16)
    assert batches[0]["labels"].shape[1:] == (14,) and batches[0]["labels"].dtype == torch.float32
    assert len(ds) == COUNT


def test_even_pad_gives_every_rank_the_same_batches(out):
    counts = []
    for rank in range(3):
        ds = TorchStreamingDataset(out, rank=rank, world_size=3, even="pad", buffer=4)
        counts.append(len(list(DataLoader(ds, batch_size=2, num_workers=2))))
    assert len(set(counts)) == 1


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("stop_after", [1, 3, 5])
def test_stateful_dataloader_resumes_the_epoch(out, workers, stop_after):
    stateful = pytest.importorskip("torchdata.stateful_dataloader")

    def loader():
        ds = TorchStreamingDataset(out, buffer=6, seed=7)
        return stateful.StatefulDataLoader(ds, batch_size=3, num_workers=workers)

    full = _keys(loader())
    first = loader()
    head, it = [], iter(first)
    for _ in range(stop_after):
        head += list(next(it)["key"])
    state = first.state_dict()
    del it, first
    resumed = loader()
    resumed.load_state_dict(state)
    rest = _keys(resumed)
    assert head + rest == full  # also with workers: their round-robin position is restored
    assert sorted(full) == [f"t{i:03d}" for i in range(COUNT)]


def test_wrapping_a_built_dataset(out):
    inner = StreamingDataset(out, image=None, shuffle=False)
    ds = TorchStreamingDataset(inner)
    assert [s["key"] for s in ds] == [f"t{i:03d}" for i in range(COUNT)]
    with pytest.raises(TypeError):
        TorchStreamingDataset(inner, buffer=3)
    ds.set_epoch(2)
    assert ds.state_dict()["epoch"] == 2 and inner.epoch == 2
    assert isinstance(next(iter(TorchStreamingDataset(out)))["image"], np.ndarray)


@pytest.mark.parametrize("workers", [0, 2])
def test_stateful_dataloader_resumes_a_mix(out, tmp_path, workers):
    stateful = pytest.importorskip("torchdata.stateful_dataloader")
    from cxrhub.shards.loader import MixedDataset

    other = tmp_path / "other"
    write_output(
        other, lambda i: {"key": f"o{i:03d}", "image": encode(synthetic_image(i, 16), "npy"),
                          "labels": None},
        11, features(), max_shard_samples=3, dataset="other",
    )  # fmt: skip

    def loader():
        mix = MixedDataset(
            [StreamingDataset(out, buffer=4), StreamingDataset(other, buffer=4)], [2, 1], seed=5
        )
        return stateful.StatefulDataLoader(
            TorchStreamingDataset(mix), batch_size=4, num_workers=workers
        )

    full = _keys(loader())
    assert len(full) == len(set(full)) == COUNT + 11
    first = loader()
    it = iter(first)
    head = list(next(it)["key"]) + list(next(it)["key"])
    state = first.state_dict()
    del it, first
    resumed = loader()
    resumed.load_state_dict(state)
    assert head + _keys(resumed) == full


def test_spawned_workers_get_a_working_copy(out):
    ds = TorchStreamingDataset(out, size=8, crop=6, buffer=4)
    loader = DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context="spawn")
    batches = list(loader)
    assert sorted(_keys(batches)) == [f"t{i:03d}" for i in range(COUNT)]
    assert batches[0]["image"].shape[1:] == (6, 6)


def test_torch_distributed_wins_over_the_environment(monkeypatch, tmp_path):
    import torch.distributed as dist

    from cxrhub.shards.loader.plan import distributed_rank

    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("WORLD_SIZE", "9")
    assert distributed_rank() == (5, 9)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        assert distributed_rank() == (0, 1)
    finally:
        dist.destroy_process_group()
