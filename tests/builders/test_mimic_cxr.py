"""MIMIC-CXR (DICOM + reports): the sample tree, its layout checks, and a full conversion."""

from __future__ import annotations

import gzip
import json
import logging

import numpy as np
import pydicom
import pytest
from datasets import Features, load_dataset

from cxrhub.builders import mimic_cxr
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.errors import MissingSourceError, SourceLayoutError
from cxrhub.shards.verify import verify


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    return mimic_cxr.write_sample(tmp_path_factory.mktemp("mimic") / "src")


@pytest.fixture(scope="module")
def out(src, tmp_path_factory):
    out = tmp_path_factory.mktemp("mimic-out") / "out"
    result = convert("mimic-cxr", src, out, ConvertOptions(max_shard_samples=4))
    assert not result.errors
    return out


def test_sample_tree_is_the_release_layout(src):
    with gzip.open(src / "cxr-record-list.csv.gz", "rt") as f:
        lines = f.read().splitlines()
    assert lines[0] == "subject_id,study_id,dicom_id,path"
    subject, study, dicom_id, path = lines[1].split(",")
    assert path == f"files/p{subject[:2]}/p{subject}/s{study}/{dicom_id}.dcm"
    assert [len(g) for g in dicom_id.split("-")] == [8, 8, 8, 8, 8]
    assert (src / f"files/p{subject[:2]}/p{subject}/s{study}.txt").is_file()
    report = (src / "files/p10/p10000032/s50414267.txt").read_text()
    assert all(line.startswith(" ") for line in report.splitlines())


def test_records_carry_ids_and_sectioned_reports(src):
    records = list(mimic_cxr.iter_records(src))
    assert len(records) == 6 and {r.split for r in records} == {"train"}
    first = records[0]
    assert first.key == f"p10000032_s50414267_{first.fields['dicom_id']}"
    report = first.fields["report"]
    assert report["sections"]["impression"] == "No acute cardiopulmonary process."
    assert report["sections"]["comparison"] == "None."
    assert report["conclusion"] == "No acute cardiopulmonary process."
    by_study = {r.fields["study_id"]: r.fields["report"] for r in records}
    assert by_study[53189527]["sections"]["impression"].startswith(
        "Mild cardiomegaly"
    )  # IMPRESSOIN
    assert by_study[57375967]["sections"]["last_paragraph"].endswith("No pneumothorax.")
    assert by_study[58235663]["conclusion"] == ""  # a custom-rule study: empty range


def test_archival_pixels_are_bit_exact_against_pydicom(out, src, tmp_path):
    ds = load_dataset(str(out), cache_dir=str(tmp_path))["train"]
    assert ds.num_rows == 6
    index = json.loads((out / "index.json").read_text())
    assert ds.features == Features.from_dict(index["features"])
    manifest = {m["key"]: m["source"] for m in map(json.loads, (out / "manifest.jsonl").open())}
    syntaxes = set()
    for row in ds.with_format("numpy"):
        reference = pydicom.dcmread(src / manifest[row["key"]]).pixel_array
        assert row["image"].dtype == np.uint16 and np.array_equal(row["image"], reference)
    for row in ds:
        syntaxes.add(row["dicom"]["transfer_syntax"]["name"])
        assert row["image_512"].mode == "L"
        assert row["dicom"]["header"]["ViewPosition"] in ("PA", "AP", "LATERAL")
    assert len(syntaxes) == 3
    assert verify(out) == []


