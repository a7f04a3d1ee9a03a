"""Raw records out of one shard file: a range of samples, only the requested columns.

A record is ``(index, key, values)``: ``index`` is the sample's position in the shard (file
order), ``values`` maps each requested column to its stored form, not yet decoded:

- WebDataset tar: a member over 64 KiB as a ``memoryview`` into a read-only memory map of the
  tar (no copy; the mapping lives as long as any view of it), smaller ones (labels, JSON) as
  ``bytes`` read with ``pread``, as are the headers (USTAR, with PAX ``path`` and GNU long-name
  records for long member names); a skipped sample costs its headers only. (``pread`` of large
  members into fresh arrays was measured too: with a shuffle buffer holding them, those fresh
  pages fault in the kernel and reading + collating cost ~1.4x the mapped views.)
- Parquet: only the requested columns of the row groups that overlap the range are read.
  Image structs give their ``bytes`` as zero-copy ``memoryview`` slices of the Arrow buffer;
  other columns their Python value. Label families come as one ``(n, 14)`` batch per row group
  (``batch_labels``) so label conversion is vectorised.

``want(index) -> bool`` says which samples of the range to return; the others are skipped
without reading their data (how a resumed epoch skips what was already delivered).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cxrhub.shards.errors import CxrhubError

__all__ = ["LABELS", "ShardFormatError", "read_parquet", "read_tar", "tar_members"]

Record = tuple[int, str, dict[str, object]]
LABELS = "__labels__"  # the values key of a row's converted (targets, mask)
_BLOCK = 512
# members up to this size (labels, JSON, small images) are read with pread: cheaper than
# faulting their page of the memory map in; larger ones stay zero-copy views of the map
_SMALL = 64 * 1024


class ShardFormatError(CxrhubError, ValueError):
    """A shard whose content does not match what index.json says (names the file)."""


def _octal(field: bytes) -> int:
    if field[:1] == b"\x80":  # GNU base-256 size
        return int.from_bytes(field[1:], "big")
    text = field.rstrip(b"\0 ").strip()
    return int(text, 8) if text else 0


def _pax_path(data: bytes) -> str | None:
    text = data.decode("utf-8")
    pos = 0
    while pos < len(text):
        length = int(text[pos : text.index(" ", pos)])
        record = text[text.index(" ", pos) + 1 : pos + length - 1]
        key, _, value = record.partition("=")
        if key == "path":
            return value
        pos += length
    return None


_ZERO_BLOCK = b"\0" * _BLOCK
_FILE_KINDS = frozenset((0x30, 0x00, 0x37))  # "0", NUL, "7": regular files


def tar_members(source: int | bytes | mmap.mmap, where: str) -> Iterator[tuple[str, int, int]]:
    """``(name, data_offset, size)`` of every regular file member, in archive order.

    ``source``: the tar's bytes, or an open file descriptor read with ``pread`` (one 512-byte
    read per header: ~3 us a member here, against ~8 us for faulting the header pages of a
    memory map in).
    """
    if isinstance(source, int):
        end = os.fstat(source).st_size

        def read(offset: int, size: int) -> bytes:
            return os.pread(source, size, offset)
    else:
        end = len(source)

        def read(offset: int, size: int) -> bytes:
            return source[offset : offset + size]

    pos, long_name = 0, None
    while pos + _BLOCK <= end:
        header = read(pos, _BLOCK)
        if header[0] == 0 and header == _ZERO_BLOCK:
            return
        size, kind = _octal(header[124:136]), header[156]
        data = pos + _BLOCK
        pos = data + -(-size // _BLOCK) * _BLOCK
        if kind == 0x78:  # "x": PAX extended header for the next member
            long_name = _pax_path(read(data, size))
            continue
        if kind == 0x4C:  # "L": GNU long name for the next member
            long_name = read(data, size).rstrip(b"\0").decode("utf-8")
            continue
        if kind not in _FILE_KINDS:
            long_name = None
            continue
        name = long_name or _ustar_name(header)
        long_name = None
        if pos > end:
            raise ShardFormatError(f"{where}: truncated tar (member {name!r})")
        yield name, data, size


def _ustar_name(header: bytes) -> str:
    cut = header.find(b"\0", 0, 100)
    name = header[: 100 if cut < 0 else cut].decode("utf-8")
    if header[345] and header[257:262] == b"ustar":
        prefix = header[345:500].split(b"\0", 1)[0].decode("utf-8")
        return f"{prefix}/{name}"
    return name


def _map(fd: int) -> mmap.mmap | bytes:
    if os.fstat(fd).st_size == 0:
        return b""
    return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)


def read_tar(
    path: Path,
    start: int,
    stop: int,
    members: dict[str, str],
    want: Callable[[int], bool],
) -> Iterator[Record]:
    """Samples ``start <= index < stop`` of a WebDataset tar.

    ``members``: column -> member suffix (``{"image": "image_512.jpg"}``); a sample lacking one
    of them is a :class:`ShardFormatError`.
    """
    with open(path, "rb") as file:
        yield from _read_tar(file.fileno(), path, start, stop, members, want)


def _read_tar(
    fd: int,
    path: Path,
    start: int,
    stop: int,
    members: dict[str, str],
    want: Callable[[int], bool],
) -> Iterator[Record]:
    buf = _map(fd)
    by_suffix = {suffix: column for column, suffix in members.items()}
    for column in members:  # an image the sample lacks is written as <column>.json: null
        by_suffix.setdefault(f"{column}.json", column)
    view = memoryview(buf)
    index, key, values, keep = -1, None, {}, False
    for name, offset, size in tar_members(fd, str(path)):
        base = name.rsplit("/", 1)[-1]
        sample, _, suffix = base.partition(".")
        if sample != key:
            if keep:
                yield _complete(path, index, key, values, members)
            index, key, values = index + 1, sample, {}
            if index >= stop:
                return
            keep = index >= start and want(index)
        if keep and suffix in by_suffix:
            values[by_suffix[suffix]] = (
                view[offset : offset + size] if size > _SMALL else os.pread(fd, size, offset)
            )
    if keep:
        yield _complete(path, index, key, values, members)
    if index + 1 < stop:
        raise ShardFormatError(f"{path}: {index + 1} samples; index.json promised {stop}+")


def _complete(path: Path, index: int, key: str, values: dict, members: dict) -> Record:
    if len(values) != len(members):
        missing = sorted(set(members) - set(values))
        raise ShardFormatError(f"{path}: sample {key!r} has no member for {missing}")
    return index, key, values


def read_parquet(
    path: Path,
    start: int,
    stop: int,
    columns: list[str],
    want: Callable[[int], bool],
    batch_labels: str | None = None,
    convert_labels: Callable[[pa.Array], tuple[np.ndarray, np.ndarray]] | None = None,
) -> Iterator[Record]:
    """Rows ``start <= index < stop`` of a Parquet shard, ``key`` plus ``columns``.

    ``batch_labels``: a label family column converted once per row group by ``convert_labels``
    (the Arrow column -> ``(n, 14)`` targets and mask); each row's pair is under :data:`LABELS`.
    """
    pf = pq.ParquetFile(path, memory_map=True, pre_buffer=False)
    first = 0
    wanted = ["key", *[c for c in columns if c != "key"]]
    for group in range(pf.metadata.num_row_groups):
        rows = pf.metadata.row_group(group).num_rows
        lo, hi = max(start, first), min(stop, first + rows)
        picks = [i for i in range(lo, hi) if want(i)]
        if picks:
            table = pf.read_row_group(group, columns=wanted)
            yield from _rows(table, [i - first for i in picks], first, batch_labels, convert_labels)
        first += rows
        if first >= stop:
            return
    if first < stop:
        raise ShardFormatError(f"{path}: {first} rows; index.json promised {stop}+")


def _rows(
    table: pa.Table,
    local: list[int],
    first: int,
    batch_labels: str | None,
    convert_labels: Callable | None,
) -> Iterator[Record]:
    keys = table.column("key").to_pylist()
    columns = {}
    for name in table.column_names:
        if name != "key" and name != batch_labels:
            columns[name] = _column_values(table.column(name).combine_chunks())
    labels = None
    if batch_labels is not None and convert_labels is not None:
        labels = convert_labels(table.column(batch_labels).combine_chunks())
    for i in local:
        values = {name: get(i) for name, get in columns.items()}
        if labels is not None:
            values[LABELS] = (labels[0][i].copy(), labels[1][i].copy())
        yield first + i, keys[i], values


def _column_values(array: pa.Array) -> Callable[[int], object]:
    if pa.types.is_struct(array.type) and array.type.get_field_index("bytes") >= 0:
        return _binary_getter(array.field("bytes"), array.is_valid())
    values = array.to_pylist()
    return values.__getitem__


def _binary_getter(array: pa.Array, valid: pa.Array) -> Callable[[int], memoryview | None]:
    """Zero-copy cell access into a (large) binary array's data buffer."""
    width = np.int64 if pa.types.is_large_binary(array.type) else np.int32
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=width)[array.offset : array.offset + len(array) + 1]
    data = memoryview(data_buf).cast("B").toreadonly() if data_buf is not None else memoryview(b"")
    ok = np.asarray(valid.to_numpy(zero_copy_only=False)) & np.asarray(
        array.is_valid().to_numpy(zero_copy_only=False)
    )

    def get(i: int) -> memoryview | None:
        return data[int(offsets[i]) : int(offsets[i + 1])] if ok[i] else None

    return get
