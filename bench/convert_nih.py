"""Conversion throughput on a synthetic NIH ChestX-ray14 tree of full-size (1024 px) PNGs.

Baseline: the loader a lab writes by hand with ``datasets`` itself -- ``Dataset.from_generator``
over the same rows and image bytes, then ``to_parquet`` per split (no image check, Parquet only, no
resume, no index). cxrhub's figures include its integrity check of every image (PNG chunk CRCs).

    python bench/convert_nih.py --images 400
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

from datasets import Dataset

from cxrhub.builders import _sample, nih_cxr14
from cxrhub.shards.convert import ConvertOptions, collect_records, convert
from cxrhub.shards.schema import output_features, read_example

log = logging.getLogger("bench")


def make_tree(src: Path, images: int, size: int, distinct: int = 16) -> None:
    """The sample layout with ``images`` rows; full-size pictures drawn from ``distinct`` PNGs
    (generating every one at 1024 px would dominate the benchmark's own run time)."""
    nih_cxr14.write_sample(src, extra=images - 8, image_size=8)
    generated = sorted((src / "images").glob("00000[1-9]*.png"))
    for i in range(min(distinct, len(generated))):
        pixels = _sample.synthetic_radiograph(seed=1000 + i, size=(size, size))
        _sample.write_png(generated[i], pixels)
    for i, path in enumerate(generated[distinct:]):
        shutil.copyfile(generated[i % distinct], path)


def baseline(src: Path, out: Path, cache: Path) -> float:
    """``datasets``' own generator + to_parquet, per split; returns seconds."""
    start = time.perf_counter()
    records, _ = collect_records(nih_cxr14, src, "skip")
    features = output_features(nih_cxr14.FEATURES)
    for split in nih_cxr14.SPEC.splits:
        chosen = [r for r in records if r.split == split]

        def rows(chosen=chosen):
            for record in chosen:
                yield read_example_unchecked(record, src)

        ds = Dataset.from_generator(rows, features=features, cache_dir=str(cache))
        ds.to_parquet(str(out / f"{split}.parquet"))
    return time.perf_counter() - start


def read_example_unchecked(record, src: Path) -> dict:
    """The record with its image bytes read as they are (what a hand-written loader does)."""
    path = src / record.media["image"]
    return {
        "key": record.key,
        **record.fields,
        "image": {"bytes": path.read_bytes(), "path": path.name},
    }


def timed_convert(src: Path, out: Path, formats: tuple[str, ...], workers: int) -> float:
    start = time.perf_counter()
    convert(
        "nih-cxr14",
        src,
        out,
        ConvertOptions(formats=formats, max_shard_samples=50),
        workers=workers,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="cxrhub-bench-"))
    src = work / "src"
    if not (src / "images").is_dir():  # a --workdir from an earlier run keeps its tree
        make_tree(src, args.images, args.size)
    mb = sum(p.stat().st_size for p in (src / "images").glob("*.png")) / 1e6
    print(f"{args.images} PNGs of {args.size} px, {mb:.0f} MB, in {src}")
    read_example(next(r for r in collect_records(nih_cxr14, src, "skip")[0]), src)  # warm caches

    runs = {
        "baseline: datasets from_generator + to_parquet": lambda o: baseline(src, o, work / "c")
    }
    runs["cxrhub parquet, 1 worker"] = lambda o: timed_convert(src, o, ("parquet",), 1)
    runs["cxrhub parquet + webdataset, 1 worker"] = lambda o: timed_convert(
        src, o, ("parquet", "webdataset"), 1
    )
    runs["cxrhub parquet + webdataset, 2 workers"] = lambda o: timed_convert(
        src, o, ("parquet", "webdataset"), 2
    )
    base = None
    print(f"{'run':<44} {'seconds':>8} {'images/s':>9} {'vs baseline':>12}")
    for name, run in runs.items():
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        seconds = run(out)
        rate = args.images / seconds
        base = base or rate
        print(f"{name:<44} {seconds:>8.2f} {rate:>9.1f} {rate / base:>11.2f}x")
    if not args.workdir:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
