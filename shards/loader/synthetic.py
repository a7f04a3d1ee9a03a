"""Small converted-looking outputs built directly with the shard writers (tests and benchmarks).

:func:`write_output` writes ``index.json``, ``manifest.jsonl``, Parquet shards and WebDataset
tars in the layout :func:`cxrhub.shards.convert.convert` produces, from examples a callable
makes one at a time, so an output of any image encoding (``npy``, 8/16-bit PNG, JPEG, HTJ2K)
and any size can be built in seconds without a synthetic download and a conversion.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from datasets import Features, Image, List, Value

from cxrhub.builders._labels import CHEXPERT_14
from cxrhub.shards.atomic import dumps, sha256_file, write_json, write_text
from cxrhub.shards.dicom.encode import encode_archival, encode_variant
from cxrhub.shards.schema import tar_members
from cxrhub.shards.writers import ParquetShardWriter, TarShardWriter

__all__ = [
    "ENCODINGS",
    "converted_sample",
    "encode",
    "features",
    "synthetic_image",
    "write_output",
]

ENCODINGS = ("npy", "png", "jpeg", "htj2k", "png16")
FORMATS = ("parquet", "webdataset")


@functools.cache
def converted_sample(name: str, max_shard_samples: int = 1) -> Path:
    """A builder's synthetic download converted by the real pipeline (``convert``) into a
    temporary folder: cached per process, removed at exit. Small shards give many shards."""
    from cxrhub import builders
    from cxrhub.shards.convert import ConvertOptions, convert

    base = Path(tempfile.mkdtemp(prefix=f"cxrhub-loader-{name}-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    module = builders.load(name)
    src = module.write_sample(base / "src")
    extra = {k: str(src / v) for k, v in getattr(module, "SAMPLE_OPTIONS", {}).items()}
    options = ConvertOptions(max_shard_samples=max_shard_samples, decode_timeout=0)
    result = convert(name, src, base / "out", options, source_options=extra)
    if result.errors:
        raise RuntimeError(f"{name}: the sample conversion reported {result.errors}")
    return base / "out"


def features(label: str | None = "labels") -> Features:
    """``key``, ``image`` and (unless ``label`` is None) one CheXpert-14 label family."""
    columns = {"key": Value("string"), "image": Image()}
    if label is not None:
        columns[label] = List(Value("int8"), length=len(CHEXPERT_14))
    return Features(columns)


def synthetic_image(seed: int, size: int = 512, dtype: type = np.uint8) -> np.ndarray:
    """A smooth, chest-film-like gradient with mild noise (compresses like a real image)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = 0.5 + 0.25 * np.sin(6 * x + seed) * np.cos(4 * y) + 0.2 * (y - 0.5)
    noise = rng.normal(0, 0.01, (size, size)).astype(np.float32)
    limit = np.iinfo(dtype).max
    return np.clip((base + noise) * limit, 0, limit).astype(dtype)


def encode(arr: np.ndarray, encoding: str) -> dict:
    """An Image cell ``{"bytes", "path"}`` of ``arr`` in ``encoding`` (see :data:`ENCODINGS`)."""
    if encoding in ("htj2k", "png16"):
        data, ext = encode_archival(arr, encoding)
    elif encoding in ("npy", "png", "jpeg"):
        data, ext = encode_variant(arr, encoding)
    else:
        raise ValueError(f"encoding {encoding!r}: choose from {ENCODINGS}")
    return {"bytes": data, "path": f"image.{ext}"}


def write_output(
    out: Path,
    make: Callable[[int], dict],
    count: int,
    feats: Features,
    *,
    split: str = "train",
    dataset: str = "synthetic",
    max_shard_samples: int = 100,
    formats: tuple[str, ...] = FORMATS,
) -> dict:
    """Write ``count`` examples ``make(0..count-1)`` as one split; return the index.

    ``make(i)`` returns an unencoded example for ``feats`` (``key`` first; images as
    ``{"bytes", "path"}`` cells, e.g. from :func:`encode`).
    """
    out = Path(out)
    shards = -(-count // max_shard_samples) if count else 0
    files: dict[str, list[dict]] = {fmt: [] for fmt in formats}
    manifest, members = [], {}
    for shard in range(shards):
        names = {
            "parquet": f"data/{split}-{shard:05d}-of-{shards:05d}.parquet",
            "webdataset": f"webdataset/{split}-{shard:06d}.tar",
        }
        writers = _writers(out, names, feats, formats)
        rows = range(shard * max_shard_samples, min(count, (shard + 1) * max_shard_samples))
        for i in rows:
            example = feats.encode_example(make(i))
            members = members or _member_names(example, feats)
            for writer in writers.values():
                writer.write(example)
            manifest.append({"key": example["key"], "split": split, "status": "ok"})
            manifest[-1].update({fmt: names[fmt] for fmt in formats})
        for fmt, writer in writers.items():
            writer.close()
            files[fmt].append(_entry(out, names[fmt], len(rows)))
    return _finish(out, dataset, feats, split, count, files, members, manifest)


def _writers(out: Path, names: dict, feats: Features, formats: tuple[str, ...]) -> dict:
    writers = {}
    for fmt in formats:
        path = out / names[fmt]
        path.parent.mkdir(parents=True, exist_ok=True)
        writers[fmt] = (
            ParquetShardWriter(path, feats, row_group_bytes=16 * 1000**2)
            if fmt == "parquet"
            else TarShardWriter(path, feats)
        )
    return writers


def _member_names(example: dict, feats: Features) -> dict[str, str]:
    names = [n for n in tar_members(example, feats) if n != "__key__"]
    return {name.split(".", 1)[0]: name for name in names}


def _entry(out: Path, file: str, samples: int) -> dict:
    path = out / file
    return {
        "bytes": path.stat().st_size,
        "file": file,
        "samples": samples,
        "sha256": sha256_file(path),
    }


def _finish(
    out: Path,
    dataset: str,
    feats: Features,
    split: str,
    count: int,
    files: dict,
    members: dict,
    manifest: list[dict],
) -> dict:
    write_text(out / "manifest.jsonl", "".join(dumps(row) + "\n" for row in manifest))
    index = {
        "format_version": 1,
        "dataset": dataset,
        "features": feats.to_dict(),
        "splits": {split: {"samples": count, **files}},
        "webdataset_members": members,
        "manifest": {
            "file": "manifest.jsonl",
            "rows": len(manifest),
            "sha256": sha256_file(out / "manifest.jsonl"),
        },
    }
    write_json(out / "index.json", index)
    return index
