"""``cxrhub plan``: what a conversion will do, before doing it.

The real layout check, record collection and shard plan of ``convert`` (so the sample and shard
counts are exact), then a short timed probe: a few records spread evenly over the sorted list
go through the real example builder and shard writers into a temporary folder. Their output
bytes and time, per source byte, scale to the whole download.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cxrhub import builders
from cxrhub.builders._spec import Record
from cxrhub.shards.convert import ConvertOptions, collect_records
from cxrhub.shards.errors import BadInputError, CxrhubError
from cxrhub.shards.plan import FileSizes, plan_shards, source_bytes
from cxrhub.shards.schema import build_example, output_features
from cxrhub.shards.writers import ParquetShardWriter, TarShardWriter

__all__ = ["Estimate", "estimate", "render"]


@dataclass
class Estimate:
    """A conversion's plan and projected cost (``render`` prints it; ``vars()`` is JSON-ready)."""

    dataset: str
    config: str
    samples: dict[str, int]
    shards: dict[str, int]
    set_aside: int
    source_bytes: int
    probed: int
    probe_failed: int
    seconds_per_sample: float
    output_bytes: dict[str, int]
    core_hours: float
    workers: int
    wall_hours: float


def estimate(
    dataset: str,
    src: Path,
    options: ConvertOptions | None = None,
    *,
    config: str = builders.DEFAULT_CONFIG,
    source_options: dict[str, str] | None = None,
    probe: int = 8,
    workers: int = 1,
) -> Estimate:
    """Plan the conversion of ``src`` as ``convert`` would and probe ``probe`` records (0: the
    plan alone, with no output size or time projection)."""
    if probe < 0:
        raise ValueError(f"probe must be >= 0 records, got {probe}")
    options = options or ConvertOptions()
    module = builders.load(dataset)
    if not builders.is_convertible(module):
        raise CxrhubError(f"{dataset}: conversion is not implemented yet")
    features, records_fn, _ = builders.config(module, config)
    src = Path(src)
    extra = builders.source_options(module, source_options)
    module.check(src, **extra)
    records, errors = collect_records(module, src, "skip", extra, records_fn)
    stat = FileSizes(src)  # one stat per file for the plan and the source bytes
    tasks = plan_shards(records, module.SPEC.splits, src, **options.plan_options(), sizes=stat)
    sizes = {r.key: source_bytes(r, src, stat) for r in records}
    picks = _spread(sorted(records, key=lambda r: r.key), probe)
    total_src = sum(sizes.values())
    seconds, projected, failed = [], {}, 0
    if picks:
        seconds, out_bytes, empty, failed = _probe(picks, src, output_features(features), options)
        probed_src = sum(sizes[r.key] for r in picks) or 1
        scale = total_src / probed_src if total_src else len(records) / len(picks)
        projected = {
            fmt: round((b - empty[fmt]) * scale + empty[fmt] * len(tasks))
            for fmt, b in out_bytes.items()
        }
    per_sample = statistics.median(seconds) if seconds else 0.0
    core_hours = per_sample * len(records) / 3600
    busy = min(workers, len(tasks)) or 1
    return Estimate(
        dataset=dataset, config=config,
        samples={s: sum(r.split == s for r in records) for s in module.SPEC.splits},
        shards={s: sum(t.split == s for t in tasks) for s in module.SPEC.splits},
        set_aside=len(errors), source_bytes=total_src, probed=len(picks), probe_failed=failed,
        seconds_per_sample=per_sample,
        output_bytes=projected,
        core_hours=core_hours, workers=workers, wall_hours=core_hours / busy,
    )  # fmt: skip


def _spread(records: list[Record], k: int) -> list[Record]:
    """``k`` records evenly spaced over the sorted list (all of them if there are fewer)."""
    if k <= 0:
        return []
    if k >= len(records):
        return records
    step = len(records) / k
    return [records[int(i * step)] for i in range(k)]


def _probe(
    picks: list[Record], src: Path, features, options: ConvertOptions
) -> tuple[list[float], dict[str, int], dict[str, int], int]:
    """Per-sample seconds (build + write), the bytes each format's file took, the bytes of an
    empty shard of each format (footer, padding) and how many picks failed."""
    seconds, failed = [], 0
    with tempfile.TemporaryDirectory(prefix="cxrhub-plan-") as tmp:
        empty = {}
        for fmt, writer in _writers(Path(tmp), features, options).items():
            writer.close()
            empty[fmt] = (Path(tmp) / f"probe.{fmt}").stat().st_size
        writers = _writers(Path(tmp), features, options)
        for record in picks:
            start = time.perf_counter()
            try:
                example = build_example(record, src, features, options.decode_timeout)
            except BadInputError:
                failed += 1
                continue
            for writer in writers.values():
                writer.write(example)
            seconds.append(time.perf_counter() - start)
        for writer in writers.values():
            writer.close()
        sizes = {fmt: (Path(tmp) / f"probe.{fmt}").stat().st_size for fmt in writers}
    return seconds, sizes, empty, failed


def _writers(tmp: Path, features, options: ConvertOptions) -> dict:
    writers = {}
    if "parquet" in options.formats:
        writers["parquet"] = ParquetShardWriter(
            tmp / "probe.parquet", features, row_group_bytes=options.row_group_bytes
        )
    if "webdataset" in options.formats:
        writers["webdataset"] = TarShardWriter(tmp / "probe.webdataset", features)
    return writers


def render(est: Estimate) -> str:
    """The plan as a few readable lines."""
    splits = ", ".join(f"{s} {n}" for s, n in est.samples.items() if n)
    shards = ", ".join(f"{s} {n}" for s, n in est.shards.items() if n)
    outputs = "; ".join(f"{fmt} ~{_size(b)}" for fmt, b in est.output_bytes.items())
    lines = [
        f"{est.dataset} ({est.config} config)",
        f"  samples: {sum(est.samples.values())} ({splits}); {est.set_aside} set aside "
        "(bad rows, unknown splits, duplicate keys)",
        f"  source:  {_size(est.source_bytes)} of media",
        f"  shards:  {shards}",
    ]
    if not est.probed:
        lines.append("  probe:   none (--probe 0): no output size or time projection")
        return "\n".join(lines) + "\n"
    lines += [
        f"  probe:   {est.probed} samples, {est.probe_failed} failed; "
        f"{est.seconds_per_sample:.3f} s per sample per core (median)",
        f"  output:  {outputs}",
        f"  time:    {_duration(est.core_hours)} on one core; ~{_duration(est.wall_hours)} "
        f"with {est.workers} worker(s) at this machine's per-core speed",
    ]
    return "\n".join(lines) + "\n"


def _duration(hours: float) -> str:
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.1f} min" if hours * 60 >= 1 else f"{hours * 3600:.1f} s"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")
