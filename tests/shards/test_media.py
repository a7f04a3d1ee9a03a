"""read_media keeps the released bytes and names what is wrong with a bad file."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from cxrhub.shards.errors import BadInputError
from cxrhub.shards.media import read_media


def _image_bytes(fmt: str, size=(32, 24)) -> bytes:
    # noise does not compress well, so a cut file really loses pixel data
    rng = random.Random(0)
    image = Image.new("L", size)
    image.putdata([rng.randrange(256) for _ in range(size[0] * size[1])])
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def _write(root, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.mark.parametrize(
    ("rel", "fmt"),
    [("images/00000001_000.png", "PNG"), ("files/p10/s1/view.jpg", "JPEG"), ("a/b.JPEG", "JPEG")],
)
def test_reads_exact_bytes_and_basename(tmp_path, rel, fmt):
    data = _image_bytes(fmt)
    _write(tmp_path, rel, data)
    assert read_media(tmp_path, rel) == {"bytes": data, "path": rel.rsplit("/", 1)[-1]}


def _expect(tmp_path, rel, stage) -> BadInputError:
    with pytest.raises(BadInputError) as info:
        read_media(tmp_path, rel)
    err = info.value
    assert err.stage == stage
    assert err.path == rel
    assert str(err).startswith(f"{rel}: {stage}: ")
    return err


def test_truncated_png(tmp_path):
    data = _image_bytes("PNG")
    _write(tmp_path, "img/cut.png", data[: len(data) // 2])
    err = _expect(tmp_path, "img/cut.png", "decode")
    assert "PNG" in err.message


def test_random_bytes_named_png(tmp_path):
    _write(tmp_path, "img/noise.png", random.Random(1).randbytes(2048))
    err = _expect(tmp_path, "img/noise.png", "decode")
    assert "not a readable PNG image" in err.message


def test_jpeg_named_png(tmp_path):
    _write(tmp_path, "img/liar.png", _image_bytes("JPEG"))
    err = _expect(tmp_path, "img/liar.png", "decode")
    assert "JPEG" in err.message
    assert "expected PNG" in err.message


def test_png_named_jpg(tmp_path):
    _write(tmp_path, "img/liar.jpg", _image_bytes("PNG"))
    err = _expect(tmp_path, "img/liar.jpg", "decode")
    assert "expected JPEG" in err.message


def test_empty_file(tmp_path):
    _write(tmp_path, "img/empty.png", b"")
    err = _expect(tmp_path, "img/empty.png", "read")
    assert "empty" in err.message


def test_missing_file(tmp_path):
    err = _expect(tmp_path, "img/absent.png", "read")
    assert "not found" in err.message
    assert err.error_class == "FileNotFoundError"


@pytest.mark.parametrize("rel", ["img/scan.dcm", "img/scan.bmp", "img/noext"])
def test_unknown_suffix(tmp_path, rel):
    _write(tmp_path, rel, _image_bytes("PNG"))
    err = _expect(tmp_path, rel, "read")
    assert "no reader" in err.message
    assert ".png" in err.message  # says which suffixes are known


def test_error_row_carries_stage_and_path(tmp_path):
    err = _expect(tmp_path, "img/absent.png", "read")
    row = err.to_row("k1")
    assert row["key"] == "k1"
    assert row["path"] == "img/absent.png"
    assert row["stage"] == "read"
    assert row["error"] == "FileNotFoundError"
