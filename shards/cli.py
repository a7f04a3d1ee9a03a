"""The ``cxrhub`` command: list, sample, demo, convert, verify, dicom-info, push.

Exit codes: 0 success; 1 the run finished but some inputs failed (see ``errors.jsonl``) or
``verify`` found problems; 2 nothing or not everything was done (bad arguments, a release layout
that does not match, ``--on-error error`` stopped at a bad input, an unusable output folder).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import textwrap
from pathlib import Path

from cxrhub import builders
from cxrhub.shards import __version__, dicom_cli, publish_cli
from cxrhub.shards.convert import FORMATS, ConvertOptions, convert
from cxrhub.shards.errors import CxrhubError
from cxrhub.shards.executors import EXECUTORS
from cxrhub.shards.remote_out import is_url
from cxrhub.shards.verify import verify

__all__ = ["main"]

logger = logging.getLogger("cxrhub")
EXIT_OK, EXIT_PARTIAL, EXIT_FAILED = 0, 1, 2
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``500MB`` -> 500_000_000, ``1GiB`` -> 1_073_741_824, ``4096`` -> 4096."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a size such as 500MB, 1GiB or 4096")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** " KMGT".index(unit.upper() or " "))


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip() for f in text.split(",") if f.strip())
    if not chosen or set(chosen) - set(FORMATS):
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {','.join(FORMATS)}")
    return chosen


def cmd_list(args: argparse.Namespace) -> int:
    """Print every registered dataset with its access terms, citation and expected files."""
    for name in builders.names():
        module = builders.load(name)
        spec = module.SPEC
        status = "convertible" if builders.is_convertible(module) else "planned"
        out = [f"{name}  [{spec.access.value}, {status}]  {spec.pretty_name}"]
        out.append(f"  home:    {spec.homepage}")
        out.append("  terms:   " + textwrap.fill(spec.terms, 96, subsequent_indent=" " * 11))
        out.append("  expects: " + "\n           ".join(spec.expected_files))
        for option, help_text in getattr(module, "OPTIONS", {}).items():
            out.append(f"  option:  --source-option {option}=...  {help_text}")
        if args.citations:
            out.append(textwrap.indent(spec.citation, "  "))
        else:
            first = spec.citation.splitlines()[0] if spec.citation else ""
            out.append(f"  cite:    {first} ... (--citations for BibTeX)")
        sys.stdout.write("\n".join(out) + "\n\n")
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    """Write a synthetic download in the release's exact layout."""
    module = _convertible(args.dataset)
    options = dict(_key_value(o) for o in args.option)
    root = module.write_sample(Path(args.dir), **options)
    sys.stdout.write(f"wrote a synthetic {args.dataset} download to {root}\n")
    return EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    """Convert a local download."""
    options = _options(args, args.on_error)
    extra = dict(_key_value(o) for o in args.source_option)
    if args.executor == "ray" and args.workers != 1:
        logger.info("--workers is not used with --executor ray: the cluster's CPUs decide")
    result = convert(
        args.dataset, Path(args.src), args.out if is_url(args.out) else Path(args.out), options,
        workers=args.workers, source_options=extra, config=args.config, executor=args.executor,
        address=args.address, staging=Path(args.staging) if args.staging else None,
    )  # fmt: skip
    sys.stdout.write(
        f"{result.samples} samples in {result.out} ({result.shards_written} shards written, "
        f"{result.shards_reused} reused); {len(result.errors)} bad inputs"
        + (f", listed in {result.out / 'errors.jsonl'}" if result.errors else "")
        + "\n"
    )
    return EXIT_PARTIAL if result.errors else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Write the sample tree, convert it, verify it, and say how to load the result."""
    base = Path(args.dir)
    module = _convertible(args.dataset)
    src = module.write_sample(base / "source")
    out = base / "output"
    extra = {k: str(src / v) for k, v in getattr(module, "SAMPLE_OPTIONS", {}).items()}
    result = convert(
        args.dataset, src, out, ConvertOptions(max_shard_samples=4), workers=args.workers,
        source_options=extra,
    )  # fmt: skip
    problems = verify(out)
    for problem in problems:
        logger.error("verify: %s", problem)
    status = "ok" if not problems else "FAILED"
    tar = out / "webdataset" / "train-000000.tar"
    lines = [
        f"cxrhub demo: {args.dataset}",
        f"  synthetic download: {src}",
        f"  converted output:   {out}  ({result.samples} samples, verify: {status})",
        "load it with:",
        f"  python -c \"from datasets import load_dataset; print(load_dataset('{out}'))\"",
        "or stream the WebDataset tars:",
        '  python -c "import webdataset as wds; '
        f"print(next(iter(wds.WebDataset('{tar}', shardshuffle=False).decode())).keys())\"",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_PARTIAL if problems or result.errors else EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    """Check a converted folder against its index."""
    problems = verify(Path(args.out))
    for problem in problems:
        sys.stdout.write(f"FAIL {problem}\n")
    if not problems:
        sys.stdout.write(f"ok: {args.out} matches its index.json\n")
    return EXIT_PARTIAL if problems else EXIT_OK


def _convertible(name: str):
    module = builders.load(name)
    if not builders.is_convertible(module):
        raise CxrhubError(f"{name}: registered, but its builder is not implemented yet")
    return module


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise CxrhubError(f"--option {text!r}: expected KEY=VALUE")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (unknown flags are errors)."""
    parser = argparse.ArgumentParser(prog="cxrhub", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"cxrhub {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="registered datasets, access terms, expected files")
    p.add_argument("--citations", action="store_true", help="print full BibTeX")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("sample", help="write a synthetic download in the release's layout")
    p.add_argument("dataset", choices=builders.names())
    p.add_argument("dir")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="layout variant, e.g. layout=kaggle or table=2017 for nih-cxr14",
    )
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("demo", help="sample tree -> conversion -> verify, end to end")
    p.add_argument("--dir", default="cxrhub-demo", help="where to write (default ./cxrhub-demo)")
    p.add_argument("--dataset", default="nih-cxr14", choices=builders.names())
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("convert", help="convert a local download to Parquet + WebDataset shards")
    p.add_argument("dataset", choices=builders.names())
    p.add_argument("src", help="the download's root folder")
    p.add_argument("out", help="output folder (a hub dataset repo as it stands), or an fsspec URL")
    p.add_argument("--workers", type=int, default=1, help="worker processes (output is identical)")
    _add_plan_arguments(p)
    p.add_argument(
        "--on-error",
        choices=("error", "warn", "skip"),
        default="warn",
        help="bad inputs: stop (error), log and go on (warn), go on quietly (skip)",
    )
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local: --workers processes here; ray: one Ray task per shard (pip install "
        '"cxrhub[ray]"); the output is identical',
    )
    p.add_argument(
        "--address",
        default=None,
        help="with --executor ray: the cluster to join (auto, host:6379, ray://host:10001); "
        "default: a new local one, or RAY_ADDRESS",
    )
    p.add_argument(
        "--staging",
        default=None,
        metavar="DIR",
        help="with an fsspec URL as OUT (s3://...): the local folder the output is written to, "
        "then uploaded from (index.json last); keep it to resume",
    )
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("verify", help="re-hash and re-read a converted folder against index.json")
    p.add_argument("out")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("plan", help="what a conversion will do: samples, shards, size, time")
    p.add_argument("dataset", choices=builders.names())
    p.add_argument("src", help="the download's root folder")
    _add_plan_arguments(p)
    p.add_argument(
        "--probe",
        type=int,
        default=8,
        help="records to convert as a timed probe (0: the plan alone)",
    )
    p.add_argument("--workers", type=int, default=1, help="workers to estimate the wall time for")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=cmd_plan)

    dicom_cli.add_subparser(sub)
    publish_cli.add_subparser(sub)
    return parser


