"""Archival codecs, area resize and variants: exact read-back through Pillow and datasets."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from datasets import Dataset, Features
from datasets import Image as HFImage
from PIL import Image
from pydicom.data import get_testdata_file

from cxrhub.shards.dicom.encode import (
    ARCHIVAL_CODECS,
    DEFAULT_ARCHIVAL,
    archival_params,
    decode,
    encode_archival,
    encode_variant,
    resize_area,
    resize_params,
    variant_params,
)

RADIOGRAPHS = ("RG1", "RG3")


@pytest.fixture(scope="session")
def radiographs() -> dict[str, np.ndarray]:
    """Stored pixel values of the two real CR radiographs in pydicom-data."""
    arrays = {}
    for name in RADIOGRAPHS:
        path = get_testdata_file(f"{name}_UNCR.dcm")
        if path is None:
            pytest.skip("pydicom-data is not installed")
        arrays[name] = pydicom.dcmread(path).pixel_array
    return arrays


@pytest.fixture(scope="session")
def archived(radiographs: dict[str, np.ndarray]) -> dict[tuple[str, str], tuple[bytes, str]]:
    """Each radiograph in each archival codec, encoded once per session."""
    return {
        (name, codec): encode_archival(arr, codec)
        for name, arr in radiographs.items()
        for codec in ARCHIVAL_CODECS
    }


def pil_read(data: bytes) -> tuple[np.ndarray, str]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return np.asarray(image), image.mode


def smooth_image(shape: tuple[int, int] = (256, 320), peak: int = 255) -> np.ndarray:
    """A noiseless chest-like picture: a gradient and two dark Gaussian 'lungs'."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]] / np.array(shape).reshape(2, 1, 1)
    lungs = np.exp(-(((x - 0.3) / 0.15) ** 2 + ((y - 0.5) / 0.3) ** 2))
    lungs += np.exp(-(((x - 0.7) / 0.15) ** 2 + ((y - 0.5) / 0.3) ** 2))
    pixels = (0.8 - 0.5 * lungs + 0.1 * y) * peak
    dtype = np.uint8 if peak <= 255 else np.uint16
    return np.clip(np.rint(pixels), 0, peak).astype(dtype)


def random_image(shape: tuple[int, int], peak: int, seed: int = 0) -> np.ndarray:
    dtype = np.uint8 if peak <= 255 else np.uint16
    return np.random.default_rng(seed).integers(0, peak + 1, shape).astype(dtype)


def block_mean(arr: np.ndarray, factor: int) -> np.ndarray:
    rows, cols = arr.shape
    return arr.reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))


# --- archival -------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ARCHIVAL_CODECS)
@pytest.mark.parametrize("name", RADIOGRAPHS)
def test_archival_radiograph_reads_back_exact_through_pil(radiographs, archived, name, codec):
    data, extension = archived[name, codec]
    back, mode = pil_read(data)
    assert mode == "I;16"
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, radiographs[name])
    assert extension == {"htj2k": "j2k", "png16": "png"}[codec]


def test_archival_reads_back_exact_through_datasets(radiographs, archived):
    keys = sorted(archived)
    rows = [{"bytes": archived[k][0], "path": f"x.{archived[k][1]}"} for k in keys]
    small = random_image((31, 17), 255)
    rows += [{"bytes": encode_archival(small, codec)[0], "path": "s"} for codec in ARCHIVAL_CODECS]
    ds = Dataset.from_dict({"image": rows}, features=Features({"image": HFImage()}))
    images = ds.with_format("numpy")["image"]
    for (name, codec), got in zip(keys, images[: len(keys)], strict=True):
        assert got.dtype == np.uint16, (name, codec)
        np.testing.assert_array_equal(got, radiographs[name])
    for got in images[len(keys) :]:
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, small)


