"""``cxrhub dicom-info FILE``: what the decode core finds in a DICOM file, and optionally the
display image it makes of it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["add_subparser"]


def add_subparser(subparsers) -> None:
    """Register ``dicom-info``."""
    p = subparsers.add_parser("dicom-info", help="decode one DICOM file and describe it")
    p.add_argument("file")
    p.add_argument("--backend", default="auto", help="decode backend (default: fastest available)")
    p.add_argument("--png", metavar="OUT", help="also write the 8-bit display image (MONOCHROME2)")
    p.set_defaults(func=cmd_dicom_info)


def cmd_dicom_info(args: argparse.Namespace) -> int:
    """Decode ``args.file`` and print its transfer syntax, decoder, pixels and allowed header."""
    from cxrhub.shards import dicom
    from cxrhub.shards.dicom.encode import encode_variant

    start = time.perf_counter()
    pixels, meta = dicom.read(args.file, backend=args.backend)
    elapsed = time.perf_counter() - start
    info = {
        "file": args.file,
        "transfer_syntax": meta["transfer_syntax"],
        "backend": meta["backend"],
        "decode_ms": round(elapsed * 1000, 1),
        "pixels": {
            "shape": list(pixels.shape),
            "dtype": str(pixels.dtype),
            "min": int(pixels.min()),
            "max": int(pixels.max()),
        },
        "header": meta["header"],
    }
    if args.png:
        display, params = dicom.to_display(
            pixels, dicom.pixel_meta(meta["dataset"]), bits=8, return_params=True
        )
        Path(args.png).write_bytes(encode_variant(display, "png")[0])
        info["display"] = {"file": args.png, **params}
    sys.stdout.write(json.dumps(info, indent=1, default=str) + "\n")
    return 0
