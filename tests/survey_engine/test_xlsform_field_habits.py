"""Habits of real forms that pyxform lets through: quotes a word processor curled, a
relevant Excel stored as a boolean, a label missing in one language."""

from __future__ import annotations

import pytest

from survey_engine.errors import SurveyLoadError
from survey_engine.events import ResponseStatus
from survey_engine.inputs import Answer
from survey_engine.machine import advance, start
from survey_engine.xlsform import load_markdown


def test_curled_quotes_in_an_expression_read_as_straight_ones() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | relevant |
        | | select_one yn | ok | OK? | |
        | | text | why | Why? | ${ok} = ‘no’ |
        | choices |
        | | list_name | name | label |
        | | yn | yes | Yes |
        | | yn | no | No |
        """
    )
    turn = advance(survey, start(survey).state, Answer("2"))
    assert turn.prompt is not None and turn.prompt.key == "why"
    assert survey.question("why").relevant.source == "${ok} = 'no'"


def test_a_relevant_excel_stored_as_false_hides_the_question() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | relevant |
        | | text | hidden | Never asked | FALSE |
        | | text | shown | Always asked | TRUE |
        """
    )
    turn = start(survey)
    assert turn.prompt is not None and turn.prompt.key == "shown"


def test_a_label_missing_in_one_language_says_the_default_ones_with_a_warning() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label::English (en) | label::Français (fr) |
        | | text | job | Your job? | Votre travail ? |
        | | text | town | Your town? | |
        """
    )
    assert survey.question("town").labels["fr"].source == "Your town?"
    assert [(w.code, w.row, w.column) for w in survey.warnings] == [
        ("missing_translation", 3, "label::Français (fr)")
    ]


def test_a_choice_without_any_label_shows_its_name_with_a_warning() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | select_one size | size | Size? |
        | choices |
        | | list_name | name | label |
        | | size | small | Small |
        | | size | XL | |
        """
    )
    turn = start(survey)
    assert turn.prompt is not None
    assert [c.label for c in turn.prompt.choices] == ["Small", "XL"]
    assert [(w.code, w.sheet, w.row) for w in survey.warnings] == [
        ("choice_name_as_label", "choices", 3)
    ]


def test_a_constraint_naming_its_own_question_checks_the_answer_given() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | constraint | constraint_message |
        | | integer | age | How old are you? | ${age} > 0 and ${age} < 120 | Not an age |
        | | text | town | Town? | | |
        """
    )
    refused = advance(survey, start(survey).state, Answer("130"))
    assert refused.prompt is not None and refused.prompt.error == "Not an age"
    accepted = advance(survey, refused.state, Answer("31"))
    assert accepted.state.answers == {"age": "31"}


def test_a_bare_null_in_a_calculation_is_empty_text_as_xpath_reads_it() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | calculation |
        | | select_one unit | unit | Unit? | |
        | | integer | amount | How many? | |
        | | calculate | days | | if(${unit} = 'months', ${amount} * 30, null) |
        | | note | said | ${days} days | |
        | choices |
        | | list_name | name | label |
        | | unit | months | Months |
        | | unit | weeks | Weeks |
        """
    )
    turn = advance(survey, start(survey).state, Answer("2"))
    turn = advance(survey, turn.state, Answer("3"))
    assert turn.state.answers["days"] == ""


def test_a_note_without_a_name_is_shown_under_the_name_pyxform_gives_it() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | note | | Welcome to the tracer survey |
        | | text | town | Your town? |
        """
    )
    turn = start(survey)
    assert turn.prompt is not None and turn.prompt.text == "Welcome to the tracer survey"
    assert turn.prompt.key == "generated_note_name_2"


def test_a_choice_filter_on_a_column_no_choice_has_reads_it_as_empty_with_a_warning() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | choice_filter |
        | | select_one colour | pastel | Favourite pastel? | pastel=yes |
        | | text | why | Why? | |
        | choices |
        | | list_name | name | label | pastel |
        | | colour | red | Red | no |
        | | colour | mauve | Mauve | yes |
        """
    )
    ((code, row, column, message),) = [
        (w.code, w.row, w.column, w.message) for w in survey.warnings
    ]
    assert (code, row, column) == ("unknown_choice_column", 2, "choice_filter")
    assert "'yes' is not a column" in message and "in quotes" in message
    # As ODK shows it: no choice passes, so the question is not asked.
    turn = start(survey)
    assert turn.prompt is not None and turn.prompt.key == "why"


def test_a_form_of_computed_values_only_loads_with_a_warning_and_completes_at_once() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | default |
        | | hidden | source | tracer-2026 |
        """
    )
    assert [w.code for w in survey.warnings] == ["nothing_to_ask"]
    turn = start(survey)
    assert turn.ended is not None and turn.ended.status is ResponseStatus.COMPLETE
    assert turn.state.answers == {"source": "tracer-2026"}


def test_a_stray_label_on_the_choices_sheet_is_ignored_with_a_warning() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | select_one yn | ok | OK? |
        | choices |
        | | list_name | name | label |
        | | yn | yes | Yes |
        | | yn | no | No |
        | | | | No |
        """
    )
    assert [c.name for c in survey.question("ok").choices] == ["yes", "no"]
    assert [(w.code, w.sheet, w.row) for w in survey.warnings] == [
        ("choice_row_ignored", "choices", 4)
    ]


@pytest.mark.parametrize("written", ["acknowledge", "trigger"])
def test_an_acknowledge_is_one_choice_ok_stored_as_odk_stores_it(written: str) -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | label::English (en) | label::Kiswahili (sw) |
        | | {written} | consent_read | I have heard the consent text | Nimesikia maelezo |
        | | text | town | Your town? | Mji wako? |
        """
    )
    turn = start(survey, language="sw")
    assert turn.prompt is not None
    assert [(c.key, c.name, c.label) for c in turn.prompt.choices] == [("1", "OK", "Sawa")]
    turn = advance(survey, turn.state, Answer("1"))
    assert turn.state.answers == {"consent_read": "OK"}


def test_a_choice_name_with_a_space_is_fine_for_select_one_but_not_select_multiple() -> None:
    form = """
        | survey |
        | | type | name | label |
        | | {kind} place | township | Township? |
        | choices |
        | | list_name | name | label |
        | | place | Township 01 | Township 1 |
        | | place | Township 02 | Township 2 |
        """
    survey = load_markdown(form.format(kind="select_one"))
    turn = advance(survey, start(survey).state, Answer("2"))
    assert turn.state.answers == {"township": "Township 02"}
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(form.format(kind="select_multiple"))
    assert [(e.code, e.sheet, e.row, e.column) for e in raised.value.errors] == [
        ("invalid_name", "choices", 2, "name"),
        ("invalid_name", "choices", 3, "name"),
    ]


def test_a_form_id_with_spaces_is_kept_with_underscores_and_said() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | text | town | Town? |
        | settings |
        | | form_id | form_title |
        | | Tracer 2026 (Kenya) | Tracer |
        """
    )
    assert survey.form_id == "Tracer_2026_Kenya"
    assert [(w.code, w.sheet, w.row, w.column) for w in survey.warnings] == [
        ("form_id_changed", "settings", 2, "form_id")
    ]
