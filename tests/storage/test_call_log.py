"""The call log (`CallLog` port): SqlCallLog on SQLite and PostgreSQL, and MemoryCallLog,
held to the same rules: a call is written when placed, an unanswered call ends with its
outcome, an answered one at its hang-up, and a recorded end is kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.calls import SqlCallLog
from storage.db import create_engine
from storage.memory import MemoryCallLog
from storage.schema import calls, surveys
from storage.surveys import import_survey
from survey_engine.ports import CallLog, CallOutcome, CallRecord
from tests.conftest import empty_tables

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
PHONE = "+254712345678"
FORM = """
| survey |
| | type | name | label |
| | integer | months | Months? |
"""


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def log_and_survey(
    request: pytest.FixtureRequest, xlsx_from_markdown: Callable[[str], bytes]
) -> AsyncIterator[tuple[CallLog, int]]:
    if request.param == "memory":
        yield MemoryCallLog(), 3
        return
    engine = create_engine(request.getfixturevalue(f"{request.param}_database_url"))
    await empty_tables(engine)
    imported = await import_survey(
        engine, xlsx_from_markdown(FORM), filename="tracer.xlsx", ussd_code=None, roster_only=False
    )
    yield SqlCallLog(engine), imported.survey_id
    await engine.dispose()


async def test_a_placed_call_has_no_outcome_yet(log_and_survey: tuple[CallLog, int]) -> None:
    log, survey_id = log_and_survey
    call_id = await log.call_placed(survey_id, PHONE, now=T0)
    assert await log.get_call(call_id) == CallRecord(call_id, survey_id, PHONE, placed_at=T0)
    assert await log.get_call(call_id + 1000) is None


@pytest.mark.parametrize("outcome", [CallOutcome.BUSY, CallOutcome.NO_ANSWER, CallOutcome.FAILED])
async def test_a_call_not_answered_ends_with_its_outcome(
    log_and_survey: tuple[CallLog, int], outcome: CallOutcome
) -> None:
    log, survey_id = log_and_survey
    call_id = await log.call_placed(survey_id, PHONE, now=T0)
    later = T0 + dt.timedelta(seconds=20)
    await log.call_outcome(
        call_id,
        outcome,
        reason=5,
        unique_id="st-1-abcd",
        channel="PJSIP/+254712345678@trunk",
        error=None,
        now=later,
    )
    assert await log.get_call(call_id) == CallRecord(
        call_id,
        survey_id,
        PHONE,
        placed_at=T0,
        ended_at=later,
        outcome=outcome,
        reason=5,
        unique_id="st-1-abcd",
        channel="PJSIP/+254712345678@trunk",
    )


async def test_an_answered_call_ends_at_its_first_hangup(
    log_and_survey: tuple[CallLog, int],
) -> None:
    log, survey_id = log_and_survey
    call_id = await log.call_placed(survey_id, PHONE, now=T0)
    await log.call_outcome(
        call_id,
        CallOutcome.ANSWERED,
        reason=4,
        unique_id="st-1-abcd",
        channel="PJSIP/trunk-0001",
        error=None,
        now=T0 + dt.timedelta(seconds=5),
    )
    record = await log.get_call(call_id)
    assert record is not None and record.outcome is CallOutcome.ANSWERED
    assert record.ended_at is None
    await log.call_ended(call_id, now=T0 + dt.timedelta(minutes=4))
    await log.call_ended(call_id, now=T0 + dt.timedelta(minutes=9))
    record = await log.get_call(call_id)
    assert record is not None and record.ended_at == T0 + dt.timedelta(minutes=4)


async def test_a_failure_on_our_side_keeps_its_error(log_and_survey: tuple[CallLog, int]) -> None:
    log, survey_id = log_and_survey
    call_id = await log.call_placed(survey_id, PHONE, now=T0)
    await log.call_outcome(
        call_id,
        CallOutcome.FAILED,
        reason=None,
        unique_id=None,
        channel=None,
        error="no AMI connection to 127.0.0.1:5038 within 10 s; the call was not placed",
        now=T0,
    )
    record = await log.get_call(call_id)
    assert record is not None
    assert (record.outcome, record.reason, record.ended_at) == (CallOutcome.FAILED, None, T0)
    assert record.error is not None and record.error.startswith("no AMI connection")


async def test_the_table_refuses_an_unknown_outcome_and_follows_its_survey(
    engine: AsyncEngine, xlsx_from_markdown: Callable[[str], bytes]
) -> None:
    imported = await import_survey(
        engine, xlsx_from_markdown(FORM), filename="tracer.xlsx", ussd_code=None, roster_only=False
    )
    log = SqlCallLog(engine)
    call_id = await log.call_placed(imported.survey_id, PHONE, now=T0)
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(calls.update().values(outcome="voicemail"))
    async with engine.begin() as conn:
        await conn.execute(delete(surveys))
    assert await log.get_call(call_id) is None
