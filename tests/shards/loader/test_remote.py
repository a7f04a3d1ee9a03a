"""Remote sources against a real HTTP server on 127.0.0.1: auth, integrity, retries, the cache."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import pickle
import time
from pathlib import Path

import pytest
from http_server import TOKEN, ShardServer

from cxrhub.shards.errors import CxrhubError
from cxrhub.shards.loader.cache import ShardCache
from cxrhub.shards.loader.hub import HubLocationError, HubSource, parse_hub_location
from cxrhub.shards.loader.remote import (
    HttpSource,
    RemoteAuthError,
    RemoteFetchError,
    RemoteNotFoundError,
)
from cxrhub.shards.loader.source import ShardIntegrityError, open_source

FAST = {"backoff": 0.01, "max_backoff": 0.02, "timeout": 10}


@pytest.fixture
def shard_server(nih_out):
    """``nih_out`` served at ``/out/`` and as the Hub dataset ``org/repo`` (revision ``main``,
    and revision ``v1.0`` with subfolder ``sub``); all but ``/public/`` need ``Bearer TOKEN``.
    (Defined here, not in a conftest.py: a second ``conftest`` module would shadow the root one
    that other tests import helpers from.)"""
    routes = {
        "/out": nih_out,
        "/public": nih_out,
        "/datasets/org/repo/resolve/main": nih_out,
        "/datasets/org/repo/resolve/v1.0/sub": nih_out,
    }
    with ShardServer(routes, token=TOKEN) as server:
        server.public = ("/public/",)
        yield server


def entries(index: dict) -> list[dict]:
    """Every shard entry of an index (all splits, both formats)."""
    return [
        e
        for split in index["splits"].values()
        for fmt in ("parquet", "webdataset")
        for e in split[fmt]
    ]


def source(server, tmp_path: Path, prefix: str = "/out", **options) -> HttpSource:
    options = {"token": TOKEN, "cache_dir": tmp_path / "cache", **FAST, **options}
    return HttpSource(f"{server.url}{prefix}", **options)


def cached_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".locks" not in p.parts]


def test_no_token_is_an_auth_error_naming_how_to_pass_one(shard_server, tmp_path):
    src = source(shard_server, tmp_path, token=None)
    with pytest.raises(RemoteAuthError) as info:
        src.index()
    assert isinstance(info.value, PermissionError) and isinstance(info.value, CxrhubError)
    message = str(info.value)
    assert f"{shard_server.url}/out/index.json" in message and "401" in message
    assert "token=" in message and "no token was given" in message
    assert shard_server.count("/out/index.json") == 1  # not retried


def test_wrong_token_is_refused_and_never_shown(shard_server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    src = source(shard_server, tmp_path, token="wrong-secret-value")
    with pytest.raises(RemoteAuthError) as info:
        src.fetch(
            entries(json.loads((Path(shard_server.routes["/out/"]) / "index.json").read_text()))[0]
        )
    assert "refused" in str(info.value)
    assert "wrong-secret-value" not in str(info.value) + repr(src) + caplog.text


def test_index_and_every_shard_match_the_local_bytes(shard_server, nih_out, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    src = open_source(f"{shard_server.url}/out", token=TOKEN, cache_dir=tmp_path / "cache")
    assert isinstance(src, HttpSource)
    index = src.index()
    assert index == json.loads((nih_out / "index.json").read_text())
    for entry in entries(index):
        path = src.fetch(entry)
        assert path.read_bytes() == (nih_out / entry["file"]).read_bytes()
        assert path.suffix == Path(entry["file"]).suffix
        assert ShardCache(tmp_path / "cache").path(entry) == path
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in shard_server.requests)
    assert TOKEN not in caplog.text + repr(src)
    assert "<hidden>" in repr(src)


def test_a_cached_shard_is_not_downloaded_again_even_from_another_location(shard_server, tmp_path):
    entry = entries(source(shard_server, tmp_path).index())[0]
    first = source(shard_server, tmp_path).fetch(entry)
    again = source(shard_server, tmp_path, prefix="/public", token=None).fetch(entry)
    assert again == first
    assert shard_server.count(f"/out/{entry['file']}") == 1
    assert shard_server.count(f"/public/{entry['file']}") == 0


def test_missing_file_is_a_not_found_error_naming_the_url(shard_server, tmp_path):
    src = source(shard_server, tmp_path)
    entry = {"file": "data/nope.parquet", "bytes": 3, "sha256": "0" * 64, "samples": 1}
    with pytest.raises(RemoteNotFoundError, match=f"{shard_server.url}/out/data/nope.parquet"):
        src.fetch(entry)
    assert shard_server.count("/out/data/nope.parquet") == 1
    assert isinstance(RemoteNotFoundError("x"), FileNotFoundError)


def test_altered_shard_is_refetched_once_then_an_integrity_error(shard_server, nih_out, tmp_path):
    src = source(shard_server, tmp_path)
    entry = entries(src.index())[1]
    good = (nih_out / entry["file"]).read_bytes()
    path = f"/out/{entry['file']}"
    shard_server.overrides[path] = good[:100] + bytes([good[100] ^ 0xFF]) + good[101:]
    with pytest.raises(ShardIntegrityError) as info:
        src.fetch(entry)
    assert f"{shard_server.url}{path}" in str(info.value) and entry["sha256"] in str(info.value)
    assert shard_server.count(path) == 2
    assert cached_files(tmp_path / "cache") == []  # nothing kept, not even a temp file


def test_a_transfer_corrupted_once_is_healed_by_the_refetch(shard_server, nih_out, tmp_path):
    src = source(shard_server, tmp_path)
    entry = entries(src.index())[0]
    path = f"/out/{entry['file']}"
    shard_server.faults[path] = ["corrupt"]
    assert src.fetch(entry).read_bytes() == (nih_out / entry["file"]).read_bytes()
    assert shard_server.count(path) == 2


def test_server_with_a_different_size_is_an_integrity_error(shard_server, nih_out, tmp_path):
    src = source(shard_server, tmp_path)
    entry = entries(src.index())[0]
    shard_server.overrides[f"/out/{entry['file']}"] = b"short"
    with pytest.raises(ShardIntegrityError, match="server has 5 bytes"):
        src.fetch(entry)


def test_connection_dropped_mid_body_is_resumed_with_range(shard_server, nih_out, tmp_path):
    src = source(shard_server, tmp_path)
    entry = entries(src.index())[0]
    path = f"/out/{entry['file']}"
    shard_server.faults[path] = ["drop"]
    assert src.fetch(entry).read_bytes() == (nih_out / entry["file"]).read_bytes()
    ranges = [r for p, r, _ in shard_server.requests if p == path]
    assert ranges == [None, f"bytes={entry['bytes'] // 2}-"]


def test_server_ignoring_range_makes_the_download_start_over(shard_server, nih_out, tmp_path):
    shard_server.ranges = False
    src = source(shard_server, tmp_path)
    entry = entries(src.index())[2]
    path = f"/out/{entry['file']}"
    shard_server.faults[path] = ["drop", "drop"]
    assert src.fetch(entry).read_bytes() == (nih_out / entry["file"]).read_bytes()
    assert shard_server.count(path) == 3


@pytest.mark.parametrize("fault", ["503", "reset", "drop"])
def test_index_fetch_survives_one_transient_failure(shard_server, tmp_path, fault):
    shard_server.faults["/out/index.json"] = [fault]
    assert source(shard_server, tmp_path).index()["dataset"] == "nih-cxr14"
    assert shard_server.count("/out/index.json") == 2


def test_503_is_retried_and_exhausted_retries_raise(shard_server, nih_out, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    src = source(shard_server, tmp_path, retries=2)
    shard_server.faults["/out/index.json"] = ["503"]
    assert src.index()["dataset"] == "nih-cxr14"
    shard_server.faults["/out/index.json"] = ["503"] * 3
    with pytest.raises(RemoteFetchError, match="failed after 3 attempts; last: HTTP 503"):
        src.index()
    assert isinstance(RemoteFetchError("x"), ConnectionError)
    assert "retry 1/2" in caplog.text and TOKEN not in caplog.text


def test_429_waits_as_long_as_retry_after_says(shard_server, tmp_path):
    src = source(shard_server, tmp_path, max_backoff=5)
    shard_server.faults["/out/index.json"] = ["429"]
    start = time.monotonic()
    assert src.index()["dataset"] == "nih-cxr14"
    assert time.monotonic() - start >= 1


def test_refused_connection_is_retried_then_raised(tmp_path):
    with pytest.raises(RemoteFetchError, match="failed after 2 attempts"):
        HttpSource("http://127.0.0.1:9", cache_dir=tmp_path, retries=1, **FAST).index()


def test_eviction_keeps_the_cache_under_its_byte_limit(shard_server, tmp_path):
    src = source(shard_server, tmp_path)
    shards = entries(src.index())
    limit = sorted(e["bytes"] for e in shards)[-1] + sorted(e["bytes"] for e in shards)[-2]
    src = source(shard_server, tmp_path, cache_bytes=limit)
    for entry in shards:
        src.fetch(entry)
        src.release(entry)
        assert src.cache.total_bytes() <= limit
    assert 1 <= len(cached_files(tmp_path / "cache")) < len(shards)
    assert src.cache.path(shards[-1]).is_file()  # the newest one stays


def test_eviction_spares_files_in_use(shard_server, tmp_path):
    src = source(shard_server, tmp_path, cache_bytes=1)
    first, *rest = entries(src.index())
    kept = src.fetch(first)  # pinned: not released
    for entry in rest:
        src.release(entry) if src.fetch(entry) else None
    assert kept.is_file()
    assert {p.name for p in cached_files(tmp_path / "cache")} == {
        kept.name,
        src.cache.path(rest[-1]).name,
    }
    src.release(first)
    src.cache.reserve(0)
    assert not kept.is_file()


def test_a_file_pinned_by_another_process_is_not_evicted(shard_server, tmp_path):
    entry = entries(source(shard_server, tmp_path).index())[0]
    kept = source(shard_server, tmp_path).fetch(entry)  # pinned by that source's cache
    other = ShardCache(tmp_path / "cache", max_bytes=0)  # its own pins: like another worker
    other.reserve(0)
    assert kept.is_file()
    pinned = ShardCache(tmp_path / "cache")
    assert pinned.lookup(entry) == kept
    pinned.release(entry)


def test_stale_temp_files_are_removed_but_live_downloads_kept(tmp_path):
    cache = ShardCache(tmp_path)
    entry = {"file": "a.tar", "bytes": 1, "sha256": "ab" * 32, "samples": 1}
    stale = tmp_path / ".tmp" / f"{'ab' * 32}.dead.part"
    stale.write_bytes(b"x")
    os.utime(stale, (1, 1))
    with cache.temp(entry) as part:
        part.write(b"y")
        os.utime(part.path, (1, 1))
        cache.reserve(0)
        assert part.path.is_file() and not stale.exists()
    assert not part.path.exists()


def test_a_truncated_or_altered_cache_file_is_replaced(shard_server, nih_out, tmp_path):
    entry = entries(source(shard_server, tmp_path).index())[0]
    good = (nih_out / entry["file"]).read_bytes()
    path = source(shard_server, tmp_path).fetch(entry)
    path.write_bytes(good[:10])
    assert source(shard_server, tmp_path).fetch(entry).read_bytes() == good
    path.write_bytes(bytes([good[0] ^ 1]) + good[1:])  # same size: trusted unless verify
    assert source(shard_server, tmp_path).fetch(entry).read_bytes() != good
    assert source(shard_server, tmp_path, verify=True).fetch(entry).read_bytes() == good
    assert shard_server.count(f"/out/{entry['file']}") == 3


def test_prefetch_and_pickled_sources_share_the_cache(shard_server, nih_out, tmp_path):
    src = source(shard_server, tmp_path, prefetch_workers=2)
    shards = entries(src.index())
    paths = [future.result(timeout=20) for future in src.prefetch(shards)]
    assert [p.read_bytes() for p in paths] == [(nih_out / e["file"]).read_bytes() for e in shards]
    clone = pickle.loads(pickle.dumps(src))
    assert clone.fetch(shards[0]) == paths[0]
    assert all(shard_server.count(f"/out/{e['file']}") == 1 for e in shards)
    src.close()


def _fetch_in_a_process(url: str, cache: Path, entry: dict, out: Path) -> None:
    out.write_text(str(HttpSource(url, token=TOKEN, cache_dir=cache, **FAST).fetch(entry)))


def test_two_processes_fetching_one_shard_end_with_one_correct_file(
    shard_server, nih_out, tmp_path
):
    entry = max(entries(source(shard_server, tmp_path).index()), key=lambda e: e["bytes"])
    shard_server.delay = 0.01  # a slow body, so the second process arrives mid-download
    cache = tmp_path / "cache"
    context = multiprocessing.get_context("fork")  # like DataLoader workers on Linux
    procs = [
        context.Process(
            target=_fetch_in_a_process,
            args=(shard_server.url + "/out", cache, entry, tmp_path / f"out{i}"),
        )
        for i in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    outs = {(tmp_path / f"out{i}").read_text() for i in range(2)}
    assert len(outs) == 1
    (out,) = outs
    assert [p.name for p in cached_files(cache)] == [Path(out).name]
    assert Path(out).read_bytes() == (nih_out / entry["file"]).read_bytes()
    assert shard_server.count(f"/out/{entry['file']}") == 1  # the second waited for the first


def test_hub_source_uses_hf_token_and_resolve_urls(
    shard_server, nih_out, tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    src = open_source(
        "hf://datasets/org/repo", endpoint=shard_server.url, cache_dir=tmp_path / "c", **FAST
    )
    assert isinstance(src, HubSource)
    index = src.index()
    entry = entries(index)[0]
    assert src.fetch(entry).read_bytes() == (nih_out / entry["file"]).read_bytes()
    assert shard_server.count(f"/datasets/org/repo/resolve/main/{entry['file']}") == 1
    sub = HubSource(
        "hf://datasets/org/repo@v1.0/sub", endpoint=shard_server.url, cache_dir=tmp_path
    )
    assert sub.index() == index
    assert TOKEN not in caplog.text + repr(src) + repr(sub)


def test_hub_source_without_a_token_says_how_to_log_in(shard_server, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    src = HubSource("hf://datasets/org/repo", endpoint=shard_server.url, cache_dir=tmp_path)
    with pytest.raises(RemoteAuthError, match="HF_TOKEN"):
        src.index()
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert (
        HubSource("hf://datasets/org/repo", token=False, endpoint=shard_server.url)._token is None
    )


def test_token_is_not_sent_across_a_redirect_to_another_origin(shard_server, nih_out, tmp_path):
    other = shard_server.url.replace("127.0.0.1", "localhost")
    shard_server.redirects["/out/index.json"] = f"{other}/public/index.json"
    shard_server.redirects["/out/manifest.jsonl"] = f"{shard_server.url}/out/index.json"
    src = source(shard_server, tmp_path)
    assert src.index()["dataset"] == "nih-cxr14"
    auths = {path: auth for path, _, auth in shard_server.requests}
    assert auths["/out/index.json"] == f"Bearer {TOKEN}" and auths["/public/index.json"] is None
    src._base += "/"  # same origin: the token follows
    assert (
        src._read_small(f"{shard_server.url}/out/manifest.jsonl")
        == (nih_out / "index.json").read_bytes()
    )


@pytest.mark.parametrize(
    ("location", "parsed"),
    [
        ("hf://datasets/org/repo", ("org/repo", "main", "")),
        ("hf://datasets/org/repo@v1.0", ("org/repo", "v1.0", "")),
        ("hf://datasets/org/repo@refs%2Fpr%2F1/a/b/", ("org/repo", "refs/pr/1", "a/b")),
        ("hf://datasets/org/repo/sub", ("org/repo", "main", "sub")),
    ],
)
def test_parse_hub_location(location, parsed):
    assert parse_hub_location(location) == parsed


@pytest.mark.parametrize(
    "bad", ["hf://models/org/repo", "hf://datasets/org", "hf://datasets/o/@v", "hf://datasets//r"]
)
def test_parse_hub_location_rejects(bad):
    with pytest.raises(HubLocationError, match="expected hf://datasets/ORG/REPO"):
        parse_hub_location(bad)
