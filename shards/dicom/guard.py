"""Run a decode in a child process with a time limit, so a codec that hangs or crashes costs one
file, not the run.

``Guard.call(fn, *args)`` runs ``fn(*args)`` (an importable function; arguments and result are
pickled) in a long-lived child. A call that outlives ``timeout`` seconds, or a child that dies (a
segfault in a C codec), raises :class:`BadInputError` for that file and the child is replaced.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
from collections.abc import Callable
from typing import Any

from cxrhub.shards.errors import BadInputError
from cxrhub.shards.heap import reuse_freed_memory

__all__ = ["Guard"]

_START_TIMEOUT = 120.0


def _serve(conn) -> None:
    reuse_freed_memory()
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        try:
            if isinstance(request, str):  # a module to import before its calls are timed
                conn.send(("ok", importlib.import_module(request).__name__))
                continue
            fn, args = request
            conn.send(("ok", fn(*args)))
        except BaseException as exc:  # everything goes back to the parent, which decides
            conn.send(("error", exc))


class Guard:
    """A child process that runs calls one at a time under a per-call time limit."""

    def __init__(self, timeout: float = 120.0):
        self.timeout = timeout
        self._ctx = mp.get_context("spawn")
        self._process = None
        self._conn = None
        self._imported: set[str] = set()

    def call(self, fn: Callable[..., Any], *args: Any, name: str = "?") -> Any:
        """``fn(*args)`` in the child; its exception is re-raised here."""
        if self._process is None or not self._process.is_alive():
            self._start()
        if fn.__module__ not in self._imported:  # import time is not the call's time
            self._request(fn.__module__, _START_TIMEOUT, name)
            self._imported.add(fn.__module__)
        return self._request((fn, args), self.timeout, name)

    def _request(self, request: object, timeout: float, name: str) -> Any:
        self._conn.send(request)
        if not self._conn.poll(timeout):
            self.close()
            raise BadInputError(name, "decode", f"decoder timed out after {timeout:g} s")
        try:
            status, value = self._conn.recv()
        except EOFError:
            code = self._process.exitcode if self._process else None
            self.close()
            raise BadInputError(
                name,
                "decode",
                f"decoder process died (exit code {code})",
                error_class="DecoderCrash",
            ) from None
        if status == "error":
            raise value
        return value

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._process = self._ctx.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(_START_TIMEOUT) or parent.recv() != ("ready", None):
            self.close()
            raise RuntimeError(f"the decode process did not start within {_START_TIMEOUT} s")

    def close(self) -> None:
        """Stop the child (killed if it does not answer)."""
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        self._process = self._conn = None
        self._imported = set()

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
