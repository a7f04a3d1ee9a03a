"""Decoding: stored bit depth kept, values equal to Pillow's (and to the archived array)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cxrhub.shards.dicom.encode import resize_area
from cxrhub.shards.loader import ImageDecodeError, StreamingDataset, decode_image
from cxrhub.shards.loader.decode import image_kind
from cxrhub.shards.loader.readers import tar_members
from cxrhub.shards.loader.synthetic import (
    converted_sample,
    encode,
    features,
    synthetic_image,
    write_output,
)

SIZE = 48


def _pillow(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return np.asarray(image)


@pytest.fixture(scope="module")
def mimic_out() -> Path:
    """MIMIC-CXR's synthetic DICOMs converted: HTJ2K 16-bit ``image``, JPEG ``image_512``."""
    return converted_sample("mimic-cxr", 2)


def _tar_bytes(out: Path, column: str) -> dict[str, bytes]:
    index = json.loads((out / "index.json").read_text())
    suffix = "." + index["webdataset_members"][column]
    found = {}
    for entry in index["splits"]["train"]["webdataset"]:
        with tarfile.open(out / entry["file"]) as tar:
            for member in tar.getmembers():
                if member.name.endswith(suffix):
                    found[member.name[: -len(suffix)]] = tar.extractfile(member).read()
    return found


@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_htj2k_archival_stays_uint16_and_equals_pillow(mimic_out, fmt):
    stored = _tar_bytes(mimic_out, "image")
    samples = list(StreamingDataset(mimic_out, format=fmt, image="image"))
    assert len(samples) == len(stored) == 6
    for sample in samples:
        reference = _pillow(stored[sample["key"]])
        assert reference.dtype == np.uint16
        assert sample["image"].dtype == np.uint16
        assert np.array_equal(sample["image"], reference)
        assert sample["image"].max() > 255  # real 16-bit content, not squeezed


@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_jpeg_equals_pillow(mimic_out, fmt):
    stored = _tar_bytes(mimic_out, "image_512")
    for sample in StreamingDataset(mimic_out, format=fmt, image="image_512"):
        data = stored[sample["key"]]
        assert image_kind(data) == "jpeg"
        assert sample["image"].dtype == np.uint8
        assert np.array_equal(sample["image"], _pillow(data))


@pytest.fixture(scope="module")
def encoded_outs(tmp_path_factory) -> dict[str, Path]:
    """One 6-sample output per encoding: png16 (archival), png 16-bit, npy 16/8-bit."""
    cases = {
        "png16": (np.uint16, "png16"),
        "png-u16": (np.uint16, "png"),
        "npy-u16": (np.uint16, "npy"),
        "npy-u8": (np.uint8, "npy"),
        "htj2k": (np.uint16, "htj2k"),
    }
    outs = {}
    for name, (dtype, encoding) in cases.items():
        out = tmp_path_factory.mktemp(name) / "out"
        write_output(
            out, lambda i, d=dtype, e=encoding: {
                "key": f"s{i}", "image": encode(synthetic_image(i, SIZE, d), e), "labels": None},
            6, features(), max_shard_samples=4,
        )  # fmt: skip
        outs[name] = (out, dtype)
    return outs


@pytest.mark.parametrize("name", ["png16", "png-u16", "npy-u16", "npy-u8", "htj2k"])
@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_lossless_encodings_give_the_archived_values(encoded_outs, name, fmt):
    out, dtype = encoded_outs[name]
    views = list(StreamingDataset(out, format=fmt, buffer=3))
    copies = list(StreamingDataset(out, format=fmt, buffer=3, writable=True))
    for sample, copied in zip(views, copies, strict=True):
        original = synthetic_image(int(sample["key"][1:]), SIZE, dtype)
        assert sample["image"].dtype == copied["image"].dtype == dtype
        assert np.array_equal(sample["image"], original)
        assert np.array_equal(copied["image"], original)
        assert sample["image"].flags.c_contiguous and copied["image"].flags.writeable
        assert sample["image"].flags.writeable == (not name.startswith("npy"))


@pytest.mark.parametrize("encoding", ["png16", "png", "htj2k"])
def test_sixteen_bit_decode_matches_pillow_i16(encoding):
    arr = synthetic_image(3, SIZE, np.uint16)
    data = encode(arr, encoding)["bytes"]
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "I;16"
    assert np.array_equal(decode_image(data), _pillow(data))
    assert decode_image(data).dtype == np.uint16


def test_npy_is_a_view_unless_writable_is_asked():
    arr = synthetic_image(1, SIZE, np.uint16)
    data = bytearray(encode(arr, "npy")["bytes"])
    view = decode_image(memoryview(data))
    copy = decode_image(memoryview(data), writable=True)
    data[-2:] = b"\xff\xff"  # the stored bytes change: the view sees it, the copy does not
    assert view[-1, -1] == 0xFFFF != arr[-1, -1]
    assert np.array_equal(copy, arr) and copy.flags.writeable and copy.flags.owndata
    assert not decode_image(encode(arr, "npy")["bytes"]).flags.writeable  # bytes: read-only
    fortran = io.BytesIO()
    np.save(fortran, np.asfortranarray(arr))
    assert np.array_equal(decode_image(fortran.getvalue()), arr)


def test_resize_and_crop_on_the_way(encoded_outs):
    out, _ = encoded_outs["png-u16"]
    resized = list(StreamingDataset(out, size=24, shuffle=False))
    cropped = list(StreamingDataset(out, size=24, crop=16, shuffle=False))
    square = list(StreamingDataset(out, crop=20, shuffle=False))
    for a, b, c in zip(resized, cropped, square, strict=True):
        original = synthetic_image(int(a["key"][1:]), SIZE, np.uint16)
        assert a["image"].shape == (24, 24) and a["image"].dtype == np.uint16
        assert np.array_equal(a["image"], resize_area(original, 24))
        assert np.array_equal(b["image"], a["image"][4:20, 4:20])
        assert np.array_equal(c["image"], original[14:34, 14:34])


def test_tar_walk_matches_tarfile_with_long_names(mimic_out):
    index = json.loads((mimic_out / "index.json").read_text())
    path = mimic_out / index["splits"]["train"]["webdataset"][0]["file"]
    data = path.read_bytes()
    with tarfile.open(path) as tar:
        expected = [(m.name, m.offset_data, m.size) for m in tar.getmembers() if m.isfile()]
    assert max(len(name) for name, _, _ in expected) > 100  # PAX long names are exercised
    assert list(tar_members(data, str(path))) == expected
    with open(path, "rb") as f:
        assert list(tar_members(f.fileno(), str(path))) == expected


@pytest.mark.parametrize("data", [b"not an image at all", b"\x89PNG\r\n\x1a\nbroken"])
def test_unreadable_bytes_raise_a_named_error(data):
    with pytest.raises(ImageDecodeError):
        decode_image(data)


def test_gpu_decode_with_nvimgcodec_matches_cpu():
    pytest.importorskip("nvidia.nvimgcodec")
    from cxrhub.shards.loader.decode import gpu_decoder

    arr = synthetic_image(2, SIZE, np.uint16)
    data = encode(arr, "htj2k")["bytes"]
    image = gpu_decoder()(data)
    host = image.cpu() if hasattr(image, "__cuda_array_interface__") else image
    assert np.array_equal(np.asarray(host).reshape(arr.shape), arr)
