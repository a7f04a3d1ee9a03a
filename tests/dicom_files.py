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


def write_radiograph(path: Path, transfer_syntax: str, source: str = "RG3_UNCR.dcm") -> Path:
    """A real radiograph's pixels (pydicom-data) re-encoded in ``transfer_syntax``, no PHI."""
    from cxrhub.builders._sample import write_dicom

    ds = radiograph_dataset(source)
    header = {k: ds[k].value for k in ("WindowCenter", "WindowWidth") if k in ds}
    return write_dicom(
        path, ds.pixel_array, transfer_syntax, photometric=str(ds.PhotometricInterpretation),
        bits_stored=int(ds.BitsStored), header=header,
    )  # fmt: skip
