"""``cxrhub push OUT ORG/NAME``: the command-line face of :func:`cxrhub.shards.publish.push`.

Registered by ``shards/cli.py`` with ``publish_cli.add_subparser(sub)``. Exit codes as the other
commands: 0 pushed (or planned); 1 stopped after some commit batches landed (a rerun sends only
what is missing); 2 refused or failed before anything was committed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cxrhub.shards.errors import HubError
from cxrhub.shards.publish import GATED_CHOICES, push

__all__ = ["add_subparser", "cmd_push"]

logger = logging.getLogger("cxrhub")
EXIT_OK, EXIT_PARTIAL, EXIT_FAILED = 0, 1, 2


def add_subparser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``push`` on the ``cxrhub`` parser's sub-commands."""
    p = subparsers.add_parser(
        "push",
        help="verify OUT and upload it to a private Hugging Face dataset repo",
        description=(
            "Verify OUT, then upload it to the dataset repo ORG/NAME: private unless --public "
            "(public datasets only); credentialed datasets need --acknowledge DATASET. The token "
            "comes from HF_TOKEN or `hf auth login` and is never printed."
        ),
    )
    p.add_argument("out", help="a converted folder (cxrhub convert's OUT)")
    p.add_argument("repo_id", metavar="ORG/NAME", help="the dataset repo (created if missing)")
    p.add_argument("--revision", help="branch to commit to (created if missing; default main)")
    p.add_argument(
        "--dry-run", action="store_true", help="print the plan and Hub limits; send nothing"
    )
    p.add_argument(
        "--public",
        action="store_true",
        help="make a new repo public (public datasets only; default private)",
    )
    p.add_argument(
        "--acknowledge",
        metavar="DATASET",
        help="confirm you may host this credentialed dataset in a private repo under its terms",
    )
    p.add_argument(
        "--gated",
        choices=GATED_CHOICES,
        help="require manual approval of access requests on the repo",
    )
    p.set_defaults(func=cmd_push)
    return p


def cmd_push(args: argparse.Namespace) -> int:
    """Run the push and report it; see the module docstring for exit codes."""
    try:
        result = push(
            Path(args.out),
            args.repo_id,
            revision=args.revision,
            dry_run=args.dry_run,
            public=args.public,
            acknowledge=args.acknowledge,
            gated=args.gated,
        )
    except HubError as exc:
        if exc.committed:
            logger.error("%s", exc)
            logger.error("%d commit batches landed; rerun to send the rest", exc.committed)
            return EXIT_PARTIAL
        raise
    if result.dry_run:
        sys.stdout.write("dry run, nothing sent:\n" + "\n".join(result.plan) + "\n")
        return EXIT_OK
    visibility = "private" if result.private else "public"
    sys.stdout.write(
        f"pushed {len(result.sent)} files ({result.sent_bytes:,} bytes) in {result.commits} "
        f"commits to {result.url} ({visibility}); {result.skipped} already there"
        + (f", {len(result.deleted)} stale removed" if result.deleted else "")
        + "\n"
    )
    return EXIT_OK
