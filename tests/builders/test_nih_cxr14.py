"""NIH ChestX-ray14: exact records from the three table variants, release quirks, bad layouts."""

from __future__ import annotations

import re
import shutil

import pytest

from cxrhub.builders import nih_cxr14
from cxrhub.builders._spec import Record
from cxrhub.shards.cli import main
from cxrhub.shards.errors import BadInputError, MissingSourceError, SourceLayoutError

V2020 = "Data_Entry_2017_v2020.csv"
OLD = "Data_Entry_2017.csv"
VARIANTS = {
    "v2020": {"layout": "box", "table": "v2020"},
    "v2020-sex": {"layout": "box", "table": "v2020-sex"},
    "2017": {"layout": "kaggle", "table": "2017"},
}
SPLITS = {
    ("00000001_000", "train"), ("00000001_001", "train"), ("00000001_002", "train"),
    ("00000002_000", "train"), ("00000005_000", "train"),
    ("00000003_000", "test"), ("00000003_001", "test"), ("00000004_000", "test"),
}  # fmt: skip
HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
)


def _box(label: str, *xywh: float) -> dict:
    return {"label": label, **dict(zip("xywh", xywh, strict=True))}


# the BBox table's own text, as floats; its "Infiltrate" means "Infiltration"
INFILTRATE = _box(
    "Infiltration", 225.084745762712, 547.019216763771, 86.7796610169491, 79.1864406779661
)
EFFUSION = _box("Effusion", 686.101694915254, 131.742372881356, 185.491525423729, 313.491525423729)


def _folder(variant: str) -> str:
    """The image folder pattern: ``images/`` (NIH Box) or ``images_0NN/images/`` (Kaggle)."""
    kaggle = VARIANTS[variant]["layout"] == "kaggle"
    return r"images_0(0[1-9]|1[0-2])/images" if kaggle else "images"


def _sample(tmp_path, variant="v2020"):
    return nih_cxr14.write_sample(tmp_path / variant, **VARIANTS[variant])


def _records(root) -> dict[str, Record]:
    items = list(nih_cxr14.iter_records(root))
    assert all(isinstance(r, Record) for r in items), items
    return {r.key: r for r in items}


@pytest.mark.parametrize("variant", VARIANTS)
def test_keys_and_splits(tmp_path, variant):
    records = _records(_sample(tmp_path, variant))
    assert {(r.key, r.split) for r in records.values()} == SPLITS
    train = {r.fields["patient_id"] for r in records.values() if r.split == "train"}
    test = {r.fields["patient_id"] for r in records.values() if r.split == "test"}
    assert train == {1, 2, 5} and test == {3, 4}  # the official lists are patient-disjoint


@pytest.mark.parametrize("variant", VARIANTS)
def test_exact_fields_of_a_row_with_boxes(tmp_path, variant):
    root = _sample(tmp_path, variant)
    record = _records(root)["00000003_001"]
    assert re.fullmatch(_folder(variant) + "/00000003_001.png", record.source)
    assert record.media == {"image": record.source}
    assert (root / record.source).is_file()
    assert record.fields == {
        "image_id": "00000003_001.png",
        "patient_id": 3,
        "follow_up": 1,
        "age_years": 74.0,
        "sex": "F",
        "view": "AP",
        "labels": ["Infiltration", "Effusion"],
        "boxes": [INFILTRATE, EFFUSION],
        "original_width": 2048,
        "original_height": 2500,
        "pixel_spacing_x": 0.168,
        "pixel_spacing_y": 0.168,
    }


