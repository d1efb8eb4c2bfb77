"""What a phone cannot ask (a GPS location, a photo, a recording...): refused by default,
one located line per question naming its type; left out with `skip_unaskable`, each
question and each reference to it named in `Survey.warnings`."""

from __future__ import annotations

import pytest

from survey_engine.events import Prompt
from survey_engine.inputs import Answer
from survey_engine.machine import advance, start
from survey_engine.model import QuestionType
from survey_engine.xlsform import FormWarningCode, load_markdown
from tests.survey_engine.test_xlsform import form_errors, located


@pytest.mark.parametrize(
    ("written", "appearance", "named"),
    [
        ("geopoint", "", "a GPS location"),
        ("geotrace", "", "a line of GPS points"),
        ("geoshape", "", "an area of GPS points"),
        ("gps", "", "a GPS location"),  # pyxform's alias
        ("image", "", "a photo"),
        ("photo", "", "a photo"),
        ("image", "signature", "a signature"),
        ("audio", "", "an audio recording"),
        ("video", "", "a video"),
        ("file", "", "a file"),
        ("barcode", "", "a barcode scan"),
        ("osm", "", "an OpenStreetMap feature"),
        ("range", "", "a position on a slider"),
        ("range", "vertical", "a position on a slider"),
        ("start-geopoint", "", "a GPS location"),
        ("background-audio", "", "an audio recording"),
        ("background-geopoint", "", "a GPS location"),
    ],
)
def test_what_a_phone_cannot_ask_is_refused_naming_the_type(
    written: str, appearance: str, named: str
) -> None:
    errors = form_errors(
        f"""
        | survey |
        | | type | name | label | appearance |
        | | text | first | First | |
        | | {written} | q | Question | {appearance} |
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("unaskable_type", "survey", 3, "type")
    ]
    assert f"type '{written}'" in errors[0].message
    assert f"asks for {named}" in errors[0].message
    assert "--skip-unaskable" in errors[0].message


@pytest.mark.parametrize(
    ("written", "appearance", "advice"),
    [
        ("range", "picker", "ask an integer with a constraint such as '. >= 1 and . <= 10'"),
    ],
)
def test_what_a_keypad_could_ask_but_we_do_not_yet_says_what_to_write_instead(
    written: str, appearance: str, advice: str
) -> None:
    errors = form_errors(
        f"""
        | survey |
        | | type | name | label | appearance |
        | | {written} | q | How many? | {appearance} |
        """
    )
    assert [(e.code, e.row, e.column) for e in errors] == [("unsupported_type", 2, "type")]
    assert f"type '{written}' is not supported yet: {advice}" in errors[0].message


def test_every_unaskable_question_is_listed_with_the_forms_other_errors() -> None:
    assert located(
        """
        | survey |
        | | type | name | label | relevant |
        | | geopoint | where | Where? | |
        | | integer | age | Age? | ${agee} > 3 |
        | | image | face | Photo? | |
        """
    ) == [
        ("unaskable_type", "survey", 2, "type"),
        ("undefined_reference", "survey", 3, "relevant"),
        ("unaskable_type", "survey", 4, "type"),
    ]


FIELD_VISIT = """
| survey |
| | type | name | label | relevant | constraint |
| | text | shop | Name of your shop? | | |
| | geopoint | where | Where is it? | | |
| | begin group | pics | | | |
| | image | front | Photo of the front | | |
| | end group | | | | |
| | note | seen | Photo: ${front} | | |
| | integer | staff | Staff? | ${where} = '' | . > 0 or ${front} != '' |
| | text | why | Why no location? | ${where} != '' | |
"""


def test_skipping_leaves_them_out_and_says_which_and_where_they_were_used() -> None:
    survey = load_markdown(FIELD_VISIT, skip_unaskable=True)
    assert [q.name for q in survey.questions] == ["shop", "seen", "staff", "why"]
    assert [(w.code, w.sheet, w.row, w.column) for w in survey.warnings] == [
        ("unaskable_skipped", "survey", 3, "type"),
        ("unaskable_skipped", "survey", 5, "type"),
        ("unaskable_reference", "survey", 7, "label"),
        ("unaskable_reference", "survey", 8, "relevant"),
        ("unaskable_reference", "survey", 8, "constraint"),
        ("unaskable_reference", "survey", 9, "relevant"),
    ]
    skipped, _, reference, *_ = survey.warnings
    assert "'where' (type 'geopoint') is left out" in skipped.message
    assert "'${front}' is left out (row 5" in reference.message
    assert "always empty" in reference.message
    assert FormWarningCode.UNASKABLE_SKIPPED == "unaskable_skipped"


def test_a_question_left_out_reads_as_empty_in_labels_and_logic() -> None:
    survey = load_markdown(FIELD_VISIT, skip_unaskable=True)
    turn = start(survey, language=None)
    assert isinstance(turn.prompt, Prompt) and turn.prompt.key == "shop"
    turn = advance(survey, turn.state, Answer("Mama Njeri"))
    assert turn.prompt is not None and turn.prompt.text == "Photo: "
    turn = advance(survey, turn.state, Answer("1"))
    # `${where} = ''` holds; the constraint's `${front} != ''` does not help a 0.
    assert turn.prompt is not None and turn.prompt.key == "staff"
    turn = advance(survey, turn.state, Answer("0"))
    assert turn.prompt is not None and turn.prompt.key == "staff" and turn.prompt.error
    turn = advance(survey, turn.state, Answer("3"))
    assert turn.prompt is None and turn.ended is not None  # `why` is never relevant
    assert turn.state.answers == {"shop": "Mama Njeri", "staff": "3"}


def test_without_skipping_a_form_a_phone_can_ask_has_no_warnings() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | integer | age | Age? |
        """,
        skip_unaskable=True,
    )
    assert survey.warnings == ()
    assert survey.questions[0].type is QuestionType.INTEGER


def test_a_left_out_name_is_still_taken() -> None:
    assert [
        (w.code, w.row)
        for w in form_errors(
            """
            | survey |
            | | type | name | label |
            | | geopoint | where | Where? |
            | | text | where | Where, in words? |
            """
        )
    ] == [("unaskable_type", 2), ("duplicate_name", 3)]


def test_a_calculation_of_a_shape_left_out_is_left_out_too_and_said() -> None:
    form = """
        | survey |
        | | type | name | label | calculation |
        | | geoshape | plot | Draw your plot | |
        | | calculate | plot_area | | enclosed-area(${plot}) |
        | | integer | workers | Workers on the plot? | |
        """
    assert ("unsupported_function", "survey", 3, "calculation") in located(form)
    survey = load_markdown(form, skip_unaskable=True)
    warned = [(w.code, w.row, w.column) for w in survey.warnings]
    assert ("unaskable_reference", 3, "calculation") in warned
    turn = advance(survey, start(survey).state, Answer("4"))
    assert turn.state.answers == {"workers": "4", "plot_area": ""}


def test_a_note_that_only_shows_a_picture_is_unaskable() -> None:
    form = """
        | survey |
        | | type | name | label | image |
        | | note | map | | district_map.png |
        | | note | hello | Welcome | logo.png |
        | | integer | workers | Workers? | |
        """
    ((code, _, row, column),) = located(form)
    assert (code, row, column) == ("unaskable_type", 2, "type")
    assert "picture or video" in form_errors(form)[0].message
    survey = load_markdown(form, skip_unaskable=True)
    assert [q.name for q in survey.questions] == ["hello", "workers"]  # words with a logo stay
