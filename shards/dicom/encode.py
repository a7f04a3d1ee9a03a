"""Pixel arrays -> image bytes for shards: lossless archival copies and area-downscaled variants.

Dataset-agnostic (no pydicom): the inputs are 2-D, single-channel ``uint8`` or ``uint16`` numpy
arrays, and the outputs are ``(bytes, extension)``. Everything written here reads back bit-exact
through Pillow, the decoder ``datasets.Image`` uses. A 16-bit image opens as PIL mode ``I;16``, and
``Dataset.with_format("numpy")`` returns it as ``uint16``. An 8-bit one opens as ``L`` (``uint8``).

Archival codecs (lossless; the input's depth is kept, so uint8 stays 8-bit):

- ``"htj2k"``: an HTJ2K codestream (ISO/IEC 15444-15, reversible 5/3) from
  ``imagecodecs.htj2k_encode`` (OpenJPH). Extension ``j2k``. Pillow reads it through OpenJPEG 2.5.
  imagecodecs always writes 16-bit precision for uint16, which matters because Pillow shifts
  codestreams of lower precision up to 16 bits.
- ``"png16"``: a PNG from ``imagecodecs.png_encode`` (libpng) at zlib level 1. Extension ``png``.

Measured by ``bench/encode.py --repeat 7`` on one core (``taskset -c 0``) of the project's 2-vCPU
EPYC VM. Times are medians of 7 interleaved rounds. Decode means ``PIL.Image.open(...).load()``. The
baseline is PNG-16 at Pillow's default level 6.

=====  ====================  =========  ==========  =======  =========  ================
image  codec                 encode ms  PIL dec ms  MB       size/base  imagecodecs dec
=====  ====================  =========  ==========  =======  =========  ================
RG1    htj2k                 84         209         4.41     0.84       33 ms
RG1    png16 (level 1)       532        173         5.46     1.04
RG1    PNG-16 Pillow 6       1479       140         5.26     1.00
RG3    htj2k                 26         58          0.89     0.71       24 ms
RG3    png16 (level 1)       113        36          1.38     1.11
RG3    PNG-16 Pillow 6       648        39          1.25     1.00
SYN    htj2k                 121        275         5.91     0.78       64 ms
SYN    png16 (level 1)       543        245         7.94     1.04
SYN    PNG-16 Pillow 6       5987       206         7.61     1.00
=====  ====================  =========  ==========  =======  =========  ================

RG1 is 1955x1841 15-bit and RG3 1760x1760 10-bit, both from pydicom-data. SYN is a 3000x2500
12-bit image made from RG1. Absolute times moved by up to 2x between runs on this shared VM; the
ratios held. Across two runs Pillow decoded HTJ2K 1.04-1.6x slower than PNG level 1, worst on the
smooth RG3.

``DEFAULT_ARCHIVAL = "htj2k"`` because conversion cost and size decide it. It encodes 4-6x faster
than PNG level 1 and 16-50x faster than Pillow's default level. Its files are 16-29 % smaller than
any PNG-16 (19-36 % smaller than level 1). It gives up some Pillow decode time, at most 1.6x
PNG's. A reader that decodes it with ``imagecodecs.htj2k_decode`` instead of Pillow is 1.4-3.8x
faster than any PNG through Pillow. It is also a DICOM transfer syntax, so the blob can be
wrapped back into a DICOM. ``png16`` is for consumers whose Pillow lacks OpenJPEG.

Variants at 512 px (same run): JPEG q95 takes 24-51 KB, encodes in 0.8-1.0 ms and decodes in
0.8-1.2 ms, with a mean abs error of 0.2-0.64 grey levels. PNG-8 at level 6 takes 47-111 KB,
encodes in 31-55 ms and decodes in 2.0-5.1 ms. Level 1 is 8-19 % larger and encodes in 6-12 ms,
so variants use level 6: they are written once and read every epoch. ``resize_area`` to 512 takes
5-10 ms: Pillow maps the uint8/uint16 array without a copy and widens it to float32 in C (it was
9-13 ms through a NumPy float32 copy, 40-66 ms where each image's buffers were fresh pages).

Signed input (``int16``) is refused. Pillow reads signed JPEG 2000 back shifted by +32768 and
reports it as ``I;16``, so exact values need an offset the reader must know. Map the data to
unsigned first and record the offset: ``arr - arr.min()``, or a plain cast when every value is
non-negative.

Determinism: the same array and the same library versions give the same bytes. No timestamps,
text chunks or EXIF are written. The ``*_params`` functions return what the converter should record,
library versions included, since the bytes depend on them.
"""

from __future__ import annotations

import io

import imagecodecs
import numpy as np
import PIL
from PIL import Image

from cxrhub.shards.resize import (
    RESIZE_MODES,
    checked_dtype,
    checked_pixels,
    resize_area,
    resize_params,
)

__all__ = [
    "ARCHIVAL_CODECS",
    "DEFAULT_ARCHIVAL",
    "JPEG_QUALITY",
    "RESIZE_MODES",
    "VARIANT_FORMATS",
    "archival_params",
    "decode",
    "encode_archival",
    "encode_variant",
    "resize_area",
    "resize_params",
    "variant_params",
]

ARCHIVAL_CODECS = ("htj2k", "png16")
DEFAULT_ARCHIVAL = "htj2k"
VARIANT_FORMATS = ("png", "jpeg", "npy")
JPEG_QUALITY = 95
# zlib level of the archival PNG-16: level 3 is 0.5-6 % smaller and 1.4-1.6x slower to encode
ARCHIVAL_PNG_LEVEL = 1
# zlib level of variant PNGs (small, read often, written once): see bench/encode.py
VARIANT_PNG_LEVEL = 6

_EXTENSIONS = {"htj2k": "j2k", "png16": "png", "png": "png", "jpeg": "jpg", "npy": "npy"}
_PIL_MODES = {np.dtype(np.uint8): "L", np.dtype(np.uint16): "I;16"}


def encode_archival(arr: np.ndarray, codec: str = DEFAULT_ARCHIVAL) -> tuple[bytes, str]:
    """Lossless bytes of ``arr`` in ``codec`` (``"htj2k"`` or ``"png16"``) and their extension.

    uint16 is stored at 16 bits and uint8 at 8 bits. Pillow reads the bytes back as ``I;16`` or
    ``L`` with exactly the input's values. int16 and other dtypes raise ``ValueError``; the module
    docstring explains why signed input is refused.
    """
    if codec not in ARCHIVAL_CODECS:
        raise ValueError(f"unknown archival codec {codec!r}; known: {list(ARCHIVAL_CODECS)}")
    arr = checked_pixels(arr, "encode_archival")
    if codec == "htj2k":
        data = imagecodecs.htj2k_encode(arr, reversible=True)
    else:
        data = imagecodecs.png_encode(arr, level=ARCHIVAL_PNG_LEVEL)
    return bytes(data), _EXTENSIONS[codec]


def archival_params(codec: str = DEFAULT_ARCHIVAL, dtype: np.dtype | type = np.uint16) -> dict:
    """What ``encode_archival(arr, codec)`` does for an array of ``dtype``, for the record."""
    if codec not in ARCHIVAL_CODECS:
        raise ValueError(f"unknown archival codec {codec!r}; known: {list(ARCHIVAL_CODECS)}")
    dtype = checked_dtype(np.dtype(dtype), "archival_params")
    common = {
        "codec": codec,
        "lossless": True,
        "extension": _EXTENSIONS[codec],
        "bits": dtype.itemsize * 8,
        "pil_mode": _PIL_MODES[dtype],
    }
    if codec == "htj2k":
        return common | {
            "format": "HTJ2K codestream (ISO/IEC 15444-15), reversible 5/3, 5 decompositions",
            "encoder": f"imagecodecs {imagecodecs.__version__} htj2k_encode (OpenJPH)",
            "options": {"reversible": True},
        }
    return common | {
        "format": "PNG, no ancillary chunks",
        "encoder": f"imagecodecs {imagecodecs.__version__} png_encode (libpng)",
        "options": {"level": ARCHIVAL_PNG_LEVEL},
    }