@pytest.mark.parametrize(
    ("variant", "age_2", "age_4"),
    [("v2020", 2.0, 1.0), ("v2020-sex", 2.0, 1.0), ("2017", 26 / 12, 1 / 365.25)],
)
def test_ages_in_years(tmp_path, variant, age_2, age_4):
    records = _records(_sample(tmp_path, variant))
    assert records["00000002_000"].fields["age_years"] == pytest.approx(age_2, rel=1e-12)
    assert records["00000004_000"].fields["age_years"] == pytest.approx(age_4, rel=1e-12)
    assert records["00000001_000"].fields["age_years"] == 58.0
    atelectasis = _box(
        "Atelectasis", 14.2222222222222, 483.555555555556, 213.333333333333, 111.644444444444
    )
    assert records["00000004_000"].fields["boxes"] == [atelectasis]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_media_path_exists_in_the_layout(tmp_path, variant):
    root = _sample(tmp_path, variant)
    for record in _records(root).values():
        name = record.fields["image_id"]
        assert name == f"{record.key}.png"
        assert re.fullmatch(rf"{_folder(variant)}/{name}", record.media["image"])
        assert record.source == record.media["image"]
        assert (root / record.media["image"]).is_file()


def test_records_agree_across_variants_except_month_and_day_ages(tmp_path):
    new, sex, old = (_records(_sample(tmp_path, v)) for v in VARIANTS)
    assert new == sex
    assert new.keys() == old.keys()
    diffs = {}
    for key, record in new.items():
        other = old[key]
        assert other.split == record.split
        assert other.media["image"].endswith("/images/" + record.fields["image_id"])
        changed = {f for f in record.fields if record.fields[f] != other.fields[f]}
        if changed:
            diffs[key] = changed
    assert diffs == {"00000002_000": {"age_years"}, "00000004_000": {"age_years"}}


def test_the_raw_sample_files_have_the_release_quirks(tmp_path):
    old = (_sample(tmp_path, "2017") / OLD).read_bytes()
    assert old.count(b"\r\n") == old.count(b"\n") == 9
    old_lines = old.decode().split("\r\n")
    assert old_lines[0] == HEADER + ","
    assert old_lines[1] == (
        "00000001_000.png,Cardiomegaly,000,00000001,058Y,M,PA,2682,2749,0.143,0.143"
    )
    assert ",026M," in old_lines[5] and ",001D," in old_lines[7]

    new = (_sample(tmp_path, "v2020") / V2020).read_bytes()
    assert b"\r" not in new
    new_lines = new.decode().split("\n")
    assert new_lines[0] == HEADER
    assert new_lines[1] == "00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143"

    sex_root = _sample(tmp_path, "v2020-sex")
    sex_header = (sex_root / V2020).read_text().split("\n")[0]
    assert sex_header == HEADER.replace("Patient Gender", "Patient Sex") + ","

    bbox = (sex_root / "BBox_List_2017.csv").read_text().split("\n")
    assert bbox[0] == "Image Index,Finding Label,Bbox [x,y,w,h],,,"
    assert bbox[1] == (
        "00000003_001.png,Infiltrate,225.084745762712,547.019216763771,86.7796610169491,"
        "79.1864406779661"
    )
    assert (sex_root / "test_list.txt").read_text().split() == [
        "00000003_000.png", "00000003_001.png", "00000004_000.png",
    ]  # fmt: skip


def test_check_reports_table_and_image_folders(tmp_path):
    assert nih_cxr14.check(_sample(tmp_path, "v2020"))["image_dirs"] == ["images"]
    found = nih_cxr14.check(_sample(tmp_path, "2017"))
    assert found["table"] == OLD
    assert len(found["image_dirs"]) > 1 and found["image_dirs"] == sorted(found["image_dirs"])
    assert all(re.fullmatch(_folder("2017"), d) for d in found["image_dirs"])


def test_the_v2020_table_wins_when_both_are_present(tmp_path):
    root = _sample(tmp_path, "v2020")
    shutil.copy(_sample(tmp_path, "2017") / OLD, root / OLD)
    assert nih_cxr14.check(root)["table"] == V2020
    assert _records(root)["00000002_000"].fields["age_years"] == 2.0


def test_cli_sample_writes_the_kaggle_variant(tmp_path, capsys):
    args = ["sample", "nih-cxr14", str(tmp_path / "k"), "--option", "layout=kaggle"]
    assert main([*args, "--option", "table=2017"]) == 0
    assert nih_cxr14.check(tmp_path / "k")["table"] == OLD
    assert "wrote a synthetic nih-cxr14 download" in capsys.readouterr().out