def test_default_archival_is_htj2k_codestream(radiographs, archived):
    assert DEFAULT_ARCHIVAL == "htj2k"
    data, extension = encode_archival(radiographs["RG3"])
    assert (data, extension) == archived["RG3", "htj2k"]
    assert data[:4] == b"\xff\x4f\xff\x51"  # SOC + SIZ: a raw J2K codestream
    assert archived["RG3", "png16"][0][:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("codec", ARCHIVAL_CODECS)
@pytest.mark.parametrize(
    ("shape", "peak"),
    [((1, 1), 65535), ((3, 5), 65535), ((7, 1), 4095), ((64, 33), 4095), ((40, 30), 65535)],
)
def test_archival_exact_for_any_precision_and_shape(codec, shape, peak):
    """12-bit data is not shifted up (Pillow rescales low-precision J2K), and 0/65535 survive."""
    arr = random_image(shape, peak, seed=shape[0])
    arr.flat[0], arr.flat[-1] = 0, peak
    back, mode = pil_read(encode_archival(arr, codec)[0])
    assert (mode, back.dtype) == ("I;16", np.uint16)
    np.testing.assert_array_equal(back, arr)


@pytest.mark.parametrize("codec", ARCHIVAL_CODECS)
def test_archival_keeps_uint8_at_8_bits(codec):
    arr = random_image((45, 60), 255)
    back, mode = pil_read(encode_archival(arr, codec)[0])
    assert (mode, back.dtype) == ("L", np.uint8)
    np.testing.assert_array_equal(back, arr)
    assert archival_params(codec, np.uint8)["bits"] == 8


@pytest.mark.parametrize("codec", ARCHIVAL_CODECS)
def test_archival_layout_and_byte_order_do_not_change_bytes(codec):
    arr = random_image((50, 80), 4095)
    data = encode_archival(arr, codec)[0]
    assert encode_archival(arr.copy(), codec)[0] == data  # deterministic
    assert encode_archival(arr.astype(">u2"), codec)[0] == data
    assert encode_archival(np.asfortranarray(arr), codec)[0] == data
    strided = np.repeat(arr, 2, axis=1)[:, ::2]
    assert encode_archival(strided, codec)[0] == data


def test_archival_deterministic_on_radiograph(radiographs, archived):
    for codec in ARCHIVAL_CODECS:
        assert encode_archival(radiographs["RG3"], codec) == archived["RG3", codec]


@pytest.mark.parametrize(
    ("arr", "error", "match"),
    [
        (np.zeros((4, 4), np.int16), ValueError, "signed pixels.*record the offset"),
        (np.zeros((4, 4), np.float32), ValueError, "uint8 or uint16 pixels; got float32"),
        (np.zeros((4, 4), np.uint32), ValueError, "uint8 or uint16"),
        (np.zeros((4, 4), bool), ValueError, "uint8 or uint16"),
        (np.zeros((4, 4, 1), np.uint16), ValueError, r"2-D .*shape \(4, 4, 1\)"),
        (np.zeros(16, np.uint16), ValueError, "2-D"),
        (np.zeros((0, 4), np.uint16), ValueError, "empty"),
        ([[1, 2], [3, 4]], TypeError, "numpy array; got list"),
    ],
)
def test_archival_rejects_bad_input(arr, error, match):
    with pytest.raises(error, match=match):
        encode_archival(arr)


def test_archival_rejects_unknown_codec():
    with pytest.raises(ValueError, match="unknown archival codec 'jp2'"):
        encode_archival(np.zeros((4, 4), np.uint16), "jp2")
    with pytest.raises(ValueError, match="unknown archival codec"):
        archival_params("jp2")


@pytest.mark.parametrize("codec", ARCHIVAL_CODECS)
def test_archival_params_describe_the_encoding(codec):
    params = archival_params(codec)
    assert params["codec"] == codec
    assert params["lossless"] is True
    assert params["bits"] == 16
    assert params["pil_mode"] == "I;16"
    assert params["extension"] == encode_archival(np.ones((2, 2), np.uint16), codec)[1]
    assert "imagecodecs" in params["encoder"]
    with pytest.raises(ValueError, match="signed"):
        archival_params(codec, np.int16)


# --- resize ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "size", "scaled"),
    [
        ((3000, 2500), 512, (512, 427)),
        ((2500, 3000), 512, (427, 512)),
        ((1955, 1841), 512, (512, 482)),
        ((1760, 1760), 512, (512, 512)),
        ((4000, 3), 100, (100, 1)),  # the short side never drops to 0
        ((600, 400), 600, (600, 400)),  # no upscaling
        ((300, 200), 1024, (300, 200)),
    ],
)
def test_resize_params_geometry(shape, size, scaled):
    long = resize_params(shape, size, "long")
    assert tuple(long["scaled_shape"]) == tuple(long["output_shape"]) == scaled
    assert long["pad"] == [0, 0, 0, 0]
    square = resize_params(shape, size, "square")
    assert tuple(square["scaled_shape"]) == scaled
    assert tuple(square["output_shape"]) == (size, size)
    top, bottom, left, right = square["pad"]
    assert (top + scaled[0] + bottom, left + scaled[1] + right) == (size, size)
    assert 0 <= bottom - top <= 1 and 0 <= right - left <= 1


