"""`begin loop over LIST`: the body asked once per choice of the list, with `%(label)s`
saying the choice, as pyxform's loops do; answers stored per pass as `name[k]`."""

from __future__ import annotations

from survey_engine.inputs import Answer
from survey_engine.machine import advance, start
from survey_engine.xlsform import load_markdown

FORM = """
| survey |
| | type | name | label::English (en) | label::Français (fr) |
| | begin loop over toilets | count_each | | |
| | integer | number | How many %(label)s? | Combien de %(label)s ? |
| | end loop | | | |
| | text | done | Anything else? | Autre chose ? |
| choices |
| | list_name | name | label::English (en) | label::Français (fr) |
| | toilets | pit | pit latrines | latrines à fosse |
| | toilets | flush | flush toilets | toilettes à chasse |
"""


def test_a_loop_asks_its_body_once_per_choice_naming_it_in_each_language() -> None:
    survey = load_markdown(FORM)
    turn = start(survey)
    assert turn.prompt is not None  # the language menu
    turn = advance(survey, turn.state, Answer("2"))  # Français
    assert turn.prompt is not None and turn.prompt.text == "Combien de latrines à fosse ?"
    turn = advance(survey, turn.state, Answer("3"))
    assert turn.prompt is not None and turn.prompt.text == "Combien de toilettes à chasse ?"
    turn = advance(survey, turn.state, Answer("1"))
    assert turn.prompt is not None and turn.prompt.key == "done"
    assert turn.state.answers == {"number[1]": "3", "number[2]": "1"}


def test_a_loop_over_a_list_that_is_not_there_is_named() -> None:
    from survey_engine.errors import SurveyLoadError

    try:
        load_markdown(FORM.replace("over toilets", "over latrines"))
    except SurveyLoadError as error:
        assert [(e.code, e.row) for e in error.errors] == [("missing_choice_list", 2)]
    else:
        raise AssertionError("a loop over no list was accepted")
