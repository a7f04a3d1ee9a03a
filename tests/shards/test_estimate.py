"""``cxrhub plan``: the plan a conversion will follow, and a probe's projection of its cost."""

from __future__ import annotations

import json
import tempfile

import pytest

from cxrhub.builders import mimic_cxr, nih_cxr14
from cxrhub.shards.cli import main
from cxrhub.shards.convert import ConvertOptions, convert
from cxrhub.shards.estimate import estimate


def _written(out) -> dict:
    index = json.loads((out / "index.json").read_text())
    return {
        "samples": {s: v["samples"] for s, v in index["splits"].items()},
        "shards": {s: len(v["parquet"]) for s, v in index["splits"].items()},
        "bytes": {
            fmt: sum(f["bytes"] for v in index["splits"].values() for f in v[fmt])
            for fmt in ("parquet", "webdataset")
        },
    }


@pytest.fixture(scope="module")
def nih_big(tmp_path_factory):
    return nih_cxr14.write_sample(tmp_path_factory.mktemp("nih-plan") / "src", extra=40)


def test_plan_counts_are_the_conversions_and_sizes_are_close(nih_big, tmp_path, monkeypatch):
    options = ConvertOptions(max_shard_samples=7)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    est = estimate("nih-cxr14", nih_big, options, probe=12, workers=2)
    convert("nih-cxr14", nih_big, tmp_path / "out", options)
    done = _written(tmp_path / "out")
    assert {s: n for s, n in est.samples.items() if n} == done["samples"]
    assert {s: n for s, n in est.shards.items() if n} == done["shards"]
    assert est.probed == 12 and est.probe_failed == 0 and est.seconds_per_sample > 0
    for fmt, actual in done["bytes"].items():
        assert est.output_bytes[fmt] == pytest.approx(actual, rel=0.25), fmt
    assert est.wall_hours == pytest.approx(est.core_hours / 2)
    assert not list((tmp_path / "tmp").iterdir())  # the probe's shards are gone


def test_plan_probes_dicom_decoding_and_counts_failures(tmp_path):
    src = mimic_cxr.write_sample(tmp_path / "src")
    victim = sorted(src.glob("files/**/*.dcm"))[0]
    victim.write_bytes(victim.read_bytes()[:300])  # truncated: the probe must not stop on it
    est = estimate("mimic-cxr", src, probe=100)
    assert est.probed == sum(est.samples.values()) and est.probe_failed == 1
    assert est.output_bytes["parquet"] > 0 and est.output_bytes["webdataset"] > 0


def test_cli_plan_prints_text_and_json_and_writes_nothing(nih_big, capsys):
    before = sorted(p.relative_to(nih_big) for p in nih_big.rglob("*"))
    assert main(["plan", "nih-cxr14", str(nih_big), "--shard-samples", "10"]) == 0
    text = capsys.readouterr().out
    assert "samples: 48 (train 36, test 12)" in text and "shards:  train 4, test 2" in text
    assert main(["plan", "nih-cxr14", str(nih_big), "--json", "--probe", "3"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["probed"] == 3 and plan["samples"] == {"train": 36, "test": 12}
    assert main(["plan", "nih-cxr14", str(nih_big), "--json", "--shard-multiple", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["shards"] == {"train": 5, "test": 5}
    assert sorted(p.relative_to(nih_big) for p in nih_big.rglob("*")) == before
    assert main(["plan", "nih-cxr14", str(nih_big / "nowhere")]) == 2


def test_plan_stats_each_source_file_once(nih_big, monkeypatch):
    """A stat is a network round trip on the shared filesystems big downloads live on."""
    import pathlib
    from collections import Counter

    stats: Counter = Counter()
    real_stat = pathlib.Path.stat

    def counting_stat(self, *args, **kwargs):
        if self.suffix == ".png":
            stats[self] += 1
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "stat", counting_stat)
    est = estimate("nih-cxr14", nih_big, ConvertOptions(max_shard_samples=7), probe=0)
    images = list(nih_big.rglob("*.png"))
    assert est.source_bytes == sum(real_stat(p).st_size for p in images)
    assert len(stats) == len(images) and max(stats.values()) == 1, stats.most_common(1)


def test_plan_without_a_probe_prints_the_plan_alone(nih_big, capsys):
    assert main(["plan", "nih-cxr14", str(nih_big), "--probe", "0"]) == 0
    text = capsys.readouterr().out
    assert "samples:" in text and "shards:" in text and "no output size or time" in text
    assert "output:" not in text
    with pytest.raises(ValueError, match="probe must be >= 0"):
        estimate("nih-cxr14", nih_big, probe=-1)
