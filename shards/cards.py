"""Dataset cards: a per-dataset template (prose + YAML) filled from ``index.json``.

The template under ``dataset_cards/<dataset>.md`` is the hand-written source; generated YAML keys
(``configs``, ``dataset_info``, licence fields when the template has none) and
``{{ placeholders }}`` in the prose are filled on every run, so prose edits live in the
template and survive.
"""

from __future__ import annotations

import re
from importlib import resources

from datasets import ClassLabel, DatasetInfo, Features, Image, LargeList, List, SplitInfo, Value
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

from cxrhub.builders._spec import DatasetSpec
from cxrhub.shards.schema import tar_features

__all__ = ["render"]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_FORMAT_DIRS = {"parquet": "data", "webdataset": "webdataset"}


def render(spec: DatasetSpec, index: dict) -> str:
    """The README.md of a converted folder."""
    card = DatasetCard(_template(spec.name))
    data = card.data
    for key, value in (
        ("pretty_name", spec.pretty_name),
        ("license", spec.license),
        ("license_name", spec.license_name),
        ("license_link", spec.license_link),
        ("tags", list(spec.tags)),
    ):
        if value and not data.get(key):
            data[key] = value
    features = Features.from_dict(index["features"])
    main = index["options"]["formats"][0]
    declared = (
        features if main == "parquet" else tar_features(features, index["webdataset_members"])
    )
    MetadataConfigs({"default": _config(index, main)}).to_dataset_card_data(data)
    DatasetInfosDict({"default": _info(index, declared, main)}).to_dataset_card_data(data)
    values = _values(spec, index, features)
    card.text = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), card.text)
    return str(card)


def _template(name: str) -> str:
    folder = resources.files("cxrhub.dataset_cards")
    template = folder / f"{name}.md"
    return (template if template.is_file() else folder / "_default.md").read_text(encoding="utf-8")


def _config(index: dict, fmt: str) -> dict:
    folder = _FORMAT_DIRS[fmt]
    files = [{"split": s, "path": f"{folder}/{s}-*"} for s in index["splits"]]
    return {"data_files": files}


def _info(index: dict, features: Features, fmt: str) -> DatasetInfo:
    splits = SplitDict()
    for name, split in index["splits"].items():
        nbytes = sum(f["bytes"] for f in split[fmt])
        splits.add(SplitInfo(name=name, num_bytes=nbytes, num_examples=split["samples"]))
    size = sum(f["bytes"] for s in index["splits"].values() for f in s[fmt])
    return DatasetInfo(features=features, splits=splits, download_size=size, dataset_size=size)


def _values(spec: DatasetSpec, index: dict, features: Features) -> dict[str, str]:
    return {
        "pretty_name": spec.pretty_name,
        "dataset": spec.name,
        "description": spec.description,
        "homepage": spec.homepage,
        "terms": spec.terms,
        "access": spec.access.value,
        "citation": f"```bibtex\n{spec.citation}\n```",
        "cxrhub_version": index["cxrhub_version"],
        "splits_table": _splits_table(index),
        "features_table": _features_table(features),
        "load_snippet": _load_snippet(index),
        "errors_note": _errors_note(index),
    }


def _splits_table(index: dict) -> str:
    formats = index["options"]["formats"]
    head = "| split | samples | " + " | ".join(f"{f} shards" for f in formats) + " |"
    rule = "|---|---:|" + "---:|" * len(formats)
    rows = [
        f"| {name} | {s['samples']:,} | " + " | ".join(str(len(s[f])) for f in formats) + " |"
        for name, s in index["splits"].items()
    ]
    return "\n".join([head, rule, *rows])


def _features_table(features: Features) -> str:
    rows = [f"| `{name}` | {_type_name(f)} |" for name, f in features.items()]
    return "\n".join(["| column | type |", "|---|---|", *rows])


def _type_name(feature: object) -> str:
    if isinstance(feature, Image):
        return "image (encoded bytes, as released)"
    if isinstance(feature, ClassLabel):
        return f"class label ({', '.join(feature.names)})"
    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, (List, LargeList)):
        return f"list of {_type_name(feature.feature)}"
    if isinstance(feature, dict):
        return "struct {" + ", ".join(f"{k}: {_type_name(v)}" for k, v in feature.items()) + "}"
    return type(feature).__name__


def _load_snippet(index: dict) -> str:
    lines = ["```python"]
    if "parquet" in index["splits"][next(iter(index["splits"]))]:
        lines += [
            "from datasets import load_dataset",
            "",
            'ds = load_dataset("ORG/NAME")  # or a local path to this folder',
            'ds_stream = load_dataset("ORG/NAME", streaming=True)',
        ]
    for name, split in index["splits"].items():
        tars = split.get("webdataset")
        if tars:
            last = len(tars) - 1
            lines += [
                "",
                "import webdataset as wds",
                "",
                f'urls = "webdataset/{name}-{{000000..{last:06d}}}.tar"',
                "ds = wds.WebDataset(urls, shardshuffle=False).decode()",
            ]
            break
    return "\n".join([*lines, "```"])


def _errors_note(index: dict) -> str:
    count = index["errors"]["rows"]
    if not count:
        return "Every source sample listed by the release was converted."
    return (
        f"{count:,} source inputs could not be converted; `errors.jsonl` lists each with the stage "
        "that failed and why, and `manifest.jsonl` accounts for every source file."
    )
