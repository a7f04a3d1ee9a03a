"""Area downscaling of single-channel uint8/uint16 images, shared by the converter and the loader.

Pydicom-free (NumPy and Pillow only), so the streaming loader's DataLoader workers import it
without the conversion stack; ``cxrhub.shards.dicom.encode`` re-exports it. The pixel checks here
are the ones every encoder applies to its input.
"""

from __future__ import annotations

import numpy as np
import PIL
from PIL import Image

__all__ = ["RESIZE_MODES", "checked_dtype", "checked_pixels", "resize_area", "resize_params"]

RESIZE_MODES = ("long", "square")


def resize_params(shape: tuple[int, ...], size: int, mode: str = "long") -> dict:
    """The geometry ``resize_area`` uses for an image of ``shape`` (rows, cols).

    ``scaled_shape``: the long side becomes ``size`` and the short side is scaled by the same
    factor and rounded half up, at least 1. There is never any upscaling: when ``size`` is at least
    the long side, ``scaled_shape`` equals ``shape``. ``"square"`` adds zero padding (``pad``: top,
    bottom, left, right) to reach ``size`` x ``size``, with the image centred (any odd pixel goes
    bottom/right).
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r}; known: {list(RESIZE_MODES)}")
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive integer; got {size!r}")
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"expected a 2-D (rows, cols) shape with both sides >= 1; got {shape}")
    rows, cols = (int(s) for s in shape)
    long_side = max(rows, cols)
    if size >= long_side:
        scaled = (rows, cols)
    else:
        scale = size / long_side
        scaled = tuple(
            size if s == long_side else max(1, int(s * scale + 0.5)) for s in (rows, cols)
        )
    out = (size, size) if mode == "square" else scaled
    top, left = (out[0] - scaled[0]) // 2, (out[1] - scaled[1]) // 2
    return {
        "method": "area",
        "resampler": f"Pillow {PIL.__version__} BOX on float32, rounded half to even",
        "mode": mode,
        "size": int(size),
        "source_shape": [rows, cols],
        "scaled_shape": list(scaled),
        "output_shape": list(out),
        "pad": [top, out[0] - scaled[0] - top, left, out[1] - scaled[1] - left],
        "pad_value": 0,
    }


def resize_area(arr: np.ndarray, size: int, mode: str = "long") -> np.ndarray:
    """Downscale ``arr`` by area averaging. The dtype is kept: uint8 stays uint8, uint16 uint16.

    ``"long"`` makes the long side ``size`` and keeps the aspect ratio. ``"square"`` does the
    same, then pads with 0 to ``size`` x ``size`` with the image centred. 0 is black only in the
    MONOCHROME2 convention, so invert MONOCHROME1 pixels before padding them.

    Each output pixel is the mean of the source area it covers, computed in float32 by Pillow's BOX
    filter and rounded half to even. For integer factors this is the block mean within 0.5. The
    exact mean matters here: Pillow's integer modes round after each separable pass, which biases
    a 2x reduction by +0.5 on average.

    There is never any upscaling. When ``size`` is at least the long side, ``"long"`` returns
    ``arr`` itself, uncopied. ``"square"`` still pads, so its output is always ``size`` x ``size``.
    """
    source, arr = arr, checked_pixels(arr, "resize_area")
    plan = resize_params(arr.shape, size, mode)
    scaled = tuple(plan["scaled_shape"])
    if mode == "long" and scaled == arr.shape:
        return source
    if scaled != arr.shape:
        # Pillow maps L / I;16 onto the array (no copy); convert() widens to float32 in C
        image = Image.fromarray(arr).convert("F")
        mean = np.asarray(image.resize(scaled[::-1], Image.Resampling.BOX))
        limit = np.iinfo(arr.dtype).max
        arr = np.clip(np.rint(mean), 0, limit).astype(arr.dtype)
    if mode == "square" and tuple(plan["output_shape"]) != scaled:
        top, bottom, left, right = plan["pad"]
        arr = np.pad(arr, ((top, bottom), (left, right)), constant_values=0)
    return arr


def checked_pixels(arr: np.ndarray, caller: str) -> np.ndarray:
    """``arr`` as a C-contiguous, native-endian uint8/uint16 2-D array; clear errors otherwise."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{caller} takes a numpy array; got {type(arr).__name__}")
    if arr.ndim != 2:
        raise ValueError(
            f"{caller} takes a 2-D (rows, cols) single-channel array; got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{caller} got an empty array of shape {arr.shape}")
    dtype = checked_dtype(arr.dtype, caller)
    return np.ascontiguousarray(arr, dtype=dtype)


def checked_dtype(dtype: np.dtype, caller: str) -> np.dtype:
    """The native-endian form of an unsigned 8/16-bit dtype; ``ValueError`` for anything else."""
    if dtype.kind == "u" and dtype.itemsize in (1, 2):
        return dtype.newbyteorder("=")
    hint = ""
    if dtype.kind == "i":
        hint = (
            ": signed pixels do not read back exactly through Pillow (JPEG 2000 comes back "
            "shifted by +32768); map them to unsigned first and record the offset, e.g. "
            "arr - arr.min(), or arr.astype(np.uint16) when no value is negative"
        )
    raise ValueError(f"{caller} takes uint8 or uint16 pixels; got {dtype}{hint}")
