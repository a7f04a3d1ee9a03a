"""Executors own processes, progress and resume markers; shard processing stays rank-agnostic.

``LocalExecutor(workers=N)`` runs ``worker.run`` in N spawned processes, handing each the next
pending shard as it frees up (so a worker holds one shard's records, and a slow shard does not hold
up a fixed share), and streams their reports back for the progress bar and the markers.
``RayExecutor`` (``cxrhub.shards.ray_executor``) runs them as Ray tasks; ``make_executor`` picks.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Protocol

from tqdm.auto import tqdm

from cxrhub.shards import worker
from cxrhub.shards.errors import ConversionStopped
from cxrhub.shards.heap import reuse_freed_memory
from cxrhub.shards.plan import ShardTask

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "make_executor", "progress_bar"]

EXECUTORS = ("local", "ray")
_QUEUE = None
_STOP = None


class Executor(Protocol):
    """Writes shard tasks; ``on_shard(result)`` runs in the calling process per finished shard."""

    def run(
        self,
        tasks: list[ShardTask],
        options: dict,
        on_shard: Callable[[dict], None],
        total_samples: int,
    ) -> None: ...


def progress_bar(options: dict, total_samples: int) -> tqdm:
    """The run's bar, in images, named after the dataset (every executor shows the same one)."""
    return tqdm(total=total_samples, unit="img", desc=options["dataset"], disable=None)


def make_executor(
    kind: str | Executor, *, workers: int = 1, address: str | None = None
) -> Executor:
    """``local`` (``workers`` processes), ``ray`` (Ray tasks on the cluster at ``address``; its
    size decides concurrency, ``workers`` is not used), or an executor object as it is."""
    if not isinstance(kind, str):
        return kind
    if kind == "local":
        if address is not None:
            raise ValueError("address is for the ray executor; the local one runs here")
        return LocalExecutor(workers)
    if kind == "ray":
        from cxrhub.shards.ray_executor import RayExecutor

        return RayExecutor(address)
    raise ValueError(f"executor {kind!r}: choose from {', '.join(EXECUTORS)}")


class LocalExecutor:
    """Runs shard tasks on this machine, in-process for one worker, else in a process pool."""

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def run(
        self,
        tasks: list[ShardTask],
        options: dict,
        on_shard: Callable[[dict], None],
        total_samples: int,
    ) -> None:
        """Write every task's shards; ``on_shard(result)`` runs in this process as each finishes."""
        bar = progress_bar(options, total_samples)
        n = min(self.workers, len(tasks))
        shards_done = 0

        def report(kind: str, payload: object) -> None:
            nonlocal shards_done
            if kind == "samples":
                bar.update(payload)
            else:
                on_shard(payload)
                shards_done += 1
                bar.set_postfix_str(f"shards {shards_done}/{len(tasks)}")

        try:
            if n <= 1:
                worker.run(tasks, 0, 1, options, report)
            else:
                self._run_pool(tasks, options, n, report)
        finally:
            bar.close()

    @staticmethod
    def _run_pool(tasks: list[ShardTask], options: dict, n: int, report: Callable) -> None:
        ctx = mp.get_context("spawn")
        messages, stop = ctx.Queue(), ctx.Event()
        shards_seen = 0

        def receive(timeout: float) -> None:
            nonlocal shards_seen
            try:
                kind, payload = messages.get(timeout=timeout)
            except queue.Empty:
                return
            shards_seen += kind == "shard"
            report(kind, payload)

        with ProcessPoolExecutor(
            n, mp_context=ctx, initializer=_init, initargs=(messages, stop)
        ) as pool:
            upcoming, futures = iter(tasks), set()

            def fill() -> None:  # one shard per submission, n in flight: memory stays per-shard
                while len(futures) < n and (task := next(upcoming, None)) is not None:
                    futures.add(pool.submit(_run_share, [task], options))

            try:
                fill()
                while futures:
                    receive(timeout=0.05)
                    done, futures = wait(futures, timeout=0, return_when=FIRST_EXCEPTION)
                    for future in done:
                        if future.exception() is not None:
                            raise future.exception()
                    fill()
                deadline = time.monotonic() + 60
                while shards_seen < len(tasks):  # reports may trail the workers' return
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"{len(tasks) - shards_seen} shard reports never arrived"
                        )
                    receive(timeout=1.0)
            except BaseException:
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def _init(messages, stop) -> None:
    global _QUEUE, _STOP
    _QUEUE, _STOP = messages, stop
    reuse_freed_memory()


def _run_share(tasks: list[ShardTask], options: dict) -> None:
    def report(kind: str, payload: object) -> None:
        if _STOP.is_set():
            raise ConversionStopped("stopped: another worker failed")
        _QUEUE.put((kind, payload))

    worker.run(tasks, 0, 1, options, report)
