"""Pixel processing against pydicom's own on real files, the LUT path against the float path."""

from __future__ import annotations

import copy
import json
import struct
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut, apply_windowing
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian

from cxrhub.shards.dicom import pixels
from cxrhub.shards.dicom.pixels import (
    PixelMetaError,
    equalize_hist,
    mimic_cxr_jpg,
    modality_lut,
    pixel_meta,
    to_display,
    voi_lut,
)
from cxrhub.shards.errors import BadInputError

RADIOGRAPHS = ("RG1_UNCR.dcm", "RG3_UNCR.dcm")  # MONOCHROME1 CR, 15 and 10 bits stored
WINDOWED = (
    *RADIOGRAPHS,
    "MR_small.dcm",  # signed 16-bit
    "MR2_UNCR.dcm",  # rescale slope 3.77
    "693_UNCR.dcm",  # signed 14-bit, rescale to HU
    "examples_overlay.dcm",  # two windows
    "MR-SIEMENS-DICOM-WithOverlays.dcm",  # two windows with explanations
)
FILES = (*WINDOWED, "mlut_18.dcm", "vlut_04.dcm", "CT_small.dcm")
FUNCTIONS = (None, "LINEAR", "LINEAR_EXACT", "SIGMOID")
ORDERS = [(ExplicitVRLittleEndian, "<"), (ExplicitVRBigEndian, ">")]
VOIS = ("auto", "minmax", "none")


@pytest.fixture(scope="module")
def files() -> dict:
    """Datasets and pixel arrays, read once per module; tests get deep copies."""
    return {}


def _get(files: dict, name: str) -> tuple[Dataset, np.ndarray, dict]:
    """A fresh copy of the dataset, its stored values and its meta."""
    if name not in files:
        path = get_testdata_file(name, download=False)
        if path is None:
            pytest.skip(f"{name} is not installed (pydicom-data)")
        ds = pydicom.dcmread(path)
        files[name] = (ds, ds.pixel_array)
    ds, arr = files[name]
    ds = copy.deepcopy(ds)
    return ds, arr, pixel_meta(ds)


def _all_values(arr: np.ndarray) -> np.ndarray:
    """Every value the array's dtype can hold (stray bits above BitsStored included)."""
    info = np.iinfo(arr.dtype)
    return np.arange(info.min, info.max + 1).astype(arr.dtype)


def _stored_values(arr: np.ndarray, meta: dict) -> np.ndarray:
    """Every value BitsStored and PixelRepresentation allow."""
    bits, signed = meta["BitsStored"], meta["PixelRepresentation"]
    low = -(2 ** (bits - 1)) if signed else 0
    return np.arange(low, low + 2**bits).astype(arr.dtype)


