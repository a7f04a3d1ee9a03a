"""Dataset cards: a per-dataset template (prose + YAML) filled from ``index.json``.

The template under ``dataset_cards/<dataset>.md`` is the hand-written source; generated YAML keys
(``configs``, ``dataset_info``, licence fields when the template has none) and
``{{ placeholders }}`` in the prose are filled on every run, so prose edits live in the
template and survive. :func:`write_card` also writes the statistics plots (``plots/*.png``) the
card shows; :func:`regenerate` redoes both from ``index.json`` and the shards.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from types import ModuleType

from datasets import ClassLabel, DatasetInfo, Features, Image, LargeList, List, SplitInfo, Value
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

from cxrhub.builders._spec import Access, DatasetSpec
from cxrhub.shards import card_stats
from cxrhub.shards.atomic import write_text
from cxrhub.shards.card_stats import Distribution
from cxrhub.shards.errors import CxrhubError
from cxrhub.shards.schema import output_features, tar_features

__all__ = ["regenerate", "render", "write_card"]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_FORMAT_DIRS = {"parquet": "data", "webdataset": "webdataset"}


DEFAULT = "default"
INDEX = "index.json"


def write_card(out: Path, spec: DatasetSpec, index: dict, *, config: str = DEFAULT) -> None:
    """Write ``out/plots/*.png`` and ``out/README.md`` for the converted folder ``out``.

    ``index`` is the one of ``config`` (just converted); the card lists it with every other
    config converted under ``out`` (``out/index.json``, ``out/<config>/index.json``). Statistics
    and plots describe the default config only.
    """
    from cxrhub.shards.card_plots import write_plots  # matplotlib: imported only when drawing

    out = Path(out)
    configs = config_indexes(out, spec)
    main = index
    if config != DEFAULT:
        configs[config] = index
        main = _read_index(out / INDEX, spec, DEFAULT)
    stats = card_stats.collect(out, spec, main) if main is not None else []
    write_plots(out, stats)
    write_text(out / "README.md", render(spec, main or index, stats, configs))


def config_indexes(out: Path, spec: DatasetSpec) -> dict[str, dict]:
    """name -> ``index.json`` of every non-default config converted under ``out``."""
    found = {}
    for path in sorted(Path(out).glob(f"*/{INDEX}")):
        index = _read_index(path, spec, path.parent.name)
        if index is not None and index.get("config") == path.parent.name:
            found[path.parent.name] = index
    return found


def _read_index(path: Path, spec: DatasetSpec, config: str) -> dict | None:
    if not path.is_file():
        return None
    from cxrhub import builders

    module = builders.load(spec.name)
    index = json.loads(path.read_text(encoding="utf-8"))
    return _release_order(index, module, config)


def regenerate(out: Path) -> Path:
    """Rewrite the card and its plots of a finished conversion from its ``index.json`` (after
    editing the template's prose, say); return the card's path. The result is the card the
    conversion wrote, byte for byte, while the template and builder are unchanged."""
    from cxrhub import builders

    index = json.loads((Path(out) / INDEX).read_text(encoding="utf-8"))
    module = builders.load(index["dataset"])
    write_card(Path(out), module.SPEC, _release_order(index, module, DEFAULT))
    return Path(out) / "README.md"


def _release_order(index: dict, module: ModuleType, config: str) -> dict:
    """``index.json`` stores keys sorted: put splits and features back in the builder's order."""
    from cxrhub import builders

    splits = [s for s in module.SPEC.splits if s in index["splits"]]
    splits += [s for s in index["splits"] if s not in splits]
    ordered = {**index, "splits": {s: index["splits"][s] for s in splits}}
    try:
        features = builders.config(module, config)[0]
    except (AttributeError, CxrhubError):  # a builder without it: keep the index's order
        return ordered
    if output_features(features).to_dict() == index["features"]:
        ordered["features"] = output_features(features).to_dict()
    return ordered


def render(
    spec: DatasetSpec,
    index: dict,
    stats: list[Distribution] | None = None,
    configs: dict[str, dict] | None = None,
) -> str:
    """The README.md of a converted folder; ``stats`` fills the statistics section; ``configs``
    (name -> index) are the other configs converted into ``<name>/`` subfolders."""
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
    listed = {} if index.get("config", DEFAULT) != DEFAULT else {DEFAULT: index}
    listed.update(sorted((configs or {}).items()))
    metadata, infos = {}, {}
    for name, entry in listed.items():
        main = entry["options"]["formats"][0]
        prefix = "" if name == DEFAULT else f"{name}/"
        metadata[name] = _config(entry, main, prefix)
        infos[name] = _info(entry, _declared(entry, main), main)
    MetadataConfigs(metadata).to_dataset_card_data(data)
    DatasetInfosDict(infos).to_dataset_card_data(data)
    values = _values(spec, index, features)
    values["statistics"] = card_stats.to_markdown(stats or [])
    card.text = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), card.text)
    return str(card)


