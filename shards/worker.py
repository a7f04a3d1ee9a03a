"""Shard processing: ``run(items, rank, world_size, options, report)`` writes this rank's shards.

Workers get plain data (shard tasks of records, an options dict of paths and numbers) and report
back through ``report(kind, payload)``: ``("samples", n)`` as they go and ``("shard", result)``
once a shard's files are published. They never write resume markers; executors do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from cxrhub import builders
from cxrhub.shards.atomic import sha256_file
from cxrhub.shards.errors import BadInputError, ConversionStopped
from cxrhub.shards.plan import ShardTask
from cxrhub.shards.schema import build_example, image_list_fields, output_features, tar_members
from cxrhub.shards.writers import ParquetShardWriter, TarShardWriter

__all__ = ["Report", "handle_bad_input", "run", "write_shard"]

logger = logging.getLogger(__name__)
Report = Callable[[str, object], None]
POLICIES = ("error", "warn", "skip")


def run(items: list[ShardTask], rank: int, world_size: int, options: dict, report: Report) -> None:
    """Write the shards ``items[rank::world_size]``."""
    module = builders.load(options["dataset"])
    config = options.get("config", builders.DEFAULT_CONFIG)
    features = output_features(builders.config(module, config)[0])
    for task in items[rank::world_size]:
        report("shard", write_shard(task, options, features, report))


def handle_bad_input(error: BadInputError, policy: str, key: str | None = None) -> dict:
    """Apply the error policy to one bad input; return its ``errors.jsonl`` row."""
    if policy == "error":
        raise ConversionStopped(
            f"stopped at the first bad input (--on-error error): {error}"
        ) from error
    if policy == "warn":
        logger.warning("%s", error)
    return error.to_row(key)


def write_shard(task: ShardTask, options: dict, features, report: Report) -> dict:
    """Build every example of ``task`` once and write it to each requested format."""
    out, root = Path(options["out"]), Path(options["src"])
    writers = _open_writers(task, options, features, out)
    samples, errors, members = [], [], {}
    try:
        for record in task.records:
            try:
                example = build_example(record, root, features, options.get("decode_timeout"))
            except BadInputError as exc:
                errors.append(handle_bad_input(exc, options["on_error"], record.key))
            else:
                for writer in writers.values():
                    writer.write(example)
                if not members and not image_list_fields(features):  # lists: no tar form
                    members = {m.split(".")[0]: m for m in tar_members(example, features)}
                samples.append({"key": record.key, "source": record.source})
            report("samples", 1)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    files = {}
    for fmt, writer in writers.items():
        writer.close()
        rel = task.parquet_file if fmt == "parquet" else task.tar_file
        path = out / rel
        files[fmt] = {
            "file": rel,
            "samples": writer.samples,
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }
    members.pop("__key__", None)
    return {
        "task": task.name,
        "files": files,
        "samples": samples,
        "errors": errors,
        "members": members,
    }


def _open_writers(task: ShardTask, options: dict, features, out: Path) -> dict:
    writers = {}
    if "parquet" in options["formats"]:
        writers["parquet"] = ParquetShardWriter(
            out / task.parquet_file, features, row_group_bytes=options["row_group_bytes"]
        )
    if "webdataset" in options["formats"]:
        writers["webdataset"] = TarShardWriter(out / task.tar_file, features)
    return writers
