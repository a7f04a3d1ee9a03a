"""atomic_open publishes only complete files; remove_temps cleans leftovers; dumps is canonical."""

from __future__ import annotations

import math

import pytest

from cxrhub.shards.atomic import atomic_open, dumps, remove_temps


class Boom(Exception):
    pass


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_atomic_open_publishes_on_success(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    with atomic_open(target) as f:
        f.write(b"hello")
        assert not target.exists(), "the target must not appear before the write completes"
        assert (tmp_path / "sub" / ".out.bin.tmp").is_file()
    assert target.read_bytes() == b"hello"
    assert _names(tmp_path / "sub") == ["out.bin"]


def test_atomic_open_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(Boom), atomic_open(target) as f:
        f.write(b"partial")
        raise Boom
    assert not target.exists()
    assert _names(tmp_path) == []


def test_atomic_open_failure_keeps_previous_version(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(Boom), atomic_open(target) as f:
        f.write(b"new but incomplete")
        raise Boom
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["out.bin"]


def test_atomic_open_keyboard_interrupt_also_cleans_up(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(KeyboardInterrupt), atomic_open(target) as f:
        f.write(b"x")
        raise KeyboardInterrupt
    assert _names(tmp_path) == []


def test_atomic_open_replaces_previous_version(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with atomic_open(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"
    assert _names(tmp_path) == ["out.bin"]


def test_remove_temps_deletes_only_temp_leftovers(tmp_path):
    (tmp_path / "data" / "deep").mkdir(parents=True)
    temps = [
        tmp_path / ".index.json.tmp",
        tmp_path / "data" / ".train-00000-of-00001.parquet.tmp",
        tmp_path / "data" / "deep" / ".x.tar.tmp",
    ]
    keep = [
        tmp_path / "index.json",
        tmp_path / "notes.tmp",  # not hidden: not one of ours
        tmp_path / ".hidden",  # hidden but not a temp
        tmp_path / "data" / "train-00000-of-00001.parquet",
        tmp_path / "data" / ".x.tmp.bak",
    ]
    for path in temps + keep:
        path.write_bytes(b"x")
    (tmp_path / ".folder.tmp").mkdir()  # a folder with a temp-like name is not deleted

    assert remove_temps(tmp_path) == len(temps)
    assert not any(p.exists() for p in temps)
    assert all(p.exists() for p in keep)
    assert (tmp_path / ".folder.tmp").is_dir()
    assert remove_temps(tmp_path) == 0


def test_remove_temps_empty_folder(tmp_path):
    assert remove_temps(tmp_path) == 0


def test_dumps_is_key_order_independent():
    a = {"b": 1, "a": {"y": [1, 2], "x": None}}
    b = {"a": {"x": None, "y": [1, 2]}, "b": 1}
    assert dumps(a) == dumps(b)
    assert dumps(a) == '{"a":{"x":null,"y":[1,2]},"b":1}'


def test_dumps_keeps_unicode():
    assert dumps({"name": "Pleural_Thickening é"}) == '{"name":"Pleural_Thickening é"}'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_dumps_rejects_non_finite(bad):
    with pytest.raises(ValueError):
        dumps({"age": bad})
