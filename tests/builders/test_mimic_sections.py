"""MIMIC-CXR report sectioning: expected outputs worked out by hand from the official rules."""

from __future__ import annotations

import pytest

from cxrhub.builders import mimic_sections as ms

TITLE = "                                 FINAL REPORT\n"  # 33 spaces, the centred title line

NORMAL = (
    TITLE + " EXAMINATION:  CHEST (PA AND LAT)\n"
    " \n"
    " INDICATION:  ___F with cough  // eval for pneumonia\n"
    " \n"
    " TECHNIQUE:  Chest PA and lateral\n"
    " \n"
    " COMPARISON:  ___\n"
    " \n"
    " FINDINGS: \n"
    " \n"
    " The lungs are clear.  There is no pleural effusion or pneumothorax.\n"
    " \n"
    " IMPRESSION: \n"
    " \n"
    " No acute cardiopulmonary process.\n"
    " \n"
    " NOTIFICATION:  The findings were discussed with Dr. ___ at 9:15 am.\n"
)


def test_section_text_exact_split_and_indices():
    text = "  FINAL REPORT\n INDICATION: cough\n \n IMPRESSION: clear\n"
    # preamble keeps the "\n " of the first header; a section ends at the next header's "\n"
    assert ms.section_text(text) == (
        ["  FINAL REPORT\n ", "cough\n ", "clear\n"],
        ["preamble", "indication", "impression"],
        [0, 28, 49],
    )


def test_section_text_normal_report_raw():
    sections, names, starts = ms.section_text(NORMAL)
    assert names == [
        "preamble", "examination", "indication", "technique", "comparison", "findings",
        "impression", "notification",
    ]  # fmt: skip
    assert sections == [
        TITLE + " ",
        " CHEST (PA AND LAT)\n ",  # the header's \s took one of the two spaces
        " ___F with cough  // eval for pneumonia\n ",
        " Chest PA and lateral\n ",
        " ___\n ",
        "\n \n The lungs are clear.  There is no pleural effusion or pneumothorax.\n ",
        "\n \n No acute cardiopulmonary process.\n ",
        " The findings were discussed with Dr. ___ at 9:15 am.\n",
    ]
    assert starts[0] == 0
    assert starts[1] == len(TITLE) + len(" EXAMINATION: ")


def test_no_headers_is_full_report_then_last_paragraph():
    text = (
        TITLE + " PA and lateral views of the chest were obtained.\n"
        " \n"
        " The lungs are clear.  No pleural effusion.\n"
        " \n"
        " No acute cardiopulmonary process.\n"
    )
    assert ms.section_text(text) == ([text], ["full report"], [0])
    assert ms.section_report(text) == (
        [
            TITLE + " PA and lateral views of the chest were obtained.",
            " The lungs are clear.  No pleural effusion.\n \n No acute cardiopulmonary process.\n",
        ],
        ["full report", "last_paragraph"],
    )
    assert ms.conclusion("s50000001", text) == (
        "The lungs are clear.  No pleural effusion.\n \n No acute cardiopulmonary process."
    )
    assert ms.sectioned_row("s50000001", text) == (
        "s50000001",
        None,
        None,
        "The lungs are clear.  No pleural effusion.\n \n No acute cardiopulmonary process.",
        None,
    )


def test_addendum_on_top():
    underscores = "_" * 78
    text = (
        TITLE + " ADDENDUM:  The findings were discussed with Dr. ___ at 10:30 on ___.\n"
        " \n"
        f" {underscores}\n" + TITLE + " INDICATION:  ___M with chest pain.\n"
        " \n"
        " FINDINGS: \n"
        " \n"
        " Heart size is normal.  Lungs are clear.\n"
        " \n"
        " IMPRESSION: \n"
        " \n"
        " No acute process.\n"
    )
    sections, names = ms.section_report(text)
    assert names == ["preamble", "addendum", "indication", "findings", "impression"]
    # the underscore line and the second title belong to the addendum
    assert sections[1] == (
        " The findings were discussed with Dr. ___ at 10:30 on ___.\n \n "
        + underscores
        + "\n                                 FINAL REPORT"
    )
    assert ms.conclusion("s50000002", text) == "No acute process."
    features = ms.report_features("s50000002", text)
    assert features["other_sections"] == [
        {"name": "preamble", "text": "FINAL REPORT"},
        {
            "name": "addendum",
            "text": "The findings were discussed with Dr. ___ at 10:30 on ___.\n \n "
            + underscores
            + "\n                                 FINAL REPORT",
        },
    ]
    assert features["sections"]["indication"] == "___M with chest pain."
    assert features["sections"]["findings"] == "Heart size is normal.  Lungs are clear."


