"""Where a converted output lives, and whole-file access to its shards.

``open_source(location)`` gives a :class:`Source`: ``index()`` is the parsed ``index.json``;
``fetch(entry)`` returns a local path to the whole shard file named by an index entry
(``{"file", "bytes", "sha256"}``), checked against the index before anything reads it.
Local folders are read in place; ``https://`` and ``hf://`` locations are fetched into a
size-limited cache by :mod:`cxrhub.shards.loader.remote`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from cxrhub.shards.atomic import sha256_file
from cxrhub.shards.errors import CxrhubError

__all__ = ["LocalSource", "ShardIntegrityError", "Source", "open_source"]

INDEX = "index.json"


class ShardIntegrityError(CxrhubError, ValueError):
    """A shard whose size or sha256 disagrees with ``index.json`` (named by its URL or path)."""


class Source(Protocol):
    """A converted output the loader reads from."""

    location: str

    def index(self) -> dict:
        """The parsed ``index.json``."""

    def fetch(self, entry: dict) -> Path:
        """A local path to the whole, checked shard file ``entry`` (an index.json file entry)."""


class LocalSource:
    """A converted output on a local or shared filesystem, read in place.

    ``verify``: also check each shard's sha256 the first time it is fetched (its size always is).
    """

    def __init__(self, root: str | Path, *, verify: bool = False):
        self.root = Path(root)
        self.location = str(self.root)
        self.verify = verify
        self._checked: set[str] = set()

    def index(self) -> dict:
        path = self.root / INDEX
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no index.json; is this a cxrhub conversion folder?")
        return json.loads(path.read_text(encoding="utf-8"))

    def fetch(self, entry: dict) -> Path:
        path = self.root / entry["file"]
        size = path.stat().st_size if path.is_file() else None
        if size != entry["bytes"]:
            raise ShardIntegrityError(
                f"{path}: expected {entry['bytes']} bytes as index.json says, found {size}"
            )
        if self.verify and entry["file"] not in self._checked:
            digest = sha256_file(path)
            if digest != entry["sha256"]:
                raise ShardIntegrityError(
                    f"{path}: sha256 {digest} differs from index.json's {entry['sha256']}"
                )
            self._checked.add(entry["file"])
        return path


def open_source(location: str | Path, **options) -> Source:
    """A :class:`Source` for a local folder, an ``https://``/``http://`` base URL or
    ``hf://datasets/ORG/REPO[@REVISION][/SUBFOLDER]``. ``options`` go to the source's
    constructor (e.g. ``token``, ``cache_dir``, ``cache_bytes``, ``verify``)."""
    text = str(location)
    if text.startswith(("http://", "https://")):
        from cxrhub.shards.loader.remote import HttpSource

        return HttpSource(text, **options)
    if text.startswith("hf://"):
        from cxrhub.shards.loader.hub import HubSource

        return HubSource(text, **options)
    return LocalSource(text, **options)
