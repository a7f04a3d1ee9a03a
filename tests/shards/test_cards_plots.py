"""The card of a converted folder: licence fields, access terms, loading, statistics and plots."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import ClassLabel, List, Value
from huggingface_hub import DatasetCard
from PIL import Image

from cxrhub.builders import mimic_cxr, nih_cxr14
from cxrhub.builders._spec import CardStats
from cxrhub.shards import card_stats
from cxrhub.shards.card_plots import render_png, write_plots
from cxrhub.shards.card_stats import MISSING, PLOT_FILES, collect, to_markdown
from cxrhub.shards.cards import regenerate, render, write_card
from cxrhub.shards.convert import ConvertOptions, convert


@pytest.fixture
def copy(nih_out, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(nih_out, out)
    return out


def _index(out: Path) -> dict:
    return json.loads((out / "index.json").read_text())


def test_card_parses_and_carries_licence_and_terms(nih_out):
    card = DatasetCard((nih_out / "README.md").read_text())
    data = card.data.to_dict()
    assert data["license"] == "cc0-1.0" and data["pretty_name"] == "NIH ChestX-ray14"
    assert not re.search(r"\{\{.*?\}\}", card.text)
    assert "Licence: `cc0-1.0`. The converted files are the same data" in card.text
    assert "Attribution: cite the paper below" in card.text
    assert nih_cxr14.CITATION in card.text
    assert 'load_dataset("ORG/NAME", split="train", streaming=True)' in card.text
    assert "wds.WebDataset(" in card.text
    assert "| train | 5 | 3 | 3 |" in card.text  # counts per split (samples, shards per format)
    # the template's hand-written prose is there
    assert "Hold a validation set out of `train` by patient" in card.text


def test_credentialed_card_has_licence_fields_and_private_notice(nih_out):
    spec = dataclasses.replace(mimic_cxr.SPEC, card_stats=nih_cxr14.SPEC.card_stats)
    index = _index(nih_out)
    text = render(spec, index, collect(nih_out, spec, index))
    data = DatasetCard(text).data.to_dict()
    assert data["license"] == "other"
    assert data["license_name"] == "physionet-credentialed-health-data-1.5.0"
    assert data["license_link"] == mimic_cxr.SPEC.license_link
    body = DatasetCard(text).text
    assert "keep this repository private" in body and "must not be redistributed" in body
    assert f"<{mimic_cxr.SPEC.license_link}>" in body


def test_plots_are_pngs_and_the_card_shows_them(nih_out):
    text = (nih_out / "README.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(links) == sorted(PLOT_FILES.values())  # every image is a plot, no sample
    for rel in links:
        data = (nih_out / rel).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(io.BytesIO(data)) as image:
            assert image.width >= 600 and image.height >= 250
    assert sorted(p.name for p in (nih_out / "plots").iterdir()) == [
        "age.png", "label_prevalence.png", "sex.png", "view.png",
    ]  # fmt: skip


def test_tables_match_the_shards(nih_out):
    index = _index(nih_out)
    sex = {split: Counter() for split in index["splits"]}
    labels = Counter()
    for split, entry in index["splits"].items():
        for shard in entry["parquet"]:
            table = pq.read_table(nih_out / shard["file"], columns=["sex", "labels"])
            sex[split].update(table.column("sex").to_pylist())
            labels.update(n for row in table.column("labels").to_pylist() for n in set(row))
    text = (nih_out / "README.md").read_text()
    row = f"| M | {sex['train']['M']} (80.0%) | {sex['test']['M']} (33.3%) | 5 (62.5%) |"
    assert row in text
    names = nih_cxr14.LABELS
    cardiomegaly = labels[names.index("Cardiomegaly")]
    assert f"| Cardiomegaly | {cardiomegaly} (40.0%) | 0 (0.0%) | 2 (25.0%) |" in text
    assert "| Pneumonia | 0 (0.0%) | 0 (0.0%) | 0 (0.0%) |" in text  # every class listed


def test_regeneration_is_byte_identical(copy, nih_out):
    before = {p: (copy / p).read_bytes() for p in ("README.md", *PLOT_FILES.values())}
    for rel in before:
        (copy / rel).unlink()
    assert regenerate(copy) == copy / "README.md"
    assert {p: (copy / p).read_bytes() for p in before} == before


def test_no_card_stats_means_no_plots(copy):
    spec = dataclasses.replace(nih_cxr14.SPEC, card_stats=None)
    write_card(copy, spec, _index(copy))
    assert list((copy / "plots").glob("*.png")) == []  # the earlier run's plots are removed
    text = (copy / "README.md").read_text()
    assert "No distribution statistics are declared for this dataset." in text
    assert "plots/" not in text


def test_unknown_column_is_left_out(copy, caplog):
    spec = dataclasses.replace(nih_cxr14.SPEC, card_stats=CardStats(sex="sex", view="no_such"))
    dists = collect(copy, spec, _index(copy))
    assert [d.role for d in dists] == ["sex"]
    assert "no_such" in caplog.text


def test_webdataset_only_gives_the_same_statistics(nih_src, nih_out, tmp_path):
    out = tmp_path / "wds"
    convert("nih-cxr14", nih_src, out, ConvertOptions(formats=("webdataset",)))
    tars = collect(out, nih_cxr14.SPEC, _index(out))
    parquet = collect(nih_out, nih_cxr14.SPEC, _index(nih_out))
    assert to_markdown(tars) == to_markdown(parquet)
    assert (out / "plots" / "age.png").read_bytes() == (nih_out / "plots" / "age.png").read_bytes()


def _dist(role: str, feature, per_split: dict) -> card_stats.Distribution:
    samples = {split: len(values) for split, values in per_split.items()}
    return card_stats._distribution(role, role, feature, per_split, samples)


def test_missing_values_and_implausible_ages():
    ages = _dist("age", Value("float32"), {"train": [0.5, 35.0, None, 414.0], "test": [89.9]})
    assert ages.categories[-1] == MISSING and ages.counts["train"]["90+"] == 1
    assert ages.counts["train"]["0-9"] == 1 and ages.counts["test"]["80-89"] == 1
    sex = _dist("sex", Value("string"), {"train": ["F", None, "", "F"]})
    assert sex.categories == ["F", MISSING] and sex.counts["train"][MISSING] == 2
    labels = _dist("labels", List(ClassLabel(names=["a", "b"])), {"train": [[1, 1], None]})
    assert labels.categories == ["b", "a"] and labels.counts["train"]["b"] == 1  # per sample
    text = to_markdown([ages, sex, labels])
    assert "1 ages above 120 years are kept as released" in text
    assert "| (missing) | 1 (25.0%) | 0 (0.0%) | 1 (20.0%) |" in text
    assert "| train | 3 | 149.8 | 35.0 | 0.5 | 414.0 |" in text


def test_plots_of_an_empty_conversion_are_not_drawn(tmp_path):
    empty = _dist("sex", Value("string"), {"train": []})
    assert write_plots(tmp_path, [empty]) == []
    assert "No sample was converted" in to_markdown([empty])


def test_plot_bytes_are_deterministic():
    dist = _dist("view", Value("string"), {"train": ["PA", "AP", "PA"], "test": ["AP"]})
    assert render_png(dist) == render_png(dist)
