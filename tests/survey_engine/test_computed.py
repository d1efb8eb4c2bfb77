"""Computed values (issue 15): `calculate`, `hidden`, `default` and the metadata the
system fills, driven as production drives the engine (the state through its bytes
between every input, the clock given as a `Context`)."""

from __future__ import annotations

import datetime as dt

import pytest

from survey_engine.errors import SurveyLoadError
from survey_engine.events import AnswerGiven, AnswerKind, AnswersCleared, Restarted
from survey_engine.inputs import Answer, Back, Context
from survey_engine.machine import (
    Phase,
    State,
    Turn,
    advance,
    current_prompt,
    resume_state,
    start,
)
from survey_engine.model import Survey
from survey_engine.xlsform import load_markdown

T0 = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
PHONE = "+254712345678"


def at(minutes: int, **who: str) -> Context:
    return Context(T0 + dt.timedelta(minutes=minutes), **who)


class Run:
    """One response: each input a turn a minute after the last, through state bytes."""

    def __init__(self, survey: Survey, **start_args: object) -> None:
        self.survey = survey
        self.minute = 0
        context = start_args.pop("context", at(0, phone=PHONE, channel="ussd"))
        self.turns: list[Turn] = [start(survey, context=context, **start_args)]  # type: ignore[arg-type]

    @property
    def state(self) -> State:
        return State.from_bytes(self.turns[-1].state.to_bytes())

    def send(self, *inputs: str | Back) -> Run:
        for item in inputs:
            self.minute += 1
            resume = Answer(item) if isinstance(item, str) else item
            self.turns.append(advance(self.survey, self.state, resume, at(self.minute)))
        return self

    @property
    def screen(self) -> str:
        prompt = self.turns[-1].prompt
        assert prompt is not None, self.turns[-1].events
        return prompt.text

    @property
    def stored(self) -> dict[str, tuple[str, AnswerKind]]:
        """What storage holds after applying every turn's events."""
        held: dict[str, tuple[str, AnswerKind]] = {}
        for turn in self.turns:
            for event in turn.data_events:
                if isinstance(event, AnswerGiven):
                    held[event.question] = (event.value, event.kind)
                elif isinstance(event, AnswersCleared):
                    for name in event.questions:
                        held.pop(name, None)
                elif isinstance(event, Restarted):
                    held.clear()
        return held

    def calculated(self) -> dict[str, str]:
        return {k: v for k, (v, kind) in self.stored.items() if kind is AnswerKind.CALCULATED}


PAY = load_markdown(
    """
    | survey |
    | | type | name | label | calculation | relevant | constraint |
    | | integer | days | Days worked last week? | | | . <= 7 |
    | | integer | rate | Pay per day (KES)? | | | |
    | | calculate | weekly | | ${days} * ${rate} | | |
    | | calculate | band | | if(${weekly} >= 3000, 'high', 'low') | | |
    | | integer | saved | You earned ${weekly} KES. How much did you save? | | | . <= ${weekly} |
    | | text | why_low | Why under 3000? | | ${band} = 'low' | |
    | | select_one where | spend | Spent most on? | | | |
    | choices |
    | | list_name | name | label | band |
    | | where | rent | Rent | low |
    | | where | car | A car | high |
    | | where | food | Food | low |
    """
)


def test_a_calculation_reaches_piped_labels_constraints_and_skip_logic() -> None:
    run = Run(PAY).send("5", "400")
    assert run.screen == "You earned 2000 KES. How much did you save?"
    run.send("2500")  # more than ${weekly}: the constraint uses the calculation
    assert run.turns[-1].prompt is not None and run.turns[-1].prompt.error
    run.send("500")
    assert run.screen == "Why under 3000?"  # relevant: ${band} = 'low'
    assert run.calculated() == {"weekly": "2000", "band": "low"}
    assert run.stored["days"] == ("5", AnswerKind.TEXT)


def test_going_back_and_changing_an_input_recomputes_and_clears_what_no_longer_holds() -> None:
    run = Run(PAY).send("5", "400", "500", "market fees")
    assert run.screen == "Spent most on?"
    run.send(Back(), Back(), Back(), "100")  # back to the rate: 5 x 100 = 500
    last = run.turns[-1]
    changed = [e for e in last.data_events if isinstance(e, AnswerGiven)]
    assert [(e.question, e.value, e.kind) for e in changed] == [
        ("rate", "100", AnswerKind.TEXT),
        ("weekly", "500", AnswerKind.CALCULATED),
    ]
    # 500 saved out of a weekly 500 still holds; band stays low: nothing else changes.
    assert run.screen == "Spent most on?"
    run.send(Back(), Back(), Back(), "1000")  # 5 x 1000: saved 500 holds, band is high
    assert run.calculated() == {"weekly": "5000", "band": "high"}
    assert "why_low" not in run.stored  # no longer relevant: cleared
    assert run.screen == "Spent most on?"


