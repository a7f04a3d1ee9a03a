"""CheXpert-14 label families -> a ``float32`` target vector and loss mask per sample.

A *label family* is a feature ``List(Value("int8"), length=14)`` in index.json: the 14
:data:`~cxrhub.builders._labels.CHEXPERT_14` observations as released (``1``, ``0``, ``-1``
uncertain, ``null`` not mentioned), the whole list ``null`` where the study has no row.

Which family (``label=``):

- ``"auto"`` (default): the first of :data:`PREFERRED` the dataset has (``labels`` for CheXpert,
  IU X-ray and PadChest; ``chexpert`` for MIMIC-CXR; ``chexpert_14`` for VinDr-CXR), else the
  first family in index.json's (sorted) feature order (CheXpert Plus: ``chexbert_findings``).
  A dataset with no family (NIH ChestX-ray14 labels a different vocabulary) still yields
  ``labels`` = 14 zeros and ``label_mask`` = 14 zeros, so it mixes with labelled datasets
  in one batch and contributes nothing to a masked loss.
- a column name: that family (an error if it is not one).
- ``None``: no ``labels``/``label_mask`` keys at all.

Targets come from :func:`~cxrhub.builders._labels.apply_uncertain` with the chosen ``policy``
(``ones``/``zeros``/``ignore``) and ``blank`` (``zeros``/``ignore``), memoised per distinct
stored row (a dataset has few distinct label rows), vectorised per Parquet row group.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from cxrhub.builders._labels import CHEXPERT_14, POLICIES, apply_uncertain
from cxrhub.shards.loader.plan import LoaderConfigError

__all__ = ["PREFERRED", "LabelMapper", "choose_family", "label_families"]

PREFERRED = ("labels", "chexpert", "chexpert_14")
_MEMO_LIMIT = 1 << 16


def label_families(features: dict) -> list[str]:
    """Columns of an index.json ``features`` dict that are CheXpert-14 label families."""
    return [name for name, feature in features.items() if _is_family(feature)]


def _is_family(feature: object) -> bool:
    if not isinstance(feature, dict) or feature.get("_type") not in ("List", "Sequence"):
        return False
    inner = feature.get("feature", {})
    return (
        feature.get("length") == len(CHEXPERT_14)
        and isinstance(inner, dict)
        and inner.get("_type") == "Value"
        and inner.get("dtype") == "int8"
    )


def choose_family(features: dict, label: str | None = "auto") -> str | None:
    """The family ``label`` names (see the module docstring), or ``None``."""
    families = label_families(features)
    if label is None:
        return None
    if label == "auto":
        preferred = [name for name in PREFERRED if name in families]
        return (preferred or families or [None])[0]
    if label not in families:
        raise LoaderConfigError(
            f"label={label!r} is not a CheXpert-14 label family; this dataset has {families}"
        )
    return label


class LabelMapper:
    """Stored label rows -> ``(targets, mask)`` with one uncertainty policy."""

    def __init__(self, policy: str = "ones", blank: str = "zeros"):
        if policy not in POLICIES or blank not in ("zeros", "ignore"):
            raise LoaderConfigError(
                f"policy {policy!r} / blank {blank!r}: choose {POLICIES} / zeros, ignore"
            )
        self.policy, self.blank = policy, blank
        self._memo: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self._none = (
            np.zeros(len(CHEXPERT_14), np.float32),
            np.zeros(len(CHEXPERT_14), np.float32),
        )

    def from_json(self, data: bytes | memoryview | None) -> tuple[np.ndarray, np.ndarray]:
        """One row stored as JSON (a tar member): a list of 14 ints/nulls, or ``null``."""
        raw = bytes(data) if data is not None else b"null"
        found = self._memo.get(raw)
        if found is None:
            found = apply_uncertain(json.loads(raw), self.policy, blank=self.blank, batched=False)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[raw] = found
        return found[0].copy(), found[1].copy()

    def missing(self) -> tuple[np.ndarray, np.ndarray]:
        """A dataset without a family: zero targets, everything masked out."""
        return self._none[0].copy(), self._none[1].copy()

    def batch(self, column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """A Parquet row group's family column -> ``(n, 14)`` targets and mask."""
        n = len(column)
        if n == 0:
            return np.zeros((0, 14), np.float32), np.zeros((0, 14), np.float32)
        flat = column.flatten() if column.null_count == 0 else None
        if flat is not None and len(flat) == n * len(CHEXPERT_14) and column.offset == 0:
            values = flat.to_numpy(zero_copy_only=False).astype(np.float64)
            return apply_uncertain(values.reshape(n, -1), self.policy, blank=self.blank)
        return apply_uncertain(column.to_pylist(), self.policy, blank=self.blank, batched=True)
