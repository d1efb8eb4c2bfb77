"""Wrong or missing answers in a row end the session politely; Repeat says a prompt again.

The state goes through its bytes between every input, as it does through Redis."""

from __future__ import annotations

import pytest

from survey_engine.errors import EngineError
from survey_engine.events import (
    AnswerGiven,
    Ended,
    LanguageChosen,
    Prompt,
    PromptKind,
    ResponseStatus,
    Suspended,
)
from survey_engine.inputs import Answer, Back, NoInput, Repeat, Resume
from survey_engine.machine import MAX_ATTEMPTS, Phase, State, Turn, advance, start
from survey_engine.model import Survey
from survey_engine.speech import PromptKey, Speech
from survey_engine.xlsform import load_markdown

FORM = """
| survey |
| | type | name | label::English (en) | label::Français (fr) | constraint | required |
| | select_one yn | consent | Do you agree? | Acceptez-vous ? | | yes |
| | integer | months | Months? | Mois ? | . <= 60 | yes |
| | text | job | Your job? | Votre métier ? | | no |
| choices |
| | list_name | name | label::English (en) | label::Français (fr) |
| | yn | yes | Yes | Oui |
| | yn | no | No | Non |
| settings |
| | form_id | version | default_language |{extra_header}
| | tracer | 1 | English (en) |{extra_value}
"""
SURVEY = load_markdown(FORM.format(extra_header="", extra_value=""))


def run(survey: Survey, turn: Turn, inputs: list[Resume | str]) -> list[Turn]:
    turns = []
    for item in inputs:
        resume = Answer(item) if isinstance(item, str) else item
        turn = advance(survey, State.from_bytes(turn.state.to_bytes()), resume)
        turns.append(turn)
    return turns


def last_prompt(turns: list[Turn]) -> Prompt:
    prompt = turns[-1].prompt
    assert prompt is not None, turns[-1].events
    return prompt


def stopped(turn: Turn, message: str) -> None:
    """The turn ended the session politely, the response resumable."""
    assert turn.events == (Suspended(), Ended(ResponseStatus.INTERRUPTED, message))
    assert turn.ended is not None
    assert turn.ended.speech == Speech((PromptKey("system.too_many_attempts"),))
    assert turn.state.phase is Phase.ENDED
    assert turn.state.status is ResponseStatus.INTERRUPTED


ENGLISH_STOP = "We did not get a valid answer. Dial again to continue where you stopped."


def test_the_default_is_three_attempts():
    assert MAX_ATTEMPTS == 3
    assert SURVEY.max_attempts == 3


def test_three_wrong_answers_in_a_row_end_the_session_and_keep_the_answers():
    turns = run(SURVEY, start(SURVEY, language="en"), ["1", "abc", "99"])
    assert last_prompt(turns).error == "That answer is not allowed."  # two so far: re-prompted
    assert turns[-1].state.attempts == 2
    (third,) = run(SURVEY, turns[-1], [""])
    stopped(third, ENGLISH_STOP)
    assert third.state.answers == {"consent": "yes"}


def test_no_input_counts_like_a_wrong_answer_and_the_end_is_translated():
    turns = run(SURVEY, start(SURVEY, language="fr"), [NoInput(), "7", NoInput()])
    stopped(turns[-1], "Pas de réponse valide. Rappelez pour reprendre où vous vous êtes arrêté.")


@pytest.mark.parametrize(
    "reset",
    [
        pytest.param("1", id="a valid answer"),
        pytest.param(Back(), id="back"),
    ],
)
def test_a_valid_answer_or_back_starts_the_count_afresh(reset):
    turns = run(SURVEY, start(SURVEY, language="en"), ["9", "9", reset])
    assert turns[-1].state.attempts == 0
    more = run(SURVEY, turns[-1], ["x", "x"])
    assert last_prompt(more).error  # two more wrong answers: still asked
    assert more[-1].state.phase is Phase.QUESTION


def test_moving_to_another_question_starts_the_count_afresh():
    # Two wrong answers on `months`, back to `consent` (its answer kept), forward again.
    turns = run(SURVEY, start(SURVEY, language="en"), ["1", "x", "x", Back(), "1", "x", "x"])
    assert last_prompt(turns).key == "months"
    assert turns[-1].state.phase is Phase.QUESTION


def test_repeat_says_the_prompt_again_without_counting_and_without_data():
    first = start(SURVEY, language="en")
    turns = run(SURVEY, first, ["1", "x", "x", Repeat(), Repeat()])
    assert first.prompt is not None
    repeated = last_prompt(turns)
    assert repeated.key == "months" and repeated.error == ""
    assert turns[-1].data_events == ()
    assert turns[-1].state.attempts == 2  # neither counted nor forgiven
    (third,) = run(SURVEY, turns[-1], ["x"])
    stopped(third, ENGLISH_STOP)


def test_repeat_on_the_language_menu_and_the_resume_offer():
    menu = start(SURVEY)
    (again,) = run(SURVEY, menu, [Repeat()])
    assert again.events == menu.events
    offer = start(SURVEY, language="en", answers={"consent": "yes"}, offer_resume=True)
    (again,) = run(SURVEY, offer, [Repeat()])
    assert again.events == offer.events
    assert last_prompt([again]).kind is PromptKind.RESUME_OFFER


def test_wrong_keys_on_the_language_menu_and_the_resume_offer_count_too():
    turns = run(SURVEY, start(SURVEY), ["5", NoInput(), "0"])
    stopped(turns[-1], ENGLISH_STOP)  # no language chosen yet: the survey's default
    assert not any(isinstance(e, LanguageChosen) for t in turns for e in t.events)
    offer = start(SURVEY, language="fr", answers={"consent": "yes"}, offer_resume=True)
    turns = run(SURVEY, offer, ["3", "3", "3"])
    assert turns[-1].state.status is ResponseStatus.INTERRUPTED
    assert turns[-1].state.answers == {"consent": "yes"}


def test_a_survey_sets_its_own_number_of_attempts():
    one = load_markdown(FORM.format(extra_header=" max_attempts |", extra_value=" 1 |"))
    assert one.max_attempts == 1
    (turn,) = run(one, start(one, language="en"), ["9"])
    stopped(turn, ENGLISH_STOP)
    five = load_markdown(FORM.format(extra_header=" max_attempts |", extra_value=" 5 |"))
    turns = run(five, start(five, language="en"), ["9", "9", "9", "9"])
    assert last_prompt(turns).error
    assert run(five, turns[-1], ["9"])[-1].ended is not None


def test_the_count_travels_in_the_state_and_an_older_record_reads_as_none():
    turns = run(SURVEY, start(SURVEY, language="en"), ["9"])
    plain = turns[-1].state.to_plain()
    assert plain["t"] == 1
    del plain["t"]  # a session record written before attempts were counted
    assert State.from_plain(plain).attempts == 0
    with pytest.raises(EngineError) as caught:
        State.from_plain({**plain, "t": -1})
    assert caught.value.code == "bad_state"


def test_answers_given_before_the_stop_are_the_only_data_events():
    turns = run(SURVEY, start(SURVEY, language="en"), ["1", "x", "x", "x"])
    data = [e for t in turns for e in t.data_events]
    assert data[0] == AnswerGiven("consent", "yes")
    assert data[1:] == [Suspended(), Ended(ResponseStatus.INTERRUPTED, ENGLISH_STOP)]
