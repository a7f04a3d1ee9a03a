"""The builder contract: a frozen dataset spec and the records a builder yields.

A builder module is knowledge only. It defines:

- ``SPEC``: a :class:`DatasetSpec` (names, access terms, licence, citation, expected files, splits);
- ``FEATURES``: the ``datasets.Features`` of its columns (the core adds ``key``);
- ``check(root, **options) -> dict``: validates the release layout before any work, raising
  ``MissingSourceError`` / ``SourceLayoutError`` naming the file, the column and what was expected;
  returns what it found (which table, which image layout), recorded in ``index.json``;
- ``iter_records(root, **options) -> Iterator[Record]``: one record per sample, from the release's
  own tables; ``OPTIONS`` (optional, name -> help) declares the keyword options both accept, such
  as the root of a second release to join (``cxrhub convert --source-option KEY=VALUE``);
- ``write_sample(root, variant=...)``: a small synthetic tree in the release's exact on-disk layout;
- ``CONFIGS`` (optional): more configs of the same release, name -> ``{"features": Features,
  "records": fn(root, **options) -> Iterator[Record], "formats": ("parquet", ...)}`` (formats
  optional, default all). ``FEATURES`` + ``iter_records`` are the implicit config ``default``;
  ``cxrhub convert --config NAME`` writes another into ``OUT/NAME/`` and the one card lists all.

``SPEC.card_stats`` (optional) names the columns the dataset card summarises (label prevalence,
age, sex, view); the core never guesses them.

A module whose dataset is registered but not yet converted defines ``SPEC`` only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Access", "CardStats", "DatasetSpec", "Record"]


class Access(str, enum.Enum):
    """Who may receive the data: anyone, or only people who signed the data-use agreement."""

    PUBLIC = "public"
    CREDENTIALED = "credentialed"


@dataclass(frozen=True)
class CardStats:
    """Which columns the dataset card summarises; ``None`` leaves that table and plot out.

    Attributes:
        labels: a list of class labels (or one class label): prevalence per label.
        age: a number in years: a histogram in 10-year bins and a summary.
        sex: a categorical string column: counts.
        view: a categorical string column (view position): counts.
    """

    labels: str | None = None
    age: str | None = None
    sex: str | None = None
    view: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """What is known of one release, independent of any local copy."""

    name: str
    pretty_name: str
    version: str
    access: Access
    homepage: str
    citation: str
    terms: str
    license: str
    expected_files: tuple[str, ...]
    splits: tuple[str, ...] = ()
    license_name: str | None = None
    license_link: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ("medical", "chest-x-ray", "radiology")
    card_stats: CardStats | None = None
    patient_field: str | None = None  # the column holding the patient id (split-leak report)


@dataclass(frozen=True)
class Record:
    """One sample as a builder sees it: plain values and paths relative to the source root.

    Attributes:
        key: stable, dot-free sample key (unique in the dataset).
        split: the split it belongs to (one of ``SPEC.splits``).
        source: the primary source file, relative to the root (manifest and error reports).
        media: feature name -> the relative path of a file whose bytes become that feature as
            released, or a request ``{"path": rel, "output": ...}`` for a value derived from the
            file (DICOM: ``archival``, ``display``, ``header``; see ``shards/dicom/outputs.py``);
            or a list of those for a ``List(Image())`` feature (each element read alone).
        fields: every other feature's value, as ``datasets`` encodes it.
    """

    key: str
    split: str
    source: str
    media: dict[str, str | dict | list] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
