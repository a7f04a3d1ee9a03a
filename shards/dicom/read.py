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
import struct
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pydicom
from pydicom import uid
from pydicom.errors import InvalidDicomError

from cxrhub.shards.dicom import backends
from cxrhub.shards.dicom.header import allowed_header
from cxrhub.shards.errors import BadInputError

__all__ = ["MONOCHROME", "read", "read_dataset"]

logger = logging.getLogger(__name__)
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_TRUNCATION = re.compile(r"end of file|delimiter|truncat|too short|not enough|fewer", re.I)
_REQUIRED = (  # (tag, keyword) of the image pixel module elements decoding needs
    (0x00280010, "Rows"),
    (0x00280011, "Columns"),
    (0x00280100, "BitsAllocated"),
    (0x00280101, "BitsStored"),
    (0x00280103, "PixelRepresentation"),
    (0x00280004, "PhotometricInterpretation"),
    (0x7FE00010, "PixelData"),
)


class PixelInfo(NamedTuple):
    """The pixel-module values decoding uses, read from the header once."""

    rows: int
    columns: int
    bits_allocated: int
    bits_stored: int
    signed: bool

    @classmethod
    def of(cls, ds: pydicom.Dataset) -> PixelInfo:
        """From a checked header."""
        return cls(
            int(ds.Rows), int(ds.Columns), int(ds.BitsAllocated), int(ds.BitsStored),
            bool(int(ds.PixelRepresentation)),
        )  # fmt: skip

    @property
    def dtype(self) -> np.dtype:
        """The stored values' dtype (native byte order)."""
        return np.dtype(f"{'i' if self.signed else 'u'}{max(1, self.bits_allocated // 8)}")


