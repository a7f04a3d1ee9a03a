"""DICOM sources through the whole conversion: 16-bit archival exact, display variant, header."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from datasets import load_dataset
from dicom_files import radiograph_dataset
from PIL import Image

from cxrhub import builders
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.verify import verify


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return radiograph_dataset("RG3_UNCR.dcm").pixel_array


@pytest.fixture(scope="module")
def converted(pixels, tmp_path_factory):
    from fixtures import dicom_builder

    mp = pytest.MonkeyPatch()
    mp.setitem(builders.BUILDERS, "test-dicom", "fixtures.dicom_builder")
    src = dicom_builder.write_sample(tmp_path_factory.mktemp("dcm") / "src", pixels)
    out = tmp_path_factory.mktemp("dcm-out") / "out"
    result = convert("test-dicom", src, out, ConvertOptions(decode_timeout=60))
    yield out, result
    mp.undo()


def test_archival_image_round_trips_16_bit_exact_through_datasets(converted, pixels, tmp_path):
    out, result = converted
    ds = load_dataset(str(out), cache_dir=str(tmp_path))["train"].with_format("numpy")
    assert ds.num_rows == 4 and result.samples == 4
    for row in ds:
        assert row["image"].dtype == np.uint16
        assert np.array_equal(row["image"], pixels)


def test_display_variant_and_header_record_how_they_were_made(converted, tmp_path):
    out, _ = converted
    rows = load_dataset(str(out), cache_dir=str(tmp_path))["train"]
    syntaxes = set()
    for row in rows:
        small = np.asarray(row["image_small"])
        assert small.dtype == np.uint8 and max(small.shape) == 64
        header = row["dicom"]
        syntaxes.add(header["transfer_syntax"]["name"])
        assert header["header"]["PhotometricInterpretation"] == "MONOCHROME1"
        assert "PatientName" not in header["header"] and "Doe" not in json.dumps(header)
        assert header["outputs"]["image"]["codec"] == "htj2k"
        assert header["outputs"]["image_small"]["inverted"] is True
        assert header["outputs"]["image_small"]["resize"]["size"] == 64
        assert header["backend"]
    assert len(syntaxes) == 4


def test_bad_dicom_is_reported_and_the_output_verifies(converted):
    out, result = converted
    assert [(e["path"], e["stage"]) for e in result.errors] == [("files/e.dcm", "header")]
    assert verify(out) == []
    with tarfile.open(out / "webdataset" / "train-000000.tar") as tar:
        names = sorted(m.name for m in tar)
    assert "a.image.j2k" in names and "a.image_small.png" in names and "a.dicom.json" in names


@pytest.mark.parametrize("name", ["RG1_UNCR.dcm", "RG3_UNCR.dcm"])
def test_display_variant_is_the_resized_stored_values_windowed(name):
    """A sized display copy is the area mean of the stored values pushed through the recorded
    modality/VOI/inversion (not every full-size pixel mapped first), and stays within a grey
    level or two of mapping first on real radiographs."""
    from dicom_files import dicom_file

    from cxrhub.shards.dicom.encode import resize_area
    from cxrhub.shards.dicom.outputs import render
    from cxrhub.shards.dicom.pixels import pixel_meta, to_display
    from cxrhub.shards.dicom.read import read

    request = {"output": "display", "size": 256, "format": "png"}
    values = render(dicom_file(name), name, {"small": request, "h": {"output": "header"}})
    got = np.asarray(Image.open(io.BytesIO(values["small"]["bytes"])))
    array, meta = read(dicom_file(name))
    pixels = pixel_meta(meta["dataset"])
    expected = to_display(resize_area(array, 256), pixels)
    assert np.array_equal(got, expected)
    assert values["h"]["outputs"]["small"]["resize"]["order"].startswith("stored values resized")
    mapped_first = resize_area(to_display(array, pixels), 256)
    assert np.abs(got.astype(int) - mapped_first).mean() < 2.0
    square = {"output": "display", "size": 256, "mode": "square", "format": "png"}
    values = render(dicom_file(name), name, {"sq": square, "h": {"output": "header"}})
    got = np.asarray(Image.open(io.BytesIO(values["sq"]["bytes"])))
    recorded = values["h"]["outputs"]["sq"]["resize"]
    assert recorded["mode"] == "square" and list(got.shape) == recorded["output_shape"]
    assert np.array_equal(got, resize_area(expected, 256, "square"))
