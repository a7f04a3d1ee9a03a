"""Keep freed memory for reuse in the processes that handle full-size radiographs.

A 3000x2500 radiograph passes through a few 15-60 MB buffers per image (stored values, the float
copy resized for the display variant, the encoded bytes). glibc serves blocks that large with
fresh ``mmap`` calls and hands them back on ``free``, so a long-lived decode process touched
every page anew for each image: 10-60 MB of page faults per image, 15-30 % of the decode and
encode time in ``bench/`` measurements. Raising glibc's mmap and trim thresholds keeps those
blocks in the heap for the next image. Only cxrhub's own child processes call this (the guarded
decode child and the local pool's workers), never the caller's process.
"""

from __future__ import annotations

import ctypes
import logging

__all__ = ["reuse_freed_memory"]

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024**2  # glibc's ceiling on 64-bit systems
TRIM_THRESHOLD = 256 * 1024**2  # freed heap kept at most: a few images' buffers


def reuse_freed_memory() -> bool:
    """Serve blocks up to 32 MB from the heap and keep up to 256 MB of freed heap; ``False``
    (and nothing changed) where the C library is not glibc."""
    try:  # the process's own symbols include the C library's (no ldconfig subprocess)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, Windows, musl)
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    logger.debug("malloc thresholds raised: %s", ok)
    return ok