def test_misspelled_headers_are_normalised():
    text = (
        TITLE + " COMPARISION:  ___.\n"
        " \n"
        " FINDNGS:  Mild cardiomegaly.\n"
        " \n"
        " IMPRESSOIN:  Mild cardiomegaly without edema.\n"
    )
    assert ms.section_text(text)[1] == ["preamble", "comparision", "findngs", "impressoin"]
    sections, names = ms.section_report(text)
    assert names == ["preamble", "comparison", "findings", "impression"]
    assert ms.conclusion("s50000003", text) == "Mild cardiomegaly without edema."
    assert ms.sectioned_row("s50000003", text) == (
        "s50000003",
        "Mild cardiomegaly without edema.",
        "Mild cardiomegaly.",
        None,
        "___.",
    )


def test_header_not_at_line_start_is_not_a_header():
    body = (
        " Lungs are clear, IMPRESSION: none here.\n"
        "IMPRESSION: no leading space, so not a header.\n"
        " \n"
        " impression: lower case is not a header either.\n"
    )
    text = TITLE + " FINDINGS: " + body
    assert ms.section_text(text) == (
        [TITLE + " ", body],
        ["preamble", "findings"],
        [0, len(TITLE) + len(" FINDINGS: ")],
    )
    assert ms.conclusion("s50000004", text) == body.strip()


def test_header_right_after_header_line_is_skipped():
    text = (
        TITLE + " FINDINGS:\n"
        " IMPRESSION: hidden because the search resumes at the next newline.\n"
        " \n"
        " IMPRESSION:  Real impression.\n"
    )
    sections, names, _ = ms.section_text(text)
    assert names == ["preamble", "findings", "impression"]
    assert sections[1:] == [
        " IMPRESSION: hidden because the search resumes at the next newline.\n ",
        " Real impression.\n",
    ]


def test_two_leading_spaces_is_a_header_with_a_spaced_name():
    text = TITLE + "  IMPRESSION: Clear.\n"
    assert ms.section_text(text) == (
        [TITLE + " ", "Clear.\n"],
        ["preamble", " impression"],
        [0, len(TITLE) + len("  IMPRESSION: ")],
    )
    assert ms.section_report(text)[1] == ["preamble", "impression"]


def test_findings_and_impression_is_impression():
    text = TITLE + " COMPARISON:  None.\n \n FINDINGS AND IMPRESSION:  No acute process.\n"
    sections, names = ms.section_report(text)
    assert names == ["preamble", "comparison", "impression"]
    assert ms.conclusion("s50000005", text) == "No acute process."


def test_view_words_header_is_findings():
    text = (
        TITLE + " INDICATION:  Fever.\n"
        " \n"
        " PA AND LATERAL VIEWS OF THE CHEST:  The lungs are clear.\n"
    )
    assert ms.section_text(text)[1] == [
        "preamble",
        "indication",
        "pa and lateral views of the chest",
    ]
    assert ms.section_report(text)[1] == ["preamble", "indication", "findings"]
    assert ms.conclusion("s50000006", text) == "The lungs are clear."


def test_empty_view_header_is_dropped_as_empty_findings():
    # "CHEST:\n" with only a blank line before the next header -> an empty findings section
    text = TITLE + " PA AND LATERAL VIEWS OF THE CHEST:\n \n INDICATION:  Fever.\n"
    assert ms.section_text(text)[0] == [TITLE + " ", " ", " Fever.\n"]
    assert ms.section_report(text) == ([TITLE + " ", " Fever.\n"], ["preamble", "indication"])


def test_empty_impression_dropped_conclusion_falls_back_to_findings():
    text = TITLE + " FINDINGS:  Small left pleural effusion.\n \n IMPRESSION: \n \n"
    assert ms.section_text(text)[0][-1] == "\n \n"
    sections, names = ms.section_report(text)
    assert names == ["preamble", "findings"]
    assert sections == [TITLE + " ", " Small left pleural effusion.\n "]
    assert ms.conclusion("s50000007", text) == "Small left pleural effusion."
    assert ms.sectioned_row("s50000007", text) == (
        "s50000007",
        None,
        "Small left pleural effusion.",
        None,
        None,
    )


