"""SqlResponseStore against SQLite and PostgreSQL: what the USSD and voice channels rely on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.memory import MemoryResponseStore
from storage.responses import SqlResponseStore
from storage.schema import answers, respondents, responses
from storage.surveys import import_survey
from survey_engine.errors import EngineError
from survey_engine.events import (
    AnswerGiven,
    AnswerKind,
    AnswersCleared,
    Ended,
    Failed,
    LanguageChosen,
    ResponseStatus,
    Restarted,
    Suspended,
)
from survey_engine.ports import EntryPoint, ResponseRecord, SurveyVersionRef
from survey_engine.xlsform import load_xlsform
from tests.conftest import markdown_to_xlsx

T0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
PHONE = "+254712345678"

TRACER = """
| survey |
|        | type          | name     | label::English (en) | label::Kiswahili (sw) |
|        | select_one yn | employed | Working?            | Unafanya kazi?        |
|        | integer       | months   | Months?             | Miezi?                |
|        | text          | job      | Job?                | Kazi?                 |
| choices |
|         | list_name | name | label::English (en) | label::Kiswahili (sw) |
|         | yn        | yes  | Yes                 | Ndiyo                 |
|         | yn        | no   | No                  | Hapana                |
| settings |
|          | form_id | version | form_title |
|          | tracer  | {version} | Tracer   |
"""


@dataclass(frozen=True)
class World:
    store: SqlResponseStore
    engine: AsyncEngine
    version: SurveyVersionRef
    respondent_id: int
    response: ResponseRecord
    organisation_id: int


@pytest.fixture
async def world(engine: AsyncEngine, xlsx_from_markdown: Callable[[str], bytes]) -> World:
    imported = await import_survey(
        engine,
        xlsx_from_markdown(TRACER.format(version="1")),
        filename="tracer.xlsx",
        ussd_code="*384*123#",
        roster_only=False,
    )
    store = SqlResponseStore(engine)
    respondent = await store.create_respondent(imported.organisation_id, PHONE, None)
    response = await store.start_response(
        respondent_id=respondent.id,
        version_id=imported.version_id,
        channel="ussd",
        session_ref="ATUid_1",
        language=None,
        turn_ref="",
        now=T0,
    )
    version = SurveyVersionRef(
        imported.survey_id, imported.version_id, imported.form_id, imported.version
    )
    return World(store, engine, version, respondent.id, response, imported.organisation_id)


async def _answer_rows(engine: AsyncEngine, response_id: int) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(answers.c.question, answers.c.value)
            .where(answers.c.response_id == response_id)
            .order_by(answers.c.question)
        )
        return [tuple(row) for row in rows]


async def _response_row(engine: AsyncEngine, response_id: int) -> dict[str, object]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(responses).where(responses.c.id == response_id))).one()
    return dict(row._mapping)


async def test_started_response_is_in_progress_with_utc_times(world: World) -> None:
    response = world.response
    assert response.status is ResponseStatus.IN_PROGRESS
    assert response.survey_id == world.version.survey_id
    assert response.survey_version_id == world.version.version_id
    assert (response.channel, response.session_ref, response.turn_ref) == (
        "ussd",
        "ATUid_1",
        "",
    )
    assert response.started_at == T0
    assert response.started_at.tzinfo is not None
    assert response.answers == {}


async def test_the_same_answer_twice_leaves_one_row_with_the_newer_value(world: World) -> None:
    rid = world.response.id
    await world.store.record_turn(rid, [AnswerGiven("months", "3")], turn_ref="1*3", now=T0)
    later = T0 + dt.timedelta(seconds=20)
    await world.store.record_turn(rid, [AnswerGiven("months", "4")], turn_ref="1*3*4", now=later)

    assert await _answer_rows(world.engine, rid) == [("months", "4")]
    async with world.engine.connect() as conn:
        answered_at, updated_at = (
            await conn.execute(select(answers.c.answered_at, answers.c.updated_at))
        ).one()
    assert (answered_at, updated_at) == (T0, later)
    row = await _response_row(world.engine, rid)
    assert (row["turn_ref"], row["updated_at"]) == ("1*3*4", later)


async def test_a_retried_turn_is_idempotent(world: World) -> None:
    turn = [AnswerGiven("employed", "yes"), AnswerGiven("months", "2")]
    for _ in range(2):
        await world.store.record_turn(world.response.id, turn, turn_ref="1*2", now=T0)
    assert await _answer_rows(world.engine, world.response.id) == [
        ("employed", "yes"),
        ("months", "2"),
    ]


async def _answer_kinds(engine: AsyncEngine, response_id: int) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(answers.c.question, answers.c.value, answers.c.kind)
            .where(answers.c.response_id == response_id)
            .order_by(answers.c.question)
        )
        return [tuple(row) for row in rows]


REF = "tracer/1/job-5f2c"
RECORDED = AnswerGiven("job", REF, AnswerKind.RECORDING)


async def test_a_voice_answer_is_stored_as_a_recording_and_typed_ones_as_text(
    world: World,
) -> None:
    rid = world.response.id
    # One answer a turn: PostgreSQL's one-statement path.
    await world.store.record_turn(rid, [AnswerGiven("months", "3")], turn_ref="3", now=T0)
    await world.store.record_turn(rid, [RECORDED], turn_ref="3", now=T0)
    assert await _answer_kinds(world.engine, rid) == [
        ("job", REF, "recording"),
        ("months", "3", "text"),
    ]
    # Recovery reads the reference back as the answer, like any other value.
    latest = await world.store.latest_response(world.respondent_id, world.version.survey_id)
    assert latest is not None and latest.answers == {"months": "3", "job": REF}


async def test_responses_read_back_say_which_answers_are_recordings(world: World) -> None:
    rid = world.response.id
    await world.store.record_turn(
        rid, [AnswerGiven("months", "3"), RECORDED], turn_ref="3*rec", now=T0
    )
    latest = await world.store.latest_response(world.respondent_id, world.version.survey_id)
    by_session = await world.store.response_by_session("ussd", "ATUid_1")
    for record in (latest, by_session):
        assert record is not None
        assert (record.answers, record.recorded) == ({"months": "3", "job": REF}, {"job"})
    # Typed over, the answer is text again; cleared, it is gone with its kind.
    await world.store.record_turn(rid, [AnswerGiven("job", "Welder")], turn_ref="x", now=T0)
    record = await world.store.response_by_session("ussd", "ATUid_1")
    assert record is not None and record.recorded == frozenset()
    await world.store.record_turn(rid, [RECORDED], turn_ref="y", now=T0)
    await world.store.record_turn(rid, [AnswersCleared(("job",))], turn_ref="z", now=T0)
    record = await world.store.response_by_session("ussd", "ATUid_1")
    assert record is not None
    assert (record.answers, record.recorded) == ({"months": "3"}, frozenset())


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([], id="one statement"),
        pytest.param([AnswersCleared(("months",))], id="in a transaction"),
    ],
)
async def test_answering_again_replaces_the_value_and_its_kind(world: World, extra) -> None:
    rid = world.response.id
    later = T0 + dt.timedelta(seconds=30)
    await world.store.record_turn(rid, [AnswerGiven("job", "Tailor")], turn_ref="x", now=T0)
    await world.store.record_turn(rid, [*extra, RECORDED], turn_ref="x", now=later)
    assert await _answer_kinds(world.engine, rid) == [("job", REF, "recording")]

    typed = AnswerGiven("job", "Welder", AnswerKind.TEXT)
    await world.store.record_turn(rid, [*extra, typed], turn_ref="x", now=later)
    assert await _answer_kinds(world.engine, rid) == [("job", "Welder", "text")]
    async with world.engine.connect() as conn:
        first_given = (await conn.execute(select(answers.c.answered_at))).scalar_one()
    assert first_given == T0


async def test_choosing_a_language_sets_it_on_the_response_and_an_unknown_respondent(
    world: World,
) -> None:
    await world.store.record_turn(world.response.id, [LanguageChosen("sw")], turn_ref="2", now=T0)
    latest = await world.store.latest_response(world.respondent_id, world.version.survey_id)
    assert latest is not None and latest.language == "sw"
    respondent = await world.store.find_respondent(world.organisation_id, PHONE)
    assert respondent is not None and respondent.language == "sw"

    # A language the respondent already has is theirs: another survey's choice leaves it.
    await world.store.record_turn(world.response.id, [LanguageChosen("en")], turn_ref="1", now=T0)
    respondent = await world.store.find_respondent(world.organisation_id, PHONE)
    assert respondent is not None and respondent.language == "sw"
    latest = await world.store.latest_response(world.respondent_id, world.version.survey_id)
    assert latest is not None and latest.language == "en"


async def test_cleared_answers_are_deleted_and_the_others_kept(world: World) -> None:
    rid = world.response.id
    await world.store.record_turn(
        rid,
        [AnswerGiven("employed", "yes"), AnswerGiven("months", "3"), AnswerGiven("job", "Tailor")],
        turn_ref="1*3*Tailor",
        now=T0,
    )
    # Going back to `employed` and answering "no" makes months and job irrelevant.
    await world.store.record_turn(
        rid,
        [AnswerGiven("employed", "no"), AnswersCleared(("months", "job"))],
        turn_ref="1*3*Tailor*0*2",
        now=T0,
    )
    assert await _answer_rows(world.engine, rid) == [("employed", "no")]


async def test_an_answer_given_again_after_being_cleared_in_the_same_turn_stays(
    world: World,
) -> None:
    rid = world.response.id
    await world.store.record_turn(rid, [AnswerGiven("months", "3")], turn_ref="3", now=T0)
    await world.store.record_turn(
        rid, [AnswersCleared(("months",)), AnswerGiven("months", "5")], turn_ref="3*5", now=T0
    )
    assert await _answer_rows(world.engine, rid) == [("months", "5")]


async def test_restarting_drops_every_earlier_answer(world: World) -> None:
    rid = world.response.id
    await world.store.record_turn(
        rid, [AnswerGiven("employed", "yes"), AnswerGiven("months", "3")], turn_ref="1*3", now=T0
    )
    await world.store.record_turn(
        rid, [Restarted(), AnswerGiven("employed", "no")], turn_ref="1*3*2*2", now=T0
    )
    assert await _answer_rows(world.engine, rid) == [("employed", "no")]


async def test_an_ending_sets_status_and_ended_at(world: World) -> None:
    end = T0 + dt.timedelta(minutes=2)
    await world.store.record_turn(
        world.response.id,
        [AnswerGiven("job", "Welder"), Ended(ResponseStatus.COMPLETE, "Thank you")],
        turn_ref="1*2*Welder",
        now=end,
    )
    row = await _response_row(world.engine, world.response.id)
    assert (row["status"], row["ended_at"]) == ("complete", end)
    assert await _answer_rows(world.engine, world.response.id) == [("job", "Welder")]


@pytest.mark.parametrize(
    ("event", "status", "ended"),
    [
        (Suspended(), "interrupted", False),
        (Failed("skip_loop", "relevant loops"), "failed", True),
        (Ended(ResponseStatus.REFUSED, "Goodbye"), "refused", True),
    ],
)
async def test_suspended_failed_and_refused_turns_set_the_status(
    world: World, event: object, status: str, ended: bool
) -> None:
    await world.store.record_turn(world.response.id, [event], turn_ref="9", now=T0)  # type: ignore[list-item]
    row = await _response_row(world.engine, world.response.id)
    assert row["status"] == status
    assert (row["ended_at"] is not None) is ended


async def test_a_session_stopped_after_too_many_wrong_answers_stays_resumable(
    world: World,
) -> None:
    rid = world.response.id
    await world.store.record_turn(rid, [AnswerGiven("employed", "yes")], turn_ref="1", now=T0)
    stopped = T0 + dt.timedelta(minutes=1)
    events = [Suspended(), Ended(ResponseStatus.INTERRUPTED, "We did not get a valid answer.")]
    await world.store.record_turn(rid, events, turn_ref="1*x*x*x", now=stopped)
    row = await _response_row(world.engine, rid)
    # Interrupted like a dropped session: not ended, its answers kept for the next dial.
    assert (row["status"], row["ended_at"], row["updated_at"]) == ("interrupted", None, stopped)
    latest = await world.store.latest_response(world.respondent_id, world.version.survey_id)
    assert latest is not None and latest.status is ResponseStatus.INTERRUPTED
    assert dict(latest.answers) == {"employed": "yes"}
    await world.store.attach_session(
        rid, channel="ussd", session_ref="ATUid_2", turn_ref="", now=stopped
    )
    assert (await _response_row(world.engine, rid))["status"] == "in_progress"


async def test_a_turn_without_events_still_moves_the_turn_reference(world: World) -> None:
    later = T0 + dt.timedelta(seconds=5)
    await world.store.record_turn(world.response.id, (), turn_ref="98", now=later)
    row = await _response_row(world.engine, world.response.id)
    assert (row["turn_ref"], row["updated_at"], row["status"]) == (
        "98",
        later,
        "in_progress",
    )


async def test_a_turn_for_an_unknown_response_raises_and_stores_nothing(world: World) -> None:
    for events in ([AnswerGiven("months", "1")], [], [Restarted(), AnswerGiven("job", "x")]):
        with pytest.raises(EngineError) as caught:
            await world.store.record_turn(999_999, events, turn_ref="1", now=T0)
        assert caught.value.code == "unknown_response"
    async with world.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(answers))).scalar() == 0


async def test_a_naive_datetime_is_refused(world: World) -> None:
    with pytest.raises(Exception, match="timezone-aware"):
        await world.store.record_turn(
            world.response.id, [], turn_ref="1", now=dt.datetime(2026, 1, 1, 12, 0)
        )


async def test_a_sessions_end_suspends_only_a_response_still_in_progress_on_it(
    world: World,
) -> None:
    store, rid = world.store, world.response.id
    assert await store.end_session("ussd", "ATUid_1", [Suspended()], now=T0) is True
    assert (await _response_row(world.engine, rid))["status"] == "interrupted"
    assert await store.end_session("ussd", "ATUid_1", [Suspended()], now=T0) is False
    assert await store.end_session("ussd", "no-such-session", [Suspended()], now=T0) is False
    assert await store.end_session("ivr", "ATUid_1", [Suspended()], now=T0) is False

    # A redial took the response over: the old session's end leaves it alone.
    await store.attach_session(rid, channel="ussd", session_ref="ATUid_2", turn_ref="", now=T0)
    assert await store.end_session("ussd", "ATUid_1", [Suspended()], now=T0) is False
    assert (await _response_row(world.engine, rid))["status"] == "in_progress"
    await store.record_turn(rid, [Ended(ResponseStatus.COMPLETE, "Thanks")], turn_ref="", now=T0)
    assert await store.end_session("ussd", "ATUid_2", [Suspended()], now=T0) is False
    assert (await _response_row(world.engine, rid))["status"] == "complete"
    with pytest.raises(EngineError) as caught:
        await store.end_session("ussd", "ATUid_2", [AnswerGiven("job", "x")], now=T0)
    assert caught.value.code == "bad_session_end"


async def test_a_redial_attaches_the_new_session_and_resumes_an_interrupted_response(
    world: World,
) -> None:
    store, rid = world.store, world.response.id
    await store.record_turn(rid, [AnswerGiven("employed", "yes")], turn_ref="1", now=T0)
    await store.record_turn(rid, [Suspended()], turn_ref="1", now=T0)
    later = T0 + dt.timedelta(hours=1)
    await store.attach_session(rid, channel="ussd", session_ref="ATUid_2", turn_ref="", now=later)

    assert await store.response_by_session("ussd", "ATUid_1") is None
    record = await store.response_by_session("ussd", "ATUid_2")
    assert record is not None
    assert (record.id, record.status, record.turn_ref, record.updated_at) == (
        rid,
        ResponseStatus.IN_PROGRESS,
        "",
        later,
    )
    assert record.answers == {"employed": "yes"}
    with pytest.raises(EngineError):
        await store.attach_session(999_999, channel="ussd", session_ref="x", turn_ref="", now=later)


async def test_response_by_session_returns_the_answers_for_recovery(world: World) -> None:
    await world.store.record_turn(
        world.response.id,
        [LanguageChosen("sw"), AnswerGiven("employed", "no"), AnswerGiven("months", "0")],
        turn_ref="2*2*0",
        now=T0,
    )
    record = await world.store.response_by_session("ussd", "ATUid_1")
    assert record is not None
    assert record.answers == {"employed": "no", "months": "0"}
    assert (record.language, record.turn_ref) == ("sw", "2*2*0")
    assert await world.store.response_by_session("ivr", "ATUid_1") is None


async def test_latest_response_is_the_newest_across_versions(
    world: World, xlsx_from_markdown: Callable[[str], bytes]
) -> None:
    store = world.store
    await store.record_turn(world.response.id, [AnswerGiven("months", "1")], turn_ref="1", now=T0)
    v2 = await import_survey(
        world.engine,
        xlsx_from_markdown(TRACER.format(version="2")),
        filename="tracer.xlsx",
        ussd_code=None,
        roster_only=False,
    )
    assert v2.survey_id == world.version.survey_id
    newer = await store.start_response(
        respondent_id=world.respondent_id,
        version_id=v2.version_id,
        channel="ivr",
        session_ref="call-7",
        language="en",
        turn_ref="",
        now=T0 + dt.timedelta(days=90),
    )
    await store.record_turn(newer.id, [AnswerGiven("months", "4")], turn_ref="4", now=T0)

    latest = await store.latest_response(world.respondent_id, world.version.survey_id)
    assert latest is not None
    assert (latest.id, latest.survey_version_id, latest.channel) == (
        newer.id,
        v2.version_id,
        "ivr",
    )
    assert latest.answers == {"months": "4"}
    assert await store.latest_response(world.respondent_id, world.version.survey_id + 1) is None


async def test_a_number_that_dials_in_is_kept_off_the_roster_once(world: World) -> None:
    store = world.store
    first = await store.create_respondent(world.organisation_id, "+255754218733", "sw")
    again = await store.create_respondent(world.organisation_id, "+255754218733", None)
    assert first == again
    assert (first.phone, first.language, first.on_roster, first.name) == (
        "+255754218733",
        "sw",
        False,
        "",
    )
    assert await store.find_respondent(world.organisation_id, "+255754218733") == first
    assert await store.find_respondent(world.organisation_id, "+255700000000") is None
    async with world.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(respondents))).scalar()
    assert count == 2


async def test_bindings_and_versions_are_found(world: World) -> None:
    store = world.store
    assert await store.entry_point("ussd", "*384*123#") == EntryPoint(
        "ussd", "*384*123#", world.version.survey_id, False, world.organisation_id
    )
    assert await store.entry_point("ussd", "*384*123*2#") is None
    assert await store.entry_point("ivr", "*384*123#") is None
    assert await store.current_version(world.version.survey_id) == world.version
    with pytest.raises(EngineError) as caught:
        await store.current_version(world.version.survey_id + 100)
    assert caught.value.code == "unknown_survey"


async def test_load_survey_compiles_the_stored_form_once(world: World) -> None:
    store = world.store
    survey = await store.load_survey(world.version.version_id)
    assert (survey.form_id, survey.version, survey.language_codes) == ("tracer", "1", ("en", "sw"))
    assert [q.name for q in survey.questions] == ["employed", "months", "job"]
    assert await store.load_survey(world.version.version_id) is survey
    with pytest.raises(EngineError):
        await store.load_survey(world.version.version_id + 100)


async def test_ping(world: World) -> None:
    assert await world.store.ping() is True


async def test_the_memory_store_keeps_the_channel_each_answer_was_given_on() -> None:
    store = MemoryResponseStore()
    ref = store.add_survey(load_xlsform(markdown_to_xlsx(TRACER.format(version="1"))))
    respondent = store.add_respondent(PHONE, None)
    response = await store.start_response(
        respondent_id=respondent.id,
        version_id=ref.version_id,
        channel="ussd",
        session_ref="ussd-1",
        language=None,
        turn_ref="",
        now=T0,
    )
    await store.record_turn(
        response.id,
        [AnswerGiven("employed", "yes"), AnswerGiven("months", "3")],
        turn_ref="1",
        now=T0,
    )
    await store.attach_session(
        response.id, channel="ivr", session_ref="call-1", turn_ref="", now=T0
    )
    await store.record_turn(
        response.id,
        [AnswerGiven("months", "4"), AnswerGiven("job", "Welder")],
        turn_ref="2",
        now=T0,
    )
    assert store.answer_channels(response.id) == {
        "employed": "ussd",
        "months": "ivr",
        "job": "ivr",
    }
    await store.record_turn(response.id, [AnswersCleared(("job",))], turn_ref="3", now=T0)
    assert store.answer_channels(response.id) == {"employed": "ussd", "months": "ivr"}
