"""The dataset registry: fixed names, valid specs, the builder contract, and ``cxrhub list``."""

from __future__ import annotations

import json
import re
import textwrap

import pytest
from datasets import Features

from cxrhub import builders
from cxrhub.builders._spec import Access, DatasetSpec, Record
from cxrhub.shards.cli import main
from cxrhub.shards.errors import BadInputError, CxrhubError, UnknownDatasetError
from cxrhub.shards.plan import media_paths
from cxrhub.shards.schema import build_example, output_features

NAMES = [
    "nih-cxr14",
    "chexpert",
    "chexpert-plus",
    "mimic-cxr",
    "mimic-cxr-jpg",
    "iu-xray",
    "vindr-cxr",
    "padchest",
]
# Who may receive each release: public downloads vs. signed data-use agreements.
ACCESS = {
    "nih-cxr14": Access.PUBLIC,
    "chexpert": Access.CREDENTIALED,
    "chexpert-plus": Access.CREDENTIALED,
    "mimic-cxr": Access.CREDENTIALED,
    "mimic-cxr-jpg": Access.CREDENTIALED,
    "iu-xray": Access.PUBLIC,
    "vindr-cxr": Access.CREDENTIALED,
    "padchest": Access.CREDENTIALED,
}
CONTRACT = ("FEATURES", "check", "iter_records", "write_sample")
HF_SPLIT = re.compile(r"^\w+(\.\w+)*$")
KEY = re.compile(r"^[A-Za-z0-9_-]+$")
CONVERTIBLE = [n for n in NAMES if builders.is_convertible(builders.load(n))]


