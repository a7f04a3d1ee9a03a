"""Streaming-loader throughput at 512x512, beside named baselines measured in the same run.

Builds its own converted-looking outputs (``cxrhub.shards.loader.synthetic``: the converter's
shard writers and encoders) of ``--images`` 512x512 images per case, then reads each back.

Columns (images/s on one core; ``x`` = cxrhub / baseline, so > 1 means cxrhub is faster):

- cxrhub-wds / cxrhub-pq: ``StreamingDataset`` over the WebDataset tars / the Parquet shards,
  shuffle on (buffer 256), labels converted, every image decoded to a numpy array (``.npy``:
  a zero-copy view of the shard, the default: its pages are faulted in only when the consumer
  reads them). cxrhub-collate: the same, each image then copied into a preallocated batch
  slot as a DataLoader collate does (the like-for-like figure against the floor).
  cxrhub-copy: the tars with ``writable=True`` (``.npy`` copied out of the shard first).
- hf: ``datasets.load_dataset("parquet", data_files=..., streaming=True).with_format("numpy")``
  over the same Parquet (npy cells: ``Image(decode=False)`` + ``np.load``; PIL cannot read .npy).
- wds: ``webdataset.WebDataset(tars).decode()`` (npy) / ``.decode("l8")`` (PNG, JPEG; 16-bit
  PNGs come back squeezed to 8 bits there), the default decoder path.
- files: one PNG/JPEG/npy file per image read as torchxrayvision does (PIL open -> np.array;
  np.load for npy).
- floor: ``np.copyto`` of the same stored pixels, already in memory (each image's bytes of the
  tars, read into RAM first, copied once into an array): one memcpy per image, beyond cache.

Then 2 worker processes vs 1 (``worker``/``num_workers``, as DataLoader workers would).

    python bench/load.py [--images 1000] [--dir /tmp/cxrhub-bench-load] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from cxrhub.shards.loader import StreamingDataset
from cxrhub.shards.loader.synthetic import encode, features, synthetic_image, write_output

SIZE = 512
CASES = [  # (name, dtype, encoding)
    ("npy u8", np.uint8, "npy"),
    ("npy u16", np.uint16, "npy"),
    ("jpeg u8", np.uint8, "jpeg"),
    ("png u8", np.uint8, "png"),
    ("png u16", np.uint16, "png"),
]
LABELS = [1, 0, -1, None, 0, 0, 1, None, None, 0, 0, -1, 0, 1]
DISTINCT = 16  # distinct source images, reused cyclically (encoding time stays small)


def build(base: Path, count: int) -> dict[str, dict]:
    """One converted output plus a per-file folder per case (reused when already there)."""
    built = {}
    for name, dtype, encoding in CASES:
        out = base / name.replace(" ", "-")
        cells = [encode(synthetic_image(i, SIZE, dtype), encoding) for i in range(DISTINCT)]
        if not (out / "index.json").is_file():
            write_output(
                out, lambda i, c=cells: {"key": f"k{i:06d}", "image": c[i % DISTINCT],
                                         "labels": LABELS},
                count, features(), max_shard_samples=250,
            )  # fmt: skip
            files = out / "files"
            files.mkdir()
            ext = cells[0]["path"].rsplit(".", 1)[1]
            for i in range(count):
                (files / f"{i:06d}.{ext}").write_bytes(cells[i % DISTINCT]["bytes"])
        built[name] = {"out": out, "dtype": dtype, "encoding": encoding}
    return built


def timed(fn: Callable[[], int], repeat: int) -> float:
    """Best-of-``repeat`` images/s of ``fn`` (returns how many images it produced)."""
    fn()  # warm: page cache, imports
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - start))
    return max(rates)


def drain(iterable, column: str = "image", collate: bool = False) -> int:
    """Consume ``iterable``; ``collate``: copy each image into a reused batch slot."""
    n, slot = 0, None
    for sample in iterable:
        image = sample[column]
        if not isinstance(image, np.ndarray):
            raise TypeError(f"expected a numpy image, got {type(image).__name__}")
        if collate:
            slot = np.empty_like(image) if slot is None else slot
            np.copyto(slot, image)
        n += 1
    return n


def run_cxrhub(out: Path, fmt: str, writable: bool = False, collate: bool = False) -> int:
    ds = StreamingDataset(out, format=fmt, buffer=256, writable=writable)
    return drain(ds, collate=collate)


def run_hf(out: Path, encoding: str) -> int:
    from datasets import Image as HFImage
    from datasets import load_dataset

    files = sorted(str(p) for p in (out / "data").glob("*.parquet"))
    ds = load_dataset("parquet", data_files=files, split="train", streaming=True)
    if encoding != "npy":
        return drain(ds.with_format("numpy"))
    ds = ds.cast_column("image", HFImage(decode=False)).with_format("numpy")
    return drain({"image": np.load(io.BytesIO(r["image"]["bytes"]))} for r in ds)


def run_wds(out: Path, encoding: str) -> int:
    import webdataset as wds

    tars = sorted(str(p) for p in (out / "webdataset").glob("*.tar"))
    pipe = wds.WebDataset(tars, shardshuffle=False, empty_check=False)
    pipe = pipe.decode() if encoding == "npy" else pipe.decode("l8")
    member = {"npy": "image.npy", "png": "image.png", "jpeg": "image.jpg"}[encoding]
    return drain({"image": sample[member]} for sample in pipe)


def run_files(out: Path, encoding: str) -> int:
    n = 0
    for path in sorted((out / "files").iterdir()):
        if encoding == "npy":
            arr = np.load(path)
        else:
            with Image.open(path) as image:
                arr = np.array(image)
        n += arr.size > 0
    return n


def stored_pixels(out: Path, dtype: type) -> list[np.ndarray]:
    """Every image's stored pixel bytes, in RAM (the tars read whole, members sliced)."""
    from cxrhub.shards.loader.readers import tar_members

    pixels = []
    itemsize = np.dtype(dtype).itemsize
    for tar in sorted((out / "webdataset").glob("*.tar")):
        data = tar.read_bytes()
        for name, offset, size in tar_members(data, str(tar)):
            if name.endswith(".image.npy"):
                start = offset + size - SIZE * SIZE * itemsize  # the payload ends the member
                pixels.append(np.frombuffer(data, dtype, SIZE * SIZE, start).reshape(SIZE, SIZE))
    return pixels


