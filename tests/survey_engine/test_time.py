"""The `time` question (a time of day keyed on a phone, stored HH:MM on the 24-hour
clock) and `datetime` (the date as a date question takes it, then the time, in one
entry; stored YYYY-MM-DDTHH:MM), driven as production drives the engine (the state
through its bytes between inputs)."""

from __future__ import annotations

import datetime as dt

import pytest

from survey_engine.errors import SurveyLoadError
from survey_engine.events import AnswerGiven, InputKind
from survey_engine.inputs import Answer, Context
from survey_engine.machine import State, Turn, advance, expected_input, start
from survey_engine.model import QuestionType, Survey, canonical_datetime, canonical_time
from survey_engine.speech import SpokenValue, ValueKind
from survey_engine.xlsform import load_markdown

SHIFT = load_markdown(
    """
    | survey |
    | | type | name | label::English (en) | label::Français (fr) | constraint | default |
    | | time | start_work | When does your shift start? | Votre service commence à ? | | |
    | | time | end_work | It ends at? | Il finit à ? | . > ${start_work} | 17:00:00 |
    | | note | said | From ${start_work} to ${end_work} | De ${start_work} à ${end_work} | | |
    """
)


def run(survey: Survey, inputs: list[str], language: str = "en") -> Turn:
    turn = start(survey, language=language)
    for text in inputs:
        state = State.from_bytes(turn.state.to_bytes())
        turn = advance(survey, state, Answer(text))
    return turn


def stored(turn: Turn) -> dict[str, str]:
    return turn.state.answers


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("1430", "14:30"),
        ("930", "09:30"),
        ("0000", "00:00"),
        ("2359", "23:59"),
        ("14:30", "14:30"),
        ("9:05", "09:05"),
        ("14:30:00.000+03:00", "14:30"),  # ODK's own spelling, in a default
    ],
)
def test_a_time_is_kept_as_hh_mm(typed: str, kept: str) -> None:
    assert canonical_time(typed) == kept


@pytest.mark.parametrize("typed", ["2400", "1260", "14", "7", "14305", "ab", "14-30", "", "1:5"])
def test_what_is_no_time_of_day(typed: str) -> None:
    assert canonical_time(typed) is None


def test_a_respondent_keys_a_time_and_it_is_stored_zero_padded() -> None:
    turn = run(SHIFT, ["930"])
    assert turn.prompt is not None and turn.prompt.key == "end_work"
    assert AnswerGiven("start_work", "09:30") in turn.events
    assert run(SHIFT, ["930", "1730"]).prompt.text == "From 09:30 to 17:30"


def test_a_time_prompt_asks_for_a_time_and_hints_how() -> None:
    turn = run(SHIFT, [])
    prompt = turn.prompt
    assert prompt is not None
    assert prompt.question_type is QuestionType.TIME
    assert prompt.input.kind is InputKind.TIME is expected_input(SHIFT, turn.state)
    assert prompt.input.max_digits == 5  # 14*30 on a voice keypad


@pytest.mark.parametrize(
    ("language", "error"),
    [
        ("en", "Please enter a time as 4 digits, e.g. 1430 for 2:30 pm."),
        ("fr", "Veuillez entrer une heure en 4 chiffres, ex. 1430 pour 14h30."),
    ],
)
@pytest.mark.parametrize("typed", ["2500", "1275", "14", "noon"])
def test_a_time_that_is_none_is_asked_again_in_the_respondents_language(
    language: str, error: str, typed: str
) -> None:
    turn = run(SHIFT, [typed], language=language)
    assert turn.prompt is not None and turn.prompt.key == "start_work"
    assert turn.prompt.error == error
    assert "start_work" not in stored(turn)


def test_a_constraint_compares_times() -> None:
    turn = run(SHIFT, ["1400", "0900"])
    assert turn.prompt is not None and turn.prompt.key == "end_work"
    assert turn.prompt.error == "That answer is not allowed."
    assert stored(run(SHIFT, ["1400", "2200"]))["end_work"] == "22:00"


def test_a_default_time_is_offered_and_kept_by_an_empty_send() -> None:
    assert SHIFT.question("end_work").default == "17:00"  # as written: 17:00:00
    turn = run(SHIFT, ["0800"])
    assert turn.prompt is not None and turn.prompt.current_value == "17:00"
    assert stored(run(SHIFT, ["0800", ""]))["end_work"] == "17:00"


