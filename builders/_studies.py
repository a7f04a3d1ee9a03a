"""Study-level records of the MIMIC releases: a study's image records grouped into one record.

Rows of the ``studies`` config are studies (key ``p<subject>_s<study>``); each list column holds
one entry per image of the study, in ``dicom_id`` order. The official split is patient-disjoint,
so a study whose images disagree on the split is a bad input of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from cxrhub.builders._spec import Record
from cxrhub.shards.errors import BadInputError

__all__ = ["by_study", "study_records"]

Build = Callable[[list[Record]], dict]


def by_study(items: Iterable[Record | BadInputError]) -> Iterator[list[Record] | BadInputError]:
    """Errors as they come, then each study's image records sorted by ``dicom_id``, the studies
    in (subject, study) order."""
    studies: dict[tuple[int, int], list[Record]] = {}
    for item in items:
        if isinstance(item, BadInputError):
            yield item
            continue
        ids = (item.fields["subject_id"], item.fields["study_id"])
        studies.setdefault(ids, []).append(item)
    for ids in sorted(studies):
        yield sorted(studies[ids], key=lambda r: r.fields["dicom_id"])


def study_records(
    items: Iterable[Record | BadInputError], media: Build, fields: Build
) -> Iterator[Record | BadInputError]:
    """One record per study of the image records ``items``: ``media(images)`` and
    ``fields(images)`` give its media and its columns beyond ids, split and ``dicom_ids``."""
    for group in by_study(items):
        if isinstance(group, BadInputError):
            yield group
            continue
        first = group[0]
        subject, study = first.fields["subject_id"], first.fields["study_id"]
        source = first.source.rsplit("/", 1)[0]  # the study's folder
        splits = sorted({r.split for r in group})
        if len(splits) > 1:
            message = f"its images are in different splits {splits}; the split is by patient"
            yield BadInputError(source, "table", message)
            continue
        yield Record(
            key=f"p{subject}_s{study}",
            split=first.split,
            source=source,
            media=media(group),
            fields={
                "subject_id": subject,
                "study_id": study,
                "split": first.split,
                "dicom_ids": [r.fields["dicom_id"] for r in group],
                **fields(group),
            },
        )
