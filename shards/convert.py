"""``convert``: a local download in, a hub-ready folder of Parquet and WebDataset shards out.

Steps: check the layout (before any work), collect and validate records, plan shards, skip the
shards a previous run finished, write the rest, then finalize: manifest, errors, card, and
``index.json`` last.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cxrhub import builders
from cxrhub.builders._spec import Record
from cxrhub.shards import finalize
from cxrhub.shards.atomic import remove_temps, write_json
from cxrhub.shards.errors import BadInputError, CxrhubError, OutputError
from cxrhub.shards.executors import Executor, make_executor
from cxrhub.shards.plan import ShardTask, plan_shards
from cxrhub.shards.remote_out import is_url, upload
from cxrhub.shards.schema import KEY_PATTERN, image_list_fields
from cxrhub.shards.worker import POLICIES, handle_bad_input

__all__ = ["FORMATS", "ConvertOptions", "ConvertResult", "convert"]

logger = logging.getLogger(__name__)
FORMATS = ("parquet", "webdataset")
STATE_DIR = ".cxrhub"


@dataclass(frozen=True)
class ConvertOptions:
    """What shapes the output (recorded in ``index.json``); the worker count does not.

    ``max_shard_bytes`` bounds a shard's estimated output bytes (``plan.output_bytes``: files
    kept as released count whole, DICOM archival copies about a third), so tar and Parquet shards
    land near 1 GB. ``shard_multiple`` N makes each split's shard count a multiple of N.
    """

    formats: tuple[str, ...] = FORMATS
    on_error: str = "warn"
    max_shard_samples: int = 10_000
    max_shard_bytes: int = 1000**3
    row_group_bytes: int = 100 * 1000**2
    decode_timeout: float = 120.0
    shard_multiple: int = 1

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown or not self.formats:
            raise ValueError(f"formats {list(self.formats)}: choose from {', '.join(FORMATS)}")
        if self.on_error not in POLICIES:
            raise ValueError(f"on_error {self.on_error!r}: choose from {', '.join(POLICIES)}")
        sizes = (self.max_shard_samples, self.max_shard_bytes, self.row_group_bytes)
        if min(sizes) < 1:
            raise ValueError("shard and row-group sizes must be positive")
        if self.shard_multiple < 1:
            raise ValueError(f"shard_multiple must be >= 1, got {self.shard_multiple}")

    def to_dict(self) -> dict:
        """The options as recorded in ``index.json``."""
        return {
            "formats": [f for f in FORMATS if f in self.formats],
            "on_error": self.on_error,
            "max_shard_samples": self.max_shard_samples,
            "max_shard_bytes": self.max_shard_bytes,
            "row_group_bytes": self.row_group_bytes,
            "decode_timeout": self.decode_timeout,
            "shard_multiple": self.shard_multiple,
        }

    def plan_options(self) -> dict:
        """The keyword arguments of :func:`~cxrhub.shards.plan.plan_shards`."""
        return {
            "max_samples": self.max_shard_samples,
            "max_bytes": self.max_shard_bytes,
            "multiple": self.shard_multiple,
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
    out: Path | str,
    options: ConvertOptions | None = None,
    *,
    workers: int = 1,
    source_options: dict[str, str] | None = None,
    config: str = builders.DEFAULT_CONFIG,
    executor: str | Executor = "local",
    address: str | None = None,
    staging: Path | None = None,
) -> ConvertResult:
    """Convert the download at ``src`` into ``out``; rerunning resumes where a run stopped.

    ``source_options`` are the builder's own (``OPTIONS``), e.g. a second release's root to join.
    ``config`` names one of the builder's configs: another than ``default`` goes to
    ``out/<config>/`` (its own shards, manifest, errors and ``index.json``; the card at ``out``
    lists every config converted there).

    ``executor``: ``local`` (``workers`` processes on this machine), ``ray`` (one Ray task per
    shard on the cluster at ``address``, or a local one) or an object with the same ``run``; the
    output bytes do not depend on it.

    ``out`` may be an fsspec URL (``s3://bucket/cxr``): the output is then written to the local
    folder ``staging`` (resumable as usual) and uploaded there, ``index.json`` last.
    """
    if is_url(out):
        if staging is None:
            raise OutputError(f"{out}: a URL output needs a local staging folder (--staging DIR)")
        result = convert(
            dataset, src, Path(staging), options, workers=workers, source_options=source_options,
            config=config, executor=executor, address=address,
        )  # fmt: skip
        upload(Path(staging), str(out))
        return result
    options = options or ConvertOptions()
    runner = make_executor(executor, workers=workers, address=address)
    module = builders.load(dataset)
    if not builders.is_convertible(module):
        raise CxrhubError(
            f"{dataset}: conversion is not implemented yet; `cxrhub list` shows status"
        )
    features, records_fn, allowed = builders.config(module, config)
    _check_formats(dataset, config, features, options.formats, allowed)
    src, out = Path(src), Path(out)
    target = out if config == builders.DEFAULT_CONFIG else out / config
    extra = builders.source_options(module, source_options)
    layout = module.check(src, **extra)
    _claim_output(out)
    state = _state_dir(out, config)
    state.mkdir(parents=True, exist_ok=True)
    records, plan_errors = collect_records(module, src, options.on_error, extra, records_fn)
    tasks = plan_shards(records, module.SPEC.splits, src, **options.plan_options())
    run_options = {
        "dataset": dataset, "config": config, "src": str(src), "out": str(target),
        **options.to_dict(),
    }  # fmt: skip
    shape = {k: run_options[k] for k in ("dataset", "formats", "row_group_bytes")}
    removed = remove_temps(target)
    if removed:
        logger.info("removed %d temp files left by an interrupted run", removed)
    results, pending = _load_markers(target, state, tasks, shape)
    logger.info("%d shards planned, %d already written", len(tasks), len(results))

    def on_shard(result: dict) -> None:
        task = next(t for t in pending if t.name == result["task"])
        result["fingerprint"] = task.fingerprint(shape)
        write_json(state / f"{task.name}.json", result)
        results[task.name] = result

    runner.run(pending, run_options, on_shard, total_samples=sum(len(t.records) for t in pending))
    errors = finalize.write_outputs(
        target, module, tasks, results, plan_errors, layout=layout, options=options.to_dict(),
        config=config, features=features, card_root=out,
    )  # fmt: skip
    samples = sum(len(r["samples"]) for r in results.values())
    return ConvertResult(target, samples, errors, len(pending), len(tasks) - len(pending))


def _check_formats(
    dataset: str, config: str, features, formats: tuple[str, ...], allowed: tuple[str, ...]
) -> None:
    refused = [f for f in formats if f not in allowed]
    if refused:
        raise CxrhubError(
            f"{dataset} config {config!r}: format(s) {refused} not available; "
            f"this config writes {', '.join(allowed)} (pass --formats {','.join(allowed)})"
        )
    lists = image_list_fields(features)
    if "webdataset" in formats and lists:
        raise CxrhubError(
            f"{dataset} config {config!r}: list-of-image column(s) {lists} have no WebDataset "
            "form (one file per tar member); convert with --formats parquet"
        )


def collect_records(
    module,
    src: Path,
    policy: str,
    source_options: dict | None = None,
    records_fn: Callable | None = None,
) -> tuple[list[Record], list[dict]]:
    """The builder's records (``records_fn``, default ``iter_records``), with table errors,
    unknown splits and duplicate keys set aside."""
    records: dict[str, Record] = {}
    errors: list[dict] = []
    splits = module.SPEC.splits
    for item in (records_fn or module.iter_records)(src, **(source_options or {})):
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
    (out / STATE_DIR).mkdir(parents=True, exist_ok=True)


def _state_dir(out: Path, config: str) -> Path:
    """Where the shard markers of ``config`` live (never published)."""
    if config == builders.DEFAULT_CONFIG:
        return out / STATE_DIR / "shards"
    return out / STATE_DIR / "configs" / config / "shards"


def _load_markers(
    out: Path, state: Path, tasks: list[ShardTask], shape: dict
) -> tuple[dict, list[ShardTask]]:
    """Finished shards (marker, matching fingerprint, files present at their size under this
    plan's names: the same records in a plan of another shard count are rewritten) and the rest."""
    results, pending = {}, []
    for task in tasks:
        marker = state / f"{task.name}.json"
        result = json.loads(marker.read_text()) if marker.is_file() else None
        if (
            result
            and result.get("fingerprint") == task.fingerprint(shape)
            and all(
                f["file"] in (task.parquet_file, task.tar_file)
                and (out / f["file"]).is_file()
                and (out / f["file"]).stat().st_size == f["bytes"]
                for f in result["files"].values()
            )
        ):
            results[task.name] = result
        else:
            pending.append(task)
    return results, pending