@pytest.mark.parametrize(("shape", "size"), [((240, 180), 60), ((180, 240), 60), ((96, 96), 32)])
@pytest.mark.parametrize("peak", [255, 4095, 65535])
def test_resize_long_is_block_mean_for_integer_factors(shape, size, peak):
    arr = random_image(shape, peak, seed=peak)
    out = resize_area(arr, size, "long")
    assert out.dtype == arr.dtype
    expected = block_mean(arr, max(shape) // size)
    assert out.shape == expected.shape
    diff = out.astype(np.float64) - expected
    assert np.abs(diff).max() <= 0.51  # exact mean, rounded to the nearest integer
    assert abs(diff.mean()) < 0.05  # no rounding bias (Pillow's integer modes add +0.5 at 2x)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_resize_keeps_constants_and_dtype_for_any_factor(dtype):
    peak = np.iinfo(dtype).max
    arr = np.full((1955, 1841), peak, dtype)
    out = resize_area(arr, 512)
    assert (out.shape, out.dtype) == ((512, 482), np.dtype(dtype))
    assert (out == peak).all()


def test_resize_radiograph_stays_in_range(radiographs):
    arr = radiographs["RG1"]
    out = resize_area(arr, 512)
    assert (out.shape, out.dtype) == ((512, 482), np.uint16)
    assert arr.min() <= out.min() and out.max() <= arr.max()
    assert abs(float(out.mean()) - float(arr.mean())) < 1


@pytest.mark.parametrize("shape", [(240, 180), (180, 240)])
def test_resize_square_centres_and_pads_with_zero(shape):
    arr = random_image(shape, 4095) + 1  # no zeros inside the picture
    square = resize_area(arr, 60, "square")
    assert (square.shape, square.dtype) == ((60, 60), np.uint16)
    top, bottom, left, right = resize_params(shape, 60, "square")["pad"]
    inner = square[top : 60 - bottom, left : 60 - right]
    np.testing.assert_array_equal(inner, resize_area(arr, 60, "long"))
    assert (square == 0).sum() == square.size - inner.size
    assert (top, bottom, left, right) == ((0, 0, 7, 8) if shape[0] > shape[1] else (7, 8, 0, 0))


def test_resize_never_upscales():
    arr = random_image((40, 30), 255)
    assert resize_area(arr, 40) is arr
    assert resize_area(arr, 1000) is arr
    padded = resize_area(arr, 50, "square")
    assert padded.shape == (50, 50)
    np.testing.assert_array_equal(padded[5:45, 10:40], arr)


@pytest.mark.parametrize(
    ("size", "mode", "match"),
    [
        (0, "long", "positive integer"),
        (-3, "long", "positive integer"),
        (1.5, "long", "positive integer"),
        (True, "long", "positive integer"),
        (10, "pad", "unknown resize mode 'pad'"),
    ],
)
def test_resize_rejects_bad_arguments(size, mode, match):
    with pytest.raises(ValueError, match=match):
        resize_area(np.zeros((20, 20), np.uint16), size, mode)


def test_resize_rejects_signed_and_3d():
    with pytest.raises(ValueError, match="signed"):
        resize_area(np.zeros((20, 20), np.int16), 10)
    with pytest.raises(ValueError, match="2-D"):
        resize_area(np.zeros((20, 20, 3), np.uint8), 10)


# --- variants -------------------------------------------------------------------------------


@pytest.mark.parametrize(("peak", "mode"), [(255, "L"), (65535, "I;16")])
def test_png_variant_is_exact(peak, mode):
    arr = random_image((64, 48), peak)
    data, extension = encode_variant(arr, "png")
    back, got_mode = pil_read(data)
    assert (extension, got_mode, back.dtype) == ("png", mode, arr.dtype)
    np.testing.assert_array_equal(back, arr)
    assert variant_params("png", arr.dtype)["pil_mode"] == mode


def test_jpeg_variant_is_close_on_a_smooth_image():
    arr = smooth_image()
    data, extension = encode_variant(arr, "jpeg")
    back, mode = pil_read(data)
    assert (extension, mode, back.shape) == ("jpg", "L", arr.shape)
    assert np.abs(back.astype(np.int16) - arr).mean() < 2
    assert data[:3] == b"\xff\xd8\xff"
    low = encode_variant(arr, "jpeg", quality=50)[0]
    assert len(low) < len(data)
    assert variant_params("jpeg", quality=50)["options"] == {"quality": 50}


def test_jpeg_variant_refuses_16_bit_and_bad_quality():
    with pytest.raises(ValueError, match="uint8 only.*got uint16"):
        encode_variant(smooth_image(peak=4095), "jpeg")
    with pytest.raises(ValueError, match="uint8 only"):
        variant_params("jpeg", np.uint16)
    for quality in (0, 101, 95.0):
        with pytest.raises(ValueError, match="quality"):
            encode_variant(smooth_image(), "jpeg", quality=quality)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, ">u2"])
