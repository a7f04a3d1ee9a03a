"""The DICOM-derived columns every DICOM release publishes, and the requests that make them.

``image``: the stored values, lossless 16-bit (HTJ2K); ``image_512``: a 512 px MONOCHROME2 JPEG
for training; ``dicom``: the allow-listed header and how each image was made (see
``shards/dicom/outputs.py``).
"""

from __future__ import annotations

from datasets import Image, Json

__all__ = ["FEATURES", "REQUESTS", "media"]

FEATURES = {"image": Image(), "image_512": Image(), "dicom": Json()}
REQUESTS = {
    "image": {"output": "archival"},
    "image_512": {"output": "display", "size": 512, "format": "jpeg"},
    "dicom": {"output": "header"},
}


def media(rel: str) -> dict[str, dict]:
    """The three columns' requests for the DICOM at ``rel`` (one read serves all of them)."""
    return {name: {"path": rel, **request} for name, request in REQUESTS.items()}