def test_a_choice_filter_may_use_a_calculation() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | calculation | choice_filter |
        | | integer | pay | Pay? | | |
        | | calculate | band | | if(${pay} >= 3000, 'high', 'low') | |
        | | select_one where | spend | Spent most on? | | band = ${band} |
        | choices |
        | | list_name | name | label | band |
        | | where | rent | Rent | low |
        | | where | car | A car | high |
        """
    )
    run = Run(survey).send("100")
    assert [c.label for c in run.turns[-1].prompt.choices] == ["Rent"]  # type: ignore[union-attr]
    run.send(Back(), "5000")
    assert [c.label for c in run.turns[-1].prompt.choices] == ["A car"]  # type: ignore[union-attr]


CLOCKED = load_markdown(
    """
    | survey |
    | | type | name | label | calculation |
    | | start | started | | |
    | | end | ended | | |
    | | today | day | | |
    | | phonenumber | phone | | |
    | | deviceid | device | | |
    | | username | user | | |
    | | calculate | first_seen | | once(now()) |
    | | calculate | week | | format-date(today(), '%Y-%m-%d') |
    | | date | born | Born on? | |
    | | calculate | age | | int((today() - ${born}) div 365.25) |
    | | integer | kids | You are ${age}. Children? | |
    """
)


def test_metadata_is_filled_from_the_context_and_end_at_completion() -> None:
    run = Run(CLOCKED)
    assert run.calculated() == {
        "started": "2026-06-15T09:00:00.000+00:00",
        "day": "2026-06-15",
        "phone": PHONE,
        "device": "ussd",
        "user": "",  # known to ODK, nothing on a phone call
        "first_seen": "2026-06-15T09:00:00.000+00:00",
        "week": "2026-06-15",
        "age": "NaN",  # no birth date yet
    }
    run.send("16062000")
    assert run.screen == "You are 25. Children?"
    run.send("2")
    assert run.turns[-1].ended is not None
    assert run.calculated()["ended"] == "2026-06-15T09:02:00.000+00:00"
    assert run.calculated()["started"] == "2026-06-15T09:00:00.000+00:00"


def test_values_are_the_same_whichever_path_the_response_took() -> None:
    went_on = Run(CLOCKED).send("16062000")
    stored = {k: v for k, (v, _) in went_on.stored.items()}
    # Resumed a day later: the stored values stand, none is computed again.
    later = Context(T0 + dt.timedelta(days=1), phone=PHONE, channel="ivr")
    resumed = start(CLOCKED, answers=stored, offer_resume=True, context=later)
    assert resumed.data_events == ()
    continued = advance(CLOCKED, resumed.state, Answer("1"), later)
    assert continued.prompt is not None
    assert continued.prompt.text == went_on.screen == "You are 25. Children?"
    # Recovered from SQL (Redis lost the session): the same prompt.
    recovered = resume_state(CLOCKED, stored, None, now=later.now)
    assert current_prompt(CLOCKED, recovered) == went_on.turns[-1].prompt
    assert recovered.answers == stored


def test_starting_again_keeps_who_and_where_and_takes_a_new_start_time() -> None:
    went_on = Run(CLOCKED).send("16062000")
    stored = {k: v for k, (v, _) in went_on.stored.items()}
    later = Context(T0 + dt.timedelta(days=1))  # a later turn knows only the clock
    offer = start(CLOCKED, answers=stored, offer_resume=True, context=later)
    again = advance(CLOCKED, offer.state, Answer("2"), later)
    values = {
        e.question: e.value
        for e in again.data_events
        if isinstance(e, AnswerGiven) and e.kind is AnswerKind.CALCULATED
    }
    assert isinstance(again.data_events[0], Restarted)
    assert values["phone"] == PHONE and values["device"] == "ussd"
    assert values["started"] == values["first_seen"] == "2026-06-16T09:00:00.000+00:00"


def test_without_a_clock_the_engine_leaves_time_empty_rather_than_read_the_machines() -> None:
    turn = start(CLOCKED)
    values = {e.question: e.value for e in turn.data_events if isinstance(e, AnswerGiven)}
    assert "started" not in values and "phone" not in values
    assert values["first_seen"] == "" and values["week"] == ""


def test_a_hidden_value_is_stored_never_shown() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | default |
        | | hidden | programme | | tailoring-2026 |
        | | text | name | Your name (${programme})? | |
        """
    )
    run = Run(survey)
    assert run.screen == "Your name (tailoring-2026)?"
    assert run.calculated() == {"programme": "tailoring-2026"}
    assert [q.name for q in survey.questions] == ["name"]


