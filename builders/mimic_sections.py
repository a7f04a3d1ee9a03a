"""MIMIC-CXR report sectioning, reimplementing MIT-LCP's ``txt/section_parser.py`` and
``txt/create_section_files.py`` (mimic-cxr @3190146) so that the output is identical.

The official pipeline splits a report on ALL-CAPS ``\\n HEADER:`` lines, normalises the header
names (misspellings included), drops empty impression/findings sections, splits the last
paragraph off reports that have neither, and picks one "conclusion" section per study; 54
badly formatted studies get hand-made rules (a fixed character range or a forced section
name). These conclusions are the text that CheXpert and NegBio labelled for the
``-chexpert``/``-negbio`` label tables, and ``mimic_cxr_sectioned.csv`` is the sectioning many
report-generation papers use.

For identical output, pass the text as the official script read it: the whole ``.txt`` file
opened in text mode with universal newlines (``open(path).read()``), ``\\r\\n`` -> ``\\n``.
Everything here is pure: no I/O.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "CONCLUSION_ORDER",
    "CUSTOM_INDICES",
    "CUSTOM_SECTION_NAMES",
    "MAIN_SECTIONS",
    "SECTIONED_COLUMNS",
    "conclusion",
    "normalize_section_names",
    "report_features",
    "section_report",
    "section_text",
    "sectioned_row",
]

# "\n", exactly one space, the ALL-CAPS name, ":", one whitespace character (DOTALL is a no-op
# here but is what the official code compiles).
HEADER_RE = re.compile(r"\n ([A-Z ()/,-]+):\s", re.DOTALL)

# frequent_sections of the official normalize_section_names, in its order (lower-cased keys).
SECTION_NAME_MAP: dict[str, str] = {
    "preamble": "preamble",
    "impression": "impression",
    "comparison": "comparison",
    "indication": "indication",
    "findings": "findings",
    "examination": "examination",
    "technique": "technique",
    "history": "history",
    "comparisons": "comparison",
    "clinical history": "history",
    "reason for examination": "indication",
    "notification": "notification",
    "reason for exam": "indication",
    "clinical information": "history",
    "exam": "examination",
    "clinical indication": "indication",
    "conclusion": "impression",
    "chest, two views": "findings",
    "recommendation(s)": "recommendations",
    "type of examination": "examination",
    "reference exam": "comparison",
    "patient history": "history",
    "addendum": "addendum",
    "comparison exam": "comparison",
    "date": "date",
    "comment": "comment",
    "findings and impression": "impression",
    "wet read": "wet read",
    "comparison film": "comparison",
    "recommendations": "recommendations",
    "findings/impression": "impression",
    "pfi": "history",
    "recommendation": "recommendations",
    "wetread": "wet read",
    "ndication": "impression",  # sic: the official table maps it to impression
    "impresson": "impression",
    "imprression": "impression",
    "imoression": "impression",
    "impressoin": "impression",
    "imprssion": "impression",
    "impresion": "impression",
    "imperssion": "impression",
    "mpression": "impression",
    "impession": "impression",
    "findings/ impression": "impression",
    "finding": "findings",
    "findins": "findings",
    "findindgs": "findings",
    "findgings": "findings",
    "findngs": "findings",
    "findnings": "findings",
    "finidngs": "findings",
    "idication": "indication",
    "reference findings": "findings",
    "comparision": "comparison",
    "comparsion": "comparison",
    "comparrison": "comparison",
    "comparisions": "comparison",
}

# Substring fallbacks, checked in this order (the first word contained in the name wins).
FALLBACK_NAMES = ("impression", "findings", "history", "comparison", "addendum")

# Names that describe the whole study (view words) are findings.
VIEW_WORDS_RE = re.compile(
    "(chest|portable|pa and lateral|lateral and pa|ap and lateral|lateral and ap|frontal and|"
    "two views|frontal view|pa view|ap view|one view|lateral view|bone window|frontal upright|"
    "frontal semi-upright|ribs|pa and lat)"
)

PARAGRAPH = "\n \n"

# custom_mimic_cxr_rules(): studies whose conclusion is the LAST section with this name.
CUSTOM_SECTION_NAMES: dict[str, str] = {
    "s50913680": "recommendations",  # files/p11/p11851243
    "s59363654": "examination",  # files/p12/p12128253
    "s59279892": "technique",  # files/p13/p13150370
    "s59768032": "recommendations",  # files/p13/p13249077
    "s57936451": "indication",  # files/p14/p14325424
    "s50058765": "indication",  # files/p14/p14731346
    "s53356173": "examination",  # files/p15/p15898350
    "s53202765": "technique",  # files/p16/p16076182
    "s50808053": "technique",  # files/p16/p16631485
    "s51966317": "indication",  # files/p10/p10817099
    "s50743547": "examination",  # files/p11/p11388341
    "s56451190": "note",  # files/p11/p11842879
    "s59067458": "recommendations",  # files/p11/p11984647
    "s59215320": "examination",  # files/p12/p12408912
    "s55124749": "indication",  # files/p12/p12428492
    "s54365831": "indication",  # files/p13/p13876470
    "s59087630": "recommendations",  # files/p14/p14267880
    "s58157373": "recommendations",  # files/p15/p15032392
    "s56482935": "recommendations",  # files/p15/p15388421
    "s58375018": "recommendations",  # files/p15/p15505556
    "s54654948": "indication",  # files/p17/p17090359
    "s55157853": "examination",  # files/p18/p18975498
    "s51491012": "history",  # files/p19/p19314266
}

# custom_mimic_cxr_rules(): studies whose conclusion is text[a:b], NOT stripped.
CUSTOM_INDICES: dict[str, tuple[int, int]] = {
    "s50525523": (201, 349),  # files/p10/p10602608
    "s57564132": (233, 554),  # files/p10/p10637168
    "s59982525": (313, 717),  # files/p11/p11989982
    "s53488209": (149, 475),  # files/p12/p12458657
    "s54875119": (234, 988),  # files/p13/p13687044
    "s50196495": (59, 399),  # files/p13/p13894879
    "s56579911": (59, 218),  # files/p15/p15394326
    "s52648681": (292, 631),  # files/p15/p15666238
    "s59889364": (172, 453),  # files/p15/p15835529
    "s53514462": (73, 377),  # files/p16/p16297706
    "s59505494": (59, 450),  # files/p16/p16730991
    "s53182247": (59, 412),  # files/p16/p16770442
    "s51410602": (47, 320),  # files/p17/p17069955
    "s56412866": (522, 822),  # files/p17/p17612000
    "s54986978": (59, 306),  # files/p17/p17912487
    "s59003148": (262, 505),  # files/p17/p17916384
    "s57150433": (61, 394),  # files/p18/p18335791
    "s56760320": (219, 457),  # files/p18/p18418794
    "s59562049": (158, 348),  # files/p18/p18502016
    "s52674888": (145, 296),  # files/p19/p19381919
    "s55258338": (192, 568),  # files/p13/p13719117
    "s59330497": (140, 655),  # files/p15/p15479218
    "s52119491": (179, 454),  # files/p17/p17959278
    # no findings at all in the entire report: the conclusion is empty
    "s58235663": (0, 0),  # files/p11/p11573679
    "s50798377": (0, 0),  # files/p12/p12632853
    "s54168089": (0, 0),  # files/p14/p14463099
    "s53071062": (0, 0),  # files/p15/p15774521
    "s56724958": (0, 0),  # files/p16/p16175671
    "s54231141": (0, 0),  # files/p16/p16312859
    "s53607029": (0, 0),  # files/p17/p17603668
    "s52035334": (0, 0),  # files/p19/p19349312
}

# The conclusion is the LAST section with the first of these names present.
CONCLUSION_ORDER = ("impression", "findings", "last_paragraph", "comparison")

# Header of mimic_cxr_sectioned.csv.
SECTIONED_COLUMNS = ("study", "impression", "findings", "last_paragraph", "comparison")

# The named sections a builder publishes as struct fields (each the stripped LAST one).
MAIN_SECTIONS = (
    "impression",
    "findings",
    "indication",
    "history",
    "comparison",
    "technique",
    "examination",
    "last_paragraph",
)


def section_text(text: str) -> tuple[list[str], list[str], list[int]]:
    """Split ``text`` on headers: (section texts, raw lower-cased names, start indices).

    This is the splitting part of the official ``section_text``: the text before the first
    header is ``preamble`` (ending with the ``"\\n "`` of that header); a report without any
    header is one ``full report`` section. After a header the search for the next one resumes
    at the first newline after the header's text starts, so a header on the line right after
    ``HEADER:\\n`` is not found. A section ends at the ``\\n`` of the next header. Names are
    ``group(1).lower()`` (not stripped, not normalised: see :func:`section_report`).
    """
    match = HEADER_RE.search(text)
    if match is None:
        return [text], ["full report"], [0]
    sections, names, starts = [text[: match.start(1)]], ["preamble"], [0]
    while match is not None:
        name = match.group(1).lower()
        start = match.end()
        skip = text[start:].find("\n")
        if skip == -1:
            skip = 0
        match = HEADER_RE.search(text, start + skip)
        end = len(text) if match is None else match.start()
        sections.append(text[start:end])
        names.append(name)
        starts.append(start)
    return sections, names, starts


def normalize_section_names(names: list[str]) -> list[str]:
    """The official name normalisation (returns a new list).

    Lower-case and strip; a name in the table maps to its value; else the first of
    impression/findings/history/comparison/addendum contained in it; else ``findings`` when it
    names views (``chest``, ``portable``, ``pa and lateral``...); else the cleaned name.
    """
    out = []
    for raw in names:
        name = raw.lower().strip()
        if name in SECTION_NAME_MAP:
            out.append(SECTION_NAME_MAP[name])
            continue
        fallback = next((word for word in FALLBACK_NAMES if word in name), None)
        if fallback is not None:
            out.append(fallback)
        elif VIEW_WORDS_RE.search(name) is not None:
            out.append("findings")
        else:
            out.append(name)
    return out


def section_report(text: str) -> tuple[list[str], list[str]]:
    """The official ``section_text`` result: (section texts, normalised names).

    :func:`section_text`, then :func:`normalize_section_names`, then every ``impression`` or
    ``findings`` section whose text is blank is dropped; if neither name remains and the last
    section contains a blank line (``"\\n \\n"``), everything after its first blank line
    becomes a new ``last_paragraph`` section. Section texts are not stripped.
    """
    sections, raw_names, _ = section_text(text)
    names = normalize_section_names(raw_names)
    for i in reversed(range(len(names))):
        if names[i] in ("impression", "findings") and sections[i].strip() == "":
            del sections[i], names[i]
    if "impression" not in names and "findings" not in names and PARAGRAPH in sections[-1]:
        pieces = sections[-1].split(PARAGRAPH)
        sections[-1] = pieces[0]
        sections.append(PARAGRAPH.join(pieces[1:]))
        names.append("last_paragraph")
    return sections, names


def _last(sections: list[str], names: list[str], name: str) -> str | None:
    """The stripped text of the LAST section called ``name``, or None."""
    for section, section_name in zip(reversed(sections), reversed(names), strict=True):
        if section_name == name:
            return section.strip()
    return None


def conclusion(study: str, text: str) -> str:
    """The text ``create_section_files.py`` writes for ``study`` (e.g. ``"s50414267"``).

    Custom index studies: ``text[a:b]`` unstripped. Custom section-name studies: the stripped
    last section with that name. Otherwise the stripped last section named impression, else
    findings, else last_paragraph, else comparison; ``""`` when none is present. (Where the
    forced name is missing the official script would crash; this returns ``""``.)
    """
    if study in CUSTOM_INDICES:
        begin, end = CUSTOM_INDICES[study]
        return text[begin:end]
    sections, names = section_report(text)
    if study in CUSTOM_SECTION_NAMES:
        return _last(sections, names, CUSTOM_SECTION_NAMES[study]) or ""
    for name in CONCLUSION_ORDER:
        found = _last(sections, names, name)
        if found is not None:
            return found
    return ""


def report_features(study: str, text: str) -> dict:
    """The report fields of a published record.

    ``sections`` holds, for each of :data:`MAIN_SECTIONS`, the stripped LAST section of that
    name (None when absent); ``other_sections`` lists, in report order, every section not used
    there (the preamble, other names, and earlier repeats of a main name) as
    ``{"name", "text"}`` with stripped text; ``conclusion`` is :func:`conclusion`.
    """
    sections, names = section_report(text)
    last_index = {name: i for i, name in enumerate(names) if name in MAIN_SECTIONS}
    chosen = set(last_index.values())
    return {
        "text": text,
        "sections": {
            name: sections[last_index[name]].strip() if name in last_index else None
            for name in MAIN_SECTIONS
        },
        "other_sections": [
            {"name": name, "text": section.strip()}
            for i, (section, name) in enumerate(zip(sections, names, strict=True))
            if i not in chosen
        ],
        "conclusion": conclusion(study, text),
    }


def sectioned_row(study: str, text: str) -> tuple[str | None, ...] | None:
    """The ``mimic_cxr_sectioned.csv`` row (see :data:`SECTIONED_COLUMNS`), each section the
    stripped LAST one of that name or None (an empty CSV field); None for the custom-rule
    studies, which the official script leaves out of that file."""
    if study in CUSTOM_INDICES or study in CUSTOM_SECTION_NAMES:
        return None
    sections, names = section_report(text)
    return (study, *(_last(sections, names, name) for name in SECTIONED_COLUMNS[1:]))


def report_feature() -> dict:
    """The ``datasets`` feature of :func:`report_features`' output."""
    from datasets import List, Value

    return {
        "text": Value("string"),
        "sections": {name: Value("string") for name in MAIN_SECTIONS},
        "other_sections": List({"name": Value("string"), "text": Value("string")}),
        "conclusion": Value("string"),
    }


def read_report(path: Path) -> str | None:
    """A report file as the official parser reads it (text mode, universal newlines)."""
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as f:
        return "".join(f.readlines())


def report_path(subject: int | str, study: int | str) -> str:
    """``files/pXX/pXXXXXXXX/sXXXXXXXX.txt``: where MIMIC-CXR keeps a study's report."""
    return f"files/p{str(subject)[:2]}/p{subject}/s{study}.txt"
