"""``push`` against a test double of the Hub at the HfApi level (no network).

``FakeHub`` holds repos with a ``private`` flag, gating, branches and files (LFS-like entries for
shards and plots, git blobs for the rest, as ``list_repo_tree`` reports them), records every call
and every byte it receives, and raises scripted failures: real ``HfHubHTTPError`` objects over a
real ``httpx2.Response`` carrying the status and ``Retry-After``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import shutil
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import DatasetInfo, RepoFile

from cxrhub.shards import hub_plan, publish, publish_cli
from cxrhub.shards.errors import (
    CxrhubError,
    HubAuthError,
    HubError,
    HubLimitError,
    PushRefused,
    RepoVisibilityError,
)
from cxrhub.shards.hub_plan import (
    MAX_FILE_BYTES_HARD,
    MAX_FILE_BYTES_RECOMMENDED,
    MAX_FILES_PER_FOLDER,
    MAX_FILES_PER_REPO,
    check_limits,
)
from cxrhub.shards.hub_retry import BACKOFF_BASE_S, BACKOFF_MAX_S, MAX_TRIES
from cxrhub.shards.publish import push

REPO = "lab/nih-private"
TOKEN = "hf_SeCrEtT0kenNeverToBeSeen"
_LFS = (".parquet", ".tar", ".png")


def http_error(status: int, *, retry_after: str | None = None, text: str = "") -> HfHubHTTPError:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    request = httpx2.Request("POST", f"https://huggingface.co/api/datasets/{REPO}/commit/main")
    response = httpx2.Response(status, headers=headers, request=request)
    return HfHubHTTPError(f"{status} Client Error: {text or 'error'}", response=response)


class FakeRepo:
    def __init__(self, private: bool):
        self.private = private
        self.gated: str | bool = False
        self.branches: dict[str, dict[str, bytes]] = {"main": {".gitattributes": b"*.x lfs\n"}}


class FakeHub:
    """An ``HfApi`` double: ``failures[method]`` is a queue of exceptions (``None`` = succeed)."""

    def __init__(self, *, org_default_private: bool = False):
        self.org_default_private = org_default_private
        self.repos: dict[str, FakeRepo] = {}
        self.calls: list[tuple[str, tuple, dict]] = []
        self.failures: dict[str, list[BaseException | None]] = {}
        self.commits: list[list[str]] = []
        self.bytes_received = 0
        self.after_commit = None

    def _enter(self, method: str, *args, **kwargs) -> None:
        self.calls.append((method, args, kwargs))
        queue = self.failures.get(method)
        if queue:
            failure = queue.pop(0)
            if failure is not None:
                raise failure

    def count(self, method: str) -> int:
        return sum(1 for name, _, _ in self.calls if name == method)

    def create_repo(self, repo_id, *, repo_type=None, private=None, exist_ok=False, **kw):
        self._enter("create_repo", repo_id, repo_type=repo_type, private=private, **kw)
        assert repo_type == "dataset"
        if repo_id not in self.repos:  # the real default: public unless the org says private
            self.repos[repo_id] = FakeRepo(self.org_default_private if private is None else private)
        elif not exist_ok:
            raise http_error(409)
        return f"https://huggingface.co/datasets/{repo_id}"

    def repo_info(self, repo_id, *, repo_type=None, **kw):
        self._enter("repo_info", repo_id, repo_type=repo_type)
        repo = self.repos[repo_id]
        return DatasetInfo(id=repo_id, private=repo.private, gated=repo.gated)

    def update_repo_settings(self, repo_id, *, gated=None, private=None, repo_type=None, **kw):
        self._enter("update_repo_settings", repo_id, gated=gated, private=private)
        if gated is not None:
            self.repos[repo_id].gated = gated

    def create_branch(self, repo_id, *, branch, repo_type=None, exist_ok=False, **kw):
        self._enter("create_branch", repo_id, branch=branch)
        branches = self.repos[repo_id].branches
        branches.setdefault(branch, dict(branches["main"]))

    def list_repo_tree(self, repo_id, *, recursive=False, revision=None, repo_type=None, **kw):
        self._enter("list_repo_tree", repo_id, revision=revision)
        files = self.repos[repo_id].branches[revision or "main"]
        return iter([_repo_file(path, data) for path, data in sorted(files.items())])

    def create_commit(self, repo_id, operations, *, commit_message, repo_type=None, revision=None):
        self._enter("create_commit", repo_id, revision=revision)
        files = self.repos[repo_id].branches[revision or "main"]
        paths = []
        for op in operations:
            if isinstance(op, CommitOperationAdd):
                data = Path(op.path_or_fileobj).read_bytes()
                assert hashlib.sha256(data).hexdigest() == op.upload_info.sha256.hex()
                self.bytes_received += len(data)
                files[op.path_in_repo] = data
                paths.append(op.path_in_repo)
            else:
                assert isinstance(op, CommitOperationDelete)
                del files[op.path_in_repo]
        self.commits.append(paths)
        if self.after_commit:
            self.after_commit(self)
        return "commit"

    def tree(self, repo_id: str = REPO, revision: str = "main") -> dict[str, str]:
        files = self.repos[repo_id].branches[revision]
        return {p: hashlib.sha256(d).hexdigest() for p, d in files.items() if p != ".gitattributes"}


def _repo_file(path: str, data: bytes) -> RepoFile:
    sha1 = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    entry = {"path": path, "size": len(data), "oid": sha1}
    if path.endswith(_LFS):
        entry["lfs"] = {
            "size": len(data),
            "oid": hashlib.sha256(data).hexdigest(),
            "pointerSize": 1,
        }
    return RepoFile(**entry)


def local_tree(out: Path) -> dict[str, str]:
    files = hub_plan.collect_files(out, json.loads((out / "index.json").read_text()))
    return {f.path: hashlib.sha256((out / f.path).read_bytes()).hexdigest() for f in files}


@pytest.fixture
def out(nih_out, tmp_path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(nih_out, copy)
    return copy


@pytest.fixture
def credentialed(out) -> Path:
    """The sample relabelled as MIMIC-CXR: the access policy reads the dataset from index.json."""
    index = json.loads((out / "index.json").read_text())
    index["dataset"] = "mimic-cxr"
    (out / "index.json").write_text(json.dumps(index))
    return out


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def run(out: Path, hub: FakeHub, sleeps: list[float], **kwargs):
    kwargs.setdefault("max_batch_files", 4)
    return push(out, REPO, api=hub, token=TOKEN, sleep=sleeps.append, **kwargs)


def test_new_repo_is_created_private_and_receives_everything(out, hub, sleeps):
    result = run(out, hub, sleeps)
    (_, _, kwargs), *_ = hub.calls
    assert kwargs["private"] is True  # explicit, not the public default
    assert hub.repos[REPO].private is True
    assert hub.tree() == local_tree(out)
    assert len(hub.commits) == result.commits == -(-result.files // 4) > 1
    assert hub.count("repo_info") == result.commits + 2  # after create, before each, at the end
    assert hub.commits[-1][-1] == "index.json"  # the index lands last
    assert not any(p.startswith(".cxrhub") for p in hub.tree())
    assert result.private and result.sent_bytes == hub.bytes_received and not sleeps


def test_every_commit_is_preceded_by_a_privacy_check(out, hub, sleeps):
    run(out, hub, sleeps)
    names = [name for name, _, _ in hub.calls]
    for i, name in enumerate(names):
        if name == "create_commit":
            assert names[i - 1] == "repo_info"


def test_public_org_default_still_gives_private(out, sleeps):
    hub = FakeHub(org_default_private=False)
    run(out, hub, sleeps)
    assert hub.repos[REPO].private is True


def test_existing_public_repo_gets_zero_bytes(out, hub, sleeps):
    hub.repos[REPO] = FakeRepo(private=False)
    with pytest.raises(RepoVisibilityError, match="not private"):
        run(out, hub, sleeps)
    assert hub.bytes_received == 0 and hub.count("create_commit") == 0
    assert hub.count("list_repo_tree") == 0


def test_flip_to_public_aborts_at_the_next_batch(out, hub, sleeps):
    def flip(fake: FakeHub) -> None:
        fake.repos[REPO].private = False

    hub.after_commit = flip
    with pytest.raises(RepoVisibilityError):
        run(out, hub, sleeps)
    assert hub.count("create_commit") == 1
    first = hub.commits[0]
    assert hub.bytes_received == sum((out / p).stat().st_size for p in first)


def test_killed_push_resumes_without_resending(out, hub, sleeps):
    hub.failures["create_commit"] = [None, None, KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        run(out, hub, sleeps)
    committed = {p for commit in hub.commits for p in commit}
    assert len(hub.commits) == 2 and committed
    before = hub.bytes_received
    result = run(out, hub, sleeps)
    assert not committed & set(result.sent)
    assert result.skipped == len(committed)
    assert hub.tree() == local_tree(out)
    total = sum((out / p).stat().st_size for p in local_tree(out))
    assert before + result.sent_bytes == hub.bytes_received == total  # no byte sent twice
    again = run(out, hub, sleeps)  # a third run has nothing to do
    assert again.sent == [] and again.commits == 0 and again.skipped == again.files


def test_changed_file_is_resent(out, hub, sleeps):
    run(out, hub, sleeps)
    (out / "README.md").write_text((out / "README.md").read_text() + "\nMore prose.\n")
    result = run(out, hub, sleeps)
    assert result.sent == ["README.md"]


def test_429_is_retried_honouring_retry_after(out, hub, sleeps):
    hub.failures["create_commit"] = [http_error(429, retry_after="7"), http_error(503)]
    result = run(out, hub, sleeps)
    assert hub.tree() == local_tree(out)
    assert len(sleeps) == 2
    assert 7 <= sleeps[0] < 8  # Retry-After honoured (plus jitter below a second)
    assert 0 < sleeps[1] <= 120  # 503 without a header: exponential backoff
    assert result.commits == len(hub.commits)


def test_transient_errors_are_bounded(out, hub, sleeps):
    hub.failures["create_repo"] = [http_error(503) for _ in range(20)]
    with pytest.raises(HubError, match="failed 6 times") as info:
        run(out, hub, sleeps)
    assert hub.count("create_repo") == MAX_TRIES and len(sleeps) == MAX_TRIES - 1
    assert info.value.committed == 0
    for attempt, slept in enumerate(sleeps, 1):  # full jitter under a doubling, capped ceiling
        assert BACKOFF_BASE_S <= slept <= min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("method", ["create_repo", "create_commit"])
def test_auth_errors_stop_at_once(out, hub, sleeps, status, method, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    echo = f"Invalid credentials in Authorization header: Bearer {TOKEN}"
    hub.failures[method] = [http_error(status, text=echo) for _ in range(10)]
    with pytest.raises(HubAuthError) as info:
        run(out, hub, sleeps)
    assert hub.count(method) == 1 and not sleeps
    message = str(info.value)
    assert REPO in message and "write access" in message and "member" in message
    assert "hf_***" in message  # the server's echo of the token was redacted
    assert hub.bytes_received == 0
    captured = capsys.readouterr()
    for text in (message, caplog.text, captured.out, captured.err):
        assert TOKEN not in text


def test_token_never_logged_in_a_full_push(out, hub, sleeps, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    hub.failures["create_commit"] = [http_error(429, retry_after="1", text=f"slow down {TOKEN}")]
    run(out, hub, sleeps)
    captured = capsys.readouterr()
    assert "retry 1/5" in caplog.text and "slow down hf_***" in caplog.text
    assert all(TOKEN not in t for t in (caplog.text, captured.out, captured.err))


def test_credentialed_needs_acknowledgement(credentialed, hub, sleeps):
    with pytest.raises(PushRefused, match="--acknowledge mimic-cxr") as info:
        run(credentialed, hub, sleeps)
    assert "physionet.org" in str(info.value)
    assert hub.calls == []


def test_credentialed_wrong_acknowledgement_refused(credentialed, hub, sleeps):
    with pytest.raises(PushRefused, match="does not name"):
        run(credentialed, hub, sleeps, acknowledge="nih-cxr14")
    assert hub.calls == []


def test_credentialed_with_acknowledgement_goes_private(credentialed, hub, sleeps, caplog):
    caplog.set_level(logging.INFO)
    result = run(credentialed, hub, sleeps, acknowledge="mimic-cxr")
    assert result.private and hub.repos[REPO].private is True
    assert hub.calls[0][2]["private"] is True
    assert "Key terms" in caplog.text and "physionet-credentialed-health-data" in caplog.text
    assert "must not be redistributed" in caplog.text


def test_credentialed_public_refused_even_acknowledged(credentialed, hub, sleeps):
    with pytest.raises(PushRefused, match="may not be published"):
        run(credentialed, hub, sleeps, public=True, acknowledge="mimic-cxr")
    assert hub.calls == []


def test_credentialed_into_existing_public_repo_refused(credentialed, hub, sleeps):
    hub.repos[REPO] = FakeRepo(private=False)
    with pytest.raises(RepoVisibilityError):
        run(credentialed, hub, sleeps, acknowledge="mimic-cxr")
    assert hub.bytes_received == 0


def test_public_dataset_may_go_public_when_asked(out, hub, sleeps):
    result = run(out, hub, sleeps, public=True)
    assert hub.calls[0][2]["private"] is False
    assert hub.repos[REPO].private is False and not result.private
    assert hub.tree() == local_tree(out)


def test_public_flag_does_not_flip_an_existing_private_repo(out, hub, sleeps):
    hub.repos[REPO] = FakeRepo(private=True)
    run(out, hub, sleeps, public=True)
    assert hub.repos[REPO].private is True
    assert hub.count("update_repo_settings") == 0


def test_manual_gating_is_set_and_confirmed_before_data(out, hub, sleeps):
    run(out, hub, sleeps, gated="manual")
    names = [name for name, _, _ in hub.calls]
    assert names.index("update_repo_settings") < names.index("create_commit")
    assert hub.repos[REPO].gated == "manual"
    (_, _, settings) = hub.calls[names.index("update_repo_settings")]
    assert settings["private"] is None  # gating never touches visibility


def test_gating_removed_mid_push_aborts(out, hub, sleeps):
    def ungate(fake: FakeHub) -> None:
        fake.repos[REPO].gated = False

    hub.after_commit = ungate
    with pytest.raises(RepoVisibilityError, match="not gated"):
        run(out, hub, sleeps, gated="manual")
    assert hub.count("create_commit") == 1


def test_revision_branch(out, hub, sleeps):
    run(out, hub, sleeps, revision="v1")
    assert hub.count("create_branch") == 1
    assert hub.tree(revision="v1") == local_tree(out)
    assert hub.tree(revision="main") == {}


def test_stale_shards_deleted_other_files_kept(out, hub, sleeps):
    hub.repos[REPO] = repo = FakeRepo(private=True)
    repo.branches["main"]["data/train-00009-of-00010.parquet"] = b"old"
    repo.branches["main"]["LICENSE"] = b"terms"
    result = run(out, hub, sleeps)
    assert result.deleted == ["data/train-00009-of-00010.parquet"]
    assert "LICENSE" in hub.tree()
    assert set(hub.tree()) - {"LICENSE"} == set(local_tree(out))


def test_only_published_files_are_sent(out, hub, sleeps):
    (out / "notes-with-phi.txt").write_text("do not upload")
    result = run(out, hub, sleeps)
    assert "notes-with-phi.txt" not in hub.tree()
    assert any("notes-with-phi.txt" in line for line in result.plan)
    assert {p.split("/")[0] for p in hub.tree()} == {
        "data", "webdataset", "plots", "README.md", "index.json", "manifest.jsonl", "errors.jsonl",
    }  # fmt: skip


def test_unverified_folder_refused(out, hub, sleeps):
    shard = next((out / "data").glob("*.parquet"))
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(PushRefused, match="fails verification"):
        run(out, hub, sleeps)
    assert hub.calls == []


def test_dry_run_sends_nothing_and_prints_the_plan(out, hub, sleeps):
    result = run(out, hub, sleeps, dry_run=True)
    assert hub.calls == [] and result.dry_run and result.sent == []
    text = "\n".join(result.plan)
    assert f"{result.files} files" in text and "commit batches" in text
    assert "Hub limits: none broken" in text and f"-> {REPO}@main (private)" in text


def test_dry_run_credentialed_still_refused(credentialed, hub, sleeps):
    with pytest.raises(PushRefused):
        run(credentialed, hub, sleeps, dry_run=True)


def test_hard_limit_refused_before_any_call(out, hub, sleeps, monkeypatch):
    monkeypatch.setattr(hub_plan, "MAX_FILE_BYTES_HARD", 100)
    with pytest.raises(HubLimitError, match="hard Hub limit"):
        run(out, hub, sleeps)
    assert hub.calls == []


def test_limit_checker():
    assert check_limits([("data/a.parquet", 10), ("README.md", 5)]) == []
    crowded = [(f"data/{i:06d}.parquet", 1) for i in range(MAX_FILES_PER_FOLDER + 1)]
    (finding,) = check_limits(crowded)
    assert "data/" in finding.message and "10,001 entries" in finding.message
    assert not finding.hard
    many = [(f"d{i // 5000}/{i}.tar", 1) for i in range(MAX_FILES_PER_REPO + 1)]
    assert [f.message for f in check_limits(many)] == ["100,001 files, above 100,000 per repo"]
    big = check_limits([("a.tar", MAX_FILE_BYTES_RECOMMENDED + 1)])
    assert len(big) == 1 and not big[0].hard and "recommended" in big[0].message
    huge = check_limits([("b.tar", MAX_FILE_BYTES_HARD + 1)])
    assert len(huge) == 1 and huge[0].hard
    folders = [(f"webdataset/s{i}/x.tar", 1) for i in range(MAX_FILES_PER_FOLDER + 1)]
    assert "webdataset/" in check_limits(folders)[0].message  # sub-folders count as entries


def test_batches_are_bounded_and_ordered():
    files = [hub_plan.LocalFile(f"f{i}", size, "0") for i, size in enumerate([5, 5, 5, 20, 1])]
    batches = hub_plan.make_batches(files, max_files=2, max_bytes=12)
    assert [[f.path for f in b] for b in batches] == [["f0", "f1"], ["f2"], ["f3"], ["f4"]]


def test_default_api_gets_the_token(out, hub, sleeps, monkeypatch):
    made = []
    monkeypatch.setattr(publish, "HfApi", lambda token=None: made.append(token) or hub)
    push(out, REPO, token=TOKEN, sleep=sleeps.append)
    assert made == [TOKEN] and hub.tree() == local_tree(out)


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cxrhub")
    publish_cli.add_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CxrhubError:  # what cxrhub.shards.cli.main turns into exit code 2
        return 2


def test_cli_dry_run_and_push(out, hub, monkeypatch, capsys):
    monkeypatch.setattr(publish, "HfApi", lambda token=None: hub)
    assert _cli(["push", str(out), REPO, "--dry-run"]) == 0
    assert "dry run, nothing sent" in capsys.readouterr().out and hub.calls == []
    assert _cli(["push", str(out), REPO, "--gated", "manual"]) == 0
    assert f"https://huggingface.co/datasets/{REPO} (private)" in capsys.readouterr().out


def test_cli_exit_codes(credentialed, hub, monkeypatch):
    quick = functools.partial(push, api=hub, sleep=lambda s: None, max_batch_files=3)
    monkeypatch.setattr(publish_cli, "push", quick)
    argv = ["push", str(credentialed), REPO]
    assert _cli(argv) == 2  # no acknowledgement
    assert _cli([*argv, "--acknowledge", "mimic-cxr", "--public"]) == 2
    hub.failures["create_commit"] = [None] + [http_error(500) for _ in range(MAX_TRIES)]
    assert _cli([*argv, "--acknowledge", "mimic-cxr"]) == 1  # a batch landed, then 500s
    assert _cli([*argv, "--acknowledge", "mimic-cxr"]) == 0  # the rerun finishes
    assert hub.tree() == local_tree(credentialed)