def encode_variant(arr: np.ndarray, fmt: str, *, quality: int = JPEG_QUALITY) -> tuple[bytes, str]:
    """Bytes of a (usually downscaled) image in ``fmt`` and their extension.

    - ``"png"``: lossless. uint8 is stored as mode L and uint16 as I;16, at zlib level
      ``VARIANT_PNG_LEVEL``.
    - ``"jpeg"``: lossy, uint8 only, baseline JPEG by Pillow/libjpeg-turbo at ``quality``. Window
      16-bit data to 8 bits first.
    - ``"npy"``: ``np.lib.format`` bytes of the C-ordered, native-endian array. Read them with
      ``np.load(..., allow_pickle=False)``.
    """
    if fmt not in VARIANT_FORMATS:
        raise ValueError(f"unknown variant format {fmt!r}; known: {list(VARIANT_FORMATS)}")
    arr = checked_pixels(arr, "encode_variant")
    if fmt == "png":
        data = imagecodecs.png_encode(arr, level=VARIANT_PNG_LEVEL)
    elif fmt == "jpeg":
        data = _jpeg(arr, quality)
    else:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arr, allow_pickle=False)
        data = buf.getvalue()
    return bytes(data), _EXTENSIONS[fmt]


def variant_params(
    fmt: str, dtype: np.dtype | type = np.uint8, *, quality: int = JPEG_QUALITY
) -> dict:
    """What ``encode_variant(arr, fmt, quality=quality)`` does for an array of ``dtype``."""
    if fmt not in VARIANT_FORMATS:
        raise ValueError(f"unknown variant format {fmt!r}; known: {list(VARIANT_FORMATS)}")
    dtype = checked_dtype(np.dtype(dtype), "variant_params")
    common = {"format": fmt, "extension": _EXTENSIONS[fmt], "bits": dtype.itemsize * 8}
    if fmt == "png":
        return common | {
            "lossless": True,
            "pil_mode": _PIL_MODES[dtype],
            "encoder": f"imagecodecs {imagecodecs.__version__} png_encode (libpng)",
            "options": {"level": VARIANT_PNG_LEVEL},
        }
    if fmt == "jpeg":
        _jpeg_dtype(dtype)
        _check_quality(quality)
        return common | {
            "lossless": False,
            "pil_mode": "L",
            "encoder": f"Pillow {PIL.__version__} JPEG (libjpeg-turbo)",
            "options": {"quality": quality},
        }
    return common | {"lossless": True, "dtype": dtype.str, "encoder": f"numpy {np.__version__}"}


def decode(data: bytes, extension: str) -> np.ndarray:
    """Read bytes from this module back to an array the way a consumer does.

    ``npy`` goes through ``np.load(allow_pickle=False)``. Everything else goes through
    ``PIL.Image.open`` and ``np.asarray``, the path ``datasets.Image`` takes.
    """
    if extension == "npy":
        return np.load(io.BytesIO(data), allow_pickle=False)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return np.asarray(image)


def _jpeg(arr: np.ndarray, quality: int) -> bytes:
    _jpeg_dtype(arr.dtype)
    _check_quality(quality)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _jpeg_dtype(dtype: np.dtype) -> None:
    if dtype != np.uint8:
        raise ValueError(
            f"jpeg variants take uint8 only (got {dtype}): window or scale to 8 bits first, "
            "or use 'png'/'npy' to keep 16 bits"
        )


def _check_quality(quality: int) -> None:
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"jpeg quality must be an integer in 1..100; got {quality!r}")
