"""Card statistics: label prevalence, age, sex and view per split, read back from the shards.

Which columns to summarise comes from the builder (``SPEC.card_stats``); only those columns are
read (Parquet column projection, or the tars' ``<column>.json`` members), never an image. The
numbers are aggregates per split; the card shows them as tables and as the PNG plots that
:mod:`cxrhub.shards.card_plots` draws.
"""

from __future__ import annotations

import json
import logging
import statistics
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from datasets import ClassLabel, Features, LargeList, List

from cxrhub.builders._spec import CardStats, DatasetSpec

__all__ = ["MISSING", "PLOT_FILES", "Distribution", "collect", "to_markdown"]

logger = logging.getLogger(__name__)
ROLES = ("labels", "age", "sex", "view")
TITLES = {"labels": "Label prevalence", "age": "Age", "sex": "Sex", "view": "View position"}
PLOT_FILES = {
    "labels": "plots/label_prevalence.png",
    "age": "plots/age.png",
    "sex": "plots/sex.png",
    "view": "plots/view.png",
}
MISSING = "(missing)"
AGE_BIN_YEARS = 10
AGE_LAST_BIN = 90  # "90+" holds every age from 90 up, implausible ones as released included
AGE_IMPLAUSIBLE = 120


@dataclass
class Distribution:
    """One summarised column: counts per split of each category (or age bin).

    Attributes:
        role: ``labels``, ``age``, ``sex`` or ``view``.
        column: the dataset column it was read from.
        samples: samples per split (the denominators).
        counts: split -> category -> samples with it (a sample may count in several labels).
        categories: display order (most frequent first; age bins in order; missing last).
        ages: split -> the ages read (``age`` only), for the summary table.
    """

    role: str
    column: str
    samples: dict[str, int]
    counts: dict[str, Counter]
    categories: list[str]
    ages: dict[str, list[float]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """Human title of the table and plot."""
        return TITLES[self.role]

    def total(self, category: str) -> int:
        """Samples with ``category`` over every split."""
        return sum(c[category] for c in self.counts.values())


def collect(out: Path, spec: DatasetSpec, index: dict) -> list[Distribution]:
    """The distributions ``spec.card_stats`` asks for, read from the converted folder ``out``."""
    features = Features.from_dict(index["features"])
    wanted = _wanted(spec.card_stats, features)
    if not wanted:
        return []
    columns = sorted(set(wanted.values()))
    values = {split: _read_columns(Path(out), index, split, columns) for split in index["splits"]}
    samples = {split: entry["samples"] for split, entry in index["splits"].items()}
    dists = []
    for role, column in wanted.items():
        per_split = {split: values[split][column] for split in values}
        dists.append(_distribution(role, column, features[column], per_split, samples))
    return dists


def _wanted(card_stats: CardStats | None, features: Features) -> dict[str, str]:
    if card_stats is None:
        return {}
    wanted = {}
    for role in ROLES:
        column = getattr(card_stats, role)
        if column is None:
            continue
        if column not in features:
            logger.warning("card statistics: %s column %r is not a feature; left out", role, column)
            continue
        wanted[role] = column
    return wanted


def _read_columns(out: Path, index: dict, split: str, columns: list[str]) -> dict[str, list]:
    entry = index["splits"][split]
    values: dict[str, list] = {c: [] for c in columns}
    if "parquet" in entry:
        for shard in entry["parquet"]:
            table = pq.read_table(out / shard["file"], columns=columns)
            for column in columns:
                values[column] += table.column(column).to_pylist()
        return values
    for shard in entry["webdataset"]:
        _read_tar_columns(out / shard["file"], columns, values)
    return values


def _read_tar_columns(path: Path, columns: list[str], values: dict[str, list]) -> None:
    wanted = {f"{c}.json": c for c in columns}
    with tarfile.open(path) as tar:
        for member in tar:
            _, _, field_name = member.name.partition(".")
            if field_name in wanted:
                values[wanted[field_name]].append(json.loads(tar.extractfile(member).read()))


def _distribution(
    role: str, column: str, feature: object, per_split: dict[str, list], samples: dict[str, int]
) -> Distribution:
    counts: dict[str, Counter] = {}
    ages: dict[str, list[float]] = {}
    for split, values in per_split.items():
        if role == "age":
            ages[split] = [float(v) for v in values if v is not None]
            counts[split] = Counter(_age_bin(v) for v in values)
        elif role == "labels":
            counts[split] = Counter(n for v in values for n in set(_label_names(feature, v)))
        else:
            counts[split] = Counter(_category(feature, v) for v in values)
    dist = Distribution(role, column, samples, counts, [], ages)
    dist.categories = _order(dist, feature)
    return dist


def _label_names(feature: object, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(feature, (List, LargeList)):
        return [_category(feature.feature, v) for v in value]
    return [_category(feature, value)]


def _category(feature: object, value: object) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(feature, ClassLabel) and isinstance(value, int):
        return feature.int2str(value)
    return str(value)


def _age_bin(value: float | None) -> str:
    if value is None:
        return MISSING
    if value >= AGE_LAST_BIN:
        return f"{AGE_LAST_BIN}+"
    low = int(max(value, 0) // AGE_BIN_YEARS) * AGE_BIN_YEARS
    return f"{low}-{low + AGE_BIN_YEARS - 1}"


def _order(dist: Distribution, feature: object) -> list[str]:
    seen = {c for counter in dist.counts.values() for c in counter}
    if dist.role == "age":
        bins = [_age_bin(float(y)) for y in range(0, AGE_LAST_BIN + 1, AGE_BIN_YEARS)]
        return bins + ([MISSING] if MISSING in seen else [])
    names = _class_names(feature)
    rank = {name: i for i, name in enumerate(names)}
    present = sorted(
        (seen | set(names)) - {MISSING},
        key=lambda c: (-dist.total(c), rank.get(c, len(rank)), c),
    )
    return present + ([MISSING] if MISSING in seen else [])


def _class_names(feature: object) -> list[str]:
    inner = feature.feature if isinstance(feature, (List, LargeList)) else feature
    return list(inner.names) if isinstance(inner, ClassLabel) else []


def to_markdown(dists: list[Distribution]) -> str:
    """The card's statistics section: per distribution a table and its plot."""
    if not dists:
        return "No distribution statistics are declared for this dataset."
    if not any(dists[0].samples.values()):
        return "No sample was converted, so there are no statistics to show."
    parts = [
        "Computed from the converted shards (aggregates only; no image is shown). Percentages "
        "are of the samples in each split."
    ]
    for dist in dists:
        parts += [f"### {dist.title} (`{dist.column}`)", _table(dist)]
        if dist.role == "labels":
            parts.append("A sample can carry several labels, so a column sums to more than 100%.")
        if dist.role == "age":
            parts.append(_age_summary(dist))
        parts.append(f"![{dist.title} per split]({PLOT_FILES[dist.role]})")
    return "\n\n".join(parts)


def _cell(count: int, total: int) -> str:
    return f"{count:,} ({100 * count / total:.1f}%)" if total else "0"


def _table(dist: Distribution) -> str:
    splits = list(dist.samples)
    everything = sum(dist.samples.values())
    head = (
        f"| {dist.role} | "
        + " | ".join(f"{s} (n={dist.samples[s]:,})" for s in splits)
        + f" | all (n={everything:,}) |"
    )
    rule = "|---|" + "---:|" * (len(splits) + 1)
    rows = [
        f"| {c} | "
        + " | ".join(_cell(dist.counts[s][c], dist.samples[s]) for s in splits)
        + f" | {_cell(dist.total(c), everything)} |"
        for c in dist.categories
    ]
    return "\n".join([head, rule, *rows])


def _age_summary(dist: Distribution) -> str:
    rows = ["| split | with age | mean | median | min | max |", "|---|---:|---:|---:|---:|---:|"]
    groups = {**dist.ages, "all": [a for ages in dist.ages.values() for a in ages]}
    for split, ages in groups.items():
        if not ages:
            rows.append(f"| {split} | 0 | | | | |")
            continue
        rows.append(
            f"| {split} | {len(ages):,} | {statistics.fmean(ages):.1f} | "
            f"{statistics.median(ages):.1f} | {min(ages):.1f} | {max(ages):.1f} |"
        )
    implausible = sum(a > AGE_IMPLAUSIBLE for a in groups["all"])
    note = (
        f"\n\n{implausible:,} ages above {AGE_IMPLAUSIBLE} years are kept as released "
        f"(counted in {AGE_LAST_BIN}+)."
        if implausible
        else ""
    )
    return "Ages in years; bins of ten years.\n\n" + "\n".join(rows) + note
