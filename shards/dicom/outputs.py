"""Every output a dataset asks of one DICOM file, from a single read of it.

A builder's record asks for DICOM-derived features with small option dicts (never live objects):

- ``{"path": rel, "output": "archival", "codec": "htj2k"|"png16"}``: the stored values, lossless
  16-bit, in a codec ``datasets.Image`` reads back bit-exact (an ``Image`` feature);
- ``{"path": rel, "output": "display", "bits": 8|16, "voi": "auto"|"minmax"|"none",
  "recipe": "mimic-cxr-jpg", "size": 512, "mode": "long"|"square", "format": "png"|"jpeg"}``:
  a training image in the MONOCHROME2 convention, resized with area averaging (an ``Image``);
- ``{"path": rel, "output": "header"}``: the allow-listed header, the transfer syntax, the
  decoder used and the parameters that made every other output (a ``Json`` feature).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cxrhub.shards.dicom.encode import (
    DEFAULT_ARCHIVAL,
    JPEG_QUALITY,
    archival_params,
    encode_archival,
    encode_variant,
    resize_area,
    resize_params,
    variant_params,
)
from cxrhub.shards.dicom.pixels import mimic_cxr_jpg, pixel_meta, to_display
from cxrhub.shards.dicom.read import read
from cxrhub.shards.errors import BadInputError

__all__ = ["OUTPUTS", "render"]

OUTPUTS = ("archival", "display", "header")


def render(path: str | Path, name: str, requests: dict[str, dict], backend: str = "auto") -> dict:
    """Read ``path`` once and produce each requested feature's value."""
    unknown = {f: r.get("output") for f, r in requests.items() if r.get("output") not in OUTPUTS}
    if unknown:
        raise ValueError(f"unknown DICOM outputs {unknown}; choose from {', '.join(OUTPUTS)}")
    array, meta = read(path, backend=backend, name=name)
    stem = Path(name).stem
    values: dict[str, Any] = {}
    made: dict[str, dict] = {}
    pixels = {}
    for feature, request in sorted(requests.items()):
        try:
            if request["output"] == "archival":
                values[feature], made[feature] = _archival(array, request, stem)
            elif request["output"] == "display":
                pixels = pixels or pixel_meta(meta["dataset"])
                values[feature], made[feature] = _display(array, pixels, request, stem)
        except BadInputError as exc:  # noqa: PERF203 - one try per output names that output
            if exc.path:
                raise
            raise BadInputError(name, exc.stage, exc.message, error_class=exc.error_class) from exc
        except (ValueError, TypeError) as exc:
            raise BadInputError(
                name, "encode", f"{feature}: {exc}", error_class=type(exc).__name__
            ) from exc
    for feature, request in requests.items():
        if request["output"] == "header":
            values[feature] = {
                "header": meta["header"],
                "transfer_syntax": meta["transfer_syntax"],
                "backend": meta["backend"],
                "outputs": made,
            }
    return values


def _archival(array: np.ndarray, request: dict, stem: str) -> tuple[dict, dict]:
    codec = request.get("codec", DEFAULT_ARCHIVAL)
    stored = _unsigned(array)
    data, ext = encode_archival(stored, codec)
    return {"bytes": data, "path": f"{stem}.{ext}"}, archival_params(codec, stored.dtype)


def _unsigned(array: np.ndarray) -> np.ndarray:
    """Signed radiographs with no negative value are stored as unsigned (lossless); others are
    refused by the encoder with its reason."""
    if array.dtype.kind == "i" and array.size and int(array.min()) >= 0:
        return array.astype(np.dtype(f"u{array.dtype.itemsize}"))
    return array


def _resized_first(array: np.ndarray, request: dict) -> np.ndarray | None:
    """The stored values area-resized to the requested long side, when the display is a
    per-value table (window, VOI LUT, min-max): resizing 7.8 Mpx of uint16 and mapping 0.26 Mpx
    costs a quarter of mapping every pixel first. ``None`` where that does not apply."""
    if not request.get("size") or array.dtype not in (np.uint8, np.uint16):
        return None
    size = int(request["size"])
    return None if size >= max(array.shape) else resize_area(array, size, "long")


def _display(array: np.ndarray, pixels: dict, request: dict, stem: str) -> tuple[dict, dict]:
    small = None
    if request.get("recipe") == "mimic-cxr-jpg":
        image, params = mimic_cxr_jpg(array, pixels, return_params=True)
    elif request.get("recipe") is None:
        small = _resized_first(array, request)
        image, params = to_display(
            array if small is None else small, pixels, bits=int(request.get("bits", 8)),
            voi=request.get("voi", "auto"), return_params=True,
        )  # fmt: skip
    else:
        raise ValueError(f"unknown display recipe {request['recipe']!r}; known: mimic-cxr-jpg")
    if request.get("size"):  # square mode pads the display image: 0 is black after inversion
        size, mode = int(request["size"]), request.get("mode", "long")
        params["resize"] = resize_params(array.shape, size, mode)
        if small is not None:
            params["resize"]["order"] = "stored values resized, then modality/VOI/inversion"
        image = resize_area(image, size, mode)
    fmt = request.get("format", "png")
    quality = int(request.get("quality", JPEG_QUALITY))
    data, ext = encode_variant(image, fmt, quality=quality)
    params["encoding"] = variant_params(fmt, image.dtype, quality=quality)
    return {"bytes": data, "path": f"{stem}.{ext}"}, params