def test_a_computed_default_from_now_offers_the_time_of_day() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | default |
        | | time | seen | Seen at? | now() |
        """
    )
    moment = dt.datetime(2026, 6, 15, 7, 5, 42, tzinfo=dt.UTC)
    turn = start(survey, language="en", context=Context(moment))
    assert turn.prompt is not None and turn.prompt.current_value == "07:05"
    turn = advance(survey, State.from_bytes(turn.state.to_bytes()), Answer(""), Context(moment))
    assert turn.state.answers["seen"] == "07:05"


def test_a_piped_time_is_spoken_as_a_time() -> None:
    turn = run(SHIFT, ["930", "1730"])
    assert turn.prompt is not None
    values = [p for p in turn.prompt.speech.parts if isinstance(p, SpokenValue)]
    assert values == [SpokenValue(ValueKind.TIME, "09:30"), SpokenValue(ValueKind.TIME, "17:30")]


@pytest.mark.parametrize(
    ("relevant", "asked"),
    [
        ("${t} < '12:00'", True),
        ("${t} >= '12:00'", False),
        ("format-date-time(${t}, '%H') = '09'", True),
        ("format-date(${t}, '%h:%M') = '9:30'", True),
    ],
)
def test_expressions_read_a_time_as_a_time_of_day(relevant: str, asked: bool) -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | label | relevant |
        | | time | t | Time? | |
        | | integer | n | Morning count? | {relevant} |
        """
    )
    turn = run(survey, ["0930"])
    assert (turn.prompt is not None and turn.prompt.key == "n") is asked


def test_a_default_that_is_no_time_is_a_located_load_error() -> None:
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(
            """
            | survey |
            | | type | name | label | default |
            | | time | t | Time? | 25:00 |
            """
        )
    (error,) = raised.value.errors
    assert (error.code, error.sheet, error.row, error.column) == (
        "bad_default",
        "survey",
        2,
        "default",
    )
    assert "a time written HH:MM" in error.message


# -- datetime ---------------------------------------------------------------------------

VISIT = load_markdown(
    """
    | survey |
    | | type | name | label::English (en) | label::Français (fr) | constraint | default |
    | | dateTime | visit | When was the visit? | Quand était la visite ? | | |
    | | datetime | next | Next visit? | Prochaine visite ? | . > ${visit} | 2026-07-01T09:00:00.000+03:00 |
    | | note | said | Seen ${visit} | Vu ${visit} | | |
    """
)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("150620261430", "2026-06-15T14:30"),
        ("15062026 930", "2026-06-15T09:30"),
        ("15-06-2026 14:30", "2026-06-15T14:30"),
        ("15/06/2026 0000", "2026-06-15T00:00"),
    ],
)
def test_a_date_then_a_time_in_one_entry_is_kept_as_iso(typed: str, kept: str) -> None:
    turn = run(VISIT, [typed])
    assert AnswerGiven("visit", kept) in turn.events


@pytest.mark.parametrize(
    ("language", "error"),
    [
        ("en", "Please enter the date then the time, e.g. 15062026 1430."),
        ("fr", "Veuillez entrer la date puis l'heure, ex. 15062026 1430."),
    ],
)
@pytest.mark.parametrize("typed", ["15062026", "31022026 1430", "15062026 2500", "1430", "x y"])
def test_a_date_and_time_that_is_none_is_asked_again(language: str, error: str, typed: str) -> None:
    turn = run(VISIT, [typed], language=language)
    assert turn.prompt is not None and turn.prompt.key == "visit"
    assert turn.prompt.error == error


def test_a_date_and_time_prompt_hints_and_is_shown_and_said_as_date_then_time() -> None:
    first = run(VISIT, []).prompt
    assert first is not None and first.question_type is QuestionType.DATETIME
    assert first.input.kind is InputKind.DATETIME and first.input.max_digits == 13
    turn = run(VISIT, ["150620261430", ""])  # the default kept
    assert turn.state.answers["next"] == "2026-07-01T09:00"
    assert turn.prompt is not None and turn.prompt.text == "Seen 15/06/2026 14:30"
    values = [p for p in turn.prompt.speech.parts if isinstance(p, SpokenValue)]
    assert values == [
        SpokenValue(ValueKind.DATE, "2026-06-15"),
        SpokenValue(ValueKind.TIME, "14:30"),
    ]


def test_dates_and_times_compare_in_a_constraint() -> None:
    turn = run(VISIT, ["150620261430", "150620260900"])
    assert turn.prompt is not None and turn.prompt.key == "next"
    assert turn.prompt.error == "That answer is not allowed."


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("2026-06-15T14:30", "2026-06-15T14:30"),
        ("2026-06-15 9:05", "2026-06-15T09:05"),
        ("2026-06-15T14:30:00.000+03:00", "2026-06-15T14:30"),
        ("2026-02-30T14:30", None),
        ("2026-06-15", None),
        ("2026-06-15T24:00", None),
    ],
)
def test_a_written_date_and_time(written: str, kept: str | None) -> None:
    assert canonical_datetime(written) == kept
