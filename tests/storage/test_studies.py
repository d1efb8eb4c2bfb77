"""A study stored from its file, and who is due for which wave as a clock moves across
months: end-of-month and leap-year completion dates, the wave window, cohorts, opt-out
and invitations already made. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.schema import invitations, respondents, responses, study_waves
from storage.studies import (
    Due,
    StoredStudy,
    StudyError,
    due,
    enqueue,
    find_study,
    match_waves,
    store_study,
    study_status,
)
from storage.surveys import import_survey
from tests.admin.tracer_data import SAMPLE
from waves.study import read_study

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOON = dt.time(12)
STUDY = """
name = "tracer-2026"
survey = "graduate_tracer"
cohorts = ["2026-A"]
waves = [
  { name = "completion", offset = "0d" },
  { name = "1 month", offset = "1m" },
  { name = "12 months", offset = "12m" },
]
wave_window = "10d"
"""
# who: completion date, cohort
GRADUATES = {
    "jan31": (dt.date(2027, 1, 31), "2026-A"),
    "feb29": (dt.date(2028, 2, 29), "2026-A"),
    "mar01": (dt.date(2027, 3, 1), "2026-A"),
    "other": (dt.date(2027, 1, 31), "2026-B"),  # not the study's cohort
    "none": (None, "2026-A"),  # no completion date: never due
}


@pytest.fixture
async def study(engine: AsyncEngine) -> tuple[StoredStudy, dict[str, int]]:
    await import_survey(
        engine, SAMPLE.read_bytes(), filename=SAMPLE.name, ussd_code=None,
        roster_only=False, organisation="Kenya TVET",
    )  # fmt: skip
    stored = await store_study(engine, read_study(STUDY), STUDY, organisation="Kenya TVET")
    ids = {}
    async with engine.begin() as conn:
        for n, (who, (completed, cohort)) in enumerate(GRADUATES.items()):
            ids[who] = await conn.scalar(
                respondents.insert()
                .values(organisation_id=stored.organisation_id, phone=f"+25470000{n:04d}",
                        name=who, cohort=cohort, completion_date=completed, on_roster=True,
                        attributes={}, created_at=NOW, updated_at=NOW)
                .returning(respondents.c.id)
            )  # fmt: skip
    return stored, ids


async def _due_on(
    engine: AsyncEngine, stored: StoredStudy, ids: dict[str, int], day: dt.date | dt.datetime
):
    """Who is due at noon UTC of `day` (or at a given moment)."""
    names = {v: k for k, v in ids.items()}
    waves = {w.id: w.name for w in stored.waves}
    now = day if isinstance(day, dt.datetime) else dt.datetime.combine(day, NOON, dt.UTC)
    async with engine.connect() as conn:
        found = await due(conn, stored, now)
    return sorted((names[d.respondent_id], waves[d.wave_id]) for d in found)


async def test_who_is_due_as_the_clock_moves_across_months(
    engine: AsyncEngine, study: tuple[StoredStudy, dict[str, int]]
) -> None:
    stored, ids = study
    calendar = {
        dt.date(2027, 1, 30): [],
        dt.date(2027, 1, 31): [("jan31", "completion")],
        dt.date(2027, 2, 9): [("jan31", "completion")],  # the 10-day window's last day
        dt.date(2027, 2, 10): [],  # closed
        # 31 January + 1 month is 28 February (2027 is not a leap year).
        dt.date(2027, 2, 27): [],
        dt.date(2027, 2, 28): [("jan31", "1 month")],
        dt.date(2027, 3, 1): [("jan31", "1 month"), ("mar01", "completion")],
        dt.date(2027, 3, 9): [("jan31", "1 month"), ("mar01", "completion")],
        dt.date(2027, 3, 10): [("mar01", "completion")],  # 28 Feb's window has closed
        dt.date(2027, 3, 11): [],
        dt.date(2027, 4, 1): [("mar01", "1 month")],
        # 29 February 2028 (a leap year): its 1-month wave is 29 March, and its 12-month
        # wave is 28 February 2029.
        dt.date(2028, 2, 29): [("feb29", "completion")],
        dt.date(2028, 3, 29): [("feb29", "1 month")],
        dt.date(2028, 1, 31): [("jan31", "12 months")],
        dt.date(2029, 2, 27): [],
        dt.date(2029, 2, 28): [("feb29", "12 months")],
    }
    for day, expected in calendar.items():
        assert await _due_on(engine, stored, ids, day) == expected, day


async def test_an_invitation_or_an_opt_out_takes_a_graduate_out_of_the_due_set(
    engine: AsyncEngine, study: tuple[StoredStudy, dict[str, int]]
) -> None:
    stored, ids = study
    day = dt.date(2027, 3, 1)
    completion, month = stored.waves[0].id, stored.waves[1].id
    async with engine.begin() as conn:
        await conn.execute(
            invitations.insert().values(
                study_id=stored.id, wave_id=month, respondent_id=ids["jan31"], attempt=1,
                channel="sms", status="sent", created_at=NOW, send_after=NOW,
            )
        )  # fmt: skip
    assert await _due_on(engine, stored, ids, day) == [("mar01", "completion")]
    async with engine.begin() as conn:
        await conn.execute(
            update(respondents).where(respondents.c.id == ids["mar01"]).values(opted_out_at=NOW)
        )
    assert await _due_on(engine, stored, ids, day) == []
    assert completion  # the other wave was never touched


async def test_importing_the_file_again_keeps_the_waves_and_their_invitations(
    engine: AsyncEngine, study: tuple[StoredStudy, dict[str, int]]
) -> None:
    stored, ids = study
    month = stored.waves[1]
    async with engine.begin() as conn:
        await conn.execute(
            invitations.insert().values(
                study_id=stored.id, wave_id=month.id, respondent_id=ids["jan31"], attempt=1,
                channel="sms", status="sent", created_at=NOW, send_after=NOW,
            )
        )  # fmt: skip
    edited = STUDY.replace('"1 month", offset = "1m"', '"1 month", offset = "5w"')
    again = await store_study(engine, read_study(edited), edited, organisation="Kenya TVET")
    assert again.id == stored.id and not again.created
    assert again.waves[1].id == month.id and str(again.waves[1].offset) == "5w"
    assert await find_study(engine, stored.organisation_id, "tracer-2026") == again

    dropped = STUDY.replace('  { name = "1 month", offset = "1m" },\n', "")
    with pytest.raises(StudyError, match="'1 month' \\(1 invitations\\) cannot be left out"):
        await store_study(engine, read_study(dropped), dropped, organisation="Kenya TVET")
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(study_waves)) == 3


async def test_a_survey_of_another_organisation_is_not_found(engine: AsyncEngine) -> None:
    await import_survey(
        engine, SAMPLE.read_bytes(), filename=SAMPLE.name, ussd_code=None,
        roster_only=False, organisation="Lebanon VTC",
    )  # fmt: skip
    with pytest.raises(StudyError, match="the organisation has no survey 'graduate_tracer'"):
        await store_study(engine, read_study(STUDY), STUDY, organisation="Kenya TVET")


async def test_the_status_counts_each_wave_as_the_worker_and_the_graduates_left_it(
    engine: AsyncEngine, study: tuple[StoredStudy, dict[str, int]]
) -> None:
    stored, ids = study
    month = stored.waves[1]
    invited_at = dt.datetime(2027, 2, 28, 9, tzinfo=dt.UTC)
    async with engine.begin() as conn:
        # The first SMS failed; the second was sent, and the network reported it delivered.
        for attempt, status, report in ((1, "failed", None), (2, "sent", "Success")):
            await conn.execute(
                invitations.insert().values(
                    study_id=stored.id, wave_id=month.id, respondent_id=ids["jan31"],
                    attempt=attempt, channel="sms", status=status, created_at=invited_at,
                    send_after=invited_at, delivery_status=report,
                )
            )  # fmt: skip
        # Invited by SMS, answered by a call (another channel still counts).
        await conn.execute(
            responses.insert().values(
                respondent_id=ids["jan31"], survey_id=stored.survey_id,
                survey_version_id=1, channel="ivr", status="complete", language="en",
                started_at=invited_at + dt.timedelta(hours=3),
                updated_at=invited_at + dt.timedelta(hours=3),
            )
        )  # fmt: skip
        await conn.execute(
            update(respondents).where(respondents.c.id == ids["feb29"]).values(opted_out_at=NOW)
        )
    async with engine.begin() as conn:
        assert await match_waves(conn, [stored]) == 1
    by_name = {s.name: s for s in await study_status(engine, stored, dt.date(2027, 3, 12))}
    completion = by_name["completion"]
    # jan31, feb29 and mar01 have completion dates (cohort 2026-A); "none" has none.
    assert (completion.graduates, completion.opened, completion.due) == (3, 2, 0)
    assert (completion.missed, completion.invited, completion.opted_out) == (2, 0, 1)
    one_month = by_name["1 month"]
    assert (one_month.opened, one_month.invited, one_month.reached) == (1, 1, 1)
    assert (one_month.completed, one_month.refused, one_month.missed) == (1, 0, 0)
    assert by_name["12 months"].opened == 0


async def test_a_wave_opens_on_its_day_where_the_graduate_lives(
    engine: AsyncEngine, study: tuple[StoredStudy, dict[str, int]]
) -> None:
    stored, ids = study
    async with engine.begin() as conn:
        # jan31 lives on Kiritimati (UTC+14), mar01... moves nowhere; "other" joins the
        # study's cohort and lives in Pago Pago (UTC-11).
        await conn.execute(
            update(respondents)
            .where(respondents.c.id == ids["jan31"])
            .values(time_zone="Pacific/Kiritimati")
        )
        await conn.execute(
            update(respondents)
            .where(respondents.c.id == ids["other"])
            .values(time_zone="Pacific/Pago_Pago", cohort="2026-A")
        )
    # 30 January, 10:00 UTC: already 31 January on Kiritimati, still 29 January in
    # Pago Pago; both finished on 31 January.
    assert await _due_on(engine, stored, ids, dt.datetime(2027, 1, 30, 10, tzinfo=dt.UTC)) == [
        ("jan31", "completion")
    ]
    # 31 January, 10:00 UTC: Pago Pago is at 23:00 on 30 January.
    assert await _due_on(engine, stored, ids, dt.datetime(2027, 1, 31, 10, tzinfo=dt.UTC)) == [
        ("jan31", "completion")
    ]
    # 31 January, 11:00 UTC: midnight in Pago Pago.
    assert await _due_on(engine, stored, ids, dt.datetime(2027, 1, 31, 11, tzinfo=dt.UTC)) == [
        ("jan31", "completion"), ("other", "completion"),
    ]  # fmt: skip

    # A study that says where a programme's graduates live overrides the number's zone.
    zoned = STUDY + 'time_zones = { Tailoring = "Pacific/Kiritimati" }\n'
    again = await store_study(engine, read_study(zoned), zoned, organisation="Kenya TVET")
    async with engine.begin() as conn:
        await conn.execute(
            update(respondents)
            .where(respondents.c.id == ids["other"])
            .values(programme="Tailoring")
        )
    assert await _due_on(engine, again, ids, dt.datetime(2027, 1, 30, 10, tzinfo=dt.UTC)) == [
        ("jan31", "completion"),
        ("other", "completion"),
    ]


async def test_enqueue_records_one_first_invitation_per_graduate_and_wave_once(
    engine: AsyncEngine, study: tuple[StoredStudy, dict[str, int]]
) -> None:
    stored, ids = study
    now = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)
    async with engine.begin() as conn:
        assert await enqueue(conn, stored, now) == 2  # jan31's 1 month, mar01's completion
    async with engine.begin() as conn:
        assert await enqueue(conn, stored, now) == 0  # recorded already: nothing twice
        rows = (
            await conn.execute(
                select(invitations.c.respondent_id, invitations.c.attempt,
                       invitations.c.channel, invitations.c.status, invitations.c.send_after)
                .order_by(invitations.c.respondent_id)
            )
        ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        (ids["jan31"], 1, "sms", "pending", now), (ids["mar01"], 1, "sms", "pending", now),
    ]  # fmt: skip
    assert await _due_on(engine, stored, ids, now) == []


async def test_two_workers_enqueueing_at_once_record_each_invitation_once(
    engine: AsyncEngine, study: tuple[StoredStudy, dict[str, int]]
) -> None:
    stored, _ = study
    completed = dt.date(2027, 3, 1)
    async with engine.begin() as conn:
        await conn.execute(
            respondents.insert(),
            [
                {"organisation_id": stored.organisation_id, "phone": f"+2547110{n:05d}",
                 "name": f"G{n}", "cohort": "2026-A", "completion_date": completed,
                 "on_roster": True, "attributes": {}, "created_at": NOW, "updated_at": NOW}
                for n in range(300)
            ],
        )  # fmt: skip
    now = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)

    async def worker() -> int:
        async with engine.begin() as conn:
            return await enqueue(conn, stored, now)

    first, second = await asyncio.gather(worker(), worker())
    assert first + second == 302  # the 300, jan31's 1 month and mar01's completion
    async with engine.connect() as conn:
        total = await conn.scalar(select(func.count()).select_from(invitations))
        pairs = await conn.scalar(
            select(func.count()).select_from(
                select(invitations.c.respondent_id, invitations.c.wave_id).distinct().subquery()
            )
        )
    assert total == pairs == 302


async def test_the_days_increment_is_what_a_full_pass_finds_after_one(
    engine: AsyncEngine, study: tuple[StoredStudy, dict[str, int]]
) -> None:
    stored, ids = study
    yesterday = dt.datetime(2027, 2, 28, 12, tzinfo=dt.UTC)
    async with engine.begin() as conn:
        await enqueue(conn, stored, yesterday)  # a full pass on 28 February
    today = yesterday + dt.timedelta(days=1)
    async with engine.connect() as conn:
        increment = await due(conn, stored, today, since=yesterday)
        full = await due(conn, stored, today)
    assert increment == full == [Due(ids["mar01"], stored.waves[0].id)]
    # A graduate added to the roster late, finished on 25 February: only a full pass
    # finds them (the worker makes one every hour).
    async with engine.begin() as conn:
        late = await conn.scalar(
            respondents.insert()
            .values(organisation_id=stored.organisation_id, phone="+254711999999", name="late",
                    cohort="2026-A", completion_date=dt.date(2027, 2, 25), on_roster=True,
                    attributes={}, created_at=NOW, updated_at=NOW)
            .returning(respondents.c.id)
        )  # fmt: skip
    async with engine.connect() as conn:
        assert Due(late, stored.waves[0].id) in await due(conn, stored, today)
        assert Due(late, stored.waves[0].id) not in await due(conn, stored, today, since=yesterday)