def test_neither_impression_nor_findings_uses_last_paragraph():
    text = (
        TITLE + " INDICATION:  ___ year old woman with dyspnea.\n"
        " \n"
        " COMPARISON:  Chest radiograph from ___.\n"
        " \n"
        " Frontal and lateral views of the chest show no consolidation.\n"
        " \n"
        " Stable mild cardiomegaly.\n"
    )
    assert ms.section_report(text) == (
        [
            TITLE + " ",
            " ___ year old woman with dyspnea.\n ",
            " Chest radiograph from ___.",
            " Frontal and lateral views of the chest show no consolidation.\n"
            " \n"
            " Stable mild cardiomegaly.\n",
        ],
        ["preamble", "indication", "comparison", "last_paragraph"],
    )
    assert ms.conclusion("s50000008", text) == (
        "Frontal and lateral views of the chest show no consolidation.\n \n"
        " Stable mild cardiomegaly."
    )
    assert ms.sectioned_row("s50000008", text) == (
        "s50000008",
        None,
        None,
        "Frontal and lateral views of the chest show no consolidation.\n \n"
        " Stable mild cardiomegaly.",
        "Chest radiograph from ___.",
    )


def test_comparison_then_nothing():
    only_comparison = TITLE + " INDICATION:  Cough.\n \n COMPARISON:  Stable since ___.\n"
    assert ms.section_report(only_comparison)[1] == ["preamble", "indication", "comparison"]
    assert ms.conclusion("s50000009", only_comparison) == "Stable since ___."
    nothing = TITLE + " INDICATION:  Cough.\n"
    assert ms.conclusion("s50000010", nothing) == ""
    assert ms.sectioned_row("s50000010", nothing) == ("s50000010", None, None, None, None)


def test_repeated_impressions_last_wins():
    text = (
        TITLE + " IMPRESSION:  Preliminary read, no pneumothorax.\n"
        " \n"
        " FINDINGS:  Left chest tube in place.\n"
        " \n"
        " IMPRESSION:  Final read, small left apical pneumothorax.\n"
    )
    assert ms.conclusion("s50000011", text) == "Final read, small left apical pneumothorax."
    features = ms.report_features("s50000011", text)
    assert features["sections"]["impression"] == "Final read, small left apical pneumothorax."
    assert features["other_sections"] == [
        {"name": "preamble", "text": "FINAL REPORT"},
        {"name": "impression", "text": "Preliminary read, no pneumothorax."},
    ]
    assert ms.sectioned_row("s50000011", text)[1] == "Final read, small left apical pneumothorax."


def test_custom_index_study_is_an_unstripped_slice():
    prefix = (
        TITLE + " EXAMINATION:  CHEST (PORTABLE AP)\n"  # 46 + 35 = 81
        " \n"  # 83
        " INDICATION:  ___ year old man with hypoxia, evaluate for edema.\n"  # 148
        " \n"  # 150
        " COMPARISON:  ___.\n"  # 169
        " \n"  # 171
        " FINDINGS:  AP portable view.\n"  # 201
    )
    body = (
        " Moderate pulmonary edema is new since the prior study.\n"  # 56
        " Small bilateral pleural effusions.\n"  # 92
        " \n"  # 94
        " NOTE: Right IJ line tip in the SVC; no pneumothorax.\n"  # 148
    )
    text = prefix + body + " \n IMPRESSION:  Pulmonary edema.\n"
    assert (len(prefix), len(body)) == (201, 148)
    assert ms.conclusion("s50525523", text) == body  # leading space and final "\n" kept
    assert ms.conclusion("s50000012", text) == "Pulmonary edema."  # same text, no rule
    assert ms.sectioned_row("s50525523", text) is None
    assert ms.report_features("s50525523", text)["sections"]["impression"] == "Pulmonary edema."


def test_custom_empty_range_study():
    assert ms.conclusion("s58235663", NORMAL) == ""
    assert ms.sectioned_row("s58235663", NORMAL) is None
    assert ms.report_features("s58235663", NORMAL)["conclusion"] == ""


def test_custom_section_name_study_takes_last_section_of_that_name():
    text = (
        TITLE + " RECOMMENDATION(S):  First recommendation.\n"
        " \n"
        " IMPRESSION:  Nodule in the right upper lobe.\n"
        " \n"
        " RECOMMENDATIONS:  Chest CT in 3 months.\n"
    )
    assert ms.section_report(text)[1] == [
        "preamble", "recommendations", "impression", "recommendations",
    ]  # fmt: skip
    assert ms.conclusion("s50913680", text) == "Chest CT in 3 months."
    assert ms.conclusion("s50000013", text) == "Nodule in the right upper lobe."
    assert ms.sectioned_row("s50913680", text) is None
    assert ms.sectioned_row("s50000013", text) == (
        "s50000013",
        "Nodule in the right upper lobe.",
        None,
        None,
        None,
    )


