"""``convert``: a local download in, a hub-ready folder of Parquet and WebDataset shards out.

Steps: check the layout (before any work), collect and validate records, plan shards, skip the
shards a previous run finished, write the rest, then finalize: manifest, errors, card, and
``index.json`` last.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from cxrhub import builders
from cxrhub.builders._spec import Record
from cxrhub.shards import finalize
from cxrhub.shards.atomic import remove_temps, write_json
from cxrhub.shards.errors import BadInputError, CxrhubError, OutputError
from cxrhub.shards.executors import LocalExecutor
from cxrhub.shards.plan import ShardTask, plan_shards
from cxrhub.shards.schema import KEY_PATTERN
from cxrhub.shards.worker import POLICIES, handle_bad_input

__all__ = ["FORMATS", "ConvertOptions", "ConvertResult", "convert"]

logger = logging.getLogger(__name__)
FORMATS = ("parquet", "webdataset")
STATE_DIR = ".cxrhub"


@dataclass(frozen=True)
class ConvertOptions:
    """What shapes the output (recorded in ``index.json``); the worker count does not."""

    formats: tuple[str, ...] = FORMATS
    on_error: str = "warn"
    max_shard_samples: int = 10_000
    max_shard_bytes: int = 500 * 1000**2
    row_group_bytes: int = 100 * 1000**2
    decode_timeout: float = 120.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown or not self.formats:
            raise ValueError(f"formats {list(self.formats)}: choose from {', '.join(FORMATS)}")
        if self.on_error not in POLICIES:
            raise ValueError(f"on_error {self.on_error!r}: choose from {', '.join(POLICIES)}")
        if min(self.max_shard_samples, self.max_shard_bytes, self.row_group_bytes) < 1:
            raise ValueError("shard and row-group sizes must be positive")

    def to_dict(self) -> dict:
        """The options as recorded in ``index.json``."""
        return {
            "formats": [f for f in FORMATS if f in self.formats],
            "on_error": self.on_error,
            "max_shard_samples": self.max_shard_samples,
            "max_shard_bytes": self.max_shard_bytes,
            "row_group_bytes": self.row_group_bytes,
            "decode_timeout": self.decode_timeout,
        }


@dataclass
class ConvertResult:
    """What a finished run produced."""

    out: Path
    samples: int
    errors: list[dict] = field(default_factory=list)
    shards_written: int = 0
    shards_reused: int = 0


def convert(
    dataset: str,
    src: Path,
    out: Path,
    options: ConvertOptions | None = None,
    *,
    workers: int = 1,
    source_options: dict[str, str] | None = None,
) -> ConvertResult:
    """Convert the download at ``src`` into ``out``; rerunning resumes where a run stopped.

    ``source_options`` are the builder's own (``OPTIONS``), e.g. a second release's root to join.
    """
    options = options or ConvertOptions()
    module = builders.load(dataset)
    if not builders.is_convertible(module):
        raise CxrhubError(
            f"{dataset}: conversion is not implemented yet; `cxrhub list` shows status"
        )
    src, out = Path(src), Path(out)
    extra = builders.source_options(module, source_options)
    layout = module.check(src, **extra)
    _claim_output(out)
    records, plan_errors = collect_records(module, src, options.on_error, extra)
    tasks = plan_shards(
        records, module.SPEC.splits, src,
        max_samples=options.max_shard_samples, max_bytes=options.max_shard_bytes,
    )  # fmt: skip
    run_options = {"dataset": dataset, "src": str(src), "out": str(out), **options.to_dict()}
    shape = {k: run_options[k] for k in ("dataset", "formats", "row_group_bytes")}
    removed = remove_temps(out)
    if removed:
        logger.info("removed %d temp files left by an interrupted run", removed)
    results, pending = _load_markers(out, tasks, shape)
    logger.info("%d shards planned, %d already written", len(tasks), len(results))

    def on_shard(result: dict) -> None:
        task = next(t for t in pending if t.name == result["task"])
        result["fingerprint"] = task.fingerprint(shape)
        write_json(_marker(out, task), result)
        results[task.name] = result

    LocalExecutor(workers).run(
        pending, run_options, on_shard, total_samples=sum(len(t.records) for t in pending)
    )
    errors = finalize.write_outputs(
        out, module, tasks, results, plan_errors, layout=layout, options=options.to_dict()
    )
    samples = sum(len(r["samples"]) for r in results.values())
    return ConvertResult(out, samples, errors, len(pending), len(tasks) - len(pending))


def collect_records(
    module, src: Path, policy: str, source_options: dict | None = None
) -> tuple[list[Record], list[dict]]:
    """The builder's records, with table errors, unknown splits and duplicate keys set aside."""
    records: dict[str, Record] = {}
    errors: list[dict] = []
    splits = module.SPEC.splits
    for item in module.iter_records(src, **(source_options or {})):
        problem = (
            item if isinstance(item, BadInputError) else _record_problem(item, splits, records)
        )
        if problem is not None:
            errors.append(handle_bad_input(problem, policy, getattr(item, "key", None)))
        else:
            records[item.key] = item
    return list(records.values()), errors


def _record_problem(record: Record, splits: tuple[str, ...], seen: dict) -> BadInputError | None:
    if not KEY_PATTERN.match(record.key):
        return BadInputError(record.source, "plan", f"sample key {record.key!r} is not dot-free")
    if record.split not in splits:
        return BadInputError(
            record.source, "plan", f"in no split list (split {record.split!r}, expected {splits})"
        )
    if record.key in seen:
        return BadInputError(
            record.source,
            "plan",
            f"duplicate sample key {record.key!r} (first from {seen[record.key].source})",
        )
    return None


def _claim_output(out: Path) -> None:
    if out.exists() and any(out.iterdir()) and not (out / STATE_DIR).is_dir():
        raise OutputError(
            f"{out}: exists, is not empty and holds no cxrhub conversion; choose a new folder"
        )
    (out / STATE_DIR / "shards").mkdir(parents=True, exist_ok=True)


def _marker(out: Path, task: ShardTask) -> Path:
    return out / STATE_DIR / "shards" / f"{task.name}.json"


def _load_markers(out: Path, tasks: list[ShardTask], shape: dict) -> tuple[dict, list[ShardTask]]:
    """Finished shards (marker, matching fingerprint, files present at their size) and the rest."""
    results, pending = {}, []
    for task in tasks:
        marker = _marker(out, task)
        result = json.loads(marker.read_text()) if marker.is_file() else None
        if (
            result
            and result.get("fingerprint") == task.fingerprint(shape)
            and all(
                (out / f["file"]).is_file() and (out / f["file"]).stat().st_size == f["bytes"]
                for f in result["files"].values()
            )
        ):
            results[task.name] = result
        else:
            pending.append(task)
    return results, pending