def _add_plan_arguments(p: argparse.ArgumentParser) -> None:
    """The options that shape the plan, shared by ``convert`` and ``plan``."""
    p.add_argument(
        "--formats",
        type=_formats,
        default=None,
        help="parquet,webdataset (default: every format the config allows; default config both)",
    )
    p.add_argument(
        "--config",
        default=builders.DEFAULT_CONFIG,
        help="a builder config, e.g. studies for mimic-cxr(-jpg); written to OUT/<config>/",
    )
    p.add_argument(
        "--source-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a builder option, e.g. jpg_root=/data/mimic-cxr-jpg (see `cxrhub list`)",
    )
    p.add_argument(
        "--shard-samples",
        type=int,
        default=ConvertOptions.max_shard_samples,
        help="max samples per shard",
    )
    p.add_argument(
        "--shard-size",
        type=parse_size,
        default=ConvertOptions.max_shard_bytes,
        help="max estimated output bytes per shard (default 1GB; DICOM archival copies count "
        "a third of the source file)",
    )
    p.add_argument(
        "--shard-multiple",
        type=int,
        default=ConvertOptions.shard_multiple,
        metavar="N",
        help="make each split's shard count a multiple of N (nodes x workers that will read it)",
    )
    p.add_argument(
        "--row-group-size",
        type=parse_size,
        default=ConvertOptions.row_group_bytes,
        help="Parquet row-group target (default 100MB)",
    )


def _options(args: argparse.Namespace, on_error: str = "warn") -> ConvertOptions:
    formats = args.formats or builders.config(builders.load(args.dataset), args.config)[2]
    return ConvertOptions(
        formats=formats,
        on_error=on_error,
        max_shard_samples=args.shard_samples,
        max_shard_bytes=args.shard_size,
        row_group_bytes=args.row_group_size,
        shard_multiple=args.shard_multiple,
    )


def cmd_plan(args: argparse.Namespace) -> int:
    """Print the plan and the probe's projection of a conversion."""
    from dataclasses import asdict

    from cxrhub.shards.estimate import estimate, render

    options = _options(args)
    est = estimate(
        args.dataset, Path(args.src), options, config=args.config, probe=args.probe,
        source_options=dict(_key_value(o) for o in args.source_option), workers=args.workers,
    )  # fmt: skip
    sys.stdout.write(json.dumps(asdict(est), indent=1) + "\n" if args.json else render(est))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cxrhub`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (CxrhubError, ValueError) as exc:
        logger.error("%s", exc)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
