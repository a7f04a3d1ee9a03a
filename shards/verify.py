"""``verify``: re-hash every shard, re-read every sample, and check both against ``index.json``."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from datasets import Features, Image
from PIL import Image as PILImage

from cxrhub.shards.atomic import sha256_file
from cxrhub.shards.finalize import FORMAT_VERSION, INDEX
from cxrhub.shards.schema import KEY, image_list_fields

__all__ = ["verify"]


def verify(out: Path) -> list[str]:
    """Every problem found in the converted folder ``out`` and in each config converted into a
    subfolder of it (``out/<config>/index.json``, problems prefixed with the config's name); an
    empty list means all holds."""
    out = Path(out)
    configs = [p.parent for p in sorted(out.glob(f"*/{INDEX}"))]
    problems = [] if configs and not (out / INDEX).exists() else _verify_one(out)
    for folder in configs:
        problems += [f"{folder.name}: {p}" for p in _verify_one(folder, folder.name)]
    return problems


def _verify_one(out: Path, config: str | None = None) -> list[str]:
    try:
        index = json.loads((out / INDEX).read_text())
    except (OSError, ValueError) as exc:
        return [f"{out / INDEX}: cannot read the index ({exc})"]
    if index.get("format_version") != FORMAT_VERSION:
        return [
            f"{out / INDEX}: format_version {index.get('format_version')!r}, "
            f"expected {FORMAT_VERSION}"
        ]
    if config is not None and index.get("config") != config:
        return [f"{out / INDEX}: config {index.get('config')!r}, expected {config!r}"]
    features = Features.from_dict(index["features"])
    problems: list[str] = []
    keys: dict[str, Counter] = {fmt: Counter() for fmt in index["options"]["formats"]}
    for split, entry in index["splits"].items():
        for fmt in keys:
            found = 0
            for shard in entry[fmt]:
                shard_keys = _check_shard(out, fmt, shard, features, problems)
                keys[fmt].update(shard_keys)
                found += len(shard_keys)
            if found != entry["samples"]:
                problems.append(
                    f"{fmt} {split}: {found} samples read, index says {entry['samples']}"
                )
    for name in ("manifest", "errors"):
        _check_file(out, index[name], problems)
    _check_manifest(out, index, keys, problems)
    return problems


def _check_file(out: Path, entry: dict, problems: list[str]) -> bool:
    path = out / entry["file"]
    if not path.is_file():
        problems.append(f"{entry['file']}: missing")
        return False
    if "bytes" in entry and path.stat().st_size != entry["bytes"]:
        problems.append(
            f"{entry['file']}: {path.stat().st_size} bytes, index says {entry['bytes']}"
        )
        return False
    if sha256_file(path) != entry["sha256"]:
        problems.append(f"{entry['file']}: sha256 differs from the index (damaged or replaced)")
        return False
    return True


def _check_shard(
    out: Path, fmt: str, shard: dict, features: Features, problems: list[str]
) -> list[str]:
    if not _check_file(out, shard, problems):
        return []
    reader = _read_parquet if fmt == "parquet" else _read_tar
    try:
        keys = reader(out / shard["file"], features)
    except Exception as exc:  # any failure to read back is a finding, not a crash
        problems.append(f"{shard['file']}: cannot be read back ({type(exc).__name__}: {exc})")
        return []
    if len(keys) != shard["samples"]:
        problems.append(f"{shard['file']}: {len(keys)} samples, index says {shard['samples']}")
    return keys


def _image_fields(features: Features) -> list[str]:
    return [name for name, f in features.items() if isinstance(f, Image)]


def _read_parquet(path: Path, features: Features) -> list[str]:
    keys = []
    images, lists = _image_fields(features), image_list_fields(features)
    for batch in pq.ParquetFile(path).iter_batches(batch_size=256):
        rows = batch.to_pylist()
        for row in rows:
            for name in images:
                if row[name] is not None:  # null: a column the source did not provide
                    _open_image(row[name]["bytes"])
            for name in lists:
                for image in row[name] or []:
                    _open_image(image["bytes"])
        keys += [row[KEY] for row in rows]
    return keys


def _read_tar(path: Path, features: Features) -> list[str]:
    expected = {n for n in features if n != KEY}
    samples: dict[str, set[str]] = {}
    with tarfile.open(path) as tar:
        for member in tar:
            key, _, field = member.name.partition(".")
            data = tar.extractfile(member).read()
            name, _, ext = field.partition(".")
            if ext == "json":
                json.loads(data)
            else:
                _open_image(data)
            samples.setdefault(key, set()).add(name)
    for key, fields in samples.items():
        if fields != expected:
            raise ValueError(
                f"sample {key} has members {sorted(fields)}, expected {sorted(expected)}"
            )
    return list(samples)


def _open_image(data: bytes) -> None:
    with PILImage.open(io.BytesIO(data)) as image:
        image.load()


def _check_manifest(out: Path, index: dict, keys: dict[str, Counter], problems: list[str]) -> None:
    try:
        rows = [json.loads(line) for line in (out / index["manifest"]["file"]).open()]
    except (OSError, ValueError) as exc:
        problems.append(f"{index['manifest']['file']}: cannot be read ({exc})")
        return
    listed = Counter(r["key"] for r in rows if r["status"] == "ok")
    sources = Counter(r["source"] for r in rows)
    problems += [f"manifest: source {s} listed {n} times" for s, n in sources.items() if n > 1]
    for fmt, found in keys.items():
        problems += [f"{fmt}: sample {k} appears {n} times" for k, n in found.items() if n > 1]
        missing = sorted(set(listed) - set(found))
        extra = sorted(set(found) - set(listed))
        if missing:
            problems.append(f"{fmt}: {len(missing)} manifest samples missing, e.g. {missing[:3]}")
        if extra:
            problems.append(f"{fmt}: {len(extra)} samples not in the manifest, e.g. {extra[:3]}")
