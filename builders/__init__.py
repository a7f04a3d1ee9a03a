"""The dataset registry: CLI name -> builder module (knowledge only), imported lazily."""

from __future__ import annotations

import importlib
from types import ModuleType

from cxrhub.shards.errors import UnknownDatasetError

__all__ = [
    "BUILDERS", "DEFAULT_CONFIG", "config", "config_names", "is_convertible", "load", "names",
    "source_options",
]  # fmt: skip

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

DEFAULT_CONFIG = "default"
FORMATS = ("parquet", "webdataset")
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


def config_names(module: ModuleType) -> list[str]:
    """The builder's configs: ``default`` (its ``FEATURES`` and records) and its ``CONFIGS``."""
    return [DEFAULT_CONFIG, *getattr(module, "CONFIGS", {})]


def config(module: ModuleType, name: str = DEFAULT_CONFIG) -> tuple:
    """``(features, records_fn, allowed_formats)`` of the builder's config ``name``; an unknown
    name lists the valid ones."""
    if name == DEFAULT_CONFIG:
        return module.FEATURES, module.iter_records, FORMATS
    found = getattr(module, "CONFIGS", {}).get(name)
    if found is None:
        valid = ", ".join(config_names(module))
        raise UnknownDatasetError(f"{module.SPEC.name}: unknown config {name!r}; configs: {valid}")
    return found["features"], found["records"], tuple(found.get("formats", FORMATS))
