"""What ``cxrhub push`` sends: the published files of a converted folder, the Hub limits their
layout would break, and the commit batches.

Only the files a conversion publishes are sent (the shards, ``manifest.jsonl`` and
``errors.jsonl`` listed in ``index.json``, the card, its plots and ``index.json`` itself); the
resume state under ``.cxrhub/`` and anything else a person left in the folder never are.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cxrhub.shards.atomic import sha256_file
from cxrhub.shards.finalize import INDEX

__all__ = [
    "BATCH_BYTES",
    "BATCH_FILES",
    "COMMITS_PER_HOUR",
    "MAX_FILES_PER_FOLDER",
    "MAX_FILES_PER_REPO",
    "MAX_FILE_BYTES_HARD",
    "MAX_FILE_BYTES_RECOMMENDED",
    "LimitFinding",
    "LocalFile",
    "check_limits",
    "collect_files",
    "config_indexes",
    "describe",
    "git_blob_sha1",
    "make_batches",
    "unpublished_files",
]

# Hub limits (huggingface.co/docs/hub/repositories-recommendations, storage-limits).
MAX_FILES_PER_FOLDER = 10_000  # entries (files and sub-folders) in one folder
MAX_FILES_PER_REPO = 100_000
MAX_FILE_BYTES_RECOMMENDED = 20 * 1000**3  # 20 GB: above it, uploads and downloads suffer
MAX_FILE_BYTES_HARD = 50 * 1000**3  # 50 GB: the Hub rejects the file
COMMITS_PER_HOUR = 128  # the Hub's hourly commit quota; beyond it a 429 says to wait

# Our commit batches: the privacy re-check runs before each one.
BATCH_FILES = 100
BATCH_BYTES = 10 * 1000**3

CARD = "README.md"
PLOTS_DIR = "plots"
STATE_DIR = ".cxrhub"
# Folders and files a conversion owns in the repo: a remote file there that this folder does not
# have is stale (an earlier conversion's shard) and is deleted by the last commit.
MANAGED_FOLDERS = ("data/", "webdataset/", "plots/")


@dataclass(frozen=True)
class LocalFile:
    """One file to publish: its path in the repo (= relative to OUT), size and sha256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class LimitFinding:
    """A Hub limit the layout breaks; ``hard`` ones make the Hub reject the upload."""

    hard: bool
    message: str


def collect_files(out: Path, index: dict) -> list[LocalFile]:
    """The published files of the verified folder ``out``, in upload order: shards first, then
    manifest and errors, plots, the card, and ``index.json`` last (so a repo that has the index
    has everything). Shard hashes come from the index that ``verify`` just checked."""
    out = Path(out)
    files = _listed(out, index)
    extra = sorted(p.relative_to(out).as_posix() for p in (out / PLOTS_DIR).glob("*.png"))
    extra += [CARD, INDEX]
    files += [_local(out, rel) for rel in extra if (out / rel).is_file()]
    for name, config in config_indexes(out).items():  # OUT/<config>/: its shards and index
        listed = _listed(out / name, config)
        files += [LocalFile(f"{name}/{f.path}", f.size, f.sha256) for f in listed]
        files.append(_local(out, f"{name}/{INDEX}"))
    return sorted(files, key=_upload_order)


def config_indexes(out: Path) -> dict[str, dict]:
    """name -> ``index.json`` of each config converted into a subfolder of ``out``."""
    found = {}
    for path in sorted(Path(out).glob(f"*/{INDEX}")):
        index = json.loads(path.read_text(encoding="utf-8"))
        if index.get("config") == path.parent.name:
            found[path.parent.name] = index
    return found


def _listed(out: Path, index: dict) -> list[LocalFile]:
    """The shards, manifest and errors ``index`` lists (paths relative to ``out``)."""
    listed = [
        shard
        for entry in index["splits"].values()
        for fmt in _formats(entry)
        for shard in entry[fmt]
    ]
    listed += [index["manifest"], index["errors"]]
    return [LocalFile(e["file"], (out / e["file"]).stat().st_size, e["sha256"]) for e in listed]


def _formats(entry: dict) -> list[str]:
    return [k for k in ("parquet", "webdataset") if k in entry]


def _local(out: Path, rel: str) -> LocalFile:
    path = out / rel
    return LocalFile(rel, path.stat().st_size, sha256_file(path))