def _same(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


# --- pixel_meta ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_pixel_meta_is_plain_json(files, name):
    _, _, meta = _get(files, name)
    assert json.loads(json.dumps(meta)) == meta
    for key in ("WindowCenter", "WindowWidth", "WindowCenterWidthExplanation"):
        assert key not in meta or isinstance(meta[key], list)


def test_pixel_meta_values(files):
    assert _get(files, "RG1_UNCR.dcm")[2] == {
        "PhotometricInterpretation": "MONOCHROME1",
        "BitsStored": 15,
        "BitsAllocated": 16,
        "PixelRepresentation": 0,
        "WindowCenter": [15000.0],
        "WindowWidth": [30000.0],
    }
    meta = _get(files, "MR-SIEMENS-DICOM-WithOverlays.dcm")[2]
    assert meta["WindowCenter"] == [450.0, 200.0]
    assert meta["WindowCenterWidthExplanation"] == ["WINDOW1", "WINDOW2"]
    (item,) = _get(files, "mlut_18.dcm")[2]["ModalityLUTSequence"]
    assert item["LUTDescriptor"] == [4096, -2048, 16] and item["ModalityLUTType"] == "US"
    assert len(item["LUTData"]) == 4096 and "LUTExplanation" not in item  # empty: absent
    (item,) = _get(files, "vlut_04.dcm")[2]["VOILUTSequence"]
    assert item["LUTDescriptor"] == [256, 0, 16] and len(item["LUTData"]) == 256


@pytest.mark.parametrize("syntax, order", ORDERS)
def test_pixel_meta_unpacks_ow_lut_data(files, syntax, order):
    ds, _, meta = _get(files, "vlut_04.dcm")
    expected = meta["VOILUTSequence"][0]["LUTData"]
    ds.file_meta.TransferSyntaxUID = syntax
    item = ds.VOILUTSequence[0]
    item["LUTData"].VR = "OW"
    item.LUTData = struct.pack(f"{order}256H", *expected)
    assert pixel_meta(ds)["VOILUTSequence"][0]["LUTData"] == expected


# --- modality and VOI against pydicom -----------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_modality_lut_matches_pydicom(files, name):
    ds, arr, meta = _get(files, name)
    _same(modality_lut(arr, meta), apply_modality_lut(arr, ds))
    values = _stored_values(arr, meta)
    _same(modality_lut(values, meta), apply_modality_lut(values, ds))


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # pydicom's SIGMOID, not ours
@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("name", (*WINDOWED, "vlut_04.dcm"))
def test_voi_lut_matches_pydicom(files, name, function):
    ds, arr, meta = _get(files, name)
    if function is not None:
        ds.VOILUTFunction = meta["VOILUTFunction"] = function
    count = max(len(meta.get("WindowCenter", [])), len(meta.get("VOILUTSequence", [])))
    assert count >= 1
    for data in (arr, _all_values(arr)):
        modality = apply_modality_lut(data, ds)
        for index in range(count):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # workers treat warnings as errors
                ours = voi_lut(modality, meta, index=index)
                window = voi_lut(modality, meta, index=index, prefer="window")
            _same(ours, apply_voi_lut(modality, ds, index=index))
            if "WindowCenter" in meta:
                _same(window, apply_windowing(modality, ds, index=index))


def test_single_window_serves_any_index_as_in_pydicom(files):
    ds, arr, meta = _get(files, "RG3_UNCR.dcm")
    _same(voi_lut(arr, meta, index=1), apply_voi_lut(arr, ds, index=1))


@pytest.mark.parametrize("prefer", ["lut", "window"])
def test_voi_lut_prefer_lut_or_window(files, prefer):
    ds, arr, _ = _get(files, "vlut_04.dcm")
    ds.WindowCenter, ds.WindowWidth = 100, 80
    ours = voi_lut(arr, pixel_meta(ds), prefer=prefer)
    _same(ours, apply_voi_lut(arr, ds, prefer_lut=prefer == "lut"))
    assert ours.dtype == (np.uint16 if prefer == "lut" else np.float64)


def test_signed_16_bit_with_stray_bits_matches_pydicom():
    ds = Dataset()
    ds.PhotometricInterpretation, ds.BitsStored, ds.PixelRepresentation = "MONOCHROME2", 12, 1
    ds.BitsAllocated, ds.RescaleSlope, ds.RescaleIntercept = 16, 2, -100
    ds.WindowCenter, ds.WindowWidth = [40, -300], [400, 1500]
    meta = pixel_meta(ds)
    values = np.arange(-32768, 32768).astype(np.int16)  # far beyond 12 bits as well
    modality = modality_lut(values, meta)
    _same(modality, apply_modality_lut(values, ds))
    for index in (0, 1):
        _same(voi_lut(modality, meta, index=index), apply_voi_lut(modality, ds, index=index))
    image = values.reshape(256, 256)
    for voi in VOIS:
        _same(to_display(image, meta, voi=voi), to_display(image.astype(np.int64), meta, voi=voi))


def test_lut_beyond_its_end_takes_the_last_entry(files):
    item = {"LUTDescriptor": [4, 10, 8], "LUTData": [1, 2, 3, 4]}
    values = np.array([0, 10, 12, 13, 14, 400], np.uint16)
    _same(modality_lut(values, {"ModalityLUTSequence": [item]}), np.array([1, 1, 3, 4, 4, 4], "u1"))
    # mlut_18 maps -2048..2047; pydicom's int16 - (-2048) wraps past 30719, to entry 0
    ds, _, meta = _get(files, "mlut_18.dcm")
    values = np.arange(30000, 32768).astype(np.int16)
    ours, theirs = modality_lut(values, meta), apply_modality_lut(values, ds)
    table = meta["ModalityLUTSequence"][0]["LUTData"]
    assert (ours == table[-1]).all() and table[0] != table[-1]
    wrapped = values > 30719
    assert (theirs[wrapped] == table[0]).all() and (theirs[~wrapped] == table[-1]).all()


# --- bad headers --------------------------------------------------------------------------------


def _raises(match: str, func, *args, **kwargs) -> PixelMetaError:
    with pytest.raises(PixelMetaError, match=match) as info:
        func(*args, **kwargs)
    assert isinstance(info.value, BadInputError) and isinstance(info.value, ValueError)
    return info.value


def test_unknown_voi_function_names_the_tag_found_and_expected(files):
    _, arr, meta = _get(files, "RG1_UNCR.dcm")
    meta["VOILUTFunction"] = "CUBIC"
    error = _raises(r"^\(0028,1056\) VOILUTFunction is 'CUBIC'", voi_lut, arr, meta)
    assert "expected one of LINEAR, LINEAR_EXACT, SIGMOID" in str(error)
    assert error.stage == "pixels" and error.to_row()["error"] == "PixelMetaError"
    _raises(r"\(0028,1056\) VOILUTFunction", to_display, arr, meta)


def test_bad_headers_are_bad_input(files):
    _, arr, meta = _get(files, "RG1_UNCR.dcm")
    narrow = {**meta, "WindowWidth": [0.5]}
    _raises(r"\(0028,1051\) WindowWidth is 0.5; expected >= 1", voi_lut, arr, narrow)
    zero = {**meta, "WindowWidth": [0.0], "VOILUTFunction": "SIGMOID"}
    _raises(r"\(0028,1051\) WindowWidth is 0.0; expected > 0", voi_lut, arr, zero)
    rgb = {**meta, "PhotometricInterpretation": "RGB"}
    _raises(r"\(0028,0004\) PhotometricInterpretation is 'RGB'", voi_lut, arr, rgb)
    _raises(r"\(0028,0004\) PhotometricInterpretation is 'RGB'", to_display, arr, rgb)
    square = {**meta, "PresentationLUTShape": "SQUARE"}
    _raises(r"\(2050,0020\) PresentationLUTShape is 'SQUARE'", to_display, arr, square)
    no_bits = {k: v for k, v in meta.items() if k != "BitsStored"}
    _raises(r"\(0028,0101\) BitsStored is None", voi_lut, arr, no_bits)
    no_sign = {k: v for k, v in meta.items() if k != "PixelRepresentation"}
    _raises(r"\(0028,0103\) PixelRepresentation is None", to_display, arr, no_sign)
    two = {**meta, "WindowCenter": [1.0, 2.0]}
    _raises(r"\(0028,1050\) WindowCenter is '2 values'", voi_lut, arr, two, index=2)
    _, small, lut_meta = _get(files, "vlut_04.dcm")
    _raises(r"\(0028,3010\) VOILUTSequence is '1 values'", voi_lut, small, lut_meta, index=1)
    broken = {**lut_meta, "VOILUTSequence": [{"LUTDescriptor": [256, 0, 20], "LUTData": [1]}]}
    _raises(r"\(0028,3002\) LUTDescriptor is \[256, 0, 20\]", to_display, small, broken)


def test_error_carries_a_path_when_given():
    assert str(PixelMetaError("x is bad")) == "x is bad"
    assert str(PixelMetaError("x is bad", path="a.dcm")) == "a.dcm: pixels: x is bad"


# --- to_display ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("name", FILES)
def test_to_display_is_full_range_uint(files, name, bits):
    _, arr, meta = _get(files, name)
    for voi in VOIS:
        out = to_display(arr, meta, bits=bits, voi=voi)
        assert out.dtype == (np.uint8 if bits == 8 else np.uint16) and out.shape == arr.shape
    out = to_display(arr, meta, bits=bits, voi="minmax")
    assert out.min() == 0 and out.max() == 2**bits - 1


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("name", (*WINDOWED, "vlut_04.dcm"))
def test_to_display_is_pydicom_voi_scaled(files, name, bits):
    ds, arr, meta = _get(files, name)
    out, params = to_display(arr, meta, bits=bits, return_params=True)
    low, high = params["voi"]["range"]
    values = apply_voi_lut(apply_modality_lut(arr, ds), ds).astype(np.float64)
    expected = np.rint(np.clip((values - low) / (high - low), 0, 1) * (2**bits - 1))
    if ds.PhotometricInterpretation == "MONOCHROME1":
        expected = 2**bits - 1 - expected
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("voi", VOIS)
@pytest.mark.parametrize("name", RADIOGRAPHS)
def test_monochrome1_comes_out_inverted(files, name, voi):
    _, arr, meta = _get(files, name)
    mono2 = {**meta, "PhotometricInterpretation": "MONOCHROME2"}
    for bits in (8, 16):
        plain = to_display(arr, mono2, bits=bits, voi=voi)
        _same(to_display(arr, meta, bits=bits, voi=voi), (2**bits - 1 - plain).astype(plain.dtype))
    sample = np.s_[::7, ::7]  # dense (a low stored value in MONOCHROME1) comes out bright
    out = to_display(arr, meta, voi=voi)
    assert np.corrcoef(arr[sample].ravel(), out[sample].ravel())[0, 1] < -0.9


def test_presentation_lut_shape_inverse_inverts_once(files):
    _, arr, meta = _get(files, "RG3_UNCR.dcm")
    mono1 = to_display(arr, meta)
    _same(to_display(arr, {**meta, "PresentationLUTShape": "INVERSE"}), mono1)
    mono2 = {**meta, "PhotometricInterpretation": "MONOCHROME2"}
    _same(to_display(arr, {**mono2, "PresentationLUTShape": "INVERSE"}), mono1)
    _same(to_display(arr, {**mono2, "PresentationLUTShape": "IDENTITY"}), 255 - mono1)


@pytest.mark.parametrize("name", FILES)
def test_lut_path_equals_float_path(files, name, monkeypatch):
    _, arr, meta = _get(files, name)
    reps = -(-(2 ** (8 * arr.dtype.itemsize)) // arr.size)  # enough to take the table path
    image, wide = np.tile(arr, (reps, 1)), np.tile(arr, (reps, 1)).astype(np.int64)
    tables = []
    monkeypatch.setattr(pixels, "_domain", lambda a, f=pixels._domain: tables.append(a) or f(a))
    for bits in (8, 16):
        for voi in VOIS:
            by_table = to_display(image, meta, bits=bits, voi=voi, return_params=True)
            assert len(tables) == 1 and tables.pop() is image
            by_float = to_display(wide, meta, bits=bits, voi=voi, return_params=True)
            assert not tables
            _same(by_table[0], by_float[0])
            assert by_table[1] == by_float[1]


def test_params_are_recorded(files):
    _, arr, meta = _get(files, "MR-SIEMENS-DICOM-WithOverlays.dcm")
    _, params = to_display(arr, meta, bits=16, index=1, return_params=True)
    window = {"method": "window", "center": 200.0, "width": 443.0, "function": "LINEAR"}
    window |= {"explanation": "WINDOW2", "index": 1, "range": [0, 4095]}
    expected = {"modality": None, "voi": window, "inverted": False, "bits": 16}
    assert json.loads(json.dumps(params)) == params == expected
    _, arr, meta = _get(files, "CT_small.dcm")
    _, params = to_display(arr, meta, return_params=True)
    assert params["modality"] == {"slope": 1.0, "intercept": -1024.0, "type": None}
    span = [-896.0, 1167.0]
    assert params["voi"] == {"method": "minmax", "minmax": span, "range": span}
    _, params = to_display(*_get(files, "vlut_04.dcm")[1:], return_params=True)
    lut = {"method": "lut", "lut": None, "descriptor": [256, 0, 16], "index": 0}
    assert params["voi"] == {**lut, "range": [0, 65535]}


def test_8_bit_input():
    image = (np.arange(512 * 512) % 251).astype(np.uint8).reshape(512, 512)
    meta = {"PhotometricInterpretation": "MONOCHROME1", "BitsStored": 8, "PixelRepresentation": 0}
    expected = 255 - np.rint(image / 250 * 255).astype(np.uint8)  # min-max 0..250, then inverted
    _same(to_display(image, meta), expected)
    _same(to_display(image, meta, bits=16), to_display(image.astype(np.int64), meta, bits=16))


# --- MIMIC-CXR-JPG recipe -----------------------------------------------------------------------


def _equalize_reference(image: np.ndarray) -> np.ndarray:
    """cv2.equalizeHist when OpenCV is installed, else its C++ loop transcribed line by line."""
    try:
        import cv2
    except ImportError:
        pass
    else:
        return cv2.equalizeHist(image)
    hist = np.bincount(image.ravel(), minlength=256).tolist()
    i = 0
    while not hist[i]:
        i += 1
    if hist[i] == image.size:
        return np.full_like(image, i)
    scale = np.float32(255.0) / np.float32(image.size - hist[i])
    lut, running = [0] * 256, 0
    for j in range(i + 1, 256):
        running += hist[j]
        lut[j] = min(255, max(0, int(np.rint(np.float32(running) * scale))))
    return np.array(lut, dtype=np.uint8)[image]


def test_equalize_hist_pinned_by_hand():
    # 11 pixels, 1 in the first bin (10): scale = 255 / 10 = 25.5, exact in float32
    image = np.array([10, 20, 30, 30] + [40] * 7, dtype=np.uint8)
    # bin 20: 1 * 25.5 -> 26; bin 30: 3 * 25.5 = 76.5 -> 76 (half to even; not 77, not 75)
    _same(equalize_hist(image), np.array([0, 26, 76, 76] + [255] * 7, dtype=np.uint8))
    _same(equalize_hist(np.full((3, 3), 7, np.uint8)), np.full((3, 3), 7, np.uint8))


def test_equalize_hist_matches_opencv():
    rng = np.random.default_rng(0)
    for image in (
        rng.integers(0, 256, (97, 89), dtype=np.uint8),
        rng.integers(30, 60, (300, 400), dtype=np.uint8),
        rng.normal(120, 20, (512, 512)).clip(0, 255).astype(np.uint8),
    ):
        _same(equalize_hist(image), _equalize_reference(image))


@pytest.mark.parametrize("name", (*RADIOGRAPHS, "MR_small.dcm", "mlut_18.dcm"))
def test_mimic_cxr_jpg_is_the_published_recipe(files, name):
    ds, arr, meta = _get(files, name)
    raw = ds.pixel_array  # the MIT-LCP/mimic-cxr#16 code, with cv2.bitwise_not as 255 - x
    raw = raw - raw.min()
    rescaled = (raw / raw.max() * 255).astype(np.uint8)
    inverted = ds.PhotometricInterpretation == "MONOCHROME1"
    if inverted:
        rescaled = 255 - rescaled
    out, params = mimic_cxr_jpg(arr, meta, return_params=True)
    _same(out, _equalize_reference(rescaled))
    _same(mimic_cxr_jpg(arr.astype(np.float64), meta), out)  # the float path
    span = [int(arr.min()), int(arr.max())]
    assert params == {"recipe": "mimic-cxr-jpg", "minmax": span, "inverted": inverted, "bits": 8}


def test_mimic_cxr_jpg_takes_one_frame():
    with pytest.raises(PixelMetaError, match="one 2-D grayscale frame"):
        mimic_cxr_jpg(np.zeros((2, 4, 4), np.uint16), {"PhotometricInterpretation": "MONOCHROME2"})
