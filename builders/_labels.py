"""The one label vocabulary of the CheXpert-style datasets (CheXpert, CheXpert Plus, MIMIC-CXR).

Every builder that carries CheXpert-style labels stores them the same way, so a label means the
same thing in every converted dataset:

- the 14 observations :data:`CHEXPERT_14`, always in the release's column order (alphabetical;
  the CheXpert/NegBio tables of MIMIC-CXR-JPG use it, CheXpert's own ``train.csv`` does not);
- one value per observation as a nullable ``int8``: ``1`` positive, ``0`` negative, ``-1``
  uncertain, ``None`` not mentioned (the release's ``1.0``/``0.0``/``-1.0``/blank, unchanged);
- one feature per label family (:func:`label_features`): ``List(Value("int8"), length=14)``, a
  fixed-size Arrow list. A whole family is ``None`` where the study has no row in that table (or
  the table is absent); a row whose 14 cells are blank is 14 ``None`` values.

Why a fixed-size list and not a struct of 14 named fields: a training loader wants a float
vector and a mask. ``ds.with_format("numpy")`` turns a batch of fixed-size lists into one
``(n, 14)`` ``float32`` array with ``nan`` for ``None`` (16x faster than the struct, which comes
back as 14 separate per-row objects), and in Arrow it is one contiguous ``int8`` child buffer with
a validity bitmap. The names live here and in the dataset card: position ``i`` is
``CHEXPERT_14[i]``.

Other vocabularies map onto these names through :data:`ALIASES` (the MIMIC-CXR-JPG 2.1.0
radiologist test set says ``Airspace Opacity`` for ``Lung Opacity``): add an entry there rather
than a per-builder rename, so every builder reads the same synonyms.

Uncertain labels are kept as released (``-1``) at conversion; choosing U-Ones, U-Zeros or
U-Ignore is a training decision made at load time with :func:`apply_uncertain`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cxrhub.shards.errors import SourceLayoutError

if TYPE_CHECKING:
    from datasets import List

__all__ = [
    "ALIASES",
    "MAPPINGS",
    "CHEXPERT_14",
    "POLICIES",
    "UNCERTAIN",
    "apply_uncertain",
    "canonical",
    "label_columns",
    "label_features",
    "parse_label",
]

CHEXPERT_14: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Enlarged Cardiomediastinum",
    "Fracture",
    "Lung Lesion",
    "Lung Opacity",
    "No Finding",
    "Pleural Effusion",
    "Pleural Other",
    "Pneumonia",
    "Pneumothorax",
    "Support Devices",
)
# Release column name -> CheXpert observation, for tables that name an observation differently.
ALIASES: dict[str, str] = {"Airspace Opacity": "Lung Opacity"}
POSITIVE, NEGATIVE, UNCERTAIN = 1, 0, -1
POLICIES = ("ones", "zeros", "ignore")

_TEXT = {"1.0": 1, "0.0": 0, "-1.0": -1, "1": 1, "0": 0, "-1": -1, "": None}


def label_features() -> List:
    """The ``datasets`` feature of one label family: 14 nullable ``int8`` in CHEXPERT_14 order."""
    from datasets import List, Value  # here: the loader's workers read labels without datasets

    return List(Value("int8"), length=len(CHEXPERT_14))


def parse_label(text: str | float | None, *, where: str) -> int | None:
    """One released label value as ``1``, ``0``, ``-1`` or ``None`` (blank: not mentioned).

    Accepts the CSV spellings ``1.0``, ``0.0``, ``-1.0``, ``1``, ``0``, ``-1`` and ``""``, and the
    JSON label files' numbers and ``null``.

    Raises:
        ValueError: any other value; the message names ``where`` (file, line, column).
    """
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if not math.isnan(text) and text in (1, 0, -1):
            return int(text)
    elif isinstance(text, str) and text in _TEXT:
        return _TEXT[text]
    raise ValueError(f"{where}: label {text!r}; expected 1.0, 0.0, -1.0 or blank")


def canonical(name: str) -> str:
    """The CheXpert observation a release column names (through :data:`ALIASES`)."""
    return ALIASES.get(name, name)


def label_columns(header: Sequence[str], *, where: str) -> list[int]:
    """For each of CHEXPERT_14, the index of its column in ``header`` (aliases accepted).

    Raises:
        SourceLayoutError: an observation has no column or two; names ``where`` and the header.
    """
    found: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        found.setdefault(canonical(name.strip()), []).append(i)
    missing = [n for n in CHEXPERT_14 if n not in found]
    twice = [n for n in CHEXPERT_14 if len(found.get(n, ())) > 1]
    if missing or twice:
        problem = f"no column for {missing}" if missing else f"two columns for {twice}"
        raise SourceLayoutError(
            f"{where}: {problem}; expected the 14 CheXpert observations "
            f"{list(CHEXPERT_14)} (aliases {ALIASES}), found {list(header)}"
        )
    return [found[n][0] for n in CHEXPERT_14]


def apply_uncertain(
    values: Sequence | np.ndarray | None,
    policy: str = "ones",
    *,
    blank: str = "zeros",
    batched: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Training targets and a loss mask from stored labels, at LOAD time (never at conversion).

    Args:
        values: one family as stored (14 values with ``None``, or ``None`` where the study has
            no row), or a batch: a list of such rows, or what ``with_format("numpy")`` gives (an
            ``(n, 14)`` float array with ``nan`` for ``None``, or an object array of rows and
            ``None`` when a batch holds a study without a row).
        policy: what an uncertain ``-1`` becomes: ``ones`` (U-Ones: positive), ``zeros``
            (U-Zeros: negative) or ``ignore`` (U-Ignore: masked out of the loss).
        blank: what a not-mentioned ``None`` becomes: ``zeros`` (negative, as the CheXpert
            paper trains) or ``ignore`` (masked). A family with no row is always fully masked.
        batched: whether ``values`` is a batch; ``None`` infers it (a 2-D or object array, or a
            list whose items are rows). Pass it for a list of 14 ``None``, which reads as one
            all-blank row otherwise.

    Returns:
        ``(targets, mask)``, ``float32``, shape ``(14,)`` or ``(n, 14)``: ``targets`` in {0, 1};
        ``mask`` 1 where the target counts in the loss.
    """
    if policy not in POLICIES or blank not in ("zeros", "ignore"):
        raise ValueError(f"policy {policy!r} / blank {blank!r}: choose {POLICIES} / zeros, ignore")
    if batched is None:
        batched = _is_batch(values)
    rows = list(values) if batched else [values]
    array = np.array([_row(r) for r in rows], dtype=np.float64).reshape(-1, len(CHEXPERT_14))
    if np.any(~np.isnan(array) & ~np.isin(array, (POSITIVE, NEGATIVE, UNCERTAIN))):
        raise ValueError("labels must be 1, 0, -1 or None (nan)")
    present = np.array([[r is not None] for r in rows], dtype=bool).reshape(-1, 1)
    uncertain = array == UNCERTAIN
    targets = np.where(uncertain, float(policy == "ones"), np.nan_to_num(array, nan=0.0))
    mask = (~np.isnan(array) | (blank == "zeros")) & present
    if policy == "ignore":
        mask &= ~uncertain
    targets, mask = targets.astype(np.float32), mask.astype(np.float32)
    return (targets, mask) if batched else (targets[0], mask[0])