def run_floor(pixels: list[np.ndarray]) -> int:
    dst = np.empty_like(pixels[0])
    for src in pixels:
        np.copyto(dst, src)
    return len(pixels)


def _proc(out: Path, worker: int, workers: int, queue, barrier) -> None:
    ds = StreamingDataset(out, buffer=256, worker=worker, num_workers=workers)
    ds.slot()  # plan before the clock starts, as a DataLoader worker does once per epoch
    barrier.wait()  # every worker starts reading together
    start = time.perf_counter()
    n = drain(ds)
    queue.put((n, start, time.perf_counter()))


def parallel_rate(out: Path, workers: int, repeat: int) -> float:
    """Images/s of ``workers`` processes together, from the first start to the last finish
    (process start-up excluded: a DataLoader keeps its workers for the epoch)."""
    ctx = mp.get_context("fork")
    rates = []
    for _ in range(repeat):
        queue, barrier = ctx.Queue(), ctx.Barrier(workers)
        procs = [
            ctx.Process(target=_proc, args=(out, w, workers, queue, barrier))
            for w in range(workers)
        ]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        span = max(r[2] for r in results) - min(r[1] for r in results)
        rates.append(sum(r[0] for r in results) / span)
    return max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="images per case")
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: temp)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="cxrhub-bench-load-"))
    start = time.perf_counter()
    cases = build(base, args.images)
    took = time.perf_counter() - start
    print(f"built {len(cases)} outputs of {args.images} images in {took:.0f}s under {base}")
    header = ["case", "cxrhub-wds", "cxrhub-pq", "hf", "x", "wds", "x", "files", "x"]
    header += ["collate", "copy", "floor", "x", "collate/fl", "copy/fl"]
    print(" ".join(f"{h:>11}" for h in header))
    for name, case in cases.items():
        out, enc, dtype = case["out"], case["encoding"], case["dtype"]
        ours = timed(lambda o=out: run_cxrhub(o, "webdataset"), args.repeat)
        pq = timed(lambda o=out: run_cxrhub(o, "parquet"), args.repeat)
        hf = timed(lambda o=out, e=enc: run_hf(o, e), max(1, args.repeat // 2))
        wd = timed(lambda o=out, e=enc: run_wds(o, e), args.repeat)
        fl = timed(lambda o=out, e=enc: run_files(o, e), args.repeat)
        row = [ours, pq, hf, ours / hf, wd, ours / wd, fl, ours / fl]
        if enc == "npy":
            coll = timed(lambda o=out: run_cxrhub(o, "webdataset", collate=True), args.repeat)
            copy = timed(lambda o=out: run_cxrhub(o, "webdataset", writable=True), args.repeat)
            pixels = stored_pixels(out, dtype)
            floor = timed(lambda p=pixels: run_floor(p), args.repeat)
            row += [coll, copy, floor, ours / floor, coll / floor, copy / floor]
        print(f"{name:>11} " + " ".join(f"{v:>11.1f}" for v in row))
    print("\n2 worker processes vs 1 (cxrhub-wds, total images/s; CPU is shared with the bench)")
    for name in ("npy u8", "jpeg u8", "png u16"):
        out = cases[name]["out"]
        one = parallel_rate(out, 1, args.repeat)
        two = parallel_rate(out, 2, args.repeat)
        print(f"{name:>10}  1 worker {one:10.1f}  2 workers {two:10.1f}  speed-up {two / one:.2f}x")


if __name__ == "__main__":
    main()
