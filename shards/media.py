"""Reading a sample's media files: bytes kept as released, checked to be whole and readable.

Readers are registered by file suffix; DICOM decoding plugs in here under the same contract:
``reader(path: Path, rel: str) -> {"bytes": bytes, "path": str}`` raising ``BadInputError``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cxrhub.shards.errors import BadInputError

__all__ = ["READERS", "derive_media", "read_media"]

# suffix -> the PIL format names a file with that suffix may hold
_IMAGE_FORMATS = {".png": ("PNG",), ".jpg": ("JPEG",), ".jpeg": ("JPEG",)}


def read_encoded_image(path: Path, rel: str) -> dict:
    """The file's bytes, unchanged, once they prove whole and of the named format.

    PNG: every chunk's CRC and the closing IEND are checked (``verify``; 8x cheaper than a
    decode and catches truncation and flipped bits). Other formats are fully decoded.
    """
    data = _read_bytes(path, rel)
    expected = _IMAGE_FORMATS[path.suffix.lower()]
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = image.format
            if found == "PNG":
                image.verify()
            else:
                image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(
            rel,
            "decode",
            f"not a readable {'/'.join(expected)} image ({exc})",
            error_class=type(exc).__name__,
        ) from exc
    if found not in expected:
        raise BadInputError(rel, "decode", f"holds {found} data; expected {'/'.join(expected)}")
    return {"bytes": data, "path": path.name}


def _read_bytes(path: Path, rel: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise BadInputError(
            rel,
            "read",
            "file not found; the source table lists it",
            error_class="FileNotFoundError",
        ) from exc
    except OSError as exc:
        raise BadInputError(
            rel, "read", f"cannot read ({exc})", error_class=type(exc).__name__
        ) from exc
    if not data:
        raise BadInputError(rel, "read", "empty file")
    return data


READERS: dict[str, Callable[[Path, str], dict]] = dict.fromkeys(_IMAGE_FORMATS, read_encoded_image)


def derive_media(
    root: Path, rel: str, requests: dict[str, dict], *, timeout: float | None = None
) -> dict:
    """Values derived from one source file (every request in one read of it).

    DICOM decoding runs in a guarded child process when ``timeout`` is set, so a codec that
    hangs or crashes costs this file only.
    """
    path = Path(root) / rel
    if path.suffix.lower() not in _DICOM_SUFFIXES:
        raise BadInputError(
            rel,
            "read",
            f"no derived outputs for {path.suffix!r} files; known: {', '.join(_DICOM_SUFFIXES)}",
        )
    from cxrhub.shards.dicom.outputs import render

    if not path.is_file():
        raise BadInputError(
            rel,
            "read",
            "file not found; the source table lists it",
            error_class="FileNotFoundError",
        )
    if path.stat().st_size == 0:
        raise BadInputError(rel, "read", "empty file (a partial download?)")
    if not timeout:
        return render(str(path), rel, requests)
    return _guard(timeout).call(render, str(path), rel, requests, name=rel)


_GUARDS: dict[float, object] = {}
_DICOM_SUFFIXES = (".dcm", ".dicom")


def _guard(timeout: float):
    from cxrhub.shards.dicom.guard import Guard

    if timeout not in _GUARDS:
        _GUARDS[timeout] = Guard(timeout)
    return _GUARDS[timeout]


def read_media(root: Path, rel: str) -> dict:
    """Read ``root/rel`` with the reader registered for its suffix."""
    path = Path(root) / rel
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise BadInputError(rel, "read", f"no reader for {path.suffix!r}; known: {sorted(READERS)}")
    return reader(path, rel)
