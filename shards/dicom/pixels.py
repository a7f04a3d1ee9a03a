"""Pixel processing from stored values to a display image: exact to pydicom, fast by lookup table.

Inputs: an array of stored values and ``meta``, the plain (JSON-like) dict from :func:`pixel_meta`.
:func:`modality_lut` and :func:`voi_lut` return pydicom 3's values and dtypes, quirks included;
where pydicom wraps or fails they saturate (values past a LUT's end take its last entry; 1-7 and
9-bit LUT entries are kept). :func:`to_display` runs modality LUT, VOI, scaling and MONOCHROME1 /
INVERSE inversion once over every value of an 8/16-bit integer dtype and indexes that table with
the array viewed as unsigned (stray bits above BitsStored stay exact); other data take the same
code on the whole image, so both paths give identical bytes. :func:`mimic_cxr_jpg` is the
MIMIC-CXR-JPG recipe (MIT-LCP/mimic-cxr#16), OpenCV's ``equalizeHist`` reproduced bit for bit.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.datadict import tag_for_keyword

from cxrhub.shards.errors import BadInputError

if TYPE_CHECKING:
    from pydicom import Dataset

__all__ = [
    "PixelMetaError",
    "equalize_hist",
    "mimic_cxr_jpg",
    "modality_lut",
    "pixel_meta",
    "to_display",
    "voi_lut",
]

Image = np.ndarray | tuple[np.ndarray, dict]
VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
LUT_SHAPES = ("IDENTITY", "INVERSE")
GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")
_KINDS = {
    str: "PhotometricInterpretation RescaleType VOILUTFunction PresentationLUTShape".split(),
    int: "BitsStored BitsAllocated PixelRepresentation".split(),
    float: "RescaleSlope RescaleIntercept".split(),
}
_LISTS = {"WindowCenter": float, "WindowWidth": float, "WindowCenterWidthExplanation": str}


class PixelMetaError(BadInputError):
    """A header value pixel processing cannot use; callers that know the path re-raise with it."""

    def __init__(self, message: str, *, path: str = "", stage: str = "pixels"):
        super().__init__(path, stage, message)

    def __str__(self) -> str:
        return f"{self.path}: {self.stage}: {self.message}" if self.path else self.message


def _bad(keyword: str, found: Any, expected: str) -> PixelMetaError:
    tag = tag_for_keyword(keyword)
    tag = f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword}"
    return PixelMetaError(f"{tag} is {found!r}; expected {expected}")


def _empty(value: Any) -> bool:
    return value is None or (not isinstance(value, (int, float)) and len(value) == 0)


def _convert(keyword: str, kind: type, value: Any) -> Any:
    try:
        return str(value).strip() if kind is str else kind(value)
    except (TypeError, ValueError):
        raise _bad(keyword, value, "a number") from None


def pixel_meta(ds: Dataset) -> dict:
    """The header values pixel processing needs, as plain Python values; missing ones are absent.

    Window values and explanations are always lists; the LUT sequences are lists of dicts with
    ``LUTDescriptor`` and ``LUTData`` as lists of ints (OW data unpacked in the file's byte order).
    """
    meta: dict = {}
    for kind, keywords in _KINDS.items():
        for keyword in keywords:
            if not _empty(value := ds.get(keyword)):
                meta[keyword] = _convert(keyword, kind, value)
    for keyword, kind in _LISTS.items():
        if not _empty(value := ds.get(keyword)):
            values = [value] if isinstance(value, (str, int, float)) else list(value)
            meta[keyword] = [_convert(keyword, kind, v) for v in values]
    for keyword in ("ModalityLUTSequence", "VOILUTSequence"):
        if items := ds.get(keyword):
            meta[keyword] = [_lut_item(item, ds) for item in items]
    return meta


def _lut_item(item: Dataset, ds: Dataset) -> dict:
    out: dict = {}
    if not _empty(descriptor := item.get("LUTDescriptor")):
        out["LUTDescriptor"] = [int(v) for v in descriptor]
    if not _empty(data := item.get("LUTData")):
        out["LUTData"] = _lut_data(data, out.get("LUTDescriptor"), ds)
    for keyword in ("LUTExplanation", "ModalityLUTType"):
        if not _empty(value := item.get(keyword)):
            out[keyword] = str(value).strip()
    return out


def _lut_data(data: Any, descriptor: list[int] | None, ds: Dataset) -> list[int]:
    if not isinstance(data, (bytes, bytearray)):
        return [data] if isinstance(data, int) else [int(v) for v in data]
    entries = (descriptor[0] or 2**16) if descriptor else len(data) // 2
    try:
        return list(struct.unpack_from(f"{'<' if _little_endian(ds) else '>'}{entries}H", data))
    except struct.error:
        raise _bad("LUTData", f"{len(data)} bytes", f"{entries} 16-bit entries") from None


def _little_endian(ds: Dataset) -> bool:
    try:  # as pydicom decides: the transfer syntax, else how the file was read
        return bool(getattr(ds, "file_meta", {}).get("TransferSyntaxUID").is_little_endian)
    except (AttributeError, ValueError):
        if (little := ds.original_encoding[1]) is None:
            raise _bad("LUTData", "OW of unknown byte order", "a transfer syntax") from None
        return little


def modality_lut(arr: np.ndarray, meta: dict) -> np.ndarray:
    """The Modality LUT Sequence or the rescale, as ``pydicom.pixels.apply_modality_lut``.

    uint8/uint16 (the LUT's bits per entry) for a LUT, float64 for a rescale, else ``arr`` itself.
    """
    if items := meta.get("ModalityLUTSequence"):
        return _apply_lut(arr, items[0], "ModalityLUTSequence")
    if "RescaleSlope" in meta and "RescaleIntercept" in meta:
        out = arr.astype(np.float64) * meta["RescaleSlope"]
        out += meta["RescaleIntercept"]
        return out
    return arr


def _lut_table(item: dict, sequence: str) -> tuple[np.ndarray, int, int]:
    """The LUT entries (uint8/uint16), the first value mapped and the bits per entry."""
    descriptor, data = item.get("LUTDescriptor"), item.get("LUTData")
    if not descriptor or len(descriptor) != 3 or not data:
        raise _bad(sequence, item.get("LUTDescriptor"), "items with LUTDescriptor and LUTData")
    entries, first, depth = descriptor
    if not 1 <= depth <= 16:
        raise _bad("LUTDescriptor", descriptor, "1 to 16 bits per entry")
    dtype = np.uint8 if depth <= 8 else np.uint16
    table = np.asarray(data[: entries or 2**16], dtype=np.int64)
    if table.min() < 0 or table.max() > np.iinfo(dtype).max:
        raise _bad("LUTData", f"{table.min()}..{table.max()}", f"{depth}-bit entries")
    return table.astype(dtype), first, depth


def _apply_lut(arr: np.ndarray, item: dict, sequence: str) -> np.ndarray:
    """Values below the first mapped one take entry 0, values past the end the last entry."""
    table, first, _ = _lut_table(item, sequence)
    shifted = arr - first if arr.dtype.kind == "f" else arr.astype(np.int64) - first
    index = np.clip(np.where(arr >= first, shifted, 0), 0, len(table) - 1)  # NaN: entry 0
    return table[index.astype(np.intp)]


def voi_lut(arr: np.ndarray, meta: dict, *, index: int = 0, prefer: str = "lut") -> np.ndarray:
    """VOI LUT Sequence item or window ``index`` on modality values, as pydicom's ``apply_voi_lut``.

    ``prefer`` (``lut`` or ``window``) decides when the header has both (pydicom's ``prefer_lut``).
    A window gives float64 over the stored-value range through the rescale (as pydicom), a LUT
    its uint8/uint16 entries; with neither, ``arr`` comes back.
    """
    if prefer not in ("lut", "window"):
        raise ValueError(f"prefer must be 'lut' or 'window', not {prefer!r}")
    method = _voi_found(meta, prefer)
    if method == "lut":
        return _apply_lut(arr, _pick(meta, "VOILUTSequence", index), "VOILUTSequence")
    return _window(arr, meta, index) if method == "window" else arr


def _voi_found(meta: dict, prefer: str) -> str | None:
    item = (meta.get("VOILUTSequence") or [{}])[0]
    lut = "LUTDescriptor" in item and "LUTData" in item
    window = "WindowCenter" in meta and "WindowWidth" in meta
    return "lut" if lut and (prefer == "lut" or not window) else "window" if window else None


def _pick(meta: dict, keyword: str, index: int) -> Any:
    values = meta[keyword]
    if len(values) == 1 and keyword != "VOILUTSequence":  # pydicom: serves any index
        return values[0]
    if not 0 <= index < len(values):
        raise _bad(keyword, f"{len(values)} values", f"a value number {index}")
    return values[index]


def _window_params(meta: dict, index: int) -> tuple[float, float, str]:
    function = meta.get("VOILUTFunction", "LINEAR").upper()
    if function not in VOI_FUNCTIONS:
        raise _bad("VOILUTFunction", meta["VOILUTFunction"], f"one of {', '.join(VOI_FUNCTIONS)}")
    center, width = _pick(meta, "WindowCenter", index), _pick(meta, "WindowWidth", index)
    if width < 1 if function == "LINEAR" else width <= 0:
        limit = ">= 1" if function == "LINEAR" else "> 0"
        raise _bad("WindowWidth", width, f"{limit} for {function}")
    return center, width, function


def _window_range(meta: dict) -> tuple[int | float, int | float]:
    """The stored-value range through the modality transform (pydicom's window output range)."""
    if items := meta.get("ModalityLUTSequence"):
        low, high = 0, 2 ** _lut_table(items[0], "ModalityLUTSequence")[2] - 1
    elif missing := [k for k in ("BitsStored", "PixelRepresentation") if k not in meta]:
        raise _bad(missing[0], None, "a value (the window maps onto the stored-value range)")
    elif meta["PixelRepresentation"] == 0:
        low, high = 0, 2 ** meta["BitsStored"] - 1
    else:
        low, high = -(2 ** (meta["BitsStored"] - 1)), 2 ** (meta["BitsStored"] - 1) - 1
    if "RescaleSlope" in meta and "RescaleIntercept" in meta:
        slope, intercept = meta["RescaleSlope"], meta["RescaleIntercept"]
        low, high = low * slope + intercept, high * slope + intercept
    return low, high


def _window(arr: np.ndarray, meta: dict, index: int) -> np.ndarray:
    """PS3.3 C.11.2.1.2 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT), C.11.2.1.3.1 (SIGMOID)."""
    _grayscale(meta)
    center, width, function = _window_params(meta, index)
    low, high = _window_range(meta)
    out = arr.astype(np.float64)
    if function == "SIGMOID":
        with np.errstate(over="ignore"):  # exp overflows to inf: the value is low, as in pydicom
            return (high - low) / (1 + np.exp(-4 * (out - center) / width)) + low
    if function == "LINEAR":
        center, width = center - 0.5, width - 1
    below, above = out <= center - width / 2, out > center + width / 2
    between = ~(below | above)
    if between.any():
        out[between] = ((out[between] - center) / width + 0.5) * (high - low) + low
    out[below], out[above] = low, high
    return out


def _grayscale(meta: dict) -> str:
    if (photometric := meta.get("PhotometricInterpretation")) not in GRAYSCALE:
        raise _bad("PhotometricInterpretation", photometric, " or ".join(GRAYSCALE))
    return photometric


def _inverted(meta: dict) -> bool:
    photometric = _grayscale(meta)
    if (shape := meta.get("PresentationLUTShape", "IDENTITY").upper()) not in LUT_SHAPES:
        raise _bad("PresentationLUTShape", meta["PresentationLUTShape"], " or ".join(LUT_SHAPES))
    return photometric == "MONOCHROME1" or shape == "INVERSE"


def _voi_plan(meta: dict, voi: str, index: int) -> dict:
    """The VOI to apply, with ``range``: its output range that maps onto ``[0, 2**bits - 1]``."""
    if voi not in ("auto", "minmax", "none"):
        raise ValueError(f"voi must be 'auto', 'minmax' or 'none', not {voi!r}")
    method = (_voi_found(meta, "lut") or "minmax") if voi == "auto" else voi
    plan: dict = {"method": method}
    if method == "window":
        notes = meta.get("WindowCenterWidthExplanation") or [None]
        plan.update(zip(("center", "width", "function"), _window_params(meta, index), strict=True))
        plan.update(explanation=notes[min(index, len(notes) - 1)], index=index)
    elif method == "lut":
        item = _pick(meta, "VOILUTSequence", index)
        plan.update(lut=item.get("LUTExplanation"), descriptor=item["LUTDescriptor"], index=index)
        plan["range"] = [0, 2 ** _lut_table(item, "VOILUTSequence")[2] - 1]
    if method in ("window", "none"):
        plan["range"] = list(_window_range(meta))
    return plan


def to_display(
    arr: np.ndarray,
    meta: dict,
    *,
    bits: int = 8,
    voi: str = "auto",
    index: int = 0,
    return_params: bool = False,
) -> Image:
    """Stored values to a uint8/uint16 display image, bright = dense (MONOCHROME2 convention).

    ``voi``: ``auto`` (VOI LUT Sequence, else window ``index``, else min-max), ``minmax`` (over
    this image's modality values) or ``none`` (the stored-value range through the modality
    transform). ``return_params`` adds what was applied, JSON-ready: ``modality``, ``voi``
    (``method`` plus center/width/function, lut/descriptor or minmax; ``range`` is what maps
    onto the output range), ``inverted``, ``bits``.
    """
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, not {bits!r}")
    if arr.size == 0:
        raise PixelMetaError("the pixel array is empty")
    plan, inverted = _voi_plan(meta, voi, index), _inverted(meta)
    by_table = arr.dtype.kind in "iu" and arr.dtype.itemsize <= 2
    domain, keys = _domain(arr) if by_table and arr.size >= 256**arr.dtype.itemsize else (arr, None)
    modality = modality_lut(domain, meta)
    if plan["method"] == "minmax":
        plan["minmax"] = _present_range(modality, arr, keys)
        plan["range"] = list(plan["minmax"])
    out = _finish(modality, meta, plan, bits, inverted)
    out = out if keys is None else np.take(out, keys)
    params = {"modality": _modality_params(meta), "voi": plan, "inverted": inverted, "bits": bits}
    return (out, params) if return_params else out


def _domain(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every value of ``arr``'s dtype, ordered by its unsigned view, and ``arr`` as that view."""
    arr = arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))
    unsigned = np.dtype(f"u{arr.dtype.itemsize}")
    domain = np.arange(256**arr.dtype.itemsize, dtype=unsigned).view(arr.dtype)
    return domain, arr.view(unsigned)


def _present_range(table: np.ndarray, arr: np.ndarray, keys: np.ndarray | None) -> list:
    """Min and max of ``table`` over the values in ``arr`` (a histogram only if not monotonic)."""
    if keys is None:
        return [table.min().item(), table.max().item()]
    run = table[np.arange(int(arr.min()), int(arr.max()) + 1) % len(table)]  # = unsigned views
    steps = np.diff(run.astype(np.float64))
    if not ((steps >= 0).all() or (steps <= 0).all()):
        run = table[np.bincount(keys.ravel(), minlength=len(table)) > 0]
    return [run.min().item(), run.max().item()]


def _finish(modality: np.ndarray, meta: dict, plan: dict, bits: int, inverted: bool) -> np.ndarray:
    """VOI, then ``plan['range']`` onto ``[0, 2**bits - 1]`` rounded half to even, then invert."""
    if (method := plan["method"]) in ("lut", "window"):
        modality = voi_lut(modality, meta, index=plan["index"], prefer=method)
    (low, high), top = plan["range"], 2**bits - 1
    out = (modality.astype(np.float64) - low) / ((high - low) or 1)  # one-value range: all 0
    np.clip(out, 0.0, 1.0, out=out)
    out *= top
    np.rint(out, out=out)
    if inverted:
        np.subtract(top, out, out=out)
    return out.astype(np.uint8 if bits == 8 else np.uint16)


def _modality_params(meta: dict) -> dict | None:
    if items := meta.get("ModalityLUTSequence"):
        keys = {"lut": "LUTExplanation", "descriptor": "LUTDescriptor", "type": "ModalityLUTType"}
        return {name: items[0].get(keyword) for name, keyword in keys.items()}
    if "RescaleSlope" in meta and "RescaleIntercept" in meta:
        keys = {"slope": "RescaleSlope", "intercept": "RescaleIntercept", "type": "RescaleType"}
        return {name: meta.get(keyword) for name, keyword in keys.items()}
    return None


def equalize_hist(image: np.ndarray) -> np.ndarray:
    """OpenCV's ``cv2.equalizeHist`` on a uint8 image, bit for bit."""
    if image.dtype != np.uint8:
        raise ValueError(f"equalize_hist needs uint8, not {image.dtype}")
    return _equalize_table(np.bincount(image.ravel(), minlength=256))[image]


def _equalize_table(hist: np.ndarray) -> np.ndarray:
    """OpenCV ``histogram.cpp``: ``lut[i] = saturate_cast<uchar>(sum(hist[first+1..i]) * scale)``.

    ``scale = 255.f / (total - hist[first])`` and the product are float32, ``cvRound`` rounds half
    to even, and a one-value image keeps its value.
    """
    first, total = int(np.flatnonzero(hist)[0]), int(hist.sum())
    if hist[first] == total:
        return np.full(256, first, dtype=np.uint8)
    scale = np.float32(255.0) / np.float32(total - int(hist[first]))
    sums = (np.cumsum(hist) - hist[first]).astype(np.float32)
    table = np.clip(np.rint(sums * scale), 0, 255).astype(np.uint8)
    table[: first + 1] = 0
    return table


def _mimic_scale(values: np.ndarray, low: float, high: float, inverted: bool) -> np.ndarray:
    out = np.zeros(values.shape, dtype=np.uint8)  # the recipe's 0 / 0 (NaN) casts to 0 on x86
    if high != low:
        out = ((values.astype(np.float64) - low) / (high - low) * 255).astype(np.uint8)
    return 255 - out if inverted else out


def mimic_cxr_jpg(arr: np.ndarray, meta: dict, *, return_params: bool = False) -> Image:
    """The MIMIC-CXR-JPG recipe on stored values (``pixel_array``: no modality LUT), uint8.

    ``(a - a.min()) / (a - a.min()).max() * 255`` truncated to uint8, ``255 - x`` for
    MONOCHROME1 (the recipe ignores Presentation LUT Shape), then ``cv2.equalizeHist``.
    """
    if arr.ndim != 2 or arr.size == 0:
        raise PixelMetaError(f"the recipe takes one 2-D grayscale frame, not shape {arr.shape}")
    inverted = meta.get("PhotometricInterpretation") == "MONOCHROME1"
    low, high = arr.min().item(), arr.max().item()
    if arr.dtype.kind in "iu" and arr.dtype.itemsize <= 2:
        domain, keys = _domain(arr)
        table = _mimic_scale(np.clip(domain, low, high), low, high, inverted)
        counts = np.bincount(keys.ravel(), minlength=len(table))
        hist = np.bincount(table, weights=counts, minlength=256).astype(np.int64)
        out = np.take(_equalize_table(hist)[table], keys)
    else:
        out = equalize_hist(_mimic_scale(arr, low, high, inverted))
    params = {"recipe": "mimic-cxr-jpg", "minmax": [low, high], "inverted": inverted, "bits": 8}
    return (out, params) if return_params else out
