"""Real DICOM files shipped by pydicom and pydicom-data, found on disk (never downloaded)."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pydicom
import pydicom.data

__all__ = ["dicom_file", "radiograph_dataset", "write_radiograph"]


@cache
def _index() -> dict[str, Path]:
    folders = [Path(pydicom.data.__file__).parent / "test_files"]
    spec = importlib.util.find_spec("data_store")  # the pydicom-data package
    if spec and spec.origin:
        folders.append(Path(spec.origin).parent / "data")
    return {p.name: p for folder in folders for p in folder.rglob("*.dcm")}


def dicom_file(name: str) -> str:
    """The path of a test file by name; a name that is not installed fails loudly."""
    try:
        return str(_index()[name])
    except KeyError:
        raise FileNotFoundError(f"{name}: not in pydicom's test files or pydicom-data") from None


def radiograph_dataset(name: str = "RG3_UNCR.dcm") -> pydicom.Dataset:
    """A real computed radiograph (pydicom-data), header and pixels."""
    return pydicom.dcmread(dicom_file(name))


def _encapsulated(codestream: bytes) -> bytes:
    from pydicom.encaps import encapsulate

    return encapsulate([codestream])


def _encoders() -> dict:
    import imagecodecs
    from pydicom import uid

    return {
        uid.JPEGLosslessSV1: lambda a, bits: imagecodecs.jpeg8_encode(
            a, lossless=True, predictor=1, bitspersample=bits
        ),
        uid.JPEGLSLossless: lambda a, bits: imagecodecs.jpegls_encode(a),
        uid.JPEG2000Lossless: lambda a, bits: imagecodecs.jpeg2k_encode(
            a, level=0, reversible=True, codecformat="J2K", bitspersample=bits
        ),
        uid.HTJ2KLossless: lambda a, bits: imagecodecs.htj2k_encode(a),
    }


def write_radiograph(path: Path, transfer_syntax: str, source: str = "RG3_UNCR.dcm") -> Path:
    """Re-encode a real radiograph's pixels in ``transfer_syntax`` (lossless) and save it."""
    from pydicom import uid

    ds = radiograph_dataset(source)
    pixels = ds.pixel_array
    if transfer_syntax in (uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian):
        ds.file_meta.TransferSyntaxUID = transfer_syntax
    elif transfer_syntax == uid.ExplicitVRBigEndian:
        ds.PixelData = pixels.astype(">u2").tobytes()
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=False, force_encoding=True)
        return path
    elif transfer_syntax == uid.DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = transfer_syntax
    elif transfer_syntax == uid.RLELossless:
        ds.compress(uid.RLELossless, pixels)
    else:
        codestream = _encoders()[transfer_syntax](pixels, int(ds.BitsStored))
        ds.PixelData = _encapsulated(codestream)
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.save_as(path, enforce_file_format=True)
    return path
