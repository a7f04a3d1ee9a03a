"""CheXpert Plus: the sample tree, its records, and conversions from the PNG root, the DICOM root
and both."""

from __future__ import annotations

import csv
import json
import logging

import numpy as np
import pydicom
import pytest
from datasets import Features, Image, load_dataset

from cxrhub.builders import _chexpert_plus_sample as sample
from cxrhub.builders import chexpert_plus
from cxrhub.builders._labels import CHEXPERT_14
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.verify import verify

MISSING_KEY = "patient00009_study1_view1_frontal"
PNG_COLUMNS = ["image_png"]
DICOM_COLUMNS = ["image", "image_512", "dicom"]
VARIANTS = {
    "png": (("png_root",), PNG_COLUMNS),
    "dicom": (("dicom_root",), DICOM_COLUMNS),
    "both": (("png_root", "dicom_root"), PNG_COLUMNS + DICOM_COLUMNS),
}


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    return chexpert_plus.write_sample(tmp_path_factory.mktemp("cxp") / "src", missing_image=True)


def _options(src, roots):
    return {r: str(src / ("PNG" if r == "png_root" else "DICOM")) for r in roots}


@pytest.fixture(scope="module")
def converted(src, tmp_path_factory):
    done = {}
    for name, (roots, _) in VARIANTS.items():
        out = tmp_path_factory.mktemp(f"cxp-{name}") / "out"
        result = convert(
            "chexpert-plus",
            src,
            out,
            ConvertOptions(max_shard_samples=4),
            source_options=_options(src, roots),
        )
        done[name] = (out, result)
    return done


def _csv(src) -> dict[str, dict]:
    with (src / chexpert_plus.TABLE).open(newline="", encoding="utf-8") as f:
        return {r["path_to_image"]: r for r in csv.DictReader(f)}


def _chexbert(src, family) -> dict[str, list]:
    lines = (src / chexpert_plus.CHEXBERT[family]).read_text().splitlines()
    found = {}
    for line in map(json.loads, lines):
        found[line["path_to_image"]] = [
            None if line[k] is None else int(line[k]) for k in CHEXPERT_14
        ]
    return found


def _radgraph(src, section) -> dict[str, dict]:
    elements = iter(json.loads((src / chexpert_plus.RADGRAPH[section]).read_text()))
    return {
        path: next(elements)
        for path, row in _csv(src).items()
        if len(row[f"section_{section}"].split()) >= 2
    }


def test_sample_tree_is_the_release_layout(src):
    with (src / chexpert_plus.TABLE).open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert tuple(header) == chexpert_plus.COLUMNS and len(header) == 27
    assert (src / "PNG/train/patient42142/study5/view1_frontal.png").is_file()
    assert (src / "DICOM/valid/patient64541/study1/view2_lateral.dcm").is_file()
    assert len(_csv(src)) == len(sample.ROWS) + 1