def test_npy_variant_round_trips_without_pickle(dtype):
    arr = random_image((33, 21), 200).astype(dtype)
    data, extension = encode_variant(arr, "npy")
    back = np.load(io.BytesIO(data), allow_pickle=False)
    assert extension == "npy"
    assert back.dtype == np.dtype(dtype).newbyteorder("=")  # stored native-endian
    np.testing.assert_array_equal(back, arr)
    np.testing.assert_array_equal(decode(data, "npy"), arr)
    assert encode_variant(np.asfortranarray(arr), "npy")[0] == data


@pytest.mark.parametrize("fmt", ["png", "jpeg", "npy"])
def test_variants_are_deterministic(fmt):
    arr = smooth_image()
    first = encode_variant(arr, fmt)
    assert encode_variant(arr.copy(), fmt) == first
    np.testing.assert_array_equal(decode(*first).shape, arr.shape)


def test_variant_rejects_unknown_format_and_bad_arrays():
    with pytest.raises(ValueError, match="unknown variant format 'webp'"):
        encode_variant(smooth_image(), "webp")
    with pytest.raises(ValueError, match="unknown variant format"):
        variant_params("tiff")
    with pytest.raises(ValueError, match="2-D"):
        encode_variant(np.zeros((4, 4, 3), np.uint8), "png")
    with pytest.raises(ValueError, match="uint8 or uint16"):
        encode_variant(np.zeros((4, 4), np.float64), "npy")


def test_variant_params_record_what_was_done():
    assert variant_params("png", np.uint16) == {
        "format": "png",
        "extension": "png",
        "bits": 16,
        "lossless": True,
        "pil_mode": "I;16",
        "encoder": variant_params("png")["encoder"],
        "options": {"level": 6},
    }
    npy = variant_params("npy", np.uint16)
    assert (npy["lossless"], npy["dtype"], npy["extension"]) == (True, "<u2", "npy")
    jpeg = variant_params("jpeg")
    assert (jpeg["lossless"], jpeg["bits"], jpeg["options"]) == (False, 8, {"quality": 95})
