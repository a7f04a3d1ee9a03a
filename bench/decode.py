"""DICOM decode throughput per transfer syntax, beside named baselines measured in the same run.

Images: RG1 (pydicom-data, Philips CR 1955x1841, 15-bit, MONOCHROME1) and SYN (RG1 resized to
3000x2500 and scaled to 12 bits: a full-size radiograph), each written in every lossless syntax.

Columns (images/s on one core; ratios are cxrhub / baseline):
- cxrhub:   ``cxrhub.shards.dicom.read`` (strict parse + fastest backend + checks)
- codec:    the fastest codec alone on the already-extracted frame (the floor for that syntax)
- pydicom:  ``pydicom.dcmread(path).pixel_array`` with the installed plugins (the default)
- chexpert+: the CheXpert Plus release's DICOM->JPG listing: pydicom, cv2 min-max to 8 bits,
  equalizeHist, imwrite JPEG (needs opencv-python-headless)
- floor:    reading the whole file into numpy arrays (first 8 KB, then the rest; page cache)
- cold:     cxrhub and the floor again, each file's pages dropped from the page cache before every
  timed call (``posix_fadvise(DONTNEED)``): a conversion reads each file once, from storage

Then 2 processes vs 1 on the whole set. Every process first keeps freed memory for reuse
(``cxrhub.shards.heap``), as the conversion's decode processes do, so each column's figure is not
a measure of fresh-page faults on its 15 MB output.

    python bench/decode.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom import uid
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames

from cxrhub.builders._sample import write_dicom
from cxrhub.shards.dicom.backends import choose
from cxrhub.shards.dicom.read import read
from cxrhub.shards.heap import reuse_freed_memory

SYNTAXES = {
    "uncompressed": uid.ExplicitVRLittleEndian,
    "RLE": uid.RLELossless,
    "JPEG lossless SV1": uid.JPEGLosslessSV1,
    "JPEG-LS lossless": uid.JPEGLSLossless,
    "J2K lossless": uid.JPEG2000Lossless,
    "HTJ2K lossless": uid.HTJ2KLossless,
}


def images() -> dict[str, tuple[np.ndarray, int]]:
    rg1 = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm")).pixel_array
    syn = np.asarray(Image.fromarray(rg1.astype(np.float32)).resize((2500, 3000), Image.BILINEAR))
    syn = (syn / syn.max() * 4095).round().astype(np.uint16)
    return {"RG1": (rg1, 15), "SYN": (syn, 12)}


def rates(cases: dict, repeat: int) -> dict[str, float]:
    """Calls per second of each ``name: (fn, before)`` case: after one warm call each (page
    cache, imports, codec tables), ``repeat`` interleaved rounds of one timed call per case
    (``before()`` untimed first), so a slow phase of the machine hits every case alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn, _ in cases.values():
        fn()
    for _ in range(repeat):
        for name, (fn, before) in cases.items():
            if before is not None:
                before()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1 / statistics.median(t) for name, t in times.items()}


def codec_only(path: Path):
    """The first backend on a frame already in memory (native: the in-RAM copy into an array)."""
    ds = pydicom.dcmread(path)
    if not ds.file_meta.TransferSyntaxUID.is_encapsulated:
        data = ds.PixelData
        return lambda: np.frombuffer(data, dtype=np.uint16).copy()
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    backend = choose(str(ds.file_meta.TransferSyntaxUID))[0]
    return lambda: backend.decode(ds, frame)


def chexpert_plus_listing(path: Path, out: Path):
    import cv2

    def run() -> None:
        a = pydicom.dcmread(path).pixel_array.astype(np.float64)
        a = ((a - a.min()) / (a.max() - a.min()) * 255).astype(np.uint8)
        cv2.imwrite(str(out), cv2.equalizeHist(a))

    return run


def drop_cache(path: Path):
    """Evict ``path`` from the page cache (Linux), so the next read comes from storage."""

    def drop() -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages (a file just written) are not dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    return drop


def floor(path: Path):
    """The file's bytes in a numpy array: the first 8 KB, then the rest in one read (from a cold
    cache this beats one read of the whole file by 1.2-1.7x here: the kernel's readahead starts)."""

    def run() -> tuple[np.ndarray, np.ndarray]:
        with path.open("rb") as f:
            head = np.frombuffer(f.read(8192), dtype=np.uint8)
            return head, np.fromfile(f, dtype=np.uint8)

    return run


def _read_one(path: Path) -> int:
    return read(path)[0].size


def scaling(paths: list[Path], copies: int) -> tuple[float, float]:
    """Seconds for ``copies`` reads of each file: in this process, then over 2 processes."""
    work = [p for p in paths for _ in range(copies)]
    for p in paths:
        _read_one(p)
    start = time.perf_counter()
    for p in work:
        _read_one(p)
    one = time.perf_counter() - start
    with ProcessPoolExecutor(2, initializer=reuse_freed_memory) as pool:
        list(pool.map(_read_one, paths * 2))  # both workers started and warm
        start = time.perf_counter()
        list(pool.map(_read_one, work, chunksize=1))
        two = time.perf_counter() - start
    return one, two


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    reuse_freed_memory()
    work = Path(tempfile.mkdtemp(prefix="cxrhub-decode-"))
    header = (
        f"{'image':<5} {'syntax':<18} {'MB':>5} {'cxrhub':>7} {'codec':>7} {'pydicom':>8} "
        f"{'chexp+':>7} {'floor':>7}   {'vs codec':>8} {'vs pydicom':>10} {'vs chexp+':>9} "
        f"{'vs floor':>8}   {'cold':>6} {'floor':>6} {'vs floor':>8}"
    )
    print("images/s on one core\n" + header)
    all_paths = []
    for image, (pixels, bits) in images().items():
        for label, ts in SYNTAXES.items():
            path = write_dicom(work / f"{image}-{label}.dcm".replace(" ", "_"), pixels, ts,
                               photometric="MONOCHROME1", bits_stored=bits)  # fmt: skip
            all_paths.append(path)
            cases = {
                "cxrhub": (lambda p=path: read(p), None),
                "codec": (codec_only(path), None),
                "pydicom": (lambda p=path: pydicom.dcmread(p).pixel_array, None),
                "chexp+": (chexpert_plus_listing(path, work / "x.jpg"), None),
                "floor": (floor(path), None),
                "cold": (lambda p=path: read(p), drop_cache(path)),
                "cold floor": (floor(path), drop_cache(path)),
            }
            r = rates(cases, args.repeat)
            mb = path.stat().st_size / 1e6
            print(
                f"{image:<5} {label:<18} {mb:>5.1f} {r['cxrhub']:>7.1f} {r['codec']:>7.1f} "
                f"{r['pydicom']:>8.1f} {r['chexp+']:>7.1f} {r['floor']:>7.0f}   "
                f"{r['cxrhub'] / r['codec']:>8.2f} {r['cxrhub'] / r['pydicom']:>10.2f} "
                f"{r['cxrhub'] / r['chexp+']:>9.2f} {r['cxrhub'] / r['floor']:>8.2f}   "
                f"{r['cold']:>6.1f} {r['cold floor']:>6.1f} {r['cold'] / r['cold floor']:>8.2f}"
            )
    fast = [p for p in all_paths if "J2K_lossless" not in p.name or "HTJ2K" in p.name]
    one, two = scaling(fast, 4)
    print(f"\n{len(fast)} files x 4 (all but J2K): 1 process {one:.2f} s, 2 processes {two:.2f} s")
    print(f"2 processes vs 1: {one / two:.2f}x")


if __name__ == "__main__":
    main()
