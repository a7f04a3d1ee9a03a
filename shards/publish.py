"""``push``: publish a verified converted folder to a Hugging Face dataset repo, private by
default and always on purpose.

The order of a push:

1. ``verify(out)``; refuse on any problem.
2. The access policy of the dataset's builder: a credentialed dataset goes only to a private
   repo and only with ``acknowledge=<dataset name>`` (its terms are logged); a public one goes
   public only with ``public=True``. Hard Hub limits are checked. ``dry_run`` stops here with
   the plan and makes no network call at all.
3. ``create_repo(private=<the decision>, exist_ok=True)``, then ``repo_info``: a repo that is not
   private when it must be (created public by an org default, or a pre-existing public repo)
   aborts before a byte is sent. Optional manual gating is set and confirmed.
4. The remote tree is listed; files already there with the same sha256 (LFS/Xet) or git blob id
   are skipped, so a rerun after a crash sends only what is missing.
5. Commit batches (``create_commit``; huggingface_hub uploads the LFS/Xet content itself), each
   preceded by ``repo_info``: a repo flipped to public aborts the push at the next batch. Stale
   shards of an earlier conversion are deleted in the last commit. Visibility is checked once
   more at the end.

Every Hub call goes through :class:`~cxrhub.shards.hub_retry.HubCaller` (429/5xx retried with
backoff honouring ``Retry-After``; 401/403 stop at once). The token is never logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token

from cxrhub import builders
from cxrhub.builders._spec import Access, DatasetSpec
from cxrhub.shards import hub_plan
from cxrhub.shards.errors import HubError, HubLimitError, PushRefused, RepoVisibilityError
from cxrhub.shards.finalize import INDEX
from cxrhub.shards.hub_plan import LimitFinding, LocalFile
from cxrhub.shards.hub_retry import HubCaller
from cxrhub.shards.verify import verify

__all__ = ["GATED_CHOICES", "PushResult", "decide_private", "push"]

logger = logging.getLogger(__name__)
REPO_TYPE = "dataset"
GATED_CHOICES = ("manual",)


@dataclass
class PushResult:
    """What a push did (or, with ``dry_run``, would do)."""

    repo_id: str
    revision: str | None
    private: bool
    dry_run: bool
    files: int
    bytes: int
    sent: list[str] = field(default_factory=list)
    sent_bytes: int = 0
    skipped: int = 0
    deleted: list[str] = field(default_factory=list)
    commits: int = 0
    findings: list[LimitFinding] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The repo's page."""
        return f"https://huggingface.co/datasets/{self.repo_id}"


def decide_private(spec: DatasetSpec, *, public: bool, acknowledge: str | None) -> bool:
    """Whether the repo must be private, from the dataset's access policy.

    Raises:
        PushRefused: ``public`` for a credentialed dataset, a missing or mismatched
            acknowledgement.
    """
    if acknowledge is not None and acknowledge != spec.name:
        raise PushRefused(
            f"--acknowledge {acknowledge!r} does not name this folder's dataset {spec.name!r}; "
            "acknowledge the agreement of the dataset you are pushing"
        )
    where = spec.license_link or spec.homepage
    if spec.access is Access.PUBLIC:
        if public:
            logger.info("%s is public data; attribution: %s", spec.name, spec.terms)
        return not public
    if public:
        raise PushRefused(
            f"{spec.name} is credentialed data ({spec.license_name or spec.license}): it may not "
            f"be published; cxrhub pushes it only to a private repo. Terms: {where}"
        )
    if acknowledge != spec.name:
        raise PushRefused(
            f"{spec.name} is credentialed data. Its terms: {spec.terms} Read the agreement at "
            f"{where}. A private repo is still hosting by a third party, and every person who "
            "can read it must hold their own access under that agreement. If that holds, rerun "
            f"with --acknowledge {spec.name}."
        )
    logger.warning(
        "acknowledged: %s goes to a private repo under its agreement (%s). Key terms: %s "
        "Read the agreement at %s. Keep the repo private and give read access only to people "
        "who hold their own access.",
        spec.name,
        spec.license_name or spec.license,
        spec.terms,
        where,
    )
    return True