def test_records_are_exact(src):
    records = list(chexpert_plus.iter_records(src))
    assert len(records) == 7
    first = records[0]
    assert first.key == "patient42142_study5_view1_frontal" and first.split == "train"
    assert first.media == {} and first.source == chexpert_plus.TABLE
    fields = first.fields
    assert all(fields[c] is None for c in PNG_COLUMNS + DICOM_COLUMNS)
    assert fields["path_to_dcm"] == "train/patient42142/study5/view1_frontal.dcm"
    assert (fields["frontal_lateral"], fields["ap_pa"]) == ("Frontal", "AP")
    assert fields["patient_report_date_order"] == 5
    assert fields["report"] == sample.ROWS[0][4]
    assert fields["section_findings"] == "1.TRACHEOSTOMY TUBE IN PLACE.\n2. NO PNEUMOTHORAX."
    assert fields["section_history"] is None
    assert (fields["age"], fields["recent_bmi"], fields["sex"]) == (62.0, 22.2, "Female")
    assert fields["radgraph_impression"] is None
    assert (
        fields["radgraph_findings"]["0"]["text"]
        == "1.TRACHEOSTOMY TUBE IN PLACE. 2. NO PNEUMOTHORAX."
    )
    assert fields["chexbert_findings"] == _chexbert(src, "findings")[sample.ROWS[0][0]]
    third = records[2].fields
    assert (third["race"], third["ethnicity"], third["recent_bmi"]) == (
        "Unknown",
        "Patient Refused",
        None,
    )
    assert records[3].fields["section_findings"] == "\n"  # released whitespace kept
    assert records[3].fields["radgraph_findings"] is None
    assert records[4].split == "validation" and records[4].fields["age"] is None
    png = chexpert_plus.iter_records(src, png_root=str(src / "PNG"))
    assert next(png).media == {"image_png": "PNG/train/patient42142/study5/view1_frontal.png"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_check_names_the_image_columns_and_counts_the_missing_row(src, variant, caplog):
    roots, columns = VARIANTS[variant]
    with caplog.at_level(logging.WARNING):
        layout = chexpert_plus.check(src, **_options(src, roots))
    assert layout["image_columns"] == columns and layout["rows"] == 7
    assert layout["png_missing"] == (1 if "png_root" in roots else None)
    assert layout["dicom_missing"] == (1 if "dicom_root" in roots else None)
    assert layout["chexbert"] == ["findings", "impression", "report"]
    assert "of 7 listed images" in caplog.text


@pytest.mark.parametrize("variant", VARIANTS)
def test_conversion_round_trips_every_value(src, converted, variant, tmp_path):
    out, result = converted[variant]
    roots, columns = VARIANTS[variant]
    assert [e["key"] for e in result.errors] == [MISSING_KEY]
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert [(e["key"], e["stage"]) for e in errors] == [(MISSING_KEY, "read")]
    assert result.samples == 6
    index = json.loads((out / "index.json").read_text())
    assert index["source_layout"]["image_columns"] == columns
    assert index["patients"]["in_several_splits"] == 0
    assert verify(out) == []

    ds = load_dataset(str(out), cache_dir=str(tmp_path))
    assert {s: d.num_rows for s, d in ds.items()} == {"train": 4, "validation": 2}
    assert ds["train"].features == Features.from_dict(index["features"])
    assert set(ds["train"].features) == {"key", *chexpert_plus.FEATURES}
    table = _csv(src)
    chexbert = {f: _chexbert(src, f) for f in chexpert_plus.CHEXBERT}
    radgraph = {s: _radgraph(src, s) for s in chexpert_plus.RADGRAPH}
    for split in ds.values():
        raw = split.cast_column("image_png", Image(decode=False))
        for row in raw:
            csv_row = table[row["path_to_image"]]
            for column in chexpert_plus.COLUMNS:
                if column in ("split",):
                    continue
                value, released = row[column], csv_row[column]
                if released == "":
                    assert value is None, column
                elif column in ("age", "recent_bmi", "patient_report_date_order"):
                    assert value == float(released), column
                else:
                    assert value == released, column  # byte-identical, multi-line included
            for family, labels in chexbert.items():
                assert row[f"chexbert_{family}"] == labels[row["path_to_image"]]
            for section, elements in radgraph.items():
                assert row[f"radgraph_{section}"] == elements.get(row["path_to_image"])
            png = src / "PNG" / (row["path_to_image"].removesuffix(".jpg") + ".png")
            if "image_png" in columns:
                assert row["image_png"]["bytes"] == png.read_bytes()
            for name in set(PNG_COLUMNS + DICOM_COLUMNS) - set(columns):
                assert row[name] is None, name
        if "image" in columns:
            for row in split.with_format("numpy"):
                reference = pydicom.dcmread(src / "DICOM" / str(row["path_to_dcm"])).pixel_array
                assert row["image"].dtype == np.uint16
                assert np.array_equal(row["image"], reference)
            assert all(r["dicom"]["header"]["Rows"] > 0 for r in split)