def test_report_features_normal_report():
    features = ms.report_features("s50414267", NORMAL)
    assert features == {
        "text": NORMAL,
        "sections": {
            "impression": "No acute cardiopulmonary process.",
            "findings": "The lungs are clear.  There is no pleural effusion or pneumothorax.",
            "indication": "___F with cough  // eval for pneumonia",
            "history": None,
            "comparison": "___",
            "technique": "Chest PA and lateral",
            "examination": "CHEST (PA AND LAT)",
            "last_paragraph": None,
        },
        "other_sections": [
            {"name": "preamble", "text": "FINAL REPORT"},
            {
                "name": "notification",
                "text": "The findings were discussed with Dr. ___ at 9:15 am.",
            },
        ],
        "conclusion": "No acute cardiopulmonary process.",
    }
    assert tuple(features["sections"]) == ms.MAIN_SECTIONS
    assert ms.sectioned_row("s50414267", NORMAL) == (
        "s50414267",
        "No acute cardiopulmonary process.",
        "The lungs are clear.  There is no pleural effusion or pneumothorax.",
        None,
        "___",
    )


def test_main_sections_and_columns():
    assert ms.MAIN_SECTIONS == (
        "impression", "findings", "indication", "history", "comparison", "technique",
        "examination", "last_paragraph",
    )  # fmt: skip
    assert ms.SECTIONED_COLUMNS == (
        "study",
        "impression",
        "findings",
        "last_paragraph",
        "comparison",
    )


def test_custom_rule_tables():
    assert len(ms.CUSTOM_INDICES) == 31
    assert len(ms.CUSTOM_SECTION_NAMES) == 23
    assert ms.CUSTOM_INDICES["s54875119"] == (234, 988)
    assert ms.CUSTOM_INDICES["s52035334"] == (0, 0)
    assert ms.CUSTOM_SECTION_NAMES["s56451190"] == "note"
    assert ms.CUSTOM_SECTION_NAMES["s51491012"] == "history"
    assert not set(ms.CUSTOM_INDICES) & set(ms.CUSTOM_SECTION_NAMES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # the table, misspellings included
        ("IMPRESSOIN", "impression"),
        ("impresson", "impression"),
        ("mpression", "impression"),
        ("ndication", "impression"),  # sic, as in the official table
        ("idication", "indication"),
        ("FINDNGS", "findings"),
        ("finidngs", "findings"),
        ("finding", "findings"),
        ("COMPARISION", "comparison"),
        ("comparrison", "comparison"),
        ("comparisions", "comparison"),
        ("CONCLUSION", "impression"),
        ("REASON FOR EXAM", "indication"),
        ("CLINICAL INFORMATION", "history"),
        ("PFI", "history"),
        ("WETREAD", "wet read"),
        ("RECOMMENDATION(S)", "recommendations"),
        ("CHEST, TWO VIEWS", "findings"),
        ("FINDINGS/ IMPRESSION", "impression"),
        ("REFERENCE FINDINGS", "findings"),
        ("  Exam ", "examination"),  # lower-cased and stripped first
        # substring fallbacks, in order impression > findings > history > comparison > addendum
        ("PRELIMINARY IMPRESSION", "impression"),
        ("IMPRESSION AND FINDINGS", "impression"),
        ("HISTORY AND FINDINGS", "findings"),
        ("COMPARISON AND HISTORY", "history"),
        ("SECOND ADDENDUM", "addendum"),
        ("CHEST HISTORY", "history"),  # substring beats the view words
        # view words -> findings
        ("PORTABLE AP", "findings"),
        ("SINGLE FRONTAL VIEW", "findings"),
        ("RIBS, LEFT", "findings"),
        # otherwise kept, lower-cased and stripped
        ("NOTE", "note"),
        (" ATTENDING NOTE ", "attending note"),
        ("full report", "full report"),
    ],
)
def test_normalize_section_names(raw, expected):
    assert ms.normalize_section_names([raw]) == [expected]


def test_normalize_returns_new_list():
    names = ["IMPRESSOIN", "preamble"]
    assert ms.normalize_section_names(names) == ["impression", "preamble"]
    assert names == ["IMPRESSOIN", "preamble"]
