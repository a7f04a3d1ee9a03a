"""Decode backends: one small contract, a registry keyed by transfer syntax, chosen by measurement.

A backend is ``decode(ds, frame) -> ndarray`` over a parsed header ``ds`` (pydicom ``Dataset``,
stopped before the pixel data) and the first frame: its bytes when encapsulated, the array already
read from the file when native. ``pydicom`` alone takes a fully parsed dataset instead. Each
declares the modules it needs and whether they import. The order per transfer syntax is the
measured order of ``bench/decode.py``: fastest bit-exact path first, pydicom's own handlers
(with the pylibjpeg plugins) as the fallback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydicom import uid

__all__ = ["BACKENDS", "ORDER", "Backend", "available", "choose"]


@dataclass(frozen=True)
class Backend:
    """A decode path: its name, what it needs, and the frame decoder."""

    name: str
    requires: tuple[str, ...]
    decode: Callable[[object, bytes | None], np.ndarray]

    def is_available(self) -> bool:
        """Whether every required module is importable."""
        return all(importlib.util.find_spec(m) is not None for m in self.requires)


def _native(ds, frame: np.ndarray) -> np.ndarray:
    """Uncompressed pixel data: the reader already read it straight from the file into an array
    (one read, no copy), so there is nothing left to decode."""
    return frame


def _rle(ds, frame: bytes | None) -> np.ndarray:
    import imagecodecs

    kind = "i" if int(ds.PixelRepresentation) else "u"
    dtype = np.dtype(f"<{kind}{max(1, int(ds.BitsAllocated) // 8)}")
    data = imagecodecs.dicomrle_decode(frame, dtype)
    return np.frombuffer(data, dtype=dtype).reshape(int(ds.Rows), int(ds.Columns))


def _pydicom(ds, frame: bytes | None) -> np.ndarray:
    return ds.pixel_array


def _imagecodecs(function: str) -> Callable[[object, bytes | None], np.ndarray]:
    def decode(ds, frame: bytes | None) -> np.ndarray:
        import imagecodecs

        return getattr(imagecodecs, function)(frame)

    decode.__name__ = f"imagecodecs.{function}"
    return decode


BACKENDS: dict[str, Backend] = {
    "numpy": Backend("numpy", ("numpy",), _native),
    "pydicom": Backend("pydicom", ("pydicom",), _pydicom),
    "imagecodecs-jpeg8": Backend(
        "imagecodecs-jpeg8", ("imagecodecs",), _imagecodecs("jpeg8_decode")
    ),
    "imagecodecs-jpegls": Backend(
        "imagecodecs-jpegls", ("imagecodecs",), _imagecodecs("jpegls_decode")
    ),
    "imagecodecs-jpeg2k": Backend(
        "imagecodecs-jpeg2k", ("imagecodecs",), _imagecodecs("jpeg2k_decode")
    ),
    "imagecodecs-rle": Backend("imagecodecs-rle", ("imagecodecs",), _rle),
    "imagecodecs-htj2k": Backend(
        "imagecodecs-htj2k", ("imagecodecs",), _imagecodecs("htj2k_decode")
    ),
}

_NATIVE = ("numpy", "pydicom")
# transfer syntax -> backends, fastest first (bench/decode.py); pydicom is always the last resort
ORDER: dict[str, tuple[str, ...]] = {
    uid.ImplicitVRLittleEndian: _NATIVE,
    uid.ExplicitVRLittleEndian: _NATIVE,
    uid.ExplicitVRBigEndian: _NATIVE,
    uid.DeflatedExplicitVRLittleEndian: _NATIVE,
    uid.JPEGBaseline8Bit: ("imagecodecs-jpeg8", "pydicom"),
    uid.JPEGExtended12Bit: ("imagecodecs-jpeg8", "pydicom"),
    uid.JPEGLossless: ("imagecodecs-jpeg8", "pydicom"),
    uid.JPEGLosslessSV1: ("imagecodecs-jpeg8", "pydicom"),
    uid.JPEGLSLossless: ("imagecodecs-jpegls", "pydicom"),
    uid.JPEGLSNearLossless: ("imagecodecs-jpegls", "pydicom"),
    uid.JPEG2000Lossless: ("imagecodecs-jpeg2k", "pydicom"),
    uid.JPEG2000: ("imagecodecs-jpeg2k", "pydicom"),
    uid.HTJ2KLossless: ("imagecodecs-htj2k", "pydicom"),
    uid.HTJ2KLosslessRPCL: ("imagecodecs-htj2k", "pydicom"),
    uid.HTJ2K: ("imagecodecs-htj2k", "pydicom"),
    uid.RLELossless: ("imagecodecs-rle", "pydicom"),
}


def available(transfer_syntax: str) -> list[Backend]:
    """The usable backends for ``transfer_syntax``, in preference order."""
    return [BACKENDS[n] for n in ORDER.get(transfer_syntax, ()) if BACKENDS[n].is_available()]


def choose(transfer_syntax: str, name: str = "auto") -> list[Backend]:
    """The backends to try: the preferred chain for ``auto``, else exactly the one named."""
    if name == "auto":
        return available(transfer_syntax)
    if name not in BACKENDS:
        raise ValueError(f"unknown decode backend {name!r}; known: {', '.join(BACKENDS)}")
    return [BACKENDS[name]]
