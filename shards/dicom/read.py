"""Read one DICOM radiograph: header and pixel data once, decoded to its stored values, checked.

Every way a file can be bad becomes a :class:`~cxrhub.shards.errors.BadInputError` naming the file,
the stage (``header`` or ``decode``), the tag, and what was expected and found: not DICOM, a
truncated header (pydicom's end-of-file warnings count as errors), missing pixel-module elements,
short pixel data, an unsupported transfer syntax, a decoded shape or value range that disagrees with
the header, or a constant image (what some decoders return for a truncated stream).
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError

from cxrhub.shards.dicom import backends
from cxrhub.shards.dicom.header import allowed_header
from cxrhub.shards.errors import BadInputError

__all__ = ["MONOCHROME", "read", "read_dataset"]

logger = logging.getLogger(__name__)
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_TRUNCATION = re.compile(r"end of file|delimiter|truncat|too short|not enough|fewer", re.I)
_REQUIRED = (  # (tag, keyword) of the image pixel module elements decoding needs
    ("(0028,0010)", "Rows"),
    ("(0028,0011)", "Columns"),
    ("(0028,0100)", "BitsAllocated"),
    ("(0028,0101)", "BitsStored"),
    ("(0028,0103)", "PixelRepresentation"),
    ("(0028,0004)", "PhotometricInterpretation"),
    ("(7FE0,0010)", "PixelData"),
)


def read_dataset(path: Path | str, name: str | None = None) -> pydicom.Dataset:
    """Parse the file strictly: a non-DICOM file or a truncated header is an error."""
    name = name or str(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path)
    except FileNotFoundError as exc:
        raise BadInputError(
            name, "read", "file not found", error_class="FileNotFoundError"
        ) from exc
    except InvalidDicomError as exc:
        raise BadInputError(
            name, "header", f"not a DICOM file ({exc})", error_class="InvalidDicomError"
        ) from exc
    except Exception as exc:  # pydicom raises many builtins on malformed input
        raise BadInputError(
            name, "header", f"unreadable DICOM header ({type(exc).__name__}: {exc})",
            error_class=type(exc).__name__,
        ) from exc  # fmt: skip
    for warning in caught:
        if _TRUNCATION.search(str(warning.message)):
            raise BadInputError(
                name, "header", f"truncated file: {warning.message}", error_class="EOFError"
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # values are parsed on access; a bad one raises below
            _check_module(ds, name)
    except BadInputError:
        raise
    except Exception as exc:
        raise BadInputError(
            name, "header", f"invalid pixel-module value ({type(exc).__name__}: {exc})",
            error_class=type(exc).__name__,
        ) from exc  # fmt: skip
    return ds


def _check_module(ds: pydicom.Dataset, name: str) -> None:
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        raise BadInputError(
            name, "header", "(0002,0010) TransferSyntaxUID: missing from the file meta"
        )
    for tag, keyword in _REQUIRED:
        if keyword not in ds:
            raise BadInputError(name, "header", f"{tag} {keyword}: missing; a radiograph needs it")
    photometric = str(ds.PhotometricInterpretation).strip()
    if photometric not in MONOCHROME:
        raise BadInputError(
            name,
            "header",
            f"(0028,0004) PhotometricInterpretation {photometric!r}: expected MONOCHROME1 or MONOCHROME2",
        )
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1 or int(ds.get("NumberOfFrames", 1) or 1) != 1:
        raise BadInputError(
            name, "header",
            f"(0028,0002) SamplesPerPixel {ds.get('SamplesPerPixel')} / (0028,0008) NumberOfFrames "
            f"{ds.get('NumberOfFrames')}: expected one sample and one frame",
        )  # fmt: skip


def read(
    path: Path | str, *, backend: str = "auto", name: str | None = None
) -> tuple[np.ndarray, dict]:
    """The stored pixel values (native byte order, uint/int by PixelRepresentation) and metadata.

    ``meta`` holds ``header`` (the allow-listed elements), ``transfer_syntax`` (UID and name),
    ``backend`` (the decoder that produced the array) and ``dataset`` (the parsed header, for pixel
    processing; not JSON, never written out).
    """
    name = name or str(path)
    ds = read_dataset(path, name)
    array, used = decode(ds, name, backend)
    ts = ds.file_meta.TransferSyntaxUID
    meta: dict[str, Any] = {
        "header": allowed_header(ds),
        "transfer_syntax": {"uid": str(ts), "name": ts.name},
        "backend": used,
        "dataset": ds,
    }
    return array, meta


def decode(ds: pydicom.Dataset, name: str, backend: str = "auto") -> tuple[np.ndarray, str]:
    """Decode the first frame with the preferred available backend; check it against the header."""
    ts = str(ds.file_meta.TransferSyntaxUID)
    chain = backends.choose(ts, backend)
    if not chain:
        known = ", ".join(sorted(backends.ORDER))
        raise BadInputError(
            name, "decode", f"(0002,0010) TransferSyntaxUID {ts}: unsupported; supported: {known}"
        )
    errors = []
    for candidate in chain:
        try:
            frame = None if not ds.file_meta.TransferSyntaxUID.is_encapsulated else _first_frame(ds)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                array = _as_stored(candidate.decode(ds, frame), ds)
            _check_array(array, ds, name)
            return array, candidate.name
        except BadInputError:
            raise
        except Exception as exc:  # a codec's failure is tried on the next backend, then reported
            logger.debug("%s: %s failed: %s", name, candidate.name, exc)
            errors.append(f"{candidate.name}: {type(exc).__name__}: {exc}")
    raise BadInputError(
        name, "decode", f"{ds.file_meta.TransferSyntaxUID.name}: " + "; ".join(errors)
    )


def _first_frame(ds: pydicom.Dataset) -> bytes:
    return next(generate_frames(ds.PixelData, number_of_frames=1))


def _as_stored(array: np.ndarray, ds: pydicom.Dataset) -> np.ndarray:
    """The array as the header declares it, like pydicom: dtype from BitsAllocated and
    PixelRepresentation (a codec's unsigned output reinterpreted when the data is signed), and
    the bits above BitsStored ignored (masked, or sign-extended)."""
    signed, size = bool(int(ds.PixelRepresentation)), max(1, int(ds.BitsAllocated) // 8)
    expected = np.dtype(f"{'i' if signed else 'u'}{size}")
    array = np.asarray(array)
    if array.dtype.kind not in "ui" or array.dtype.itemsize > size:
        raise ValueError(f"decoded {array.dtype}, the header declares {expected}")
    if array.dtype.byteorder == ">" or array.dtype.itemsize < size:
        array = array.astype(f"{array.dtype.kind}{size}")
    if array.dtype.kind != expected.kind:
        array = array.view(expected)
    shift = 8 * size - int(ds.BitsStored)
    if shift > 0:
        bits = int(ds.BitsStored)
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if int(array.min()) < low or int(array.max()) > high:  # only then pay for a copy
            array = np.right_shift(np.left_shift(array, shift), shift)
    return array


def _check_array(array: np.ndarray, ds: pydicom.Dataset, name: str) -> None:
    shape = (int(ds.Rows), int(ds.Columns))
    if array.shape != shape:
        raise BadInputError(
            name,
            "decode",
            f"decoded shape {array.shape}; (0028,0010/0011) Rows x Columns say {shape}",
        )
    low, high = int(array.min()), int(array.max())
    if low == high:
        raise BadInputError(
            name, "decode", f"decoded image is constant ({low}): a failed or truncated stream"
        )
