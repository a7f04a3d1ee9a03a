"""Deterministic shard writers: Parquet (for ``load_dataset``) and WebDataset tars (for GPU nodes).

Both write through :func:`atomic_open`, so a shard exists under its name only when complete.
"""

from __future__ import annotations

import json
from contextlib import suppress
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import webdataset as wds
from datasets import Features, config
from datasets.arrow_writer import get_parquet_column_options

from cxrhub.shards.atomic import AtomicFile
from cxrhub.shards.schema import tar_members

__all__ = ["FIXED_MTIME", "ParquetShardWriter", "TarShardWriter"]

FIXED_MTIME = 0  # fixed member metadata: same input, same bytes (an int: no PAX headers)
_OWNER = "cxrhub"


class ParquetShardWriter:
    """Rows go out in row groups of about ``row_group_bytes``; images stay encoded and unpacked.

    Options follow ``datasets``' own Parquet export (per-column compression, page index and
    content-defined chunking), so the files dedupe on the Hub like ``push_to_hub`` output.
    """

    def __init__(self, path: Path, features: Features, *, row_group_bytes: int):
        self._file = AtomicFile(path)
        self._features = features
        self._schema = features.arrow_schema
        self._row_group_bytes = row_group_bytes
        self._rows: list[dict] = []
        self._pending = 0
        self.samples = 0
        self._writer = pq.ParquetWriter(
            self._file.file,
            schema=self._schema,
            use_content_defined_chunking=config.DEFAULT_CDC_OPTIONS,
            write_page_index=True,
            **get_parquet_column_options(features, self._schema),
        )

    def write(self, example: dict) -> None:
        """Buffer one encoded example; flush a row group when the buffer is full."""
        self._rows.append(example)
        self._pending += _approx_bytes(example)
        self.samples += 1
        if self._pending >= self._row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            table = pa.Table.from_pylist(self._rows, schema=self._schema)
            self._writer.write_table(table, row_group_size=len(self._rows))
        self._rows, self._pending = [], 0

    def close(self) -> None:
        """Flush, finish the footer and publish the file."""
        self._flush()
        self._writer.add_key_value_metadata(
            {"content_defined_chunking": json.dumps(config.DEFAULT_CDC_OPTIONS)}
        )
        self._writer.close()
        self._file.commit()

    def abort(self) -> None:
        """Drop the partial file."""
        with suppress(OSError, ValueError):  # the footer goes to the temp file about to be dropped
            self._writer.close()
        self._file.abort()


class TarShardWriter:
    """A WebDataset tar: sorted members, fixed mtime/owner/mode (USTAR, via ``webdataset``)."""

    def __init__(self, path: Path, features: Features):
        self._file = AtomicFile(path)
        self._features = features
        self.samples = 0
        self._tar = wds.TarWriter(
            self._file.file, user=_OWNER, group=_OWNER, mode=0o444, mtime=FIXED_MTIME, encoder=False
        )

    def write(self, example: dict) -> None:
        """Append one encoded example as its members."""
        self._tar.write(tar_members(example, self._features))
        self.samples += 1

    def close(self) -> None:
        """Finish the archive and publish the file."""
        self._tar.close()
        self._file.commit()

    def abort(self) -> None:
        """Drop the partial file."""
        with suppress(OSError, ValueError):
            self._tar.close()
        self._file.abort()


def _approx_bytes(example: dict) -> int:
    return 64 + sum(_value_bytes(value) for value in example.values())


def _value_bytes(value: object) -> int:
    """About what a value weighs in a row group: image and text bytes, lists of them summed."""
    if isinstance(value, dict) and isinstance(value.get("bytes"), bytes):
        return len(value["bytes"])
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, list):
        return 16 + sum(_value_bytes(v) for v in value)
    return 16
