"""Image bytes -> numpy arrays, fast, with the stored bit depth kept.

The format is read from the bytes' magic number, so a column decodes the same from a tar
member or a Parquet cell:

- ``.npy``: no copy. The header is parsed once per distinct header; the array is
  ``np.frombuffer`` over the stored bytes (a read-only view into the shard's memory map or the
  Parquet buffer, which stays mapped while the array lives; a DataLoader's collate copies it
  into the batch). A tar's mapping holds one file descriptor until its last view is gone, so
  keeping images of more shards than the fd limit alive at once needs ``writable=True``: a
  private, writable copy (one memcpy) that ties nothing to the shard.
- JPEG: ``imagecodecs.jpeg8_decode`` (libjpeg-turbo; pixel-identical to Pillow's and ~1.3x
  faster here), Pillow when imagecodecs lacks it.
- PNG: ``imagecodecs.png_decode`` (libpng). 16-bit PNGs stay ``uint16`` (never squeezed to 8
  bits), as Pillow's ``I;16`` gives them; Pillow is the fallback.
- HTJ2K / JPEG 2000 codestreams (the archival ``.j2k``): ``imagecodecs.htj2k_decode`` (OpenJPH),
  then ``jpeg2k_decode`` (OpenJPEG), then Pillow. ``uint16`` values are bit-exact.

``resize``: downscale by area (the converter's own :func:`~cxrhub.shards.resize.resize_area`:
long side -> ``size``, dtype kept, never upscales; ``"square"`` pads to ``size x size``).
``crop``: a centred ``crop x crop`` window after the resize (smaller images are not padded).

GPU decoding with nvImageCodec (``pip install nvidia-nvimgcodec-cu12[all]``) is opt-in
(``gpu=True``): :func:`gpu_decoder` returns a decoder whose output is an ``nvimgcodec.Image``
in GPU memory (``__cuda_array_interface__``, ``H x W x 1``); wrap it with
``torch.as_tensor(image, device="cuda")``. Resize/crop are then left to the GPU pipeline.
"""

from __future__ import annotations

import ast
import functools
import io
import logging
import math
from collections.abc import Callable

import numpy as np
from PIL import Image

from cxrhub.shards.errors import CxrhubError
from cxrhub.shards.resize import RESIZE_MODES, resize_area

try:  # a declared dependency; the fallbacks keep a stripped install decoding
    import imagecodecs
except ImportError:  # pragma: no cover
    imagecodecs = None

__all__ = ["ImageDecodeError", "decode_image", "gpu_decoder", "image_kind", "make_decoder"]

