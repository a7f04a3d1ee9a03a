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