def _is_batch(values: object) -> bool:
    if isinstance(values, np.ndarray):
        return values.ndim == 2 or values.dtype == object
    if values is None:
        return False
    return any(v is not None and not isinstance(v, (int, float, np.number)) for v in values)


def _row(row: Sequence | np.ndarray | None) -> list[float]:
    if row is None:
        return [math.nan] * len(CHEXPERT_14)
    if len(row) != len(CHEXPERT_14):
        raise ValueError(f"{len(row)} labels; expected {len(CHEXPERT_14)} (CHEXPERT_14 order)")
    return [math.nan if v is None else float(v) for v in row]


# How each release's own vocabulary maps onto CHEXPERT_14: only where the finding is the same;
# everything unmapped is null (the dataset says nothing about it). The builders use these tables
# (IU X-ray: MeSH major-term prefixes ``head/qualifier``, case-insensitive; PadChest: its
# radiographic findings; VinDr-CXR: its 28 image-level findings). CheXpert, CheXpert Plus and the
# MIMIC releases label CHEXPERT_14 itself (MIMIC-CXR-JPG's radiologist test set via ALIASES).
MAPPINGS: dict[str, dict[str, str]] = {
    "iu-xray": {
        "normal": "No Finding",
        "pulmonary atelectasis": "Atelectasis",
        "atelectasis": "Atelectasis",
        "cardiomegaly": "Cardiomegaly",
        "consolidation": "Consolidation",
        "pulmonary edema": "Edema",
        "fractures, bone": "Fracture",
        "nodule/lung": "Lung Lesion",
        "mass/lung": "Lung Lesion",
        "opacity/lung": "Lung Opacity",
        "pleural effusion": "Pleural Effusion",
        "thickening/pleura": "Pleural Other",
        "pneumonia": "Pneumonia",
        "pneumothorax": "Pneumothorax",
        "catheters, indwelling": "Support Devices",
        "pacemaker, artificial": "Support Devices",
        "tube, inserted": "Support Devices",
    },
    "padchest": {
        "normal": "No Finding",
        "atelectasis": "Atelectasis",
        "lobar atelectasis": "Atelectasis",
        "laminar atelectasis": "Atelectasis",
        "segmental atelectasis": "Atelectasis",
        "round atelectasis": "Atelectasis",
        "cardiomegaly": "Cardiomegaly",
        "consolidation": "Consolidation",
        "pulmonary edema": "Edema",
        "fracture": "Fracture",
        "rib fracture": "Fracture",
        "clavicle fracture": "Fracture",
        "vertebral fracture": "Fracture",
        "humeral fracture": "Fracture",
        "pleural effusion": "Pleural Effusion",
        "pneumonia": "Pneumonia",
        "pneumothorax": "Pneumothorax",
    },
    "vindr-cxr": {
        "Atelectasis": "Atelectasis",
        "Cardiomegaly": "Cardiomegaly",
        "Consolidation": "Consolidation",
        "Edema": "Edema",
        "Lung Opacity": "Lung Opacity",
        "Pleural effusion": "Pleural Effusion",
        "Pneumonia": "Pneumonia",
        "Pneumothorax": "Pneumothorax",
        "Rib fracture": "Fracture",
        "Clavicle fracture": "Fracture",
        "No finding": "No Finding",
    },
}
