"""Habits of real forms that pyxform lets through: quotes a word processor curled, a
relevant Excel stored as a boolean, a label missing in one language."""

from __future__ import annotations

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