class _CheckedRepo:
    """A repo whose visibility this push decided and confirmed through the API.

    :meth:`recheck` asks the Hub again; every function that sends data takes one of these and
    calls ``recheck()`` right before sending (the static test in ``tests/shards`` enforces it).
    """

    def __init__(self, api, hub: HubCaller, repo_id: str, *, private: bool, gated: str | None):
        self.api = api
        self.hub = hub
        self.repo_id = repo_id
        self.private = private
        self.gated = gated

    def recheck(self) -> None:
        """Raise :class:`RepoVisibilityError` unless the repo is private (when it must be) and
        gated as asked."""
        info = self.hub.call(
            "repo_info", lambda: self.api.repo_info(self.repo_id, repo_type=REPO_TYPE)
        )
        if self.private and getattr(info, "private", None) is not True:
            raise RepoVisibilityError(
                f"{self.repo_id} is not private (the Hub says private="
                f"{getattr(info, 'private', None)!r}); this dataset may only go to a private "
                "repo, so nothing more is sent. Make the repo private (or choose a new name) and "
                "rerun: committed files are not sent again."
            )
        if self.gated and getattr(info, "gated", None) != self.gated:
            raise RepoVisibilityError(
                f"{self.repo_id} is not gated {self.gated!r} (the Hub says gated="
                f"{getattr(info, 'gated', None)!r}); nothing more is sent."
            )


def push(
    out: Path,
    repo_id: str,
    *,
    revision: str | None = None,
    dry_run: bool = False,
    public: bool = False,
    acknowledge: str | None = None,
    gated: str | None = None,
    api=None,
    token: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_batch_files: int = hub_plan.BATCH_FILES,
    max_batch_bytes: int = hub_plan.BATCH_BYTES,
) -> PushResult:
    """Publish the converted folder ``out`` to the dataset repo ``repo_id`` (see the module
    docstring for the order of steps).

    Args:
        revision: a branch to commit to (created from main if missing); default main.
        dry_run: verify, apply the policy, return the plan; no network call.
        public: a public dataset may go to a public repo; refused for credentialed ones.
        acknowledge: the dataset's name, required for credentialed datasets.
        gated: ``"manual"`` to require manual approval of access requests.
        api: an ``HfApi``-like object (tests); default ``HfApi(token=token)``.
        sleep: how retries wait (tests pass a recorder).

    Raises:
        PushRefused, RepoVisibilityError, HubAuthError, HubLimitError, HubError.
    """
    out = Path(out)
    if gated not in (None, *GATED_CHOICES):
        raise PushRefused(f"gated {gated!r}: choose from {', '.join(GATED_CHOICES)}")
    problems = verify(out)
    if problems:
        raise PushRefused(f"{out} fails verification; nothing sent: " + "; ".join(problems[:5]))
    index = json.loads((out / INDEX).read_text(encoding="utf-8"))
    private = decide_private(
        builders.load(index["dataset"]).SPEC, public=public, acknowledge=acknowledge
    )
    files = hub_plan.collect_files(out, index)
    result = _plan(
        out, repo_id, files, revision, private, dry_run, max_batch_files, max_batch_bytes
    )
    if dry_run:
        return result
    hub = HubCaller(repo_id, secrets=_secrets(token), sleep=sleep)
    repo = _open_repo(api or HfApi(token=token), hub, repo_id, private, gated, revision)
    _upload(out, repo, files, result, revision, max_batch_files, max_batch_bytes)
    return result


def _secrets(token: str | None) -> tuple[str, ...]:
    return tuple(t for t in (token, get_token()) if isinstance(t, str) and t)


def _plan(
    out: Path,
    repo_id: str,
    files: list[LocalFile],
    revision: str | None,
    private: bool,
    dry_run: bool,
    max_files: int,
    max_bytes: int,
) -> PushResult:
    findings = hub_plan.check_limits((f.path, f.size) for f in files)
    batches = hub_plan.make_batches(files, max_files=max_files, max_bytes=max_bytes)
    where = f"{repo_id}@{revision or 'main'} ({'private' if private else 'public'})"
    lines = [f"push {out} -> {where}", *hub_plan.describe(files, batches, findings)]
    ignored = hub_plan.unpublished_files(out, files)
    if ignored:
        lines.append(f"not published (not part of the conversion): {', '.join(ignored[:10])}")
    result = PushResult(repo_id, revision, private, dry_run, len(files), sum(f.size for f in files))
    result.findings, result.plan, result.commits = findings, lines, len(batches)
    for line in lines:  # the CLI prints a dry run's plan itself
        logger.log(logging.DEBUG if dry_run else logging.INFO, "plan: %s", line)
    hard = [f.message for f in findings if f.hard]
    if hard:
        raise HubLimitError("the layout breaks a hard Hub limit: " + "; ".join(hard))
    return result


