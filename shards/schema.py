"""One schema for every output: the builder's features plus the sample ``key``.

An example is built once per sample and encoded once with ``datasets``' own encoders; the Parquet
row and the WebDataset members are two spellings of the same encoded example.
"""

from __future__ import annotations

import re
from pathlib import Path

from datasets import Features, Image, Json, LargeList, List, Value

from cxrhub.builders._spec import Record
from cxrhub.shards.atomic import dumps
from cxrhub.shards.errors import BadInputError
from cxrhub.shards.media import derive_media, read_media

__all__ = [
    "KEY",
    "KEY_PATTERN",
    "build_example",
    "image_list_fields",
    "output_features",
    "read_example",
    "tar_features",
    "tar_members",
]

KEY = "key"
_EXT_ALIASES = {"jpeg": "jpg", "tiff": "tif"}
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")  # WebDataset splits a member name at its first dot


def output_features(features: Features) -> Features:
    """The published features: ``key`` first, then the builder's columns."""
    if KEY in features:
        raise ValueError(f"builder features must not define {KEY!r}; the core adds it")
    return Features({KEY: Value("string"), **features})


def read_example(record: Record, root: Path, decode_timeout: float | None = None) -> dict:
    """The record's values plus its media read from ``root`` (not yet encoded): files kept as
    released, and values derived from a file (all of one file's requests in one read).

    Raises:
        BadInputError: a media file is missing or unreadable.
    """
    example = {KEY: record.key, **record.fields}
    requests: dict[str, dict[str, dict]] = {}
    for name, media in sorted(record.media.items()):
        if isinstance(media, list):  # a List(Image()) column: each element read alone
            example[name] = [_one_media(root, name, m, decode_timeout) for m in media]
        elif isinstance(media, str):
            example[name] = read_media(root, media)
        else:
            requests.setdefault(media["path"], {})[name] = media
    for rel, wanted in sorted(requests.items()):
        example.update(derive_media(root, rel, wanted, timeout=decode_timeout))
    return example


def _one_media(root: Path, name: str, media: str | dict, timeout: float | None) -> dict:
    if isinstance(media, str):
        return read_media(root, media)
    return derive_media(root, media["path"], {name: media}, timeout=timeout)[name]


def image_list_fields(features: Features) -> list[str]:
    """Columns holding a list of images (Parquet only: a tar member is one file)."""
    return [
        name
        for name, f in features.items()
        if isinstance(f, (List, LargeList)) and isinstance(f.feature, Image)
    ]


def build_example(
    record: Record, root: Path, features: Features, decode_timeout: float | None = None
) -> dict:
    """Read the record's media and encode the whole example with ``features``.

    Raises:
        BadInputError: a media file is missing or unreadable, or a value does not fit its feature.
    """
    example = read_example(record, root, decode_timeout)
    try:
        return features.encode_example(example)
    except (ValueError, TypeError, KeyError) as exc:
        raise BadInputError(
            record.source,
            "encode",
            f"values do not fit the declared features ({exc})",
            error_class=type(exc).__name__,
        ) from exc


def tar_features(features: Features, members: dict[str, str]) -> Features:
    """The features ``datasets``' WebDataset builder reads the tars with: one column per member
    name (``image.png``, ``labels.json``), plus the ``__key__`` and ``__url__`` it adds."""
    columns = {"__key__": Value("string"), "__url__": Value("string")}
    for name, feature in features.items():
        if name != KEY:  # no sample converted: no members seen; images then fall back to .bin
            columns[members.get(name, _member(name, feature, None))] = feature
    return Features(columns)


def _member(name: str, feature: object, path: str | None) -> str:
    if not isinstance(feature, Image):
        return f"{name}.json"
    ext = Path(path).suffix.lower().lstrip(".") if path else ""
    return f"{name}.{_EXT_ALIASES.get(ext, ext) or 'bin'}"


def tar_members(example: dict, features: Features) -> dict[str, bytes]:
    """WebDataset members of one encoded example: one per field, plus ``__key__``.

    Images keep their encoded bytes under ``<field>.<ext>`` (``image.png``); every other field is
    canonical JSON under ``<field>.json`` (typed, and null-safe).
    """
    members: dict[str, bytes] = {"__key__": example[KEY]}
    for name, feature in features.items():
        if name == KEY:
            continue
        value = example[name]
        if isinstance(feature, Image) and value is None:  # a column the source did not provide
            members[f"{name}.json"] = b"null"
        elif isinstance(feature, Image):
            members[_member(name, feature, value["path"])] = value["bytes"]
        elif isinstance(feature, Json) and value is not None:  # canonical JSON text once encoded
            members[_member(name, feature, None)] = value.encode("utf-8")
        else:
            members[_member(name, feature, None)] = dumps(value).encode("utf-8")
    return members
