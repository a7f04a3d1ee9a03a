"""The DICOM decode core: read a radiograph to its stored values, process it for display, encode it.

Public API::

    from cxrhub.shards import dicom

    pixels, meta = dicom.read("x.dcm")              # stored values (uint16/int16), checked
    display = dicom.to_display(pixels, dicom.pixel_meta(meta["dataset"]), bits=8)
    data, ext = dicom.encode_archival(pixels)       # lossless 16-bit HTJ2K, bit-exact via PIL
    values = dicom.render("x.dcm", "x.dcm", {"image": {"output": "archival"}})

``read`` raises :class:`cxrhub.shards.errors.BadInputError` (stage ``read``, ``header`` or
``decode``) for anything that is not a whole, decodable, single-frame MONOCHROME radiograph.
``cxrhub dicom-info FILE`` prints what ``read`` finds.
"""

from cxrhub.shards.dicom.encode import encode_archival, encode_variant, resize_area
from cxrhub.shards.dicom.header import ALLOWED, allowed_header
from cxrhub.shards.dicom.outputs import render
from cxrhub.shards.dicom.pixels import mimic_cxr_jpg, pixel_meta, to_display
from cxrhub.shards.dicom.read import read

__all__ = [
    "ALLOWED",
    "allowed_header",
    "encode_archival",
    "encode_variant",
    "mimic_cxr_jpg",
    "pixel_meta",
    "read",
    "render",
    "resize_area",
    "to_display",
]
