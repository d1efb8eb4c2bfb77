"""`select_one_external`: a list on the form's `external_choices` sheet (what ODK ships
beside the form as itemsets.csv), filtered by earlier answers as KoBo forms do."""

from __future__ import annotations

from survey_engine.inputs import Answer
from survey_engine.machine import advance, start
from survey_engine.xlsform import load_markdown

FORM = """
| survey |
| | type | name | label | choice_filter |
| | select_one states | state | State? | |
| | select_one_external counties | county | County? | state=${state} |
| choices |
| | list_name | name | label |
| | states | tx | Texas |
| | states | wa | Washington |
| external_choices |
| | list_name | name | label | state |
| | counties | king | King | wa |
| | counties | pierce | Pierce | wa |
| | counties | harris | Harris | tx |
"""


def test_an_external_list_is_asked_filtered_by_the_earlier_answer() -> None:
    survey = load_markdown(FORM)
    turn = advance(survey, start(survey).state, Answer("2"))  # Washington
    assert turn.prompt is not None and turn.prompt.key == "county"
    assert [c.label for c in turn.prompt.choices] == ["King", "Pierce"]
    turn = advance(survey, turn.state, Answer("2"))
    assert turn.state.answers["county"] == "pierce"


def test_an_external_list_that_is_missing_is_named() -> None:
    from survey_engine.errors import SurveyLoadError

    form = FORM.replace("select_one_external counties", "select_one_external districts")
    try:
        load_markdown(form)
    except SurveyLoadError as error:
        assert [(e.code, e.row) for e in error.errors] == [("missing_choice_list", 3)]
    else:
        raise AssertionError("a list that is nowhere was accepted")


def test_a_filter_that_leaves_no_choice_skips_the_question_rather_than_trap_the_caller() -> None:
    survey = load_markdown(FORM.replace("| | counties | harris | Harris | tx |\n", ""))
    turn = advance(survey, start(survey).state, Answer("1"))  # Texas: no county left
    assert turn.prompt is None and turn.ended is not None  # nothing to ask: the end
    assert "county" not in turn.state.answers
