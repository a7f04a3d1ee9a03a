"""Conversion throughput on a synthetic MIMIC-CXR tree of full-size uncompressed DICOMs.

Each image becomes a lossless 16-bit HTJ2K archival copy, a 512 px JPEG training copy and an
allow-listed header, in Parquet and WebDataset. Baselines, run on the same files in the same run:

- mimic-jpg recipe: the official MIMIC-CXR-JPG / CheXpert Plus DICOM->JPG listing (pydicom
  ``pixel_array``, min-max to 8 bits, invert MONOCHROME1, ``cv2.equalizeHist``, ``cv2.imwrite``
  q95): one full-size 8-bit JPEG per image and nothing else (needs opencv-python-headless);
- pydicom decode only: ``dcmread().pixel_array``.

    python bench/convert_mimic.py --images 48 --size 2544x3056
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom import uid

from cxrhub.builders import _sample, mimic_cxr
from cxrhub.shards.convert import ConvertOptions, convert


def make_tree(src: Path, images: int, rows: int, cols: int, distinct: int = 6) -> list[Path]:
    """The sample layout with ``images`` more studies; pixels drawn from ``distinct`` radiographs
    (12-bit, MONOCHROME2 and MONOCHROME1) since generating each at full size dominates."""
    mimic_cxr.write_sample(src, extra=images, image_size=8)
    generated = sorted(src.glob("files/p12/*/s*/*.dcm"))
    for i, path in enumerate(generated[:distinct]):
        pixels = _sample.synthetic_radiograph(seed=100 + i, size=(cols, rows)).astype(np.uint16)
        _sample.write_dicom(path, pixels * 16, uid.ExplicitVRLittleEndian, bits_stored=12,
                            photometric="MONOCHROME1" if i % 2 else "MONOCHROME2")  # fmt: skip
    for i, path in enumerate(generated[distinct:]):
        shutil.copyfile(generated[i % distinct], path)
    return generated


def official_recipe(paths: list[Path], out: Path) -> float:
    import cv2

    start = time.perf_counter()
    for i, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        a = ds.pixel_array.astype(np.float64)
        a = ((a - a.min()) / (a.max() - a.min()) * 255).astype(np.uint8)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            a = cv2.bitwise_not(a)
        cv2.imwrite(str(out / f"{i}.jpg"), cv2.equalizeHist(a), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return time.perf_counter() - start


def decode_only(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        _ = pydicom.dcmread(path).pixel_array
    return time.perf_counter() - start


def cxrhub(src: Path, out: Path, workers: int) -> float:
    start = time.perf_counter()
    convert("mimic-cxr", src, out, ConvertOptions(max_shard_samples=8), workers=workers)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--size", default="2544x3056", help="COLUMNSxROWS")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cols, rows = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="cxrhub-mimic-"))
    paths = make_tree(work / "src", args.images, rows, cols)
    total = args.images + 6  # plus the six small hand-written sample images
    mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{args.images} DICOMs of {cols}x{rows} (12-bit, uncompressed, {mb:.0f} MB) + 6 small")
    (work / "jpg").mkdir()
    runs = {
        "baseline: mimic-jpg recipe (1 JPEG only)": official_recipe(paths, work / "jpg"),
        "baseline: pydicom decode only": decode_only(paths),
    }
    for workers in (1, 2):
        runs[f"cxrhub convert, {workers} worker(s)"] = cxrhub(
            work / "src", work / f"o{workers}", workers
        )
    base = args.images / runs["baseline: mimic-jpg recipe (1 JPEG only)"]
    print(f"{'run':<44} {'seconds':>8} {'images/s':>9} {'vs recipe':>10}")
    for name, seconds in runs.items():
        n = total if name.startswith("cxrhub") else args.images
        print(f"{name:<44} {seconds:>8.2f} {n / seconds:>9.2f} {n / seconds / base:>9.2f}x")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
