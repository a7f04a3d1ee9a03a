"""Real DICOM files shipped by pydicom and pydicom-data, found on disk (never downloaded)."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pydicom.data

__all__ = ["dicom_file"]


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
