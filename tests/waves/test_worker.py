"""The worker's pass, end to end on SQLite and PostgreSQL with the real africastalking SDK
against the SMS API's stand-in: who gets which text when, contact hours on their own
clock, retries after a failure, opt-out, and nothing sent twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.respondents import import_respondents
from storage.schema import invitations, respondents
from storage.studies import store_study
from storage.surveys import import_survey
from tests.admin.tracer_data import SAMPLE
from tests.waves.at_standin import AtStandin
from waves.sms import AfricasTalkingSms
from waves.study import read_study
from waves.worker import tick

CODE = "*384*123#"
STUDY = """
name = "tracer-2027"
survey = "graduate_tracer"
waves = [{ name = "completion", offset = "0d" }, { name = "3 months", offset = "3m" }]
contact_hours = "08:00-19:00"
retries = "10m 2h"
attempts = 3
"""
ROSTER = (
    "phone,name,language,completion_date\n"
    "+254712300481,Wanjiru Kamau,sw,2027-03-01\n"
    "+254712300482,Otieno,en,2027-03-01\n"
    "+9613123456,Rami,fr,2027-03-01\n"  # Beirut: an hour behind Nairobi in March
)


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def standin() -> Iterator[AtStandin]:
    with AtStandin() as running:
        yield running


@pytest.fixture
async def study(engine: AsyncEngine) -> None:
    await import_survey(
        engine, SAMPLE.read_bytes(), filename=SAMPLE.name, ussd_code=CODE,
        roster_only=False, organisation="Kenya TVET",
    )  # fmt: skip
    await import_respondents(
        engine, ROSTER.encode(), filename="roster.csv", default_region="KE",
        organisation="Kenya TVET",
    )  # fmt: skip
    await store_study(engine, read_study(STUDY), STUDY, organisation="Kenya TVET")


def _sms(standin: AtStandin) -> AfricasTalkingSms:
    return AfricasTalkingSms("sandbox", "test-key", base_url=standin.url)


async def _invitations(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(respondents.c.name, invitations.c.attempt, invitations.c.status,
                   invitations.c.send_after, invitations.c.provider_ref)
            .join_from(invitations, respondents, respondents.c.id == invitations.c.respondent_id)
            .order_by(respondents.c.name, invitations.c.attempt)
        )  # fmt: skip
        return [tuple(row) for row in rows]


async def test_graduates_get_their_invitation_in_their_language_within_their_hours(
    engine: AsyncEngine, study: None, standin: AtStandin
) -> None:
    sms = _sms(standin)
    # 05:30 UTC: 08:30 in Nairobi, 07:30 in Beirut.
    first = await tick(engine, sms, _utc(2027, 3, 1, 5, 30))
    assert (first.enqueued, first.sent, first.postponed) == (3, 2, 1)
    texts = {s.to[0]: s.message for s in standin.sent}
    assert texts["+254712300481"].startswith("Habari Wanjiru Kamau, chuo chako")
    assert texts["+254712300482"].startswith("Hello Otieno, your training centre")
    assert all(CODE in text for text in texts.values())
    rows = await _invitations(engine)
    rami = next(r for r in rows if r[0] == "Rami")
    assert rami[2] == "pending" and rami[3] == _utc(2027, 3, 1, 6)  # 08:00 in Beirut
    assert all(r[4].startswith("ATXid_") for r in rows if r[2] == "sent")

    again = await tick(engine, sms, _utc(2027, 3, 1, 5, 45))
    assert (again.enqueued, again.sent) == (0, 0)  # nothing twice
    later = await tick(engine, sms, _utc(2027, 3, 1, 6))
    assert later.sent == 1 and standin.sent[-1].message.startswith("Bonjour Rami,")
    assert len(standin.sent) == 3


async def test_a_failed_send_is_retried_after_the_wait_as_a_reminder(
    engine: AsyncEngine, study: None, standin: AtStandin
) -> None:
    sms = _sms(standin)
    standin.fail_next(3, 500)  # the gateway's server fails three requests: all of them
    now = _utc(2027, 3, 1, 6)
    first = await tick(engine, sms, now)
    assert (first.sent, first.failed, first.retrying) == (0, 3, 3)
    rows = await _invitations(engine)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("Otieno", 1, "failed"), ("Otieno", 2, "pending"),
        ("Rami", 1, "failed"), ("Rami", 2, "pending"),
        ("Wanjiru Kamau", 1, "failed"), ("Wanjiru Kamau", 2, "pending"),
    ]  # fmt: skip
    assert {r[3] for r in rows if r[1] == 2} == {now + dt.timedelta(minutes=10)}

    assert (await tick(engine, sms, now + dt.timedelta(minutes=9))).sent == 0  # not yet
    retried = await tick(engine, sms, now + dt.timedelta(minutes=10))
    assert retried.sent == 3 and standin.requests == 6
    texts = {s.to[0]: s.message for s in standin.sent}
    assert texts["+254712300482"].startswith("Hello Otieno, a reminder")
    assert texts["+254712300481"].startswith("Habari Wanjiru Kamau, ukumbusho")
    assert texts["+9613123456"].startswith("Bonjour Rami, rappel")


async def test_a_refused_number_is_not_retried_and_an_opt_out_cancels(
    engine: AsyncEngine, study: None, standin: AtStandin
) -> None:
    sms = _sms(standin)
    standin.refuse["+254712300482"] = (403, "InvalidPhoneNumber")
    early = _utc(2027, 3, 1, 4)  # before hours everywhere: recorded, waiting
    assert (await tick(engine, sms, early)).postponed == 3
    async with engine.begin() as conn:
        await conn.execute(
            update(respondents).where(respondents.c.name == "Rami").values(opted_out_at=early)
        )
    done = await tick(engine, sms, _utc(2027, 3, 1, 6))
    assert (done.sent, done.failed, done.retrying, done.cancelled) == (1, 1, 0, 1)
    rows = {r[0]: r for r in await _invitations(engine)}
    assert rows["Otieno"][2] == "failed" and rows["Rami"][2] == "cancelled"
    assert [s.to for s in standin.sent] == [["+254712300481"], ["+254712300482"]]


async def test_without_an_account_invitations_are_recorded_and_wait(
    engine: AsyncEngine, study: None
) -> None:
    report = await tick(engine, None, _utc(2027, 3, 1, 6))
    assert (report.enqueued, report.sent) == (3, 0)
    assert {r[2] for r in await _invitations(engine)} == {"pending"}
