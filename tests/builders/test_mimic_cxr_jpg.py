"""MIMIC-CXR-JPG: exact records of the sample, typed metadata, labels as in the CSVs, the layout
check (required and optional tables, missing files, partial downloads), and a conversion."""

from __future__ import annotations

import csv
import datetime
import gzip
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
from datasets import Features, Image, load_dataset

from cxrhub.builders import _labels, mimic_cxr_jpg
from cxrhub.builders._spec import Record
from cxrhub.shards.cli import main
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError
from cxrhub.shards.schema import output_features
from cxrhub.shards.verify import verify

META = "mimic-cxr-2.0.0-metadata.csv.gz"
SPLIT = "mimic-cxr-2.0.0-split.csv.gz"
CHEXPERT = "mimic-cxr-2.0.0-chexpert.csv.gz"
NEGBIO = "mimic-cxr-2.0.0-negbio.csv.gz"
TEST_SET = "mimic-cxr-2.1.0-test-set-labeled.csv"
OBSERVATIONS = (
    "Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,Lung Lesion,"
    "Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices"
)
HEADERS = {
    META: "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,"
    "Columns,StudyDate,StudyTime,ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,"
    "PatientOrientationCodeSequence_CodeMeaning",
    SPLIT: "dicom_id,study_id,subject_id,split",
    CHEXPERT: "subject_id,study_id," + OBSERVATIONS,
    NEGBIO: "subject_id,study_id," + OBSERVATIONS,
}
FIRST = "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014"  # the release docs' example image
KEYS = {
    f"p10000032_s50414267_{FIRST}": "train",
    "p10000032_s50414267_bf06392a-f876631b-f209d7ff-71f3d28c-391f66c8": "train",
    "p10000032_s53189527_9f3a9bda-da51113c-2a9199cf-9d3cb7ae-e03dd824": "train",
    "p10000032_s53189527_03693e7c-3b8c4698-1ef6a694-7ce24685-f2808b4b": "train",
    "p10000032_s53911762_0962b908-fc8bba94-8369c7c7-a9fc6624-9b191417": "train",
    "p10000764_s57375967_757565f3-6c92d0b2-8593e949-bf63dbfb-652690c6": "train",
    "p10000764_s57375967_cdd27f87-04a104cf-2e403b52-167365a2-670c5485": "train",
    "p10000898_s50771383_571fdc15-b3867efa-1ec0ee0c-8ffba434-f8215bf1": "validation",
    "p10000898_s50771383_77a3e54b-ab6a84df-28b41d46-739042d8-62bc73da": "validation",
    "p10000935_s50578979_b6b7c128-e8c7540a-4918961f-51a8f6a5-1e5ef658": "test",
    "p10000935_s50578979_bb5b023d-13fdf365-49826aa0-2fb70d81-47decada": "test",
    "p10000935_s51178377_e5c16c58-da35e2e5-ed7296e7-facfed14-bd7e8529": "test",
    "p11000011_s55203040_1d040bb3-11ae2174-14168167-3d35f713-48a9a442": "train",
    "p11000011_s55203040_132f7198-bbbcbc8b-8ad7ede7-8ba8770a-d379d8c3": "train",
}
COUNTS = {"train": 9, "validation": 2, "test": 3}
NO_ROW, BLANK_ROW, RADIOLOGIST = 53911762, 57375967, (50578979, 51178377)
LUNG_OPACITY = _labels.CHEXPERT_14.index("Lung Opacity")


def _days(year: int, month: int, day: int) -> datetime.date:
    return datetime.date(year, month, day)


def _micros(h: int, m: int, s: int, us: int) -> datetime.time:
    return datetime.time(h, m, s, us)


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    return mimic_cxr_jpg.write_sample(tmp_path_factory.mktemp("mimic-jpg") / "2.1.0")


@pytest.fixture
def copy(src, tmp_path) -> Path:
    """A private copy of the sample to damage."""
    return Path(shutil.copytree(src, tmp_path / "src"))


def _items(root: Path) -> list[Record | BadInputError]:
    return list(mimic_cxr_jpg.iter_records(root))


def _records(root: Path) -> dict[str, Record]:
    items = _items(root)
    assert all(isinstance(r, Record) for r in items), items
    return {r.key: r for r in items}


