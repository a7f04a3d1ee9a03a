"""Helpers for the synthetic sample trees: small real images and tables with exact line endings."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["synthetic_radiograph", "write_png", "write_table"]


def synthetic_radiograph(seed: int, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """A deterministic uint8 picture with a chest-like shape: bright mediastinum, dark lungs."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    lungs = np.exp(
        -(((x - width * 0.3) / (width * 0.15)) ** 2 + ((y - height / 2) / (height * 0.3)) ** 2)
    )
    lungs += np.exp(
        -(((x - width * 0.7) / (width * 0.15)) ** 2 + ((y - height / 2) / (height * 0.3)) ** 2)
    )
    noise = np.random.default_rng(seed).normal(0, 8, size=(height, width))
    return np.clip(200 - 140 * lungs + noise, 0, 255).astype(np.uint8)


def write_png(path: Path, pixels: np.ndarray, mode: str = "L") -> None:
    """Write ``pixels`` as a PNG; ``mode`` ``RGBA`` stores the grey value in three channels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels, mode="L")
    if mode != "L":
        image = image.convert(mode)
    image.save(path, format="PNG")


def write_table(path: Path, rows: Iterable[Iterable[object]], newline: str = "\n") -> None:
    """Write comma-separated rows exactly as given (no quoting needed for these tables)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = newline.join(",".join(str(v) for v in row) for row in rows) + newline
    path.write_bytes(text.encode("utf-8"))


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    transfer_syntax: str,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    header: dict | None = None,
) -> Path:
    """Write a synthetic single-frame radiograph (no patient data) in ``transfer_syntax``.

    Args:
        pixels: stored values, uint8 or uint16 (MONOCHROME, one frame).
        transfer_syntax: any uncompressed syntax, RLE, JPEG lossless SV1, JPEG-LS lossless,
            JPEG 2000 lossless or HTJ2K lossless (encoded with imagecodecs or pydicom).
        header: extra elements by keyword (e.g. ``{"ViewPosition": "PA"}``).
    """
    from pydicom import uid
    from pydicom.dataset import Dataset, FileMetaDataset

    pixels = np.ascontiguousarray(pixels)
    bits = bits_stored or int(pixels.max()).bit_length() or 1
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = uid.DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = uid.generate_uid(entropy_srcs=[str(path.name)])
    meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = (
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
    )
    ds.Modality, ds.PhotometricInterpretation, ds.SamplesPerPixel = "DX", photometric, 1
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored = pixels.dtype.itemsize * 8, bits
    ds.HighBit, ds.PixelRepresentation = bits - 1, 0
    for keyword, value in (header or {}).items():
        setattr(ds, keyword, value)
    ds.PixelData = pixels.tobytes()
    _encode_pixels(ds, pixels, transfer_syntax, bits)
    path.parent.mkdir(parents=True, exist_ok=True)
    little = transfer_syntax != uid.ExplicitVRBigEndian
    implicit = transfer_syntax == uid.ImplicitVRLittleEndian
    from pydicom import dcmwrite

    dcmwrite(path, ds, implicit_vr=implicit, little_endian=little, enforce_file_format=True)
    return path


def _encode_pixels(ds, pixels: np.ndarray, transfer_syntax: str, bits: int) -> None:
    import imagecodecs
    from pydicom import uid
    from pydicom.encaps import encapsulate

    ds["PixelData"].VR = "OW" if pixels.dtype.itemsize > 1 else "OB"
    native = (
        uid.ExplicitVRLittleEndian,
        uid.ImplicitVRLittleEndian,
        uid.DeflatedExplicitVRLittleEndian,
    )
    if transfer_syntax in native:
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        return
    if transfer_syntax == uid.ExplicitVRBigEndian:
        ds.PixelData = pixels.astype(pixels.dtype.newbyteorder(">")).tobytes()
    elif transfer_syntax == uid.RLELossless:
        ds.compress(uid.RLELossless, pixels)
        return
    else:
        encoders = {
            uid.JPEGLosslessSV1: lambda: imagecodecs.jpeg8_encode(
                pixels, lossless=True, predictor=1, bitspersample=bits
            ),
            uid.JPEGLSLossless: lambda: imagecodecs.jpegls_encode(pixels),
            uid.JPEG2000Lossless: lambda: imagecodecs.jpeg2k_encode(
                pixels, level=0, reversible=True, codecformat="J2K", bitspersample=bits
            ),
            uid.HTJ2KLossless: lambda: imagecodecs.htj2k_encode(pixels),
        }
        if transfer_syntax not in encoders:
            raise ValueError(f"no synthetic encoder for transfer syntax {transfer_syntax}")
        ds.PixelData = encapsulate([encoders[transfer_syntax]()])
        ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = transfer_syntax
