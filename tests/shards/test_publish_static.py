"""No code path creates a repo or sends data without an explicit privacy decision.

The rule, checked on the AST of every ``.py`` file under ``builders/`` and ``shards/``:

1. ``create_repo``: every use is a call with a ``private=`` keyword whose value is not the
   constant ``None`` (huggingface_hub's default makes the repo public) and no ``**kwargs``.
2. Calls that send data (``create_commit``, ``upload_file``, ``upload_folder``,
   ``upload_large_folder``, ``preupload_lfs_files``, ``push_to_hub``): every use, called or not,
   is in ``shards/publish.py``, inside a function with a parameter annotated ``_CheckedRepo``
   whose body calls ``<that parameter>.recheck()`` as a plain statement before the statement
   that holds the use. ``_CheckedRepo.recheck`` asks the Hub whether the repo is private and
   raises if it must be and is not.
3. ``update_repo_settings`` never passes ``private`` / ``visibility`` or ``**kwargs``: cxrhub never
   changes a repo's visibility after creating it.
4. None of these names appears as a string constant (no ``getattr(api, "create_commit")``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("builders", "shards")
SENDERS = frozenset(
    {
        "create_commit",
        "upload_file",
        "upload_folder",
        "upload_large_folder",
        "preupload_lfs_files",
        "push_to_hub",
    }
)
ALLOWED_FILE = "shards/publish.py"
CHECKED_TYPE = "_CheckedRepo"
RECHECK = "recheck"
WATCHED = SENDERS | {"create_repo", "update_repo_settings"}


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _enclosing(node: ast.AST, parents: dict) -> list[ast.AST]:
    chain = []
    while node in parents:
        node = parents[node]
        chain.append(node)
    return chain


def _check_create_repo(use: ast.AST, call: ast.Call | None, where: str) -> list[str]:
    if call is None:
        return [f"{where}: create_repo used without being called (privacy cannot be checked)"]
    keywords = {k.arg: k.value for k in call.keywords}
    if None in keywords:
        return [f"{where}: create_repo(**kwargs) hides the privacy decision"]
    private = keywords.get("private")
    if private is None:
        return [f"{where}: create_repo without private= (the default is public)"]
    if isinstance(private, ast.Constant) and private.value is None:
        return [f"{where}: create_repo(private=None) is the public default"]
    return []


def _check_settings(call: ast.Call | None, where: str) -> list[str]:
    if call is None:
        return []
    names = {k.arg for k in call.keywords}
    if None in names or names & {"private", "visibility"}:
        return [f"{where}: update_repo_settings must not change visibility"]
    return []


def _checked_param(func: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    args = func.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        annotation = arg.annotation
        text = ast.unparse(annotation) if annotation is not None else ""
        if text.strip("'\"") == CHECKED_TYPE:
            return arg.arg
    return None


def _statement_of(node: ast.AST, func: ast.AST, parents: dict) -> ast.stmt | None:
    """The statement directly in ``func``'s body that holds ``node``."""
    while node in parents and parents[node] is not func:
        node = parents[node]
    return node if node in func.body else None


def _rechecks_before(func: ast.AST, param: str, statement: ast.stmt) -> bool:
    for stmt in func.body:
        if stmt is statement:
            return False
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == RECHECK
            and _name(stmt.value.func.value) == param
        ):
            return True
    return False


def _check_sender(use: ast.AST, rel: str, parents: dict, where: str) -> list[str]:
    if rel != ALLOWED_FILE:
        return [f"{where}: {_name(use)} outside {ALLOWED_FILE}"]
    funcs = [
        n
        for n in _enclosing(use, parents)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    for func in funcs:  # the nearest function with a checked repo parameter (lambdas included)
        param = _checked_param(func)
        if param is None:
            continue
        statement = _statement_of(use, func, parents)
        if statement is not None and _rechecks_before(func, param, statement):
            return []
        return [f"{where}: {_name(use)} not preceded by {param}.{RECHECK}() in {func.name}"]
    return [f"{where}: {_name(use)} in a function without a {CHECKED_TYPE} parameter"]


def violations(source: str, rel: str) -> tuple[list[str], int]:
    """The rule's violations in one file, and how many watched uses it saw."""
    tree = ast.parse(source, filename=rel)
    parents = _parents(tree)
    problems: list[str] = []
    seen = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in WATCHED:
            problems.append(f"{rel}:{node.lineno}: the string {node.value!r} hides a Hub call")
            continue
        name = _name(node) if isinstance(node, (ast.Attribute, ast.Name)) else None
        if name not in WATCHED:
            continue
        seen += 1
        where = f"{rel}:{node.lineno}"
        parent = parents.get(node)
        call = parent if isinstance(parent, ast.Call) and parent.func is node else None
        if name == "create_repo":
            problems += _check_create_repo(node, call, where)
        elif name == "update_repo_settings":
            problems += _check_settings(call, where)
        else:
            problems += _check_sender(node, rel, parents, where)
    return problems, seen


def _sources() -> list[tuple[str, str]]:
    files = sorted(p for folder in SCANNED for p in (ROOT / folder).rglob("*.py"))
    return [(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix()) for p in files]


def test_every_hub_write_has_an_explicit_privacy_decision():
    problems, seen = [], {}
    for source, rel in _sources():
        found, count = violations(source, rel)
        problems += found
        seen[rel] = count
    assert problems == []
    assert seen[ALLOWED_FILE] >= 3  # create_repo, update_repo_settings, create_commit: not vacuous


GOOD = """
def send(repo: _CheckedRepo, api):
    repo.recheck()
    api.create_commit("x", operations=[], commit_message="m")
    api.create_repo("x", private=True, exist_ok=True)
"""


@pytest.mark.parametrize(
    ("source", "rel", "expected"),
    [
        (GOOD, ALLOWED_FILE, None),
        ("api.create_repo('x')", "shards/a.py", "without private="),
        ("api.create_repo('x', private=None)", "shards/a.py", "public default"),
        ("api.create_repo('x', **kw)", "shards/a.py", "hides the privacy"),
        ("f = api.create_repo", "shards/a.py", "without being called"),
        ("api.upload_folder(folder_path='.')", "shards/a.py", "outside"),
        ("def f(api):\n    api.create_commit('x')", ALLOWED_FILE, "without a _CheckedRepo"),
        (
            "def f(r: _CheckedRepo, api):\n    api.create_commit('x')\n    r.recheck()",
            ALLOWED_FILE,
            "not preceded",
        ),
        (
            "def f(r: _CheckedRepo, api):\n    if c:\n        r.recheck()\n    api.push_to_hub()",
            ALLOWED_FILE,
            "not preceded",
        ),
        ("getattr(api, 'upload_file')(x)", "shards/a.py", "hides a Hub call"),
        ("api.update_repo_settings('x', private=False)", "shards/a.py", "visibility"),
        ("ds.push_to_hub('x', private=True)", "builders/a.py", "outside"),
    ],
)
def test_the_checker_catches_each_kind_of_violation(source, rel, expected):
    problems, _ = violations(source, rel)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems
