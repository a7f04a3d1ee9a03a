"""``RayExecutor``: the planned shards as Ray tasks, on a local or a remote Ray cluster.

Same contract as :class:`~cxrhub.shards.executors.LocalExecutor`: the same shard tasks (plain
data) go to ``worker.run``, so the same bytes come out; ``on_shard`` runs in the driver as each
task returns, so resume markers stay the driver's. Ray schedules the tasks (``num_cpus`` each, the
cluster's size decides how many run at once) and retries a task whose worker died (``max_retries``)
or that failed on a transient ``OSError``; a bad input under ``--on-error error`` is not retried.
Workers need ``cxrhub`` importable and ``src`` / ``out`` at the same paths (a shared filesystem
on a multi-node cluster).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cxrhub.shards import worker
from cxrhub.shards.errors import CxrhubError
from cxrhub.shards.executors import progress_bar
from cxrhub.shards.plan import ShardTask

__all__ = ["RAY_MISSING", "RayExecutor", "RayMissingError", "TransientShardError", "import_ray"]

logger = logging.getLogger(__name__)
RAY_MISSING = 'the Ray executor needs Ray: pip install "cxrhub[ray]"'
TASK_NAME = "cxrhub_shard"  # the worker's process title while it writes a shard: ray::cxrhub_shard
_PROGRESS_EVERY = 0.5  # seconds between a task's progress messages


class RayMissingError(CxrhubError, ImportError):
    """``--executor ray`` without Ray installed."""


class TransientShardError(CxrhubError, OSError):
    """An ``OSError`` while writing a shard (a filesystem hiccup): Ray retries the task."""


def import_ray():
    """The ``ray`` module, or :class:`RayMissingError` saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise RayMissingError(RAY_MISSING) from exc
    return ray


class RayExecutor:
    """Runs each shard task as one Ray task; ``ray.init(address)`` unless Ray is initialised.

    Args:
        address: a cluster to join (``auto``, ``ray://host:10001``, ``host:6379``); ``None``
            starts a local cluster (or joins the one ``RAY_ADDRESS`` names).
        num_cpus: CPUs each shard task reserves.
        max_retries: retries of a task whose worker died or that hit a transient error.
        init_options: more keyword arguments for ``ray.init``.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: float = 1,
        max_retries: int = 3,
        init_options: dict[str, Any] | None = None,
    ):
        self.ray = import_ray()
        if num_cpus <= 0 or max_retries < 0:
            raise ValueError("num_cpus must be positive and max_retries >= 0")
        self.address = address
        self.num_cpus = num_cpus
        self.max_retries = max_retries
        self.init_options = dict(init_options or {})

    def run(
        self,
        tasks: list[ShardTask],
        options: dict,
        on_shard: Callable[[dict], None],
        total_samples: int,
    ) -> None:
        """Write every task's shard; ``on_shard(result)`` runs in this process as each returns."""
        if not tasks:
            return
        ray = self.ray
        if not ray.is_initialized():
            ray.init(address=self.address, **self.init_options)
        from ray.util.queue import Queue

        progress = Queue()
        remote = ray.remote(_ray_shard).options(
            name=TASK_NAME,
            num_cpus=self.num_cpus,
            max_retries=self.max_retries,
            retry_exceptions=[TransientShardError],
        )
        options_ref = ray.put(options)
        refs = {remote.remote(task, options_ref, progress): task for task in tasks}
        bar = progress_bar(options, total_samples)
        try:
            self._collect(refs, progress, on_shard, bar)
        except BaseException:
            self._cancel(list(refs))
            raise
        finally:
            bar.close()
            ray.kill(progress.actor)

    def _collect(self, refs: dict, progress, on_shard: Callable, bar) -> None:
        ray = self.ray
        total, seen, done = len(refs), {}, 0
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0.2)
            _drain(progress, seen, bar)
            for ref in ready:
                task = refs.pop(ref)
                result = _get(ray, ref)
                bar.update(len(task.records) - seen.get(task.name, 0))
                seen[task.name] = len(task.records)  # a message arriving late adds nothing
                on_shard(result)
                done += 1
                bar.set_postfix_str(f"shards {done}/{total}")

    def _cancel(self, refs: list) -> None:
        """Stop the tasks still running (they drop their partial files) and wait for them."""
        for ref in refs:
            self.ray.cancel(ref)
        if refs:
            self.ray.wait(refs, num_returns=len(refs), timeout=30)


def _get(ray, ref) -> dict:
    """The task's result; a cxrhub error raised in the task comes back as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, CxrhubError):
            raise cause from None
        raise


def _drain(progress, seen: dict, bar) -> None:
    """Feed the bar from the tasks' ``(task, samples so far)`` messages (a retried task
    restarts from 0: only what exceeds the most seen counts)."""
    while not progress.empty():
        for name, count in progress.get_nowait_batch(progress.qsize()):
            gain = count - seen.get(name, 0)
            if gain > 0:
                seen[name] = count
                bar.update(gain)


def _ray_shard(task: ShardTask, options: dict, progress) -> dict:
    """One Ray task: write one shard with ``worker.run``; send progress now and then."""
    results, count, last = [], 0, time.monotonic()

    def report(kind: str, payload: object) -> None:
        nonlocal count, last
        if kind == "shard":
            results.append(payload)
            return
        count += payload
        if time.monotonic() - last >= _PROGRESS_EVERY:
            progress.put_nowait((task.name, count))
            last = time.monotonic()

    try:
        worker.run([task], 0, 1, options, report)
    except OSError as exc:
        if isinstance(exc, CxrhubError):
            raise
        raise TransientShardError(f"{task.name}: {exc}") from exc
    return results[0]
