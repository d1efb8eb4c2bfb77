"""The interview layer as every channel sees it, on every `ResponseStore`: in memory,
SQLite and PostgreSQL run the same table of cases. The live record goes through its
serialised bytes in the session store between turns, as in production.

A tiny renderer stands in for a channel: its view is (prompt key or "END", text,
notice phrase), so the tests read what a respondent would be shown."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from interviews import Closed, Interviews, InterviewSettings, Live, Notice, Outcome, Step
from storage.db import create_engine
from storage.memory import MemoryResponseStore
from storage.respondents import import_respondents
from storage.responses import SqlResponseStore
from storage.sessions import MemorySessionStore
from storage.surveys import SurveyStatus, import_survey, set_status
from survey_engine.events import Ended, Failed, ResponseStatus
from survey_engine.inputs import Answer, Back, Recording, Resume
from survey_engine.machine import Turn
from survey_engine.ports import ResponseRecord, ResponseStore
from survey_engine.xlsform import load_xlsform
from tests.conftest import empty_tables, markdown_to_xlsx

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
CODE = "*384*123#"
PHONE = "+254712345678"
USSD = "ussd"

TRACER = """
| survey |
|        | type          | name    | label::English (en) | label::Kiswahili (sw) |
|        | select_one yn | consent | Take part?          | Ushiriki?             |
|        | integer       | months  | Months?             | Miezi?                |
|        | text          | job     | Job?                | Kazi?                 |
| choices |
|         | list_name | name | label::English (en) | label::Kiswahili (sw) |
|         | yn        | yes  | Yes                 | Ndiyo                 |
|         | yn        | no   | No                  | Hapana                |
| settings |
|          | form_id | version |
|          | tracer  | 1       |
"""


def render(turn: Turn, notice: Notice | None) -> tuple[str, str, str]:
    prompt = turn.prompt
    said = notice.phrase if notice else ""
    if prompt is None:
        ended = turn.ended
        return "END", ended.message if ended else "", said
    return prompt.key, prompt.error or prompt.text, said


@dataclass
class World:
    store: ResponseStore
    survey_id: int
    add_respondent: Callable[[str, str | None], object]
    bind: Callable[..., Awaitable[object]]  # (code, roster_only, form=TRACER)
    now: list[dt.datetime]
    organisation_id: int  # the surveys' and their respondents'
    set_closed: Callable[[bool], Awaitable[None]]  # as staff close or publish the survey

    def interviews(self, **settings: object) -> Interviews:
        return Interviews(
            self.store,
            MemorySessionStore(),
            InterviewSettings(**settings),  # type: ignore[arg-type]
            clock=lambda: self.now[0],
        )

    async def latest(self, phone: str = PHONE) -> ResponseRecord | None:
        respondent = await self.store.find_respondent(self.organisation_id, phone)
        assert respondent is not None
        return await self.store.latest_response(respondent.id, self.survey_id)


async def _memory_world() -> World:
    store = MemoryResponseStore()
    ref = store.add_survey(load_xlsform(markdown_to_xlsx(TRACER)))

    async def add(phone: str, language: str | None) -> None:
        store.add_respondent(phone, language)

    async def bind(code: str, roster_only: bool, form: str = TRACER) -> None:
        survey_id = ref.survey_id
        if form != TRACER:
            survey_id = store.add_survey(load_xlsform(markdown_to_xlsx(form))).survey_id
        store.bind(USSD, code, survey_id, roster_only=roster_only)

    async def set_closed(closed: bool) -> None:
        store.set_closed(ref.survey_id, closed)

    await bind(CODE, False)
    return World(store, ref.survey_id, add, bind, [T0], store.DEFAULT_ORGANISATION_ID, set_closed)


@functools.cache
def _workbook(form: str) -> bytes:
    # One file per form: openpyxl stamps the time of saving into each workbook, and the
    # same version imported again from a different file is (rightly) refused.
    return markdown_to_xlsx(form)


async def _sql_world(engine: AsyncEngine) -> World:
    async def bind(code: str, roster_only: bool, form: str = TRACER) -> int:
        imported = await import_survey(
            engine,
            _workbook(form),
            filename="tracer.xlsx",
            ussd_code=code,
            roster_only=roster_only,
        )
        store.forget_surveys()
        organisation.append(imported.organisation_id)
        return imported.survey_id

    async def add(phone: str, language: str | None) -> None:
        roster = f"phone,language\n{phone},{language or ''}\n".encode()
        report = await import_respondents(
            engine, roster, filename="roster.csv", default_region=None
        )
        assert not report.errors, report.errors

    async def set_closed(closed: bool) -> None:
        async with engine.begin() as conn:
            await set_status(
                conn, survey_id, SurveyStatus.CLOSED if closed else SurveyStatus.PUBLISHED
            )
        store.forget_surveys()

    store = SqlResponseStore(engine)
    organisation: list[int] = []
    survey_id = await bind(CODE, False)
    return World(store, survey_id, add, bind, [T0], organisation[0], set_closed)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    if request.param == "memory":
        yield await _memory_world()
        return
    engine = create_engine(request.getfixturevalue(f"{request.param}_database_url"))
    await empty_tables(engine)
    try:
        world = await _sql_world(engine)
        yield world
        await world.store.close()  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def _open(
    interviews: Interviews, session: str = "S1", phone: str = PHONE, code: str = CODE
) -> Step | Closed:
    return await interviews.open(USSD, (code,), phone, session, "", render)


async def _answer(interviews: Interviews, session: str, *inputs: str | Resume) -> Step:
    """Each input as one turn, reading the live record back from the session store
    (its bytes) every time; the turn reference grows like a USSD history."""
    step: Step | Closed | None = None
    for item in inputs:
        live = await interviews.live(USSD, session)
        assert live is not None
        resume = Answer(item) if isinstance(item, str) else item
        ref = f"{live.turn_ref}*{item}" if live.turn_ref else str(item)
        step = await interviews.advance(live, resume, ref, render)
        assert isinstance(step, Step)
    assert isinstance(step, Step)
    return step


async def _graduate_answers(world: World, interviews: Interviews, *inputs: str | Resume) -> Step:
    """A graduate on the roster (English) dials session S1 and gives `inputs`."""
    await world.add_respondent(PHONE, "en")
    await _open(interviews)
    return await _answer(interviews, "S1", *inputs)


# -- entry --------------------------------------------------------------------------------


async def test_an_address_nobody_bound_closes_politely(world: World) -> None:
    closed = await _open(world.interviews(), code="*999#")
    assert closed == Closed("no_survey", None, Outcome.REFUSED_ENTRY)
    assert closed.text == "Sorry, this code is not in use."


async def test_a_roster_only_survey_refuses_unknown_numbers_and_opens_for_graduates(
    world: World,
) -> None:
    await world.bind(CODE, True)
    interviews = world.interviews()
    assert await _open(interviews) == Closed("not_on_roster", None)
    await world.add_respondent(PHONE, "sw")
    step = await _open(interviews)
    assert isinstance(step, Step)
    # The roster's language skips the language menu.
    assert (step.outcome, step.live.view) == (Outcome.SHOWN, ("consent", "Ushiriki?", ""))


async def test_a_closed_survey_starts_no_session_says_so_in_the_graduates_language_and_reopens(
    world: World,
) -> None:
    interviews = world.interviews()
    await world.add_respondent(PHONE, "en")
    under_way = await _open(interviews, "S1")
    assert isinstance(under_way, Step)
    await world.add_respondent("+254700000002", "sw")
    await world.set_closed(True)
    refused = await _open(interviews, "S2", phone="+254700000002")
    assert refused == Closed("survey_closed", "sw")
    assert refused.text == "Samahani, utafiti huu umefungwa. Asante kwa kujali."
    # A number nobody knows hears the survey's default language.
    stranger = await _open(interviews, "S3", phone="+254700000003")
    assert stranger == Closed("survey_closed", None)
    assert stranger.text == "Sorry, this survey is closed. Thank you for your interest."
    # A session that started before the survey closed goes on to its end.
    step = await _answer(interviews, "S1", "1")
    assert step.outcome is Outcome.ANSWERED and step.live.view[0] == "months"
    await world.set_closed(False)
    reopened = await _open(interviews, "S4", phone="+254700000002")
    assert isinstance(reopened, Step) and reopened.live.view[0] == "consent"


async def test_a_new_number_starts_at_the_language_menu_and_each_turn_is_in_sql_first(
    world: World,
) -> None:
    interviews = world.interviews()
    step = await _open(interviews)
    assert isinstance(step, Step)
    assert step.live.view[0] == "system.language"
    step = await _answer(interviews, "S1", "1", "1", "12")
    assert step.live.view[:2] == ("job", "Job?")
    assert (step.outcome, step.answered, step.status, step.failure) == (
        Outcome.ANSWERED,
        "months",
        None,
        None,
    )
    response = await world.latest()
    assert response is not None
    assert (response.answers, response.language, response.turn_ref) == (
        {"consent": "yes", "months": "12"},
        "en",
        "1*1*12",
    )
    respondent = await world.store.find_respondent(world.organisation_id, PHONE)
    assert respondent is not None and not respondent.on_roster


async def test_a_refused_input_reprompts_and_back_goes_to_the_previous_question(
    world: World,
) -> None:
    interviews = world.interviews()
    await world.add_respondent(PHONE, "en")
    await _open(interviews)
    step = await _answer(interviews, "S1", "1", "many")
    assert (step.outcome, step.live.view[:2]) == (
        Outcome.REPROMPTED,
        ("months", "Please enter a whole number."),
    )
    step = await _answer(interviews, "S1", Back())
    assert (step.outcome, step.live.view[0]) == (Outcome.WENT_BACK, "consent")


# -- what a redial hears ------------------------------------------------------------------


@dataclass(frozen=True)
class Redial:
    label: str
    inputs: tuple[str, ...]  # typed in the first session (English, on the roster)
    hours_later: float
    expected: tuple[str, str, str] | Closed  # the view, or the refusal
    responses: int  # how many responses the graduate has afterwards


REDIALS = [
    Redial("completed", ("1", "3", "welder"), 1, Closed("already_completed", "en"), 1),
    Redial(
        "unfinished-within-window",
        ("1", "3"),
        1,
        ("system.resume", "You have an unfinished survey.", ""),
        1,
    ),
    Redial("unfinished-after-window", ("1", "3"), 100, ("consent", "Take part?", ""), 2),
    Redial("nothing-answered", (), 1, ("consent", "Take part?", ""), 2),
    Redial("declined", ("2",), 1, ("consent", "Take part?", "declined_before"), 2),
]


@pytest.mark.parametrize("case", REDIALS, ids=[c.label for c in REDIALS])
async def test_what_a_redial_hears(world: World, case: Redial) -> None:
    await world.add_respondent(PHONE, "en")
    interviews = world.interviews()
    await _open(interviews)
    if case.inputs:
        await _answer(interviews, "S1", *case.inputs)
    world.now[0] = T0 + dt.timedelta(hours=case.hours_later)
    again = await _open(interviews, "S2")
    if isinstance(case.expected, Closed):
        assert again == case.expected
    else:
        assert isinstance(again, Step)
        assert again.live.view == case.expected
    respondent = await world.store.find_respondent(world.organisation_id, PHONE)
    assert respondent is not None
    count = 0
    # Count responses: the newest, and older ones by asking for each session.
    for session in ("S1", "S2"):
        if await world.store.response_by_session(USSD, session) is not None:
            count += 1
    assert count == case.responses


async def test_a_declined_graduate_who_dials_again_can_take_part_in_a_new_response(
    world: World,
) -> None:
    interviews = world.interviews()
    ended = await _graduate_answers(world, interviews, "2")
    assert ended.status is ResponseStatus.REFUSED
    again = await _open(interviews, "S2")
    assert isinstance(again, Step) and again.notice == Notice("declined_before", "en")
    assert again.notice.text.startswith("Last time you chose not to take part.")
    await _answer(interviews, "S2", "1", "4", "tailor")
    latest = await world.latest()
    assert latest is not None
    assert (latest.session_ref, latest.status, latest.answers) == (
        "S2",
        ResponseStatus.COMPLETE,
        {"consent": "yes", "months": "4", "job": "tailor"},
    )
    refused = await world.store.response_by_session(USSD, "S1")
    assert refused is not None and refused.status is ResponseStatus.REFUSED


# -- recovery and the end of a session ----------------------------------------------------


async def test_a_lost_live_record_continues_from_sql_where_the_respondent_was(
    world: World,
) -> None:
    interviews = world.interviews()
    await _graduate_answers(world, interviews, "1")
    restarted = world.interviews()  # a new process: no live records at all
    assert await restarted.live(USSD, "S1") is None
    live = await restarted.recover(USSD, "S1", render)
    assert isinstance(live, Live)
    assert (live.turn_ref, live.view) == ("1", ("months", "Months?", ""))
    assert await restarted.live(USSD, "S1") == live  # saved for the next turn
    await _answer(restarted, "S1", "7")
    latest = await world.latest()
    assert latest is not None and latest.answers == {"consent": "yes", "months": "7"}


async def test_recovery_rebuilds_a_resume_offer_that_was_on_screen(world: World) -> None:
    interviews = world.interviews()
    await _graduate_answers(world, interviews, "1", "3")
    await _open(interviews, "S2")  # the offer to continue or start again is shown
    restarted = world.interviews()
    live = await restarted.recover(USSD, "S2", render)
    assert isinstance(live, Live) and live.view[0] == "system.resume"
    step = await _answer(restarted, "S2", "1")
    assert step.live.view[:2] == ("job", "Job?")


VOICE = """
| survey |
|        | type    | name  | label::English (en)      | constraint           |
|        | integer | age   | Age?                     |                      |
|        | text    | story | Your story?              | string-length(.) < 3 |
|        | text    | more  | You said ${story}. More? |                      |
| settings |
|          | form_id | version |
|          | voice   | 1       |
"""
VOICE_CODE = "*384*7#"


async def test_a_voice_answer_stays_a_recording_after_a_lost_live_record_and_a_redial(
    world: World,
) -> None:
    await world.add_respondent(PHONE, "en")
    await world.bind(VOICE_CODE, False, VOICE)
    interviews = world.interviews()
    await _open(interviews, code=VOICE_CODE)
    step = await _answer(interviews, "S1", "30", Recording("voice/1/story-k3q9"))
    said = ("more", "You said (your recorded answer). More?", "")
    assert step.live.view == said
    # The live record is lost: SQL still knows the answer is a recording, so the label
    # does not show its file reference...
    restarted = world.interviews()
    live = await restarted.recover(USSD, "S1", render)
    assert isinstance(live, Live) and live.view == said
    # ...and changing the age keeps it (its text constraint would refuse a reference).
    step = await _answer(restarted, "S1", Back(), Back(), "31")
    assert step.live.view == said
    record = await world.store.response_by_session(USSD, "S1")
    assert record is not None
    assert (record.answers, record.recorded) == (
        {"age": "31", "story": "voice/1/story-k3q9"},
        {"story"},
    )
    # The respondent hangs up and dials again: continuing leads back to the same words.
    assert await restarted.end(USSD, "S1") is True
    offered = await _open(restarted, "S2", code=VOICE_CODE)
    assert isinstance(offered, Step) and offered.live.view[0] == "system.resume"
    step = await _answer(restarted, "S2", "1")
    assert step.live.view == said
    # Once more, with the offer itself recovered after another lost record.
    assert await restarted.end(USSD, "S2") is True
    offered = await _open(restarted, "S3", code=VOICE_CODE)
    assert isinstance(offered, Step) and offered.live.view[0] == "system.resume"
    again = world.interviews()
    live = await again.recover(USSD, "S3", render)
    assert isinstance(live, Live) and live.view[0] == "system.resume"
    step = await _answer(again, "S3", "1")
    assert step.live.view == said


async def test_recovery_of_a_finished_response_says_goodbye(world: World) -> None:
    interviews = world.interviews()
    await _graduate_answers(world, interviews, "1", "3", "welder")
    assert await world.interviews().recover(USSD, "S1", render) == Closed(
        "thank_you", "en", Outcome.DUPLICATE
    )
    assert await world.interviews().recover(USSD, "nobody", render) is None


async def test_the_end_of_a_session_suspends_through_the_engine_and_only_once(
    world: World,
) -> None:
    interviews = world.interviews()
    await _graduate_answers(world, interviews, "1")
    assert await interviews.end("ivr", "S1") is False  # another channel's session
    assert await interviews.end(USSD, "S1") is True
    latest = await world.latest()
    assert latest is not None
    assert (latest.status, latest.answers) == (ResponseStatus.INTERRUPTED, {"consent": "yes"})
    assert await interviews.live(USSD, "S1") is None  # the live record is gone
    assert await interviews.end(USSD, "S1") is False
    # A late turn of the ended session hears that its answers are kept.
    late = await interviews.recover(USSD, "S1", render)
    assert late == Closed("answers_kept", "en", Outcome.DUPLICATE)


async def test_an_old_sessions_end_does_not_interrupt_the_redial_that_took_over(
    world: World,
) -> None:
    interviews = world.interviews()
    await _graduate_answers(world, interviews, "1")
    await _open(interviews, "S2")  # resumes the same response under S2
    assert await interviews.end(USSD, "S1") is False
    latest = await world.latest()
    assert latest is not None and latest.status is ResponseStatus.IN_PROGRESS


async def test_the_end_of_a_completed_session_changes_nothing(world: World) -> None:
    interviews = world.interviews()
    await _graduate_answers(world, interviews, "1", "3", "welder")
    assert await interviews.end(USSD, "S1") is False
    latest = await world.latest()
    assert latest is not None and latest.status is ResponseStatus.COMPLETE


async def test_a_turn_on_an_ended_session_is_a_duplicate_and_stores_nothing(
    world: World,
) -> None:
    interviews = world.interviews()
    ended = await _graduate_answers(world, interviews, "1", "3", "welder")
    again = await interviews.advance(ended.live, Answer("x"), "1*3*welder*x", render)
    assert isinstance(again, Step) and again.outcome is Outcome.DUPLICATE
    latest = await world.latest()
    assert latest is not None and latest.turn_ref == "1*3*welder"


# -- this process's own records -----------------------------------------------------------


async def test_a_local_record_is_used_only_when_the_channel_trusts_it(world: World) -> None:
    await world.add_respondent(PHONE, "en")
    sessions = MemorySessionStore()
    interviews = Interviews(
        world.store, sessions, InterviewSettings(recent_records=10), clock=lambda: T0
    )
    opened = await _open(interviews)
    assert isinstance(opened, Step)
    # Another worker moves the session on: the shared store now holds a newer record.
    newer = Live(USSD, "S1", "1", opened.live.response_id, opened.live.version_id,
                 opened.live.state, ("months", "newer", ""))  # fmt: skip
    await sessions.set("ussd:S1", newer.to_bytes(), 60)
    assert (await interviews.live(USSD, "S1", lambda last: True)) == opened.live
    assert (await interviews.live(USSD, "S1", lambda last: False)) == newer
    interviews.forget_local_records()
    assert (await interviews.live(USSD, "S1", lambda last: True)) == newer


async def test_a_graduate_whose_survey_broke_hears_that_it_starts_again(world: World) -> None:
    await world.add_respondent(PHONE, "sw")
    interviews = world.interviews()
    opened = await _open(interviews)
    assert isinstance(opened, Step)
    # A skip expression that failed on real answers ended the response as failed.
    await world.store.record_turn(
        opened.live.response_id,
        [Failed("relevant_failed", "months: bad"), Ended(ResponseStatus.FAILED, "Samahani")],
        turn_ref="",
        now=T0,
    )
    again = await _open(interviews, "S2")
    assert isinstance(again, Step)
    assert again.live.view == ("consent", "Ushiriki?", "failed_before")
    assert again.notice is not None and again.notice.text.startswith("Samahani, utafiti")


async def test_the_first_turn_delivered_again_after_a_lost_record_is_late_not_a_new_dial(
    world: World,
) -> None:
    interviews = world.interviews()
    await _graduate_answers(world, interviews, "1", "3")
    restarted = world.interviews()  # the live record is gone
    again = await _open(restarted, "S1")
    assert isinstance(again, Step)
    assert (again.outcome, again.live.view, again.live.turn_ref) == (
        Outcome.LATE,
        ("job", "Job?", ""),
        "1*3",
    )
    latest = await world.latest()
    assert latest is not None and not latest.resume_offered and latest.turn_ref == "1*3"