def _open_repo(
    api, hub: HubCaller, repo_id: str, private: bool, gated: str | None, revision: str | None
) -> _CheckedRepo:
    """Create (or find) the repo with an explicit visibility and confirm it before any data."""
    hub.call(
        "create the repo",
        lambda: api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True),
    )
    repo = _CheckedRepo(api, hub, repo_id, private=private, gated=None)
    repo.recheck()
    if gated:
        hub.call(
            "set gating",
            lambda: api.update_repo_settings(repo_id, gated=gated, repo_type=REPO_TYPE),
        )
        repo.gated = gated
        repo.recheck()
    if revision:
        hub.call(
            "create_branch",
            lambda: api.create_branch(repo_id, branch=revision, repo_type=REPO_TYPE, exist_ok=True),
        )
    logger.info("%s: %s, confirmed by the Hub", repo_id, "private" if private else "public")
    return repo


def _remote_files(repo: _CheckedRepo, revision: str | None) -> dict:
    entries = repo.hub.call(
        "list_repo_tree",
        lambda: list(
            repo.api.list_repo_tree(
                repo.repo_id, recursive=True, revision=revision, repo_type=REPO_TYPE
            )
        ),
    )
    return {e.path: e for e in entries if hasattr(e, "size")}  # files, not folders


def _already_there(out: Path, local: LocalFile, remote) -> bool:
    if remote is None or remote.size != local.size:
        return False
    lfs = getattr(remote, "lfs", None)
    if lfs:
        return lfs.sha256 == local.sha256
    return remote.blob_id == hub_plan.git_blob_sha1(out / local.path)


def _stale(remote: dict, files: list[LocalFile]) -> list[str]:
    local = {f.path for f in files}
    configs = [f.path[: -len(INDEX)] for f in files if f.path.endswith(f"/{INDEX}")]
    managed = {f"{c}{name}" for c in ("", *configs) for name in ("manifest.jsonl", "errors.jsonl")}
    folders = hub_plan.MANAGED_FOLDERS + tuple(f"{c}{d}" for c in configs for d in _SHARD_DIRS)
    return sorted(p for p in remote if p not in local and (p.startswith(folders) or p in managed))


_SHARD_DIRS = ("data/", "webdataset/")


def _upload(
    out: Path,
    repo: _CheckedRepo,
    files: list[LocalFile],
    result: PushResult,
    revision: str | None,
    max_files: int,
    max_bytes: int,
) -> None:
    remote = _remote_files(repo, revision)
    todo = [f for f in files if not _already_there(out, f, remote.get(f.path))]
    deletions = _stale(remote, files)
    result.skipped = len(files) - len(todo)
    batches = hub_plan.make_batches(todo, max_files=max_files, max_bytes=max_bytes)
    if deletions and not batches:
        batches = [[]]
    logger.info(
        "%s: %d files already there, %d to send in %d commits, %d stale to delete",
        repo.repo_id,
        result.skipped,
        len(todo),
        len(batches),
        len(deletions),
    )
    result.commits = 0
    for number, batch in enumerate(batches, 1):
        gone = deletions if number == len(batches) else []
        try:
            _commit_batch(repo, out, batch, gone, f"{number}/{len(batches)}", revision)
        except HubError as exc:
            exc.committed = result.commits
            raise
        result.commits += 1
        result.sent += [f.path for f in batch]
        result.sent_bytes += sum(f.size for f in batch)
        result.deleted += gone
    try:
        repo.recheck()  # a flip during the last batch is reported, not silently accepted
    except RepoVisibilityError as exc:
        raise RepoVisibilityError(f"after the last commit: {exc} Make it private now.") from None


def _commit_batch(
    repo: _CheckedRepo,
    out: Path,
    batch: list[LocalFile],
    deletions: list[str],
    label: str,
    revision: str | None,
) -> None:
    """One commit: re-check visibility, then send the batch (fresh operations per try)."""
    repo.recheck()

    def operations() -> list:
        adds = [CommitOperationAdd(f.path, str(out / f.path)) for f in batch]
        return adds + [CommitOperationDelete(path) for path in deletions]

    logger.info(
        "%s: commit %s: %d files, %d deletions", repo.repo_id, label, len(batch), len(deletions)
    )
    repo.hub.call(
        f"commit {label}",
        lambda: repo.api.create_commit(
            repo.repo_id,
            operations=operations(),
            commit_message=f"cxrhub push: batch {label}",
            repo_type=REPO_TYPE,
            revision=revision,
        ),
    )
