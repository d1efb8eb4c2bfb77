"""The worker's pass, end to end on SQLite and PostgreSQL with the real africastalking SDK
against the SMS API's stand-in: who gets which text when, contact hours on their own
clock, retries after a failure, opt-out, and nothing sent twice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.schema import respondents
from tests.waves.at_standin import AtStandin
from tests.waves.conftest import CODE, answer, invitations_of, sms_for, utc
from waves.worker import tick


async def test_graduates_get_their_invitation_in_their_language_within_their_hours(
    engine: AsyncEngine, study: None, standin: AtStandin
) -> None:
    sms = sms_for(standin)
    # 05:30 UTC: 08:30 in Nairobi, 07:30 in Beirut.
    first = await tick(engine, sms, utc(2027, 3, 1, 5, 30))
    assert (first.enqueued, first.sent, first.postponed) == (3, 2, 1)
    texts = {s.to[0]: s.message for s in standin.sent}
    assert texts["+254712300481"].startswith("Habari Wanjiru Kamau, chuo chako")
    assert texts["+254712300482"].startswith("Hello Otieno, your training centre")
    assert all(CODE in text for text in texts.values())
    rows = await invitations_of(engine)
    rami = next(r for r in rows if r[0] == "Rami")
    assert rami[2] == "pending" and rami[3] == utc(2027, 3, 1, 6)  # 08:00 in Beirut
    assert all(r[4].startswith("ATXid_") for r in rows if r[2] == "sent")

    again = await tick(engine, sms, utc(2027, 3, 1, 5, 45))
    assert (again.enqueued, again.sent) == (0, 0)  # nothing twice
    later = await tick(engine, sms, utc(2027, 3, 1, 6))
    assert later.sent == 1 and standin.sent[-1].message.startswith("Bonjour Rami,")
    assert len(standin.sent) == 3


async def test_a_failed_send_is_retried_after_the_wait_as_a_reminder(
    engine: AsyncEngine, study: None, standin: AtStandin
) -> None:
    sms = sms_for(standin)
    standin.fail_next(3, 500)  # the gateway's server fails three requests: all of them
    now = utc(2027, 3, 1, 6)
    first = await tick(engine, sms, now)
    assert (first.sent, first.failed, first.retrying) == (0, 3, 3)
    rows = await invitations_of(engine)
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
    sms = sms_for(standin)
    standin.refuse["+254712300482"] = (403, "InvalidPhoneNumber")
    early = utc(2027, 3, 1, 4)  # before hours everywhere: recorded, waiting
    assert (await tick(engine, sms, early)).postponed == 3
    async with engine.begin() as conn:
        await conn.execute(
            update(respondents).where(respondents.c.name == "Rami").values(opted_out_at=early)
        )
    done = await tick(engine, sms, utc(2027, 3, 1, 6))
    assert (done.sent, done.failed, done.retrying, done.cancelled) == (1, 1, 0, 1)
    rows = {r[0]: r for r in await invitations_of(engine)}
    assert rows["Otieno"][2] == "failed" and rows["Rami"][2] == "cancelled"
    # Sent at once, in no set order.
    assert sorted(s.to for s in standin.sent) == [["+254712300481"], ["+254712300482"]]


async def test_without_an_account_invitations_are_recorded_and_wait(
    engine: AsyncEngine, study: None
) -> None:
    report = await tick(engine, None, utc(2027, 3, 1, 6))
    assert (report.enqueued, report.sent) == (3, 0)
    assert {r[2] for r in await invitations_of(engine)} == {"pending"}


async def test_a_graduate_who_answered_first_is_not_invited_and_a_retry_is_cancelled(
    engine: AsyncEngine, study: None, standin: AtStandin
) -> None:
    sms = sms_for(standin)
    # Otieno dialled the code on his completion day, before any invitation.
    await answer(engine, "Otieno", utc(2027, 3, 1, 4))
    standin.fail_next(2, 500)  # Wanjiru's and Rami's first SMS fail: retries wait
    first = await tick(engine, sms, utc(2027, 3, 1, 6))
    assert (first.enqueued, first.retrying) == (2, 2)
    # Wanjiru answers (she heard of the survey anyway) before her retry is due.
    await answer(engine, "Wanjiru Kamau", utc(2027, 3, 1, 6, 5))
    later = await tick(engine, sms, utc(2027, 3, 1, 6, 10))
    assert (later.sent, later.cancelled) == (1, 1)  # Rami's retry; Wanjiru's cancelled
    rows = await invitations_of(engine)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("Rami", 1, "failed"), ("Rami", 2, "sent"),
        ("Wanjiru Kamau", 1, "failed"), ("Wanjiru Kamau", 2, "cancelled"),
    ]  # fmt: skip
    # The 3-month wave opens on 1 June: all three are invited to it.
    june = await tick(engine, sms, utc(2027, 6, 1, 6))
    assert june.enqueued == 3