def test_missing_label_table(tmp_path):
    root = _sample(tmp_path)
    (root / V2020).unlink()
    with pytest.raises(
        MissingSourceError, match=rf"no label table.*{re.escape(V2020)}.*{re.escape(OLD)}"
    ):
        nih_cxr14.check(root)


def test_missing_required_column(tmp_path):
    root = _sample(tmp_path)
    lines = (root / V2020).read_text().split("\n")
    lines[0] = lines[0].replace("View Position,", "")
    (root / V2020).write_text("\n".join(lines))
    with pytest.raises(SourceLayoutError, match=rf"{V2020}: missing column 'View Position'"):
        nih_cxr14.check(root)
    with pytest.raises(SourceLayoutError):
        list(nih_cxr14.iter_records(root))


def test_missing_images_folder(tmp_path):
    root = _sample(tmp_path)
    shutil.rmtree(root / "images")
    with pytest.raises(MissingSourceError, match=r"no images folder; expected images/"):
        nih_cxr14.check(root)


@pytest.mark.parametrize("name", ["test_list.txt", "train_val_list.txt", "BBox_List_2017.csv"])
def test_missing_list_or_box_table(tmp_path, name):
    root = _sample(tmp_path)
    (root / name).unlink()
    with pytest.raises(MissingSourceError, match=rf"{re.escape(name)}: missing"):
        nih_cxr14.check(root)


def _replace_in_table(root, old: str, new: str) -> None:
    text = (root / V2020).read_text()
    assert text.count(old) == 1
    (root / V2020).write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "key", "line", "message"),
    [
        (",0,5,60,F,", ",0,P5,60,F,", "00000005_000", 9, "'P5'"),
        ("Hernia,", "Hernia|Pneumonitis,", "00000003_000", 4, "label(s) ['Pneumonitis']"),
    ],
)
def test_a_bad_row_fails_alone(tmp_path, old, new, key, line, message):
    root = _sample(tmp_path)
    _replace_in_table(root, old, new)
    items = list(nih_cxr14.iter_records(root))
    bad = [i for i in items if isinstance(i, BadInputError)]
    assert len(bad) == 1 and len(items) == 8
    assert bad[0].stage == "table"
    assert bad[0].path == f"images/{key}.png"
    assert bad[0].message.startswith(f"{V2020} line {line}: ")
    assert message in bad[0].message
    keys = {i.key for i in items if isinstance(i, Record)}
    assert keys == {k for k, _ in SPLITS} - {key}


@pytest.mark.parametrize("variant", ["v2020", "2017"])
def test_an_image_missing_on_disk_still_yields_its_record(tmp_path, variant):
    root = _sample(tmp_path, variant)
    (image,) = root.glob("images*/**/00000005_000.png")
    image.unlink()
    first_folder = nih_cxr14.check(root)["image_dirs"][0]
    record = _records(root)["00000005_000"]
    assert record.media == {"image": f"{first_folder}/00000005_000.png"}
    assert record.split == "train"
    assert not (root / record.media["image"]).exists()


def test_a_row_in_no_split_list_has_an_empty_split(tmp_path):
    root = _sample(tmp_path)
    (root / "test_list.txt").write_text("00000003_000.png\n00000003_001.png\n")
    records = _records(root)
    assert records["00000004_000"].split == ""
    others = {(k, r.split) for k, r in records.items() if k != "00000004_000"}
    assert others == SPLITS - {("00000004_000", "test")}


@pytest.mark.parametrize(
    ("old", "new"),
    [("Effusion,686", "Effusion,x686"), ("Atelectasis,14.2222222222222,", "Atelectasis,")],
)
def test_a_malformed_box_row_names_the_box_table(tmp_path, old, new):
    root = _sample(tmp_path)
    path = root / "BBox_List_2017.csv"
    path.write_text(path.read_text().replace(old, new, 1))
    try:
        items = list(nih_cxr14.iter_records(root))
    except SourceLayoutError as exc:
        assert "BBox_List_2017.csv" in str(exc)
    else:
        bad = [i for i in items if isinstance(i, BadInputError)]
        assert len(bad) == 1 and "BBox_List_2017.csv" in bad[0].message
