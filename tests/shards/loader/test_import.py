"""Each spawned DataLoader worker imports the loader: it must not drag in the conversion stack."""

from __future__ import annotations

import json
import subprocess
import sys


def test_loader_imports_without_datasets_pydicom_or_pandas():
    code = (
        "import json, sys; import cxrhub.shards.loader; "
        "print(json.dumps([m for m in ('datasets', 'pydicom', 'pandas') if m in sys.modules]))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(run.stdout) == []


def test_the_loader_accepts_the_converters_resize_modes():
    from cxrhub.shards.dicom import encode
    from cxrhub.shards.loader import decode

    assert decode.RESIZE_MODES == encode.RESIZE_MODES