def _upload_order(file: LocalFile) -> tuple[int, str]:
    path = file.path
    parts = PurePosixPath(path).parts
    if len(parts) > 1 and parts[1] in ("data", "webdataset"):  # a config's shards
        return 0, path
    if path == INDEX or path.endswith(f"/{INDEX}"):
        rank = 4
    elif path == CARD:
        rank = 3
    elif path.startswith(f"{PLOTS_DIR}/"):
        rank = 2
    elif path.startswith(("data/", "webdataset/")):
        rank = 0
    else:
        rank = 1
    return rank, path


def unpublished_files(out: Path, files: list[LocalFile]) -> list[str]:
    """Files in ``out`` that are not published (the resume state and temp files aside)."""
    out = Path(out)
    published = {f.path for f in files}
    found = []
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if path.is_file() and rel.parts[0] != STATE_DIR and not rel.name.endswith(".tmp"):
            if rel.as_posix() not in published:
                found.append(rel.as_posix())
    return found


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file: how the Hub names a file it keeps outside LFS / Xet."""
    digest = hashlib.sha1(f"blob {Path(path).stat().st_size}\0".encode())
    with Path(path).open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_limits(files: Iterable[tuple[str, int]]) -> list[LimitFinding]:
    """The Hub limits that a repo holding ``files`` (path, bytes) would break."""
    findings = []
    entries: dict[str, set[str]] = {}
    count = 0
    for path, size in files:
        count += 1
        parts = PurePosixPath(path).parts
        for depth in range(len(parts)):
            entries.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
        if size > MAX_FILE_BYTES_HARD:
            findings.append(
                LimitFinding(
                    True,
                    f"{path}: {_gb(size)}, above the Hub's hard "
                    f"limit of {_gb(MAX_FILE_BYTES_HARD)} per file",
                )
            )
        elif size > MAX_FILE_BYTES_RECOMMENDED:
            findings.append(
                LimitFinding(
                    False,
                    f"{path}: {_gb(size)}, above the recommended "
                    f"{_gb(MAX_FILE_BYTES_RECOMMENDED)} per file",
                )
            )
    for folder, names in sorted(entries.items()):
        if len(names) > MAX_FILES_PER_FOLDER:
            findings.append(
                LimitFinding(
                    False,
                    f"{folder or '(repo root)'}/: {len(names):,} "
                    f"entries, above {MAX_FILES_PER_FOLDER:,} per folder",
                )
            )
    if count > MAX_FILES_PER_REPO:
        findings.append(
            LimitFinding(False, f"{count:,} files, above {MAX_FILES_PER_REPO:,} per repo")
        )
    return findings


def _gb(size: int) -> str:
    return f"{size / 1000**3:.1f} GB"


def make_batches(
    files: list[LocalFile], *, max_files: int = BATCH_FILES, max_bytes: int = BATCH_BYTES
) -> list[list[LocalFile]]:
    """Consecutive batches of at most ``max_files`` files and ``max_bytes`` bytes (a larger
    file goes alone), in the given order."""
    if max_files < 1 or max_bytes < 1:
        raise ValueError("batch sizes must be positive")
    batches: list[list[LocalFile]] = []
    current: list[LocalFile] = []
    size = 0
    for file in files:
        if current and (len(current) >= max_files or size + file.size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(file)
        size += file.size
    if current:
        batches.append(current)
    return batches


def describe(
    files: list[LocalFile], batches: list[list[LocalFile]], findings: list[LimitFinding]
) -> list[str]:
    """The plan as lines a person reads: files, bytes, batches, limits."""
    folders = Counter(PurePosixPath(f.path).parent.as_posix() for f in files)
    lines = [f"{len(files):,} files, {sum(f.size for f in files):,} bytes"]
    lines += [
        f"  {'(repo root)' if folder == '.' else folder + '/'}: {n:,} files"
        for folder, n in sorted(folders.items())
    ]
    lines.append(
        f"{len(batches):,} commit batch{'es' if len(batches) != 1 else ''}, privacy re-checked "
        "before each (a real push first skips the files already on the Hub)"
    )
    for i, batch in enumerate(batches, 1):
        size = sum(f.size for f in batch)
        lines.append(
            f"  {i}: {len(batch):,} files, {size:,} bytes ({batch[0].path} .. {batch[-1].path})"
        )
    if len(batches) > COMMITS_PER_HOUR:
        lines.append(
            f"note: more than {COMMITS_PER_HOUR} commits: the Hub's hourly commit quota "
            "will slow the push (429s are waited out)"
        )
    if not findings:
        lines.append("Hub limits: none broken")
    for finding in findings:
        lines.append(
            ("LIMIT (hard): " if finding.hard else "limit (recommended): ") + finding.message
        )
    return lines