def test_missing_list_fails_before_work(src, tmp_path):
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(src, copy)
    (copy / "cxr-study-list.csv.gz").unlink()
    with pytest.raises(MissingSourceError, match="cxr-study-list.csv.gz: missing"):
        convert("mimic-cxr", copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with gzip.open(copy / "cxr-study-list.csv.gz", "wt") as f:
        f.write("subject_id,study\n")
    with pytest.raises(SourceLayoutError, match=r"missing column\(s\) \['study_id', 'path'\]"):
        mimic_cxr.check(copy)


def test_missing_files_and_leftovers_are_counted_up_front(src, tmp_path, caplog):
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(src, copy)
    dicoms = sorted(copy.rglob("*.dcm"))
    dicoms[0].unlink()
    dicoms[1].write_bytes(b"")
    (copy / "files" / "p10" / "x.dcm._gstmp").write_bytes(b"partial")
    with caplog.at_level(logging.WARNING):
        layout = mimic_cxr.check(copy)
    assert (layout["images_missing"], layout["images_empty"]) == (1, 1)
    assert layout["leftovers"] == ["files/p10/x.dcm._gstmp"]
    assert "1 of 6 listed DICOMs missing, 1 empty, 1 partial-download leftovers" in caplog.text
    result = convert("mimic-cxr", copy, tmp_path / "out")
    assert sorted(e["stage"] for e in result.errors) == ["read", "read"]
    assert result.samples == 4


def _jpg_tables(src, root, drop: int | None = None):
    """A MIMIC-CXR-JPG root whose tables describe the MIMIC-CXR sample's DICOMs."""
    from cxrhub.builders import mimic_cxr_jpg

    with gzip.open(src / mimic_cxr.RECORD_LIST, "rt") as f:
        rows = [line.split(",") for line in f.read().splitlines()[1:]]
    if drop is not None:
        rows.pop(drop)
    splits = ["train", "validate", "test"]
    meta = [",".join(mimic_cxr_jpg.COLUMNS["metadata"])]
    split = [",".join(mimic_cxr_jpg.COLUMNS["split"])]
    for i, (subject, study, dicom_id, _) in enumerate(rows):
        meta.append(f"{dicom_id},{subject},{study},CHEST (PA AND LAT),PA,80,96,21800506,"
                    f"80556.875,CHEST (PA AND LAT),postero-anterior,Erect")  # fmt: skip
        split.append(f"{dicom_id},{study},{subject},{splits[i % 3]}")
    studies = sorted({(s, st) for s, st, _, _ in rows})
    labels = [",".join(mimic_cxr_jpg.COLUMNS["chexpert"])]
    labels += [
        f"{s},{st}," + ",".join(["1.0", "", "-1.0", "0.0"] * 3 + ["", "1.0"]) for s, st in studies
    ]
    root.mkdir(parents=True)
    (root / "files").mkdir()
    for table, lines in (("metadata", meta), ("split", split), ("chexpert", labels)):
        with gzip.open(root / mimic_cxr_jpg.TABLES[table], "wt") as f:
            f.write("\n".join(lines) + "\n")
    return root, rows


def test_joining_mimic_cxr_jpg_brings_split_metadata_and_labels(src, tmp_path):
    import datetime

    jpg, rows = _jpg_tables(src, tmp_path / "jpg")
    out = tmp_path / "out"
    result = convert("mimic-cxr", src, out, source_options={"jpg_root": str(jpg)})
    assert not result.errors
    ds = load_dataset(str(out), cache_dir=str(tmp_path / "c"))
    assert {s: ds[s].num_rows for s in ds} == {"train": 2, "validation": 2, "test": 2}
    row = ds["train"][0]
    assert row["ViewPosition"] == "PA" and row["StudyDate"] == datetime.date(2180, 5, 6)
    assert row["StudyTime"] == datetime.time(8, 5, 56, 875000)
    assert row["chexpert"] == [1, None, -1, 0] * 3 + [None, 1]
    assert row["negbio"] is None  # no negbio table in this download: the family is null
    index = json.loads((out / "index.json").read_text())
    assert index["source_layout"]["jpg_tables"]["negbio"] is None


def test_a_dicom_missing_from_the_jpg_tables_is_reported(src, tmp_path):
    jpg, rows = _jpg_tables(src, tmp_path / "jpg", drop=0)
    result = convert("mimic-cxr", src, tmp_path / "out", source_options={"jpg_root": str(jpg)})
    assert [(e["stage"], e["path"].endswith(".dcm")) for e in result.errors] == [("join", True)]
    assert result.samples == 5


# --- the studies config -----------------------------------------------------------------------


def test_studies_config_has_the_512px_images_of_the_default_config(src, out, tmp_path):
    from datasets import Image, List

    studies = tmp_path / "out"
    options = ConvertOptions(formats=("parquet",))
    result = convert("mimic-cxr", src, studies, options, config="studies")
    assert not result.errors and result.samples == 4
    assert verify(studies) == []
    cache = str(tmp_path / "c")
    rows = load_dataset(str(studies), "studies", cache_dir=cache)["train"]
    rows = rows.cast_column("images_512", List(Image(decode=False)))
    default = load_dataset(str(out), cache_dir=cache)["train"]
    default = default.cast_column("image_512", Image(decode=False))
    display = {r["dicom_id"]: r["image_512"]["bytes"] for r in default}
    reports = {r["study_id"]: r["report"] for r in default}
    assert sorted(rows["study_id"]) == [50414267, 53189527, 57375967, 58235663]
    for row in rows:
        assert row["key"] == f"p{row['subject_id']}_s{row['study_id']}"
        assert row["dicom_ids"] == sorted(row["dicom_ids"])
        assert [i["bytes"] for i in row["images_512"]] == [display[d] for d in row["dicom_ids"]]
        assert row["report"] == reports[row["study_id"]]
        assert row["ViewPosition"] is None and row["chexpert"] is None  # no MIMIC-CXR-JPG root
    assert [len(d) for d in rows["dicom_ids"]] == [2, 1, 2, 1]


def test_a_study_whose_images_disagree_on_the_split_fails_alone(src, tmp_path):
    jpg, rows = _jpg_tables(src, tmp_path / "jpg")  # splits by image: train, validate, test, ...
    out = tmp_path / "out"
    options = ConvertOptions(formats=("parquet",))
    extra = {"jpg_root": str(jpg)}
    result = convert("mimic-cxr", src, out, options, config="studies", source_options=extra)
    assert [(e["stage"], e["path"]) for e in result.errors] == [
        ("table", "files/p10/p10000032/s50414267"),
        ("table", "files/p10/p10000764/s57375967"),
    ]
    assert "different splits" in result.errors[0]["message"]
    ds = load_dataset(str(out), "studies", cache_dir=str(tmp_path / "c"))
    assert {s: ds[s]["study_id"] for s in ds} == {"test": [53189527, 58235663]}
    row = ds["test"][0]
    assert row["ViewPosition"] == ["PA"] and row["chexpert"] == [1, None, -1, 0] * 3 + [None, 1]
    assert verify(out) == []
