"""The DICOM reader: bit-exact against pydicom on real files, typed errors on broken ones."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_files import dicom_file
from pydicom.uid import ExplicitVRLittleEndian

from cxrhub.shards.dicom.backends import BACKENDS, ORDER, choose
from cxrhub.shards.dicom.read import read
from cxrhub.shards.errors import BadInputError

# pydicom-data's computed radiographs (MONOCHROME1 CR) and pydicom's own monochrome test files,
# one per transfer syntax they cover
LOSSLESS = [
    "RG1_UNCR.dcm", "RG1_UNCI.dcm", "RG1_J2KR.dcm", "RG3_UNCR.dcm", "RG3_UNCI.dcm", "RG3_J2KR.dcm",
    "CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm",
    "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm",
    "JPEG-LL.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm",
    "693_J2KR.dcm", "J2K_pixelrep_mismatch.dcm", "bad_sequence.dcm",
    "mlut_18.dcm", "vlut_04.dcm", "MR2_J2KR.dcm",
]  # fmt: skip
LOSSY = {
    "RG1_J2KI.dcm": 0,
    "RG3_J2KI.dcm": 0,
    "JPGExtended.dcm": 1,
    "693_J2KI.dcm": 0,
    "JPEGLSNearLossless_16.dcm": 0,
}


def _reference(path: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path).pixel_array


def _files(names):
    return [dicom_file(name) for name in names]


@pytest.mark.parametrize("path", _files(LOSSLESS), ids=os.path.basename)
def test_lossless_decode_is_bit_exact_against_pydicom(path):
    array, meta = read(path)
    reference = _reference(path)
    assert array.dtype == reference.dtype.newbyteorder("=")
    assert np.array_equal(array, reference)
    assert meta["backend"] in BACKENDS
    assert meta["transfer_syntax"]["uid"] == str(pydicom.dcmread(path).file_meta.TransferSyntaxUID)


@pytest.mark.parametrize("path", _files(LOSSY), ids=os.path.basename)
def test_lossy_decode_is_within_codec_tolerance(path):
    array, _ = read(path)
    reference = _reference(path)
    tolerance = LOSSY[os.path.basename(path)]
    assert np.abs(array.astype(np.int64) - reference.astype(np.int64)).max() <= tolerance


@pytest.mark.parametrize(
    "path", _files(["RG1_UNCR.dcm", "RG3_J2KR.dcm", "MR_small_RLE.dcm"]), ids=os.path.basename
)
def test_every_available_backend_agrees(path):
    ts = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
    arrays = {b.name: read(path, backend=b.name)[0] for b in choose(ts)}
    assert len(arrays) >= 1
    first = next(iter(arrays.values()))
    assert all(np.array_equal(first, a) for a in arrays.values())


def test_header_is_allow_listed_and_typed():
    _, meta = read(dicom_file("RG1_UNCR.dcm"))
    header = meta["header"]
    assert header["PhotometricInterpretation"] == "MONOCHROME1"
    assert header["Rows"] == 1955 and header["BitsStored"] == 15
    assert isinstance(header["WindowCenter"], float)
    for forbidden in (
        "PatientName",
        "PatientID",
        "StudyInstanceUID",
        "SOPInstanceUID",
        "StudyDate",
    ):
        assert forbidden not in header


BROKEN = {
    "MR_truncated.dcm": ("decode", "PixelData holds 8130 bytes"),
    "emri_small_jpeg_2k_lossless_too_short.dcm": ("header", "NumberOfFrames 10"),
    "no_meta.dcm": ("header", "not a DICOM file"),
    "badVR.dcm": ("header", "invalid pixel-module value"),
    "meta_missing_tsyntax.dcm": ("header", "(0002,0010) TransferSyntaxUID: missing"),
    "rtplan.dcm": ("header", "(0028,0010) Rows: missing"),
    "emri_small_RLE.dcm": ("header", "NumberOfFrames 10: expected one sample and one frame"),
    "JPEG2000-embedded-sequence-delimiter.dcm": ("decode", "JPEG 2000"),
    "SC_rgb.dcm": ("header", "(0028,0004) PhotometricInterpretation 'RGB': expected MONOCHROME1"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_give_typed_errors(name):
    path = dicom_file(name)
    stage, words = BROKEN[name]
    with pytest.raises(BadInputError) as info:
        read(path, name=name)
    assert info.value.stage == stage and info.value.path == name
    assert words in info.value.message


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_synthetic_bad_inputs(tmp_path):
    good = Path(dicom_file("RG3_UNCR.dcm")).read_bytes()
    cases = {
        "empty.dcm": b"",
        "text.dcm": b"hello, not a DICOM file" * 10,
        "png.dcm": Path(__file__).read_bytes()[:200],
        "cut-132.dcm": good[:132],
        "cut-half.dcm": good[: len(good) // 2],
        "cut-1000.dcm": good[:-1000],
    }
    for name, data in cases.items():
        with pytest.raises(BadInputError) as info:
            read(_write(tmp_path / name, data), name=name)
        assert info.value.stage in ("header", "decode"), name
    j2k = Path(dicom_file("RG3_J2KR.dcm")).read_bytes()
    for cut in (8, 500, len(j2k) // 2):  # the encapsulated stream loses its end
        with pytest.raises(BadInputError, match="truncated") as info:
            read(_write(tmp_path / f"j2k-{cut}.dcm", j2k[:-cut]))
        assert info.value.stage == "decode"
    # the last 8 bytes of this file are trailing padding, not pixel data: still a whole image
    assert read(_write(tmp_path / "cut-8.dcm", good[:-8]))[0].shape == (1760, 1760)
    with pytest.raises(BadInputError, match="file not found"):
        read(tmp_path / "absent.dcm")


def test_shape_and_constant_checks(tmp_path):
    ds = pydicom.dcmread(dicom_file("RG3_UNCR.dcm"))
    ds.Rows = ds.Rows + 1  # the pixel data is now too short for the header
    ds.save_as(tmp_path / "short.dcm")
    with pytest.raises(BadInputError, match="PixelData holds"):
        read(tmp_path / "short.dcm")
    ds = pydicom.dcmread(dicom_file("RG3_UNCR.dcm"))
    ds.PixelData = bytes(len(ds.PixelData))
    ds.save_as(tmp_path / "zeros.dcm")
    with pytest.raises(BadInputError, match="constant"):
        read(tmp_path / "zeros.dcm")


def test_unsupported_transfer_syntax_is_named(tmp_path):
    ds = pydicom.dcmread(dicom_file("RG3_UNCR.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.840.113845.1.2.1"  # a private syntax (pydicom#833)
    ds.save_as(tmp_path / "private.dcm", enforce_file_format=False)
    with pytest.raises(BadInputError, match=r"TransferSyntaxUID 1.2.840.113845.1.2.1: unsupported"):
        read(tmp_path / "private.dcm")


def test_every_registered_syntax_has_pydicom_as_last_resort():
    for ts, names in ORDER.items():
        assert names[-1] == "pydicom", ts
    assert ORDER[ExplicitVRLittleEndian][0] == "numpy"
    with pytest.raises(ValueError, match="unknown decode backend"):
        choose(ExplicitVRLittleEndian, "nope")
