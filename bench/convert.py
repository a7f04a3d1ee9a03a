"""Full-conversion throughput, worker scaling and peak memory on a synthetic MIMIC-CXR tree.

The tree is the MIMIC-CXR sample layout with ``--images`` more studies of realistic size and
content: real radiograph pixels (RG1 from pydicom-data, resized to ``--size``, 12-bit, MONOCHROME1
and MONOCHROME2 alternating) in uncompressed DICOMs, hard-linked past the first few distinct ones
so a 10x tree costs no disk. Each image becomes what ``cxrhub convert mimic-cxr`` writes: a
lossless 16-bit HTJ2K archival copy, a 512 px JPEG training copy and the allow-listed header, in
Parquet and WebDataset, with manifest, card and index.

Printed beside each other, from the same run:

- baseline: the CheXpert Plus release's DICOM->JPG listing on the same files (pydicom
  ``pixel_array``, float min-max to 8 bits, ``cv2.equalizeHist``, ``cv2.imwrite``): one
  full-size 8-bit JPEG per image and nothing else (needs ``pip install cxrhub[bench]``);
- cxrhub with 1 worker (images/s per core) and 2 workers;
- peak RSS of the conversion's processes at 1x and 10x the images (1 worker).

Every run uses ``--shard-multiple 2`` (the plan a 2-worker machine would use), so 1 and 2 workers
write the same shards. Each conversion runs in a fresh interpreter that first converts the
6-image sample once, so imports and the card's plotting library are warm; worker start-up stays
in the figure.

    python bench/convert.py --images 48
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom import uid
from pydicom.data import get_testdata_file

from cxrhub.builders import _sample, mimic_cxr

DISTINCT = 6


def realistic(rows: int, cols: int) -> list[np.ndarray]:
    """RG1's pixels at ``rows`` x ``cols``, 12-bit, in a few flips (distinct files)."""
    rg1 = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm")).pixel_array.astype(np.float32)
    big = np.asarray(Image.fromarray(rg1).resize((cols, rows), Image.Resampling.BILINEAR))
    big = (big / big.max() * 4095).round().astype(np.uint16)
    return [big, big[:, ::-1], big[::-1], big[::-1, ::-1], np.roll(big, 97, 1), np.roll(big, 61)]


def make_tree(src: Path, images: int, rows: int, cols: int) -> list[Path]:
    """The sample layout plus ``images`` studies; returns the full-size files."""
    mimic_cxr.write_sample(src, extra=images, image_size=8)
    generated = sorted(src.glob("files/p12/*/s*/*.dcm"))
    for i, (path, pixels) in enumerate(zip(generated, realistic(rows, cols), strict=False)):
        photometric = "MONOCHROME1" if i % 2 else "MONOCHROME2"
        _sample.write_dicom(path, pixels, uid.ExplicitVRLittleEndian, bits_stored=12,
                            photometric=photometric)  # fmt: skip
    for i, path in enumerate(generated[DISTINCT:]):
        path.unlink()
        os.link(generated[i % DISTINCT], path)
    return generated


def listing(paths: list[Path], out: Path) -> float:
    """The CheXpert Plus release's DICOM->JPG listing, timed over ``paths``."""
    import cv2

    out.mkdir(exist_ok=True)
    start = time.perf_counter()
    for i, path in enumerate(paths):
        a = pydicom.dcmread(path).pixel_array.astype(np.float64)
        a = ((a - a.min()) / (a.max() - a.min()) * 255).astype(np.uint8)
        cv2.imwrite(str(out / f"{i}.jpg"), cv2.equalizeHist(a))
    return time.perf_counter() - start


def child(src: str, out: str, workers: int, warm: str) -> None:
    """Run in a fresh interpreter: warm up on the small sample, then the timed conversion."""
    from cxrhub.shards.convert import ConvertOptions, convert

    logging.basicConfig(level=logging.WARNING)
    mimic_cxr.write_sample(Path(warm) / "src")
    convert("mimic-cxr", Path(warm) / "src", Path(warm) / "out", workers=workers)
    start = time.perf_counter()
    options = ConvertOptions(shard_multiple=2)  # the same two-shard-per-split plan for 1 and 2
    result = convert("mimic-cxr", Path(src), Path(out), options, workers=workers)
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "samples": result.samples, "rss_kb": max(own, kids)}))


def run_child(src: Path, out: Path, workers: int, work: Path) -> dict:
    warm = Path(tempfile.mkdtemp(dir=work, prefix="warm-"))
    command = [sys.executable, __file__, "--child", str(src), str(out), str(workers), str(warm)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    shutil.rmtree(warm)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--size", default="2544x3056", help="COLUMNSxROWS (MIMIC-CXR: 2544x3056)")
    parser.add_argument("--rss-factor", type=int, default=10)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child[:2], int(args.child[2]), args.child[3])
    cols, rows = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="cxrhub-bench-convert-"))
    try:
        report(work, args.images, rows, cols, args.rss_factor)
    finally:
        shutil.rmtree(work)


def report(work: Path, images: int, rows: int, cols: int, factor: int) -> None:
    paths = make_tree(work / "src", images, rows, cols)
    mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{images} DICOMs {cols}x{rows} (12-bit RG1 pixels, uncompressed, {mb:.0f} MB) + 6 small")
    base = images / listing(paths, work / "jpg")
    runs = {w: run_child(work / "src", work / f"out{w}", w, work) for w in (1, 2)}
    print(f"{'run':<52} {'images/s':>9} {'ratio':>8}")
    print(f"{'baseline: CheXpert Plus DICOM->JPG listing, 1 core':<52} {base:>9.2f} {'1.00x':>8}")
    rate = {w: r["samples"] / r["seconds"] for w, r in runs.items()}
    for w in (1, 2):
        print(f"{f'cxrhub convert, {w} worker(s), vs baseline':<52} {rate[w]:>9.2f} "
              f"{rate[w] / base:>7.2f}x")  # fmt: skip
    print(f"{'cxrhub 2 workers vs 1':<52} {'':>9} {rate[2] / rate[1]:>7.2f}x")
    big = work / "big"
    make_tree(big, images * factor, rows, cols)
    one = runs[1]["rss_kb"] / 1024
    many = run_child(big, work / "outbig", 1, work)["rss_kb"] / 1024
    print(f"peak RSS, 1 worker: {one:.0f} MB at {images} images, {many:.0f} MB at "
          f"{images * factor} images: {many / one:.2f}x growth")  # fmt: skip


if __name__ == "__main__":
    main()
