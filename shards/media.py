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

__all__ = ["READERS", "read_media"]

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


def read_media(root: Path, rel: str) -> dict:
    """Read ``root/rel`` with the reader registered for its suffix."""
    path = Path(root) / rel
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise BadInputError(rel, "read", f"no reader for {path.suffix!r}; known: {sorted(READERS)}")
    return reader(path, rel)
