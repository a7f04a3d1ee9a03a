"""Every registered dataset as a real ``datasets`` builder, driven by its spec.

datasets 5.x runs no loading scripts, so the adapter is imported from this package::

    from cxrhub.shards.hf_builder import load_builder

    builder = load_builder("nih-cxr14", data_dir="/data/nih")  # config="..." for another config
    builder.download_and_prepare(num_proc=2)
    ds = builder.as_dataset()             # same rows and features as load_dataset(OUT)
    stream = builder.as_streaming_dataset()

The records, their order and the encoded examples are the ones ``cxrhub convert`` writes.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import datasets
from datasets.builder import Key

from cxrhub import builders
from cxrhub.shards.convert import collect_records
from cxrhub.shards.errors import BadInputError, MissingSourceError
from cxrhub.shards.schema import output_features, read_example
from cxrhub.shards.worker import handle_bad_input

__all__ = ["CxrhubBuilder", "CxrhubConfig", "load_builder"]

logger = logging.getLogger(__name__)
_MAX_GENERATOR_SHARDS = 64  # lists datasets splits across num_proc jobs


class CxrhubConfig(datasets.BuilderConfig):
    """A registered dataset: ``data_dir`` is its local download, ``on_error`` the policy,
    ``subset`` one of the builder's own configs (``default``, or e.g. MIMIC-CXR's ``studies``)."""

    def __init__(
        self,
        *args,
        on_error: str = "error",
        source_options: dict | None = None,
        subset: str = builders.DEFAULT_CONFIG,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.on_error = on_error
        self.source_options = dict(source_options or {})
        self.subset = subset


class CxrhubBuilder(datasets.GeneratorBasedBuilder):
    """One generic builder; its configs are the registered, convertible datasets."""

    BUILDER_CONFIG_CLASS = CxrhubConfig
    BUILDER_CONFIGS = [
        CxrhubConfig(name=name, version=builders.load(name).SPEC.version)
        for name in builders.names()
        if builders.is_convertible(builders.load(name))
    ]

    def _module(self):
        return builders.load(self.config.name)

    def _subset(self) -> tuple:
        """``(features, records_fn)`` of the chosen builder config."""
        return builders.config(self._module(), self.config.subset)[:2]

    def _info(self) -> datasets.DatasetInfo:
        spec = self._module().SPEC
        return datasets.DatasetInfo(
            description=spec.description,
            features=output_features(self._subset()[0]),
            homepage=spec.homepage,
            citation=spec.citation,
            license=spec.license,
        )

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        if not self.config.data_dir:
            raise MissingSourceError(
                f"{self.config.name}: pass data_dir= the local download (files are never fetched)"
            )
        module, root = self._module(), Path(self.config.data_dir)
        extra = builders.source_options(module, self.config.source_options)
        module.check(root, **extra)
        records, _ = collect_records(module, root, self.config.on_error, extra, self._subset()[1])
        generators = []
        for split in module.SPEC.splits:
            chosen = sorted((r for r in records if r.split == split), key=lambda r: r.key)
            if not chosen:  # as in conversion: datasets refuses a declared split without data
                continue
            size = max(1, math.ceil(len(chosen) / _MAX_GENERATOR_SHARDS))
            shards = [chosen[i : i + size] for i in range(0, len(chosen), size)]
            generators.append(
                datasets.SplitGenerator(
                    name=split, gen_kwargs={"shards": shards, "root": str(root)}
                )
            )
        return generators

    def _generate_examples(self, shards: list, root: str):
        for shard_id, records in enumerate(shards):
            for item_id, record in enumerate(records):
                try:
                    example = read_example(record, Path(root))
                except BadInputError as exc:
                    handle_bad_input(exc, self.config.on_error, record.key)
                    continue
                yield Key(shard_id, item_id), example


def load_builder(
    name: str, data_dir: str | Path, *, config: str = builders.DEFAULT_CONFIG, **kwargs
) -> CxrhubBuilder:
    """The ``datasets`` builder of dataset ``name`` over the local download at ``data_dir``;
    ``config`` picks one of the builder's configs (``cxrhub list`` names them), as
    ``cxrhub convert --config`` does."""
    module = builders.load(name)
    if not builders.is_convertible(module):
        raise MissingSourceError(f"{name}: registered, but its builder is not implemented yet")
    builders.config(module, config)  # an unknown config names the valid ones
    if config != builders.DEFAULT_CONFIG:
        kwargs["subset"] = config
    return CxrhubBuilder(config_name=name, data_dir=str(data_dir), **kwargs)