DEFAULTS = load_markdown(
    """
    | survey |
    | | type | name | label | default | calculation | required |
    | | integer | household | People at home? | 4 | | yes |
    | | calculate | adults | | | ${household} - 1 | |
    | | integer | workers | Working adults? | ${adults} | | yes |
    | | select_one yn | happy | Happy with the training? | yes | | |
    | | date | finished | Finished on? | 2026-06-30 | | |
    | choices |
    | | list_name | name | label |
    | | yn | yes | Yes |
    | | yn | no | No |
    """
)


def test_a_default_is_shown_as_the_current_answer_and_an_empty_send_keeps_it() -> None:
    run = Run(DEFAULTS)
    assert run.turns[-1].prompt.current_value == "4"  # type: ignore[union-attr]
    run.send("")  # required, yet the default answers it
    assert run.turns[-1].prompt.current_value == "3"  # type: ignore[union-attr]  # ${adults}
    run.send("2")  # typed: the default is only offered
    assert run.turns[-1].prompt.current_value == "Yes"  # type: ignore[union-attr]
    run.send("")
    assert run.turns[-1].prompt.current_value == "30/06/2026"  # type: ignore[union-attr]
    run.send("")
    answers = {k: v for k, (v, _) in run.stored.items()}
    assert answers == {
        "household": "4",
        "adults": "3",
        "workers": "2",
        "happy": "yes",
        "finished": "2026-06-30",
    }


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("| | calculate | c | | | |", ("missing_calculation", 3, "calculation")),
        ("| | calculate | c | | ${c} + 1 | |", ("calculation_cycle", 3, "calculation")),
        ("| | calculate | c | | position(..) | |", ("unsupported_function", 3, "calculation")),
        ("| | calculate | c | | ${nope} | |", ("undefined_reference", 3, "calculation")),
        ("| | calculate | c | | . + 1 | |", ("dot_outside_constraint", 3, "calculation")),
        ("| | integer | c | C? | | x |", ("bad_default", 3, "default")),
        ("| | select_one yn | c | C? | | maybe |", ("bad_default", 3, "default")),
        ("| | date | c | C? | | 15/06/2026 |", ("bad_default", 3, "default")),
        (
            "| | text | c | C? | | pulldata('a', 'b', 'c', 'd') |",
            ("missing_media", 3, "default"),
        ),
    ],
)
def test_computed_rows_that_cannot_work_are_located_load_errors(
    rows: str, expected: tuple[str, int, str]
) -> None:
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(
            f"""
            | survey |
            | | type | name | label | calculation | default |
            | | integer | a | A? | | |
            {rows}
            | choices |
            | | list_name | name | label |
            | | yn | yes | Yes |
            """
        )
    assert [(e.code, e.row, e.column) for e in raised.value.errors] == [expected]


def test_calculations_depending_on_each_other_are_named_in_the_error() -> None:
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(
            """
            | survey |
            | | type | name | label | calculation |
            | | calculate | x | | ${y} + 1 |
            | | calculate | y | | ${x} + 1 |
            | | text | t | T? | |
            """
        )
    assert [(e.code, e.row) for e in raised.value.errors] == [
        ("calculation_cycle", 2),
        ("calculation_cycle", 3),
    ]
    assert "'x' depends on itself through ${y}" in raised.value.errors[0].message


def test_calculations_are_computed_after_what_they_refer_to_whatever_the_row_order() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | calculation |
        | | calculate | total | | ${a} + ${double} |
        | | calculate | double | | ${a} * 2 |
        | | integer | a | A? | |
        | | note | n | Total ${total} | |
        """
    )
    assert [c.name for c in survey.calculations] == ["double", "total"]
    assert Run(survey).send("5").screen == "Total 15"


def test_a_row_of_another_type_with_a_calculation_is_computed_not_asked() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | calculation |
        | | integer | a | A? | |
        | | integer | b | B? | ${a} * 2 |
        | | note | n | B is ${b} | |
        """
    )
    assert [q.name for q in survey.questions] == ["a", "n"]
    assert Run(survey).send("4").screen == "B is 8"


def test_jr_choice_name_gives_the_label_in_the_respondents_language() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label::English (en) | label::Français (fr) | calculation |
        | | select_one job | job | Job? | Métier ? | |
        | | calculate | job_label | | | jr:choice-name(${job}, '${job}') |
        | | note | n | You chose ${job_label} | Vous avez choisi ${job_label} | |
        | choices |
        | | list_name | name | label::English (en) | label::Français (fr) |
        | | job | weld | Welding | Soudure |
        """
    )
    assert Run(survey, language="fr").send("1").screen == "Vous avez choisi Soudure"


def test_the_turns_time_survives_the_state_bytes_and_an_earlier_releases_iso_form() -> None:
    moment = dt.datetime(2026, 6, 15, 9, 30, 12, 345678, tzinfo=dt.UTC)
    state = State(Phase.QUESTION, "en", 0, {}, now=moment)
    assert State.from_bytes(state.to_bytes()).now == moment
    plain = state.to_plain() | {"n": moment.isoformat()}  # as written before
    assert State.from_plain(plain).now == moment