def test_the_fixed_names_are_registered_in_order():
    assert builders.names() == NAMES
    assert list(builders.BUILDERS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_module_loads_with_a_spec_named_after_its_key(name):
    spec = builders.load(name).SPEC
    assert isinstance(spec, DatasetSpec)
    assert spec.name == name
    assert spec.access is ACCESS[name]
    assert spec.pretty_name and spec.version and spec.terms and spec.expected_files
    assert spec.homepage.startswith("https://")
    assert spec.citation.lstrip().startswith("@") and spec.citation.rstrip().endswith("}")


@pytest.mark.parametrize("name", NAMES)
def test_split_names_are_valid_hf_split_names(name):
    splits = builders.load(name).SPEC.splits
    assert len(set(splits)) == len(splits)
    for split in splits:
        assert HF_SPLIT.match(split), split
        assert "-" not in split


@pytest.mark.parametrize("name", NAMES)
def test_license_other_comes_with_a_name_and_a_link(name):
    spec = builders.load(name).SPEC
    if spec.license == "other":
        assert spec.license_name, f"{name}: license 'other' without license_name"
        assert spec.license_link and spec.license_link.startswith("https://")
    else:
        assert spec.license_name is None and spec.license_link is None


@pytest.mark.parametrize("name", NAMES)
def test_a_module_implements_the_whole_contract_or_only_spec(name):
    """A half-written builder (e.g. a typo in one function name) must not pass as "planned"."""
    module = builders.load(name)
    present = [attr for attr in CONTRACT if hasattr(module, attr)]
    assert present in ([], list(CONTRACT))
    assert builders.is_convertible(module) == (present == list(CONTRACT))


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(UnknownDatasetError, match=r"unknown dataset 'nih'") as info:
        builders.load("nih")
    assert isinstance(info.value, KeyError) and isinstance(info.value, CxrhubError)
    message = str(info.value)
    assert not message.startswith(("'", '"'))  # not KeyError's quoted repr
    for name in NAMES:
        assert name in message


def test_nih_cxr14_is_convertible():
    assert "nih-cxr14" in CONVERTIBLE


@pytest.mark.parametrize("name", CONVERTIBLE)
def test_convertible_builder_contract(name, tmp_path):
    module = builders.load(name)
    features = module.FEATURES
    assert isinstance(features, Features)
    assert "key" not in features
    assert list(output_features(features))[0] == "key"
    for attr in ("check", "iter_records", "write_sample"):
        assert callable(getattr(module, attr))

    root = module.write_sample(tmp_path / "src")
    found = module.check(root)
    assert isinstance(found, dict)
    json.dumps(found)  # recorded in index.json

    items = list(module.iter_records(root))
    bad = [i for i in items if isinstance(i, BadInputError)]
    assert not bad, bad
    assert items and all(isinstance(r, Record) for r in items)
    keys = [r.key for r in items]
    assert len(set(keys)) == len(keys)
    for record in items:
        assert KEY.match(record.key), record.key
        assert record.split in module.SPEC.splits
        assert set(record.media).isdisjoint(record.fields)
        assert set(record.media) | set(record.fields) == set(features)
        for rel in (record.source, *media_paths(record)):
            assert (root / rel).is_file(), rel
    # the synthetic tree has samples (MIMIC-CXR alone has no split table: all in train), and each
    # one encodes with the features
    assert items and {r.split for r in items} <= set(module.SPEC.splits)
    out_features = output_features(features)
    for record in items:
        assert build_example(record, root, out_features)["key"] == record.key


def _list_output(capsys, *args: str) -> str:
    assert main(["list", *args]) == 0
    return capsys.readouterr().out


def test_list_prints_every_name_access_and_expected_file(capsys, monkeypatch):
    out = _list_output(capsys)
    lines = out.splitlines()
    for name in NAMES:
        spec = builders.load(name).SPEC
        heads = [line for line in lines if line.startswith(f"{name}  [")]
        assert len(heads) == 1, name
        assert f"[{spec.access.value}," in heads[0]
        assert spec.pretty_name in heads[0]
        for expected in spec.expected_files:
            assert expected in out, (name, expected)
        assert spec.homepage in out
    assert "nih-cxr14  [public, convertible]" in out
    assert "chexpert-plus  [credentialed, convertible]" in out
    monkeypatch.setitem(builders.BUILDERS, "spec-only", "fixtures.spec_only_builder")
    assert "spec-only  [credentialed, planned]" in _list_output(capsys)


def test_list_without_citations_prints_only_the_first_bibtex_line(capsys):
    out = _list_output(capsys)
    for name in NAMES:
        citation = builders.load(name).SPEC.citation
        assert citation.splitlines()[0] in out
        assert textwrap.indent(citation, "  ") not in out
    assert "--citations for BibTeX" in out


def test_list_citations_prints_the_full_bibtex(capsys):
    out = _list_output(capsys, "--citations")
    for name in NAMES:
        citation = builders.load(name).SPEC.citation
        assert textwrap.indent(citation, "  ") in out, name


@pytest.mark.parametrize("name", CONVERTIBLE)
def test_index_reports_patients_in_several_splits_and_samples_have_none(name, tmp_path):
    """Official splits are kept as released; the index reports any patient leak between them."""
    from cxrhub.shards.convert import convert

    module = builders.load(name)
    field = module.SPEC.patient_field
    out = tmp_path / "out"
    convert(name, module.write_sample(tmp_path / "src"), out)
    patients = json.loads((out / "index.json").read_text())["patients"]
    if field is None:  # a release with no patient id (VinDr-CXR) reports nothing
        assert patients is None
        return
    assert field in module.FEATURES
    assert patients["field"] == field
    assert patients["total"] > 0 and patients["in_several_splits"] == 0


def test_a_patient_in_two_splits_is_counted(tmp_path):
    from cxrhub.builders import nih_cxr14
    from cxrhub.shards.convert import convert

    src = nih_cxr14.write_sample(tmp_path / "src")
    train = (src / "train_val_list.txt").read_text().split()
    test = (src / "test_list.txt").read_text().split()
    moved = next(n for n in train if n.startswith("00000001"))  # patient 1 also in test now
    (src / "train_val_list.txt").write_text("\n".join(n for n in train if n != moved) + "\n")
    (src / "test_list.txt").write_text("\n".join([*test, moved]) + "\n")
    out = tmp_path / "out"
    convert("nih-cxr14", src, out)
    patients = json.loads((out / "index.json").read_text())["patients"]
    assert patients == {"field": "patient_id", "total": 5, "in_several_splits": 1}