logger = logging.getLogger(__name__)
_NPY_MAGIC = b"\x93NUMPY"
_KINDS = (
    (_NPY_MAGIC, "npy"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8", "jpeg"),
    (b"\xff\x4f\xff\x51", "j2k"),
    (b"\x00\x00\x00\x0cjP  ", "j2k"),
)
_NPY_HEADERS: dict[bytes, tuple[np.dtype, tuple[int, ...], bool, int, int]] = {}


class ImageDecodeError(CxrhubError, ValueError):
    """Stored bytes that no decoder can read (names the sample key where known)."""


def image_kind(data: bytes | memoryview) -> str:
    """``npy``, ``png``, ``jpeg`` or ``j2k`` from the leading bytes."""
    head = bytes(data[:12])
    for magic, kind in _KINDS:
        if head.startswith(magic):
            return kind
    raise ImageDecodeError(f"unknown image format (leading bytes {head[:8]!r})")


def _npy(data: bytes | memoryview, writable: bool = False) -> np.ndarray:
    view = memoryview(data)
    header_len = int.from_bytes(view[8:10], "little") if view[6] == 1 else None
    if header_len is None:  # version 2/3: 4-byte header length
        header_len = int.from_bytes(view[8:12], "little")
        start = 12 + header_len
    else:
        start = 10 + header_len
    header = bytes(view[:start])
    parsed = _NPY_HEADERS.get(header)
    if parsed is None:
        meta = ast.literal_eval(header[start - header_len :].decode("latin1"))
        dtype = np.dtype(meta["descr"])
        if dtype.hasobject:
            raise ImageDecodeError("npy holds Python objects; refusing to unpickle")
        shape = tuple(meta["shape"])
        parsed = (dtype, shape, meta["fortran_order"], start, math.prod(shape))
        if len(_NPY_HEADERS) < 1024:
            _NPY_HEADERS[header] = parsed
    dtype, shape, fortran, offset, count = parsed
    flat = np.frombuffer(view, dtype=dtype, count=count, offset=offset)
    arr = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
    return arr.copy() if writable else arr


def _pillow(data: bytes | memoryview) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return np.array(image)  # writable, like the codecs' arrays


def _codec(name: str) -> Callable | None:
    if imagecodecs is None:
        return None
    func = getattr(imagecodecs, name, None)
    codec = getattr(imagecodecs, name.split("_")[0].upper(), None)
    return func if func is not None and getattr(codec, "available", True) else None


def _chain(*names: str) -> Callable[[bytes], np.ndarray]:
    funcs = [f for f in (_codec(n) for n in names) if f is not None] + [_pillow]

    def decode(data: bytes | memoryview) -> np.ndarray:
        for func in funcs[:-1]:
            try:
                return np.asarray(func(data))
            except Exception as exc:  # noqa: BLE001, PERF203 - falls through to the next codec
                _warn_once(func, exc)
        return funcs[-1](data)

    return decode


_WARNED: set[str] = set()


def _warn_once(func: Callable, exc: Exception) -> None:
    name = getattr(func, "__name__", str(func))
    if name not in _WARNED:
        _WARNED.add(name)
        logger.warning("%s failed (%s); falling back to the next decoder", name, exc)


_DECODERS: dict[str, Callable] = {
    "jpeg": _chain("jpeg8_decode"),
    "png": _chain("png_decode"),
    "j2k": _chain("htj2k_decode", "jpeg2k_decode"),
}


def decode_image(data: bytes | memoryview, writable: bool = False) -> np.ndarray:
    """The stored pixels (``uint8``/``uint16``, 2-D for grayscale) of one encoded image.

    ``npy`` comes back as a read-only view of ``data`` unless ``writable``; every other format
    is decoded into a new, writable array.
    """
    kind = image_kind(data)
    try:
        arr = _npy(data, writable) if kind == "npy" else _DECODERS[kind](data)
    except ImageDecodeError:
        raise
    except Exception as exc:
        raise ImageDecodeError(f"cannot decode {kind} image ({exc})") from exc
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return arr


def center_crop(arr: np.ndarray, size: int) -> np.ndarray:
    """The centred ``size x size`` window (each side kept whole where it is shorter)."""
    rows, cols = arr.shape[:2]
    top, left = max(0, (rows - size) // 2), max(0, (cols - size) // 2)
    return arr[top : top + size, left : left + size]


def make_decoder(
    size: int | None = None,
    crop: int | None = None,
    resize_mode: str = "long",
    writable: bool = False,
) -> Callable[[bytes | memoryview], np.ndarray]:
    """A bytes -> array callable that also resizes (area) and centre-crops (picklable, so it
    travels to spawn/forkserver DataLoader workers)."""
    if resize_mode not in RESIZE_MODES:
        raise ImageDecodeError(f"resize_mode {resize_mode!r}: choose from {RESIZE_MODES}")
    if size is None and crop is None:
        return functools.partial(decode_image, writable=writable)
    return _Transform(size, crop, resize_mode)


class _Transform:
    def __init__(self, size: int | None, crop: int | None, resize_mode: str):
        self.size, self.crop, self.resize_mode = size, crop, resize_mode

    def __call__(self, data: bytes | memoryview) -> np.ndarray:
        arr = decode_image(data)
        if self.size is not None:
            arr = resize_area(np.ascontiguousarray(arr), self.size, self.resize_mode)
        if self.crop is not None:
            arr = np.ascontiguousarray(center_crop(arr, self.crop))
        return arr


def gpu_decoder() -> Callable[[bytes | memoryview], object]:
    """A bytes -> ``nvimgcodec.Image`` (GPU memory) decoder; stored bit depth and one channel.
    ``.npy`` stays a host array. The codec is created in the process that first decodes.

    Raises:
        ImportError: nvImageCodec is not installed (the message says how to install it).
    """
    _nvimgcodec()
    return _GpuDecoder()


def _nvimgcodec():
    try:
        from nvidia import nvimgcodec
    except ImportError as exc:
        raise ImportError(
            "gpu=True needs nvImageCodec: pip install nvidia-nvimgcodec-cu12[all]"
        ) from exc
    return nvimgcodec


class _GpuDecoder:
    def __init__(self) -> None:
        self._codec: tuple | None = None

    def __getstate__(self) -> dict:  # the CUDA handles stay in their process
        return {"_codec": None}

    def __call__(self, data: bytes | memoryview) -> object:
        if image_kind(data) == "npy":
            return _npy(data)
        if self._codec is None:
            nvimgcodec = _nvimgcodec()
            params = nvimgcodec.DecodeParams(
                color_spec=nvimgcodec.ColorSpec.UNCHANGED, allow_any_depth=True
            )
            self._codec = (nvimgcodec.Decoder(), params)
        decoder, params = self._codec
        image = decoder.decode(bytes(data), params=params)
        if image is None:
            raise ImageDecodeError("nvImageCodec could not decode the image")
        return image
