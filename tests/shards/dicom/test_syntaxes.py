"""A real radiograph re-encoded in every lossless transfer syntax decodes to its exact pixels."""

from __future__ import annotations

import time

import numpy as np
import pydicom
import pytest
from dicom_files import radiograph_dataset, write_radiograph
from pydicom import uid

from cxrhub.shards.dicom.guard import Guard
from cxrhub.shards.dicom.read import read
from cxrhub.shards.errors import BadInputError

SYNTAXES = [
    uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, uid.ExplicitVRBigEndian,
    uid.DeflatedExplicitVRLittleEndian, uid.RLELossless, uid.JPEGLosslessSV1, uid.JPEGLSLossless,
    uid.JPEG2000Lossless, uid.HTJ2KLossless,
]  # fmt: skip


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return radiograph_dataset().pixel_array


@pytest.mark.parametrize("ts", SYNTAXES, ids=lambda ts: ts.name)
def test_each_syntax_decodes_to_the_original_pixels(tmp_path, truth, ts):
    path = write_radiograph(tmp_path / "x.dcm", ts)
    array, meta = read(path)
    assert meta["transfer_syntax"]["uid"] == ts
    assert array.dtype == np.uint16 and np.array_equal(array, truth)
    with pydicom.config.disable_value_validation():
        assert np.array_equal(pydicom.dcmread(path).pixel_array, truth)


def test_jpeg_lossless_prefers_the_fast_codec_and_pydicom_agrees(tmp_path, truth):
    path = write_radiograph(tmp_path / "x.dcm", uid.JPEGLosslessSV1)
    fast, meta = read(path)
    slow, fallback = read(path, backend="pydicom")
    assert meta["backend"] == "imagecodecs-jpeg8" and fallback["backend"] == "pydicom"
    assert np.array_equal(fast, slow)


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def _crash() -> None:
    import os

    os.abort()


def test_guard_times_out_survives_crashes_and_keeps_working():
    with Guard(timeout=0.5) as guard:
        assert guard.call(_sleep, 0.01) == "done"
        with pytest.raises(BadInputError, match="timed out after 0.5 s") as info:
            guard.call(_sleep, 10, name="slow.dcm")
        assert info.value.path == "slow.dcm" and info.value.stage == "decode"
        with pytest.raises(BadInputError, match="decoder process died"):
            guard.call(_crash, name="crash.dcm")
        assert guard.call(_sleep, 0.01) == "done"


def test_guard_reraises_the_callee_error(tmp_path):
    (tmp_path / "bad.dcm").write_bytes(b"not dicom")
    with Guard(timeout=30) as guard, pytest.raises(BadInputError, match="not a DICOM file"):
        guard.call(read, tmp_path / "bad.dcm", name="bad.dcm")