def _table(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


def _csv_labels(root: Path, name: str) -> dict[int, list[int | None]]:
    """study_id -> 14 labels read straight from the release table (by name, aliases applied)."""
    out = {}
    for row in _table(root / name):
        by_name = {_labels.canonical(k): v for k, v in row.items()}
        values = [by_name[n] for n in _labels.CHEXPERT_14]
        out[int(row["study_id"])] = [None if v == "" else int(float(v)) for v in values]
    return out


def test_keys_splits_and_sources(src):
    records = _records(src)
    assert {k: r.split for k, r in records.items()} == KEYS
    for record in records.values():
        subject, study, dicom_id = record.key.split("_", 2)
        path = f"files/{subject[:3]}/{subject}/{study}/{dicom_id}.jpg"
        assert record.source == path and record.media == {"image": path}
        assert (src / path).is_file()
    train = {r.fields["subject_id"] for r in records.values() if r.split == "train"}
    others = {r.fields["subject_id"] for r in records.values() if r.split != "train"}
    assert train.isdisjoint(others)  # the official split is patient-disjoint


def test_exact_fields_of_the_first_image(src):
    record = _records(src)[f"p10000032_s50414267_{FIRST}"]
    chexpert = [None] * 14
    chexpert[_labels.CHEXPERT_14.index("No Finding")] = 1
    assert record.fields == {
        "dicom_id": FIRST,
        "subject_id": 10000032,
        "study_id": 50414267,
        "PerformedProcedureStepDescription": "CHEST (PA AND LAT)",
        "ViewPosition": "PA",
        "Rows": 64,
        "Columns": 48,
        "StudyDate": _days(2180, 5, 6),
        "StudyTime": _micros(21, 30, 14, 531_000),
        "ProcedureCodeSequence_CodeMeaning": "CHEST (PA AND LAT)",
        "ViewCodeSequence_CodeMeaning": "postero-anterior",
        "PatientOrientationCodeSequence_CodeMeaning": "Erect",
        "chexpert": chexpert,
        "negbio": chexpert,
        "test_set_labeled": None,
        "report": None,  # no MIMIC-CXR reports root given
    }


def test_study_times_with_lost_leading_zeros_and_blank_metadata(src):
    by_study = {}
    for record in _records(src).values():
        by_study.setdefault(record.fields["study_id"], []).append(record.fields)
    assert by_study[53911762][0]["StudyTime"] == _micros(8, 5, 56, 875_000)  # 80556.875
    assert by_study[57375967][0]["StudyTime"] == _micros(0, 45, 13, 0)  # 4513.0
    assert by_study[55203040][0]["StudyTime"] == _micros(23, 59, 59, 999_000)
    assert by_study[50578979][0]["StudyDate"] == _days(2187, 10, 8)
    blank_view = by_study[57375967][1]
    assert blank_view["ViewPosition"] is None
    assert blank_view["ViewCodeSequence_CodeMeaning"] is None
    assert blank_view["PatientOrientationCodeSequence_CodeMeaning"] is None


def test_labels_equal_the_csvs_by_study(src):
    tables = {
        "chexpert": _csv_labels(src, CHEXPERT),
        "negbio": _csv_labels(src, NEGBIO),
        "test_set_labeled": _csv_labels(src, TEST_SET),
    }
    assert set(tables["test_set_labeled"]) == set(RADIOLOGIST)
    seen = {-1: 0, 0: 0, 1: 0, None: 0}
    for record in _records(src).values():
        for family, table in tables.items():
            assert record.fields[family] == table.get(record.fields["study_id"]), family
            for value in record.fields[family] or []:
                seen[value] += 1
    assert all(seen.values())  # 1.0, 0.0, -1.0 and blank all occur
    assert tables["chexpert"] != tables["negbio"]


def test_a_study_without_a_row_and_a_row_of_blanks(src):
    records = [r for r in _records(src).values() if r.fields["study_id"] in (NO_ROW, BLANK_ROW)]
    assert len(records) == 3
    for record in records:
        expected = None if record.fields["study_id"] == NO_ROW else [None] * 14
        assert record.fields["chexpert"] == record.fields["negbio"] == expected


def test_test_set_labeled_airspace_opacity_is_lung_opacity(src):
    header = (src / TEST_SET).read_text().split("\n")[0].split(",")
    assert header[0] == "study_id" and "Airspace Opacity" in header
    assert "Lung Opacity" not in header
    row = next(r for r in _table(src / TEST_SET) if r["study_id"] == "50578979")
    assert row["Airspace Opacity"] == "1.0"
    for record in _records(src).values():
        labels = record.fields["test_set_labeled"]
        if record.fields["study_id"] == 50578979:
            assert labels[LUNG_OPACITY] == 1
        assert (labels is not None) == (record.fields["study_id"] in RADIOLOGIST)


def test_gzip_tables_have_the_exact_headers(src):
    for name, header in HEADERS.items():
        data = (src / name).read_bytes()
        assert data[:2] == b"\x1f\x8b"  # gzip, as released
        text = gzip.decompress(data).decode("utf-8")
        assert text.split("\n")[0] == header
        assert "\r" not in text and text.endswith("\n")
    metadata = gzip.decompress((src / META).read_bytes()).decode().split("\n")
    assert metadata[1] == (
        f"{FIRST},10000032,50414267,CHEST (PA AND LAT),PA,64,48,21800506,213014.531,"
        "CHEST (PA AND LAT),postero-anterior,Erect"
    )
    splits = {row["split"] for row in _table(src / SPLIT)}
    assert splits == {"train", "validate", "test"}
    listed = (src / "IMAGE_FILENAMES").read_text().split()
    assert listed[0] == f"files/p10/p10000032/s50414267/{FIRST}.jpg"
    assert sorted(listed) == sorted(p.relative_to(src).as_posix() for p in src.rglob("*.jpg"))


def test_sample_images_are_real_jpegs_of_the_metadata_size(src):
    from PIL import Image as PILImage

    for row in _table(src / META):
        sub, study = row["subject_id"], row["study_id"]
        path = src / f"files/p{sub[:2]}/p{sub}/s{study}/{row['dicom_id']}.jpg"
        with PILImage.open(path) as image:
            assert image.format == "JPEG" and image.mode == "L"
            assert image.size == (int(row["Columns"]), int(row["Rows"]))


def test_check_reports_the_layout(src):
    layout = mimic_cxr_jpg.check(src)
    json.dumps(layout)
    assert layout["tables"] == {
        "metadata": META, "split": SPLIT, "chexpert": CHEXPERT, "negbio": NEGBIO,
        "test_set_labeled": TEST_SET,
    }  # fmt: skip
    assert layout["missing_optional"] == []
    assert layout["image_list"] == "IMAGE_FILENAMES"
    images = layout["images"]
    assert (images["expected"], images["found"]) == (14, 14)
    assert images["missing"] == images["partial_downloads"] == images["zero_byte"] == 0


def test_version_2_0_0_has_no_test_set_table(tmp_path, caplog):
    root = mimic_cxr_jpg.write_sample(tmp_path / "2.0.0", version="2.0.0")
    assert not (root / TEST_SET).exists()
    with caplog.at_level(logging.WARNING):
        layout = mimic_cxr_jpg.check(root)
    assert layout["missing_optional"] == [TEST_SET]
    assert layout["label_families"] == {"chexpert": True, "negbio": True, "test_set_labeled": False}
    assert f"no {TEST_SET}" in caplog.text
    records = _records(root)
    assert {k: r.split for k, r in records.items()} == KEYS
    assert all(r.fields["test_set_labeled"] is None for r in records.values())
    with pytest.raises(ValueError, match="choose 2.0.0 or 2.1.0"):
        mimic_cxr_jpg.write_sample(tmp_path / "x", version="2.1")


@pytest.mark.parametrize("name", [META, SPLIT])
def test_a_missing_required_table_fails_up_front_naming_it(copy, name):
    (copy / name).unlink()
    (copy / f"{name}_.gstmp").write_bytes(b"\x1f\x8b")
    columns = re.escape(HEADERS[name].replace(",", ", "))
    pattern = rf"{re.escape(name)}: missing; .*\({columns}\) is required; {re.escape(name)}_"
    with pytest.raises(MissingSourceError, match=pattern):
        mimic_cxr_jpg.check(copy)
    with pytest.raises(MissingSourceError, match=re.escape(name)):
        next(mimic_cxr_jpg.iter_records(copy))
    with pytest.raises(MissingSourceError):
        convert("mimic-cxr-jpg", copy, copy.parent / "out")
    assert not (copy.parent / "out").exists()  # before any work


def test_missing_root_or_image_folder(tmp_path, copy):
    with pytest.raises(MissingSourceError, match="not a folder"):
        mimic_cxr_jpg.check(tmp_path / "nowhere")
    shutil.rmtree(copy / "files")
    with pytest.raises(MissingSourceError, match=r"files: missing; expected files/pXX/"):
        mimic_cxr_jpg.check(copy)


def _rewrite(root: Path, name: str, old: str, new: str) -> None:
    text = gzip.decompress((root / name).read_bytes()).decode()
    assert text.count(old) == 1, old
    (root / name).write_bytes(gzip.compress(text.replace(old, new).encode()))


def test_a_table_without_a_required_column_names_it(copy):
    _rewrite(copy, SPLIT, "subject_id,split\n", "subject_id,fold\n")
    with pytest.raises(SourceLayoutError, match=rf"{SPLIT}: missing column\(s\) \['split'\]"):
        mimic_cxr_jpg.check(copy)
    with pytest.raises(SourceLayoutError, match="found .*'fold'"):
        list(mimic_cxr_jpg.iter_records(copy))


def test_a_label_table_without_an_observation_names_it(copy):
    _rewrite(copy, CHEXPERT, "Consolidation,Edema,", "Consolidation,Oedema,")
    with pytest.raises(SourceLayoutError, match=rf"{CHEXPERT}: no column for \['Edema'\]"):
        mimic_cxr_jpg.check(copy)


def test_a_missing_optional_table_converts_without_its_family(copy, tmp_path, caplog):
    (copy / NEGBIO).unlink()
    with caplog.at_level(logging.WARNING):
        layout = mimic_cxr_jpg.check(copy)
    assert layout["missing_optional"] == [NEGBIO]
    assert layout["label_families"]["negbio"] is False
    assert f"no {NEGBIO}; that label family is null in every row" in caplog.text
    out = tmp_path / "out"
    result = convert("mimic-cxr-jpg", copy, out)
    assert result.errors == [] and result.samples == 14
    index = json.loads((out / "index.json").read_text())
    assert index["source_layout"]["missing_optional"] == [NEGBIO]
    ds = load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert ds["train"].features == output_features(mimic_cxr_jpg.FEATURES)  # unchanged
    for split in ds:
        assert set(ds[split]["negbio"]) == {None}
        assert any(v is not None for v in ds[split]["chexpert"])
    assert verify(out) == []


def test_leftovers_zero_byte_and_missing_files_are_counted_up_front(copy, tmp_path, caplog):
    listed = (copy / "IMAGE_FILENAMES").read_text().split()
    gone, empty = listed[3], listed[7]
    (copy / gone).rename(copy / f"{gone}_.gstmp")  # gsutil's partial download
    (copy / empty).write_bytes(b"")
    (copy / "files/p10/p10000032/s50414267/other._gstmp").write_bytes(b"x")
    (copy / "files/p10/p10000032/s50414267/stray.jpg").write_bytes(b"\xff\xd8")
    with caplog.at_level(logging.WARNING):
        images = mimic_cxr_jpg.check(copy)["images"]
    assert images["expected"] == 14 and images["found"] == 12
    assert (images["missing"], images["zero_byte"], images["partial_downloads"]) == (1, 1, 2)
    assert images["unlisted"] == 1
    assert images["examples"]["missing"] == [gone]
    assert images["examples"]["zero_byte"] == [empty]
    assert sorted(images["examples"]["partial_downloads"]) == sorted(
        [f"{gone}_.gstmp", "files/p10/p10000032/s50414267/other._gstmp"]
    )
    assert "1 missing file(s)" in caplog.text and "2 partial_downloads file(s)" in caplog.text
    # at conversion each becomes its own error; every other image converts
    assert len(_records(copy)) == 14
    result = convert("mimic-cxr-jpg", copy, tmp_path / "out")
    assert result.samples == 12
    assert sorted((e["path"], e["stage"]) for e in result.errors) == sorted(
        [(gone, "read"), (empty, "read")]
    )


def test_without_image_filenames_the_metadata_lists_the_images(copy):
    (copy / "IMAGE_FILENAMES").unlink()
    (copy / f"files/p10/p10000032/s50414267/{FIRST}.jpg").unlink()
    images = mimic_cxr_jpg.check(copy)["images"]
    assert images["listed_in"] == META
    assert (images["expected"], images["found"], images["missing"]) == (14, 13, 1)


PA_53189527 = "9f3a9bda-da51113c-2a9199cf-9d3cb7ae-e03dd824"


@pytest.mark.parametrize(
    ("name", "old", "new", "failed", "message"),
    [
        (META, "PA,64,48,21800626,", "PA,64,48,21801326,", 1, "StudyDate '21801326'"),
        (META, "48,21800626,165500.312,", "48,21800626,246000.0,", 1, "StudyTime '246000.0'"),
        (META, "PA,64,48,21800626", "PA,sixty,48,21800626", 1, "Rows 'sixty'"),
        (CHEXPERT, "10000032,53189527,1.0,-1.0,", "10000032,53189527,1.0,2.0,", 2,
         f"{CHEXPERT} line 3: column 'Cardiomegaly': label '2.0'"),
        (SPLIT, f"{PA_53189527},53189527,10000032,train", f"{PA_53189527},53189527,10000032,val",
         1, f"{SPLIT} line 4: study, subject, split ['53189527', '10000032', 'val']"),
    ],
)  # fmt: skip
def test_a_bad_row_fails_alone(copy, name, old, new, failed, message):
    """A bad metadata or split row fails its image; a bad label row every image of its study."""
    _rewrite(copy, name, old, new)
    items = _items(copy)
    bad = [i for i in items if isinstance(i, BadInputError)]
    assert len(items) == 14 and len(bad) == failed
    for error in bad:
        assert error.stage == "table" and "/s53189527/" in error.path
        assert re.match(rf"{META} line [45]: ", error.message) and message in error.message
    failed_ids = {Path(b.path).stem for b in bad}
    good = {i.key for i in items if isinstance(i, Record)}
    assert good == {k for k in KEYS if k.split("_", 2)[2] not in failed_ids}


def test_a_split_row_without_metadata_and_a_metadata_row_without_split(copy):
    extra = "ffffffff-ffffffff-ffffffff-ffffffff-ffffffff,50000001,10000001,train"
    text = gzip.decompress((copy / SPLIT).read_bytes()).decode()
    lines = text.rstrip("\n").split("\n")
    dropped = lines.pop(5).split(",")[0]
    (copy / SPLIT).write_bytes(gzip.compress(("\n".join([*lines, extra]) + "\n").encode()))
    bad = [i for i in _items(copy) if isinstance(i, BadInputError)]
    assert len(bad) == 2
    assert dropped in bad[0].path and f"no row in {SPLIT}" in bad[0].message
    assert bad[1].path == "files/p10/p10000001/s50000001/" + extra.split(",")[0] + ".jpg"
    assert bad[1].message == f"{SPLIT} line 15: no row in {META}"


def test_cli_sample_writes_a_release(tmp_path, capsys):
    assert main(["sample", "mimic-cxr-jpg", str(tmp_path / "s"), "--option", "version=2.0.0"]) == 0
    assert "wrote a synthetic mimic-cxr-jpg download" in capsys.readouterr().out
    assert mimic_cxr_jpg.check(tmp_path / "s")["missing_optional"] == [TEST_SET]


# --- end to end -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def out(src, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mimic-jpg-out") / "out"
    result = convert("mimic-cxr-jpg", src, out, ConvertOptions(max_shard_samples=4))
    assert result.errors == [] and result.samples == 14
    return out


@pytest.fixture(scope="module")
def loaded(out, tmp_path_factory):
    return load_dataset(str(out), cache_dir=str(tmp_path_factory.mktemp("cache")))


def test_load_dataset_gives_the_declared_features_and_split_counts(out, loaded, src):
    index = json.loads((out / "index.json").read_text())
    declared = Features.from_dict(index["features"])
    assert declared == output_features(mimic_cxr_jpg.FEATURES)
    assert list(loaded) == ["train", "validation", "test"]
    official = {"train": 0, "validation": 0, "test": 0}
    for row in _table(src / SPLIT):
        official[mimic_cxr_jpg.SPLITS[row["split"]]] += 1
    assert {s: loaded[s].num_rows for s in loaded} == official == COUNTS
    for split in loaded:
        assert loaded[split].features == declared
        assert {k: s for k, s in KEYS.items() if s == split} == dict.fromkeys(
            loaded[split]["key"], split
        )


def test_loaded_values_are_typed_and_equal_the_csvs(loaded, src):
    metadata = {r["dicom_id"]: r for r in _table(src / META)}
    families = {"chexpert": CHEXPERT, "negbio": NEGBIO, "test_set_labeled": TEST_SET}
    tables = {f: _csv_labels(src, name) for f, name in families.items()}
    for split in loaded:
        for row in loaded[split]:
            meta = metadata[row["dicom_id"]]
            assert row["study_id"] == int(meta["study_id"])
            assert (
                row["StudyDate"] == datetime.datetime.strptime(meta["StudyDate"], "%Y%m%d").date()
            )
            assert isinstance(row["StudyTime"], datetime.time)
            assert row["image"].size == (int(meta["Columns"]), int(meta["Rows"]))
            for family, table in tables.items():
                assert row[family] == table.get(row["study_id"])
    first = loaded["train"].filter(lambda r: r["dicom_id"] == FIRST)[0]
    assert first["StudyTime"] == datetime.time(21, 30, 14, 531_000)
    no_row = loaded["train"].filter(lambda r: r["study_id"] == NO_ROW)[0]
    assert no_row["StudyTime"] == datetime.time(8, 5, 56, 875_000) and no_row["chexpert"] is None


def test_image_bytes_are_the_source_jpgs(loaded, src):
    for split in loaded:
        raw = loaded[split].cast_column("image", Image(decode=False))
        for row in raw:
            path = next(src.glob(f"files/p1*/p*/s{row['study_id']}/{row['dicom_id']}.jpg"))
            assert row["image"]["bytes"] == path.read_bytes()
            assert row["image"]["path"] == path.name


def test_webdataset_members_and_verify(out):
    import tarfile

    with tarfile.open(next((out / "webdataset").glob("test-*.tar"))) as tar:
        names = tar.getnames()
        key = names[0].split(".")[0]
        assert f"{key}.image.jpg" in names
        member = tar.extractfile(f"{key}.StudyDate.json").read()
        assert json.loads(member) == "2187-10-08"  # ISO 8601 text in the tars
    assert verify(out) == []
    card = (out / "README.md").read_text()
    assert "{{" not in card and "Airspace Opacity" in card and "`ViewPosition`" in card


def test_reports_join_from_a_mimic_cxr_root(src, tmp_path):
    from cxrhub.builders import mimic_cxr

    reports = mimic_cxr.write_sample(tmp_path / "mimic-cxr")
    out = tmp_path / "out"
    result = convert("mimic-cxr-jpg", src, out, source_options={"reports_root": str(reports)})
    assert not result.errors
    rows = load_dataset(str(out), cache_dir=str(tmp_path / "c"))["train"]
    by_study = {r["study_id"]: r["report"] for r in rows}
    assert by_study[50414267]["sections"]["impression"] == "No acute cardiopulmonary process."
    assert by_study[53189527]["conclusion"] == "Mild cardiomegaly without pulmonary edema."
    assert by_study[53911762] is None  # no report for this study in that download
    with pytest.raises(MissingSourceError, match="expected MIMIC-CXR's reports"):
        convert("mimic-cxr-jpg", src, tmp_path / "o2", source_options={"reports_root": "/nope"})


def test_study_records_group_the_images_of_each_study(src):
    items = list(mimic_cxr_jpg.iter_study_records(src))
    assert not [i for i in items if isinstance(i, BadInputError)]
    images = _records(src)
    assert sum(len(r.fields["dicom_ids"]) for r in items) == len(images) == 14
    for record in items:
        subject, study = record.fields["subject_id"], record.fields["study_id"]
        assert record.key == f"p{subject}_s{study}" and record.source.endswith(f"/s{study}")
        keys = [f"p{subject}_s{study}_{d}" for d in record.fields["dicom_ids"]]
        assert record.fields["dicom_ids"] == sorted(record.fields["dicom_ids"])
        assert record.media["images"] == [images[k].media["image"] for k in keys]
        assert record.fields["ViewPosition"] == [images[k].fields["ViewPosition"] for k in keys]
        assert {images[k].split for k in keys} == {record.split} == {record.fields["split"]}
        assert record.fields["chexpert"] == images[keys[0]].fields["chexpert"]
        assert record.fields["report"] is None  # no reports root
