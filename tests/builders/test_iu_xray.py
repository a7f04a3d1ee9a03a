"""IU X-ray (Open-I): exact records from the NLM XML and Kaggle CSV releases; end to end."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from datasets import Features, Image, load_dataset

from cxrhub.builders import _labels, iu_xray
from cxrhub.builders._spec import Record
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError
from cxrhub.shards.schema import output_features
from cxrhub.shards.verify import verify

KEYS = [
    "CXR1_IM-0001-3001", "CXR1_IM-0001-4001", "CXR2_IM-0652-1001", "CXR2_IM-0652-2001",
    "CXR3_IM-1384-1001", "CXR4_IM-2050-1001", "CXR4_IM-2050-2001",
]  # fmt: skip
MISSING = "CXR4_IM-2050-2001"


def _labels_of(**positive: int) -> list:
    return [positive.get(n.replace(" ", "_")) for n in _labels.CHEXPERT_14]


CXR3 = {
    "uid": "CXR3",
    "comparison": "XXXX, XXXX",
    "indication": "XXXX-year-old male, shortness of breath",
    "findings": 'Left basilar airspace opacity, with a small left pleural effusion, "likely" '
    "atelectasis; no pneumothorax.",
    "impression": None,  # the empty <AbstractText Label="IMPRESSION"/>
    "report": "COMPARISON: XXXX, XXXX\n\nINDICATION: XXXX-year-old male, shortness of breath\n\n"
    'FINDINGS: Left basilar airspace opacity, with a small left pleural effusion, "likely" '
    "atelectasis; no pneumothorax.",
    "mesh_major": [
        "Opacity/lung/base/left", "Pleural Effusion/left/small", "Pulmonary Atelectasis/base/left"
    ],
    "labels": _labels_of(Atelectasis=1, Lung_Opacity=1, Pleural_Effusion=1),
}  # fmt: skip


def _records(root) -> dict[str, Record]:
    items = list(iu_xray.iter_records(root))
    assert all(isinstance(r, Record) for r in items), items
    return {r.key: r for r in items}


@pytest.mark.parametrize("release", ["nlm", "kaggle"])
def test_keys_splits_and_check(tmp_path, release):
    root = iu_xray.write_sample(tmp_path / release, release=release)
    assert iu_xray.check(root)["release"] == release
    records = _records(root)
    assert list(records) == KEYS  # report 5 has no image: no record
    assert {r.split for r in records.values()} == {"train"}
    for record in records.values():
        assert "." not in record.key and (root / record.media["image"]).is_file()


def test_exact_nlm_record(tmp_path):
    root = iu_xray.write_sample(tmp_path / "nlm")
    record = _records(root)["CXR3_IM-1384-1001"]
    assert (
        record.media == {"image": "CXR3_IM-1384-1001.png"}
        and record.source == "CXR3_IM-1384-1001.png"
    )
    assert record.fields == {
        **CXR3, "image_id": "CXR3_IM-1384-1001", "projection": None,
        "mesh_automatic": ["opacity", "Atelectasis"],
    }  # fmt: skip


def test_exact_kaggle_record(tmp_path):
    root = iu_xray.write_sample(tmp_path / "kaggle", release="kaggle")
    record = _records(root)["CXR3_IM-1384-1001"]
    path = "images/images_normalized/3_IM-1384-1001.dcm.png"
    assert record.media == {"image": path} and record.source == path
    assert record.fields == {
        **CXR3, "image_id": "3_IM-1384-1001.dcm.png", "projection": "Frontal",
        "mesh_automatic": None,
    }  # fmt: skip


def test_the_releases_agree_except_ids_projection_and_automatic_terms(tmp_path):
    nlm = _records(iu_xray.write_sample(tmp_path / "nlm"))
    kaggle = _records(iu_xray.write_sample(tmp_path / "kaggle", release="kaggle"))
    own = ("image_id", "projection", "mesh_automatic")
    for key in KEYS:
        a, b = nlm[key].fields, kaggle[key].fields
        assert {k: v for k, v in a.items() if k not in own} == {
            k: v for k, v in b.items() if k not in own
        }
    assert [kaggle[k].fields["projection"] for k in KEYS] == [
        "Frontal", "Lateral", "Frontal", "Lateral", "Frontal", "Frontal", "Lateral"
    ]  # fmt: skip


def test_cxr1_quirk_two_images_and_labels(tmp_path):
    records = _records(iu_xray.write_sample(tmp_path / "nlm"))
    first, second = records["CXR1_IM-0001-3001"], records["CXR1_IM-0001-4001"]
    assert first.media == {"image": "CXR1_1_IM-0001-3001.png"}
    assert first.fields["image_id"] == "CXR1_1_IM-0001-3001"
    assert first.fields["uid"] == second.fields["uid"] == "CXR1"
    assert first.fields["report"] == second.fields["report"]
    assert first.fields["impression"] == "Normal chest x-XXXX."
    assert first.fields["comparison"] == "None."  # text as released, not a missing section
    assert first.fields["labels"] == _labels_of(No_Finding=1)
    assert records["CXR2_IM-0652-1001"].fields["comparison"] is None
    assert records["CXR2_IM-0652-1001"].fields["labels"] == _labels_of(Cardiomegaly=1)
    assert records["CXR4_IM-2050-1001"].fields["labels"] == _labels_of(Support_Devices=1)
    assert records["CXR4_IM-2050-1001"].fields["indication"] is None


def test_a_png_under_the_other_cxr1_spelling_is_found(tmp_path):
    root = iu_xray.write_sample(tmp_path / "nlm")
    (root / "CXR1_1_IM-0001-3001.png").rename(root / "CXR1_IM-0001-3001.png")
    assert _records(root)["CXR1_IM-0001-3001"].media == {"image": "CXR1_IM-0001-3001.png"}


def test_mesh_mapping():
    assert iu_xray.labels_from_mesh([]) is None
    assert iu_xray.labels_from_mesh(["Opacity"]) == [None] * 14  # not clearly lung
    assert iu_xray.labels_from_mesh(["Nodule/lung/upper lobe"]) == _labels_of(Lung_Lesion=1)
    assert iu_xray.labels_from_mesh(["fractures, bone/ribs"]) == _labels_of(Fracture=1)
    assert set(iu_xray.MESH_TO_CHEXPERT.values()) <= set(_labels.CHEXPERT_14)


@pytest.mark.parametrize("release", ["nlm", "kaggle"])
def test_an_image_missing_on_disk_still_yields_its_record(tmp_path, release):
    root = iu_xray.write_sample(tmp_path / release, release=release, missing_image="true")
    record = _records(root)[MISSING]
    assert not (root / record.media["image"]).exists()


def test_no_release_at_all(tmp_path):
    with pytest.raises(MissingSourceError, match="ecgen-radiology.*indiana_reports.csv"):
        iu_xray.check(tmp_path)


def test_nlm_without_pngs_or_reports(tmp_path):
    root = iu_xray.write_sample(tmp_path / "nlm")
    for png in root.glob("*.png"):
        png.unlink()
    with pytest.raises(MissingSourceError, match="no PNG images"):
        iu_xray.check(root)
    for xml in (root / "ecgen-radiology").glob("*.xml"):
        xml.unlink()
    with pytest.raises(MissingSourceError, match=r"ecgen-radiology: no report files"):
        iu_xray.check(root)


@pytest.mark.parametrize(
    ("name", "column"), [("indiana_reports.csv", "MeSH"), ("indiana_projections.csv", "projection")]
)
def test_kaggle_missing_column(tmp_path, name, column):
    root = iu_xray.write_sample(tmp_path / "kaggle", release="kaggle")
    text = (root / name).read_text()
    (root / name).write_text(text.replace(column, "Other", 1))
    with pytest.raises(SourceLayoutError, match=rf"{name}: missing column '{column}'"):
        iu_xray.check(root)


@pytest.mark.parametrize("missing", ["indiana_projections.csv", "images/images_normalized"])
def test_kaggle_missing_file_or_folder(tmp_path, missing):
    import shutil

    root = iu_xray.write_sample(tmp_path / "kaggle", release="kaggle")
    target = root / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(MissingSourceError, match=missing):
        iu_xray.check(root)


def test_a_malformed_report_fails_alone(tmp_path):
    root = iu_xray.write_sample(tmp_path / "nlm")
    (root / "ecgen-radiology" / "2.xml").write_text("<eCitation><uId id='CXR2'>")
    items = list(iu_xray.iter_records(root))
    bad = [i for i in items if isinstance(i, BadInputError)]
    assert [(b.path, b.stage) for b in bad] == [("ecgen-radiology/2.xml", "read")]
    assert {i.key for i in items if isinstance(i, Record)} == set(KEYS) - {
        "CXR2_IM-0652-1001", "CXR2_IM-0652-2001"
    }  # fmt: skip


def test_a_projection_row_without_report_fails_alone(tmp_path):
    root = iu_xray.write_sample(tmp_path / "kaggle", release="kaggle")
    with (root / "indiana_projections.csv").open("a") as f:
        f.write("99,99_IM-9999-1001.dcm.png,Frontal\n")
    bad = [i for i in iu_xray.iter_records(root) if isinstance(i, BadInputError)]
    assert len(bad) == 1 and "uid '99' has no indiana_reports.csv row" in bad[0].message


# ---------------------------------------------------------------- end to end, both releases


def _xml_sections(path: Path) -> dict:
    tree = ET.parse(path).getroot()
    out = {
        e.get("Label").lower(): (e.text or "").strip() or None
        for e in tree.findall("MedlineCitation/Article/Abstract/AbstractText")
    }
    out["mesh_major"] = [e.text for e in tree.findall("MeSH/major")]
    out["mesh_automatic"] = [e.text for e in tree.findall("MeSH/automatic")]
    out["images"] = [e.get("id") for e in tree.findall("parentImage")]
    return {tree.find("uId").get("id"): out}


@pytest.fixture(scope="module", params=["nlm", "kaggle"])
def converted(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"iu-{request.param}")
    src = iu_xray.write_sample(base / "src", release=request.param, missing_image=True)
    out = base / "out"
    result = convert("iu-xray", src, out, ConvertOptions(max_shard_samples=3))
    loaded = load_dataset(str(out), cache_dir=str(base / "cache"))
    return request.param, src, out, result, loaded


def test_load_dataset_features_counts_and_errors(converted):
    _, _, out, result, loaded = converted
    index = json.loads((out / "index.json").read_text())
    declared = Features.from_dict(index["features"])
    assert declared == output_features(iu_xray.FEATURES)
    assert list(loaded) == ["train"] and loaded["train"].features == declared
    assert sorted(loaded["train"]["key"]) == sorted(set(KEYS) - {MISSING})
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert len(errors) == 1 and len(result.errors) == 1
    assert MISSING.split("_", 1)[1] in errors[0]["path"]
    assert index["patients"]["field"] == "uid"
    assert verify(out) == []


def test_loaded_values_round_trip_from_the_source(converted):
    release, src, _, _, loaded = converted
    rows = list(loaded["train"])
    if release == "nlm":
        reports = {}
        for path in (src / "ecgen-radiology").glob("*.xml"):
            reports.update(_xml_sections(path))
        for row in rows:
            report = reports[row["uid"]]
            assert row["image_id"] in report["images"] and row["projection"] is None
            for field in ("comparison", "indication", "findings", "impression", "mesh_major"):
                assert row[field] == report[field], field
            assert row["mesh_automatic"] == report["mesh_automatic"]
    else:
        with (src / "indiana_reports.csv").open(newline="") as f:
            reports = {f"CXR{r['uid']}": r for r in csv.DictReader(f)}
        with (src / "indiana_projections.csv").open(newline="") as f:
            projections = {r["filename"]: r for r in csv.DictReader(f)}
        for row in rows:
            report = reports[row["uid"]]
            assert row["projection"] == projections[row["image_id"]]["projection"]
            for field in ("comparison", "indication", "findings", "impression"):
                assert row[field] == (report[field] or None), field
            assert row["mesh_major"] == report["MeSH"].split(";")
            assert row["mesh_automatic"] is None
    for row in rows:
        assert len(row["labels"]) == 14 and set(row["labels"]) <= {1, None}
        assert "XXXX" in row["report"]  # de-identification markers kept


def test_image_bytes_are_the_source_pngs(converted):
    release, src, _, _, loaded = converted
    raw = loaded["train"].cast_column("image", Image(decode=False))
    folder = src if release == "nlm" else src / "images/images_normalized"
    for row in raw:
        assert row["image"]["bytes"] == (folder / Path(row["image"]["path"]).name).read_bytes()
        assert row["image"]["path"].endswith(".png")
