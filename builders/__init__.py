"""The dataset registry: CLI name -> builder module (knowledge only), imported lazily."""

from __future__ import annotations

import importlib
from types import ModuleType

from cxrhub.shards.errors import UnknownDatasetError

__all__ = ["BUILDERS", "is_convertible", "load", "names", "source_options"]

# Fixed names: docs, scripts and the CLI agree on these.
BUILDERS: dict[str, str] = {
    "nih-cxr14": "cxrhub.builders.nih_cxr14",
    "chexpert": "cxrhub.builders.chexpert",
    "chexpert-plus": "cxrhub.builders.chexpert_plus",
    "mimic-cxr": "cxrhub.builders.mimic_cxr",
    "mimic-cxr-jpg": "cxrhub.builders.mimic_cxr_jpg",
    "iu-xray": "cxrhub.builders.iu_xray",
    "vindr-cxr": "cxrhub.builders.vindr_cxr",
    "padchest": "cxrhub.builders.padchest",
}

_CONTRACT = ("SPEC", "FEATURES", "check", "iter_records", "write_sample")


def names() -> list[str]:
    """Every registered dataset name, in registry order."""
    return list(BUILDERS)


def load(name: str) -> ModuleType:
    """The builder module for ``name``; an unknown name lists the valid ones."""
    try:
        path = BUILDERS[name]
    except KeyError:
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; registered datasets: {', '.join(BUILDERS)}"
        ) from None
    return importlib.import_module(path)


def source_options(module: ModuleType, given: dict[str, str] | None) -> dict[str, str]:
    """``given`` checked against the builder's declared ``OPTIONS`` (name -> help)."""
    declared = getattr(module, "OPTIONS", {})
    unknown = sorted(set(given or {}) - set(declared))
    if unknown:
        known = ", ".join(f"{k} ({v})" for k, v in declared.items()) or "none"
        raise UnknownDatasetError(
            f"{module.SPEC.name}: unknown source option(s) {unknown}; this dataset takes: {known}"
        )
    return dict(given or {})


def is_convertible(module: ModuleType) -> bool:
    """Whether the module implements the whole builder contract (not only ``SPEC``)."""
    return all(hasattr(module, attr) for attr in _CONTRACT)
