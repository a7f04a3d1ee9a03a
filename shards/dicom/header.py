"""The DICOM header allow-list: what may leave the file, as JSON-safe typed values.

Only the keywords below are ever copied out: the image pixel module, spacing, window and LUT
descriptions, exposure, geometry, view and laterality, equipment, and the flags that matter for
de-identification review (burned-in annotation, lossy compression, image type). Person names,
dates and times, free-text descriptions, UIDs, private tags, odd groups, overlays and icon images
are never copied: a builder that needs an identifier maps it to the dataset's own pseudonymous ids.
"""

from __future__ import annotations

from typing import Any

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import IS, DSfloat

__all__ = ["ALLOWED", "allowed_header"]

ALLOWED: tuple[str, ...] = (
    # image pixel module
    "Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "NumberOfFrames", "PlanarConfiguration",
    # spacing and geometry
    "PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing", "PixelAspectRatio",
    "EstimatedRadiographicMagnificationFactor", "DistanceSourceToDetector",
    "DistanceSourceToPatient", "FieldOfViewShape", "FieldOfViewDimensions",
    # value transforms
    "RescaleSlope", "RescaleIntercept", "RescaleType", "WindowCenter", "WindowWidth",
    "WindowCenterWidthExplanation", "VOILUTFunction", "PresentationLUTShape",
    "PixelIntensityRelationship", "PixelIntensityRelationshipSign",
    # exposure
    "KVP", "ExposureTime", "XRayTubeCurrent", "Exposure", "ExposureInuAs", "ExposureIndex",
    "TargetExposureIndex", "DeviationIndex", "RelativeXRayExposure", "Grid", "FilterType",
    # view and anatomy
    "Modality", "BodyPartExamined", "ViewPosition", "PatientOrientation", "ImageLaterality",
    "Laterality", "PatientPosition",
    # equipment
    "Manufacturer", "ManufacturerModelName", "DetectorType", "ConversionType",
    # review flags
    "ImageType", "BurnedInAnnotation", "RecognizableVisualFeatures", "LossyImageCompression",
    "LossyImageCompressionRatio", "LossyImageCompressionMethod", "SpecificCharacterSet",
)  # fmt: skip


_TAGS = {tag_for_keyword(keyword): keyword for keyword in ALLOWED}


def allowed_header(ds: Dataset) -> dict[str, Any]:
    """The allow-listed elements present in ``ds``, as plain JSON values (sorted keys)."""
    values = {}
    for tag in _TAGS.keys() & ds.keys():  # touch only the allowed elements that are there
        value = ds[tag].value
        if value is None or value == "":
            continue
        values[_TAGS[tag]] = _plain(value)
    return dict(sorted(values.items()))


def _plain(value: Any) -> Any:
    if isinstance(value, MultiValue | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, IS):
        return int(value)
    if isinstance(value, DSfloat | float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value)