def _declared(index: dict, fmt: str) -> Features:
    """The features ``datasets`` reads the ``fmt`` shards with."""
    features = Features.from_dict(index["features"])
    return features if fmt == "parquet" else tar_features(features, index["webdataset_members"])


def _template(name: str) -> str:
    folder = resources.files("cxrhub.dataset_cards")
    template = folder / f"{name}.md"
    return (template if template.is_file() else folder / "_default.md").read_text(encoding="utf-8")


def _config(index: dict, fmt: str, prefix: str = "") -> dict:
    folder = _FORMAT_DIRS[fmt]
    files = [{"split": s, "path": f"{prefix}{folder}/{s}-*"} for s in _loadable(index)]
    return {"data_files": files}


def _loadable(index: dict) -> list[str]:
    """Splits with samples: ``datasets`` refuses a declared split without data (every input of a
    split can have failed)."""
    return [name for name, split in index["splits"].items() if split["samples"]]


def _info(index: dict, features: Features, fmt: str) -> DatasetInfo:
    splits = SplitDict()
    for name in _loadable(index):
        split = index["splits"][name]
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
        "access_notice": _access_notice(spec),
        "license_note": _license_note(spec),
        "citation": f"```bibtex\n{spec.citation}\n```",
        "cxrhub_version": index["cxrhub_version"],
        "splits_table": _splits_table(index),
        "features_table": _features_table(features),
        "load_snippet": _load_snippet(index),
        "errors_note": _errors_note(index),
    }


def _license_note(spec: DatasetSpec) -> str:
    if spec.license == "other" and spec.license_link:
        name = spec.license_name or "the data provider's terms"
        return (
            f"Licence: **{name}** (`license: other`), the data provider's own terms: "
            f"<{spec.license_link}>. The converted files are the same data under the same terms."
        )
    return (
        f"Licence: `{spec.license}`. The converted files are the same data: the provider's terms "
        "above apply to them as to the original download."
    )


def _access_notice(spec: DatasetSpec) -> str:
    where = spec.license_link or spec.homepage
    if spec.access is Access.CREDENTIALED:
        return (
            "**Credentialed data: keep this repository private.** Only people who hold their own "
            f"access to {spec.pretty_name} under its agreement ({where}) may read it; the data "
            "must not be redistributed, made public or shared with anyone who has not signed the "
            "agreement. `cxrhub push` refuses public repos for this dataset and checks the repo "
            "is private before every commit."
        )
    return (
        f"Public data. Attribution: cite the paper below and credit the data provider as its "
        f"terms ask ({spec.homepage})."
    )


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
    first = next(iter(index["splits"]))
    lines = ["```python"]
    if "parquet" in index["splits"][first]:
        lines += [
            "from datasets import load_dataset",
            "",
            'ds = load_dataset("ORG/NAME")  # or a local path to this folder',
            "",
            "# streaming: rows arrive as the Parquet shards are read, nothing is downloaded first",
            f'stream = load_dataset("ORG/NAME", split="{first}", streaming=True)',
            "sample = next(iter(stream))",
        ]
    for name, split in index["splits"].items():
        tars = split.get("webdataset")
        if tars:
            last = len(tars) - 1
            lines += [
                "",
                "# WebDataset tars for GPU nodes (paths relative to a local copy of this repo)",
                "import webdataset as wds",
                "",
                f'urls = "webdataset/{name}-{{000000..{last:06d}}}.tar"',
                "ds = wds.WebDataset(urls, shardshuffle=False).decode()",
            ]
            break
    lines += ["```", ""]
    lines.append(
        "For a private repo, log in first (`hf auth login`, or set `HF_TOKEN`) with an account "
        "that has read access."
    )
    return "\n".join(lines)


def _errors_note(index: dict) -> str:
    count = index["errors"]["rows"]
    if not count:
        return "Every source sample listed by the release was converted."
    return (
        f"{count:,} source inputs could not be converted; `errors.jsonl` lists each with the stage "
        "that failed and why, and `manifest.jsonl` accounts for every source file."
    )