def read_dataset(path: Path | str, name: str | None = None, *, pixels: bool = True):
    """Parse the file strictly: a non-DICOM file or a truncated header is an error.

    With ``pixels=False`` parsing stops before the pixel data and the open file is returned too,
    positioned at the (7FE0,0010) element: ``(ds, file)``; the caller closes it.
    """
    name = name or str(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - returned to the caller when pixels=False
    except FileNotFoundError as exc:
        raise BadInputError(
            name, "read", "file not found", error_class="FileNotFoundError"
        ) from exc
    try:
        ds = _strict_parse(handle, name, stop_before_pixels=not pixels)
        _check_module(ds, name, pixels=pixels)
    except BaseException:
        handle.close()
        raise
    if pixels:
        handle.close()
        return ds
    return ds, handle


def _strict_parse(handle, name: str, *, stop_before_pixels: bool) -> pydicom.Dataset:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(handle, stop_before_pixels=stop_before_pixels)
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
    return ds


def _check_module(ds: pydicom.Dataset, name: str, *, pixels: bool = True) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # values are parsed on access; a bad one raises below
            _check_elements(ds, name, _REQUIRED if pixels else _REQUIRED[:-1])
    except BadInputError:
        raise
    except Exception as exc:
        raise BadInputError(
            name, "header", f"invalid pixel-module value ({type(exc).__name__}: {exc})",
            error_class=type(exc).__name__,
        ) from exc  # fmt: skip


def _check_elements(ds: pydicom.Dataset, name: str, required: tuple) -> None:
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        raise BadInputError(
            name, "header", "(0002,0010) TransferSyntaxUID: missing from the file meta"
        )
    present = set(ds.keys())
    for tag, keyword in required:
        if tag not in present:
            raise BadInputError(
                name,
                "header",
                f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword}: missing; a radiograph needs it",
            )
    photometric = str(ds.PhotometricInterpretation).strip()
    if photometric not in MONOCHROME:
        raise BadInputError(
            name, "header",
            f"(0028,0004) PhotometricInterpretation {photometric!r}: expected "
            "MONOCHROME1 or MONOCHROME2",
        )  # fmt: skip
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

    The header is parsed once, up to the pixel data; native pixel data is then read straight into
    the array and an encapsulated frame straight into the codec. pydicom's own handlers (a full
    parse) are the fallback when no faster backend is available or succeeds.
    """
    name = name or str(path)
    ds, handle = read_dataset(path, name, pixels=False)
    info = PixelInfo.of(ds)
    with handle:
        source = _pixel_source(ds, info, handle, name)
    array, used = decode(ds, info, source, path, name, backend)
    ts = ds.file_meta.TransferSyntaxUID
    meta: dict[str, Any] = {
        "header": allowed_header(ds),
        "transfer_syntax": {"uid": str(ts), "name": ts.name},
        "backend": used,
        "dataset": ds,
    }
    return array, meta


_NATIVE = (uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, uid.ExplicitVRBigEndian)


def _pixel_source(
    ds: pydicom.Dataset, info: PixelInfo, handle, name: str
) -> np.ndarray | bytes | None:
    """Native: the stored values read straight from the file. Encapsulated: the first frame.
    ``None`` where only a full parse can tell (deflated files)."""
    ts = ds.file_meta.TransferSyntaxUID
    if ts not in backends.ORDER:
        return None  # decode() names the unsupported syntax
    if (ts not in _NATIVE and not ts.is_encapsulated) or info.bits_allocated not in (8, 16, 32):
        return None
    little, implicit = ts.is_little_endian, ts.is_implicit_VR
    head = handle.read(8)
    order = "<" if little else ">"
    if len(head) < 8 or struct.unpack(f"{order}HH", head[:4]) != (0x7FE0, 0x0010):
        raise BadInputError(
            name, "decode", "(7FE0,0010) PixelData: missing; the file ends before it"
        )
    if implicit:
        length = struct.unpack(f"{order}I", head[4:8])[0]
    else:
        length = struct.unpack(f"{order}I", handle.read(4))[0]
    if ts.is_encapsulated:
        fragments = _items(memoryview(handle.read()), name)[1:]  # after the Basic Offset Table
        if not fragments:
            raise BadInputError(name, "decode", "(7FE0,0010) PixelData: no fragment, no frame")
        # one frame: its fragments in order (a single fragment is handed over without a copy)
        return fragments[0] if len(fragments) == 1 else b"".join(fragments)
    return _native_array(ds, info, handle, length, name)


def _items(data: memoryview, name: str) -> list[memoryview]:
    """The values of the encapsulated items, each checked whole, up to the sequence delimiter."""
    values, position = [], 0
    while position + 8 <= len(data):
        tag = bytes(data[position : position + 4])
        length = struct.unpack("<I", data[position + 4 : position + 8])[0]
        if tag == b"\xfe\xff\xdd\xe0":
            return values
        if tag != b"\xfe\xff\x00\xe0":
            raise BadInputError(
                name, "decode", f"(7FE0,0010) PixelData: no item tag at byte {position}"
            )
        if position + 8 + length > len(data):
            break  # the item runs past the end of the file
        values.append(data[position + 8 : position + 8 + length])
        position += 8 + length
    raise BadInputError(
        name, "decode",
        "(7FE0,0010) PixelData: truncated: the file ends before the sequence delimiter (FFFE,E0DD)",
        error_class="EOFError",
    )  # fmt: skip


def _native_array(
    ds: pydicom.Dataset, info: PixelInfo, handle, length: int, name: str
) -> np.ndarray:
    little = ds.file_meta.TransferSyntaxUID.is_little_endian
    dtype = info.dtype.newbyteorder("<" if little else ">")
    count = info.rows * info.columns
    needed = count * dtype.itemsize
    array = np.fromfile(handle, dtype=dtype, count=count) if length >= needed else np.empty(0)
    if array.size < count:
        found = min(length, array.size * dtype.itemsize)
        raise BadInputError(
            name, "decode",
            f"(7FE0,0010) PixelData holds {found} bytes; Rows x Columns x "
            f"{dtype.itemsize} bytes needs {needed}",
        )  # fmt: skip
    return array.reshape(info.rows, info.columns)


def decode(
    ds: pydicom.Dataset,
    info: PixelInfo,
    source,
    path: Path | str,
    name: str,
    backend: str = "auto",
) -> tuple[np.ndarray, str]:
    """Decode with the preferred available backend; check the result against the header."""
    ts = str(ds.file_meta.TransferSyntaxUID)
    chain = backends.choose(ts, backend)
    if not chain:
        raise BadInputError(
            name, "decode",
            f"(0002,0010) TransferSyntaxUID {ts}: unsupported; supported: "
            + ", ".join(sorted(backends.ORDER)),
        )  # fmt: skip
    errors = []
    for candidate in chain:
        try:
            array = _run(candidate, ds, info, source, path)
        except Exception as exc:  # noqa: PERF203 - a failing codec hands over to the next one
            logger.debug("%s: %s failed: %s", name, candidate.name, exc)
            errors.append(f"{candidate.name}: {type(exc).__name__}: {exc}")
            continue
        _check_array(array, info, name)
        return array, candidate.name
    raise BadInputError(
        name, "decode", f"{ds.file_meta.TransferSyntaxUID.name}: " + "; ".join(errors)
    )


def _run(
    candidate: backends.Backend, ds: pydicom.Dataset, info: PixelInfo, source, path: Path | str
) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if candidate.name == "pydicom":
            raw = candidate.decode(read_dataset(path), None)
        elif source is None:
            raise ValueError("needs pydicom's full parse (deflated or unusual bit depth)")
        else:
            raw = candidate.decode(ds, source)
        return _as_stored(raw, info)


def _as_stored(array: np.ndarray, info: PixelInfo) -> np.ndarray:
    """The array as the header declares it, like pydicom: dtype from BitsAllocated and
    PixelRepresentation (a codec's unsigned output reinterpreted when the data is signed), and
    the bits above BitsStored ignored (masked, or sign-extended)."""
    signed, bits, expected = info.signed, info.bits_stored, info.dtype
    size = expected.itemsize
    array = np.asarray(array)
    if array.dtype.kind not in "ui" or array.dtype.itemsize > size:
        raise ValueError(f"decoded {array.dtype}, the header declares {expected}")
    if array.dtype.byteorder == ">" or array.dtype.itemsize < size:
        array = array.astype(f"{array.dtype.kind}{size}")
    if array.dtype.kind != expected.kind:
        array = array.view(expected)
    shift = 8 * size - bits
    if shift > 0 and _exceeds(array, bits, signed):  # only then pay for a copy
        array = np.right_shift(np.left_shift(array, shift), shift)
    return array


def _exceeds(array: np.ndarray, bits: int, signed: bool) -> bool:
    """Whether any value uses the bits above BitsStored (one pass for unsigned data)."""
    if not signed:
        return int(array.max()) >= 1 << bits
    return int(array.min()) < -(1 << (bits - 1)) or int(array.max()) >= 1 << (bits - 1)


def _check_array(array: np.ndarray, info: PixelInfo, name: str) -> None:
    shape = (info.rows, info.columns)
    if array.shape != shape:
        raise BadInputError(
            name,
            "decode",
            f"decoded shape {array.shape}; (0028,0010/0011) Rows x Columns say {shape}",
        )
    sample = array[:: max(1, shape[0] // 64), :: max(1, shape[1] // 64)]  # cheap first look
    if sample.min() == sample.max() and array.min() == array.max():
        raise BadInputError(
            name,
            "decode",
            f"decoded image is constant ({array.flat[0]}): a failed or truncated stream",
        )
