"""The last step of a run: manifest, errors, stale-shard clean-up, card + plots, index.json last."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

from datasets import Features

from cxrhub.shards import __version__, cards
from cxrhub.shards.atomic import dumps, sha256_file, write_json, write_text
from cxrhub.shards.plan import ShardTask
from cxrhub.shards.schema import output_features

__all__ = ["FORMAT_VERSION", "INDEX", "write_outputs"]

logger = logging.getLogger(__name__)
FORMAT_VERSION = 1
INDEX = "index.json"
MANIFEST = "manifest.jsonl"
ERRORS = "errors.jsonl"
_SHARD_DIRS = {"parquet": ("data", "*.parquet"), "webdataset": ("webdataset", "*.tar")}


def write_outputs(
    out: Path,
    module: ModuleType,
    tasks: list[ShardTask],
    results: dict[str, dict],
    plan_errors: list[dict],
    *,
    layout: dict,
    options: dict,
    config: str = "default",
    features: Features | None = None,
    card_root: Path | None = None,
) -> list[dict]:
    """Write everything but the shards; return the error rows. ``index.json`` is written last.

    ``out`` is the config's folder; the one card goes to ``card_root`` (default ``out``).
    """
    ordered = [results[t.name] for t in tasks]
    errors = sorted(
        plan_errors + [e for r in ordered for e in r["errors"]],
        key=lambda e: (e["path"], e["stage"], e["key"] or ""),
    )
    manifest = _manifest_rows(tasks, ordered, errors)
    _remove_stale(out, ordered)
    index = {
        "format_version": FORMAT_VERSION,
        "dataset": module.SPEC.name,
        "builder_version": module.SPEC.version,
        "cxrhub_version": __version__,
        "access": module.SPEC.access.value,
        "source_layout": layout,
        "options": options,
        "features": output_features(module.FEATURES if features is None else features).to_dict(),
        "splits": _splits(tasks, ordered, options["formats"]),
        "patients": _patients(module.SPEC.patient_field, tasks, ordered),
        "webdataset_members": next((r["members"] for r in ordered if r["members"]), {}),
        "manifest": _write_jsonl(out / MANIFEST, manifest),
        "errors": _write_jsonl(out / ERRORS, errors),
    }
    if config != "default":
        index["config"] = config
    # README.md (every config converted under card_root) and its plots/*.png
    cards.write_card(card_root or out, module.SPEC, index, config=config)
    write_json(out / INDEX, index)
    return errors


def _manifest_rows(tasks: list[ShardTask], ordered: list[dict], errors: list[dict]) -> list[dict]:
    rows = []
    for task, result in zip(tasks, ordered, strict=True):
        files = {fmt: f["file"] for fmt, f in result["files"].items()}
        rows += [
            {"key": s["key"], "source": s["source"], "split": task.split, "status": "ok", **files}
            for s in result["samples"]
        ]
    rows += [
        {
            "key": e["key"],
            "source": e["path"],
            "split": None,
            "status": "error",
            "stage": e["stage"],
        }
        for e in errors
    ]
    return rows


def _patients(field: str | None, tasks: list[ShardTask], ordered: list[dict]) -> dict | None:
    """How many patients the converted samples hold, and how many of them appear in more than one
    split (official splits are kept as released; this only reports a leak)."""
    if field is None:
        return None
    splits_of: dict[object, set[str]] = {}
    for task, result in zip(tasks, ordered, strict=True):
        converted = {s["key"] for s in result["samples"]}
        for record in task.records:
            if record.key in converted and record.fields.get(field) is not None:
                splits_of.setdefault(record.fields[field], set()).add(task.split)
    several = sum(len(s) > 1 for s in splits_of.values())
    return {"field": field, "total": len(splits_of), "in_several_splits": several}


def _splits(tasks: list[ShardTask], ordered: list[dict], formats: list[str]) -> dict:
    splits: dict[str, dict] = {}
    for task, result in zip(tasks, ordered, strict=True):
        entry = splits.setdefault(task.split, {"samples": 0, **{fmt: [] for fmt in formats}})
        entry["samples"] += len(result["samples"])
        for fmt in formats:
            entry[fmt].append(result["files"][fmt])
    return splits


def _write_jsonl(path: Path, rows: list[dict]) -> dict:
    write_text(path, "".join(dumps(row) + "\n" for row in rows))
    return {"file": path.name, "rows": len(rows), "sha256": sha256_file(path)}


def _remove_stale(out: Path, ordered: list[dict]) -> None:
    """Delete shard files of an earlier plan that this plan does not own."""
    owned = {f["file"] for r in ordered for f in r["files"].values()}
    for folder, pattern in _SHARD_DIRS.values():
        for path in sorted((out / folder).glob(pattern)):
            if path.relative_to(out).as_posix() not in owned:
                logger.info("removing %s: not part of this conversion's plan", path)
                path.unlink()
