"""`rank LIST`: every choice put in order, most important first, stored as ODK stores
it (the choices' names separated by spaces, in that order), driven as production
drives the engine (the state through its bytes between inputs)."""

from __future__ import annotations

import pytest

from survey_engine.errors import SurveyLoadError
from survey_engine.events import AnswerGiven, InputKind
from survey_engine.inputs import Answer, Back
from survey_engine.machine import State, Turn, advance, expected_input, start
from survey_engine.model import QuestionType, Survey
from survey_engine.xlsform import load_markdown

NEEDS = load_markdown(
    """
    | survey |
    | | type | name | label::English (en) | label::Français (fr) | choice_filter |
    | | select_one yn | paid | Paid work? | Travail payé ? | |
    | | rank needs | needs | Order what matters | Classez ce qui compte | |
    | | rank jobs | jobs | Order the jobs | Classez les métiers | ${paid} = 'yes' or paid_only = 'no' |
    | | note | said | You put ${needs} | Vous avez mis ${needs} | |
    | choices |
    | | list_name | name | label::English (en) | label::Français (fr) | paid_only |
    | | yn | yes | Yes | Oui | |
    | | yn | no | No | Non | |
    | | needs | pay | Pay | Salaire | |
    | | needs | hours | Hours | Horaires | |
    | | needs | place | Place | Lieu | |
    | | jobs | weld | Welding | Soudure | yes |
    | | jobs | sew | Sewing | Couture | no |
    """
)


def run(survey: Survey, inputs: list[str | Back], language: str = "en") -> Turn:
    turn = start(survey, language=language)
    for item in inputs:
        state = State.from_bytes(turn.state.to_bytes())
        turn = advance(survey, state, Answer(item) if isinstance(item, str) else item)
    return turn


@pytest.mark.parametrize("typed", ["3 1 2", "312"])
def test_every_choice_in_order_is_stored_as_names_most_important_first(typed: str) -> None:
    turn = run(NEEDS, ["1", typed])
    assert AnswerGiven("needs", "place pay hours") in turn.events


def test_a_rank_prompt_lists_the_choices_and_says_it_takes_them_all() -> None:
    turn = run(NEEDS, ["1"])
    prompt = turn.prompt
    assert prompt is not None and prompt.question_type is QuestionType.RANK
    assert prompt.input.kind is InputKind.RANK is expected_input(NEEDS, turn.state)
    assert [(c.key, c.label) for c in prompt.choices] == [
        ("1", "Pay"),
        ("2", "Hours"),
        ("3", "Place"),
    ]
    assert prompt.input.choice_count == 3


@pytest.mark.parametrize(
    ("language", "error"),
    [
        ("en", "Enter all 3 numbers in order, each once, most important first."),
        ("fr", "Entrez les 3 numéros dans l'ordre, chacun une fois, le plus important d'abord."),
    ],
)
@pytest.mark.parametrize("typed", ["3 1", "3 1 1", "3 1 2 4", "4 1 2", "31", "0 1 2", "x"])
def test_a_missing_or_repeated_number_is_asked_again(language: str, error: str, typed: str) -> None:
    turn = run(NEEDS, ["1", typed], language=language)
    assert turn.prompt is not None and turn.prompt.key == "needs"
    assert turn.prompt.error == error


def test_a_ranked_answer_is_shown_in_its_order() -> None:
    turn = run(NEEDS, ["2", "231", "1"])  # Sewing alone is shown, and ranked
    assert turn.prompt is not None and turn.prompt.text == "You put Hours, Place, Pay"
    assert turn.state.answers["jobs"] == "sew"


def test_a_rank_whose_choices_change_is_cleared() -> None:
    # Going back to change what the filter reads: the old order no longer ranks them all.
    turn = run(NEEDS, ["2", "231", "1", Back(), Back(), Back(), "1"])
    assert "jobs" not in turn.state.answers
    assert turn.state.answers["needs"] == "hours place pay"


def test_a_default_must_rank_every_choice() -> None:
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(
            """
            | survey |
            | | type | name | label | default |
            | | rank needs | needs | Order | pay hours |
            | choices |
            | | list_name | name | label |
            | | needs | pay | Pay |
            | | needs | hours | Hours |
            | | needs | place | Place |
            """
        )
    (error,) = raised.value.errors
    assert (error.code, error.row, error.column) == ("bad_default", 2, "default")
    assert "the names of all its choices, in order" in error.message
