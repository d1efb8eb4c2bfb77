"""What the admin site's respondents pages stand on: a roster counted without storing,
uploads held between preview and import, and deletion on request."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.accounts import create_user
from storage.organisations import organisation_id as organisation_id_of
from storage.respondents import import_respondents, read_roster, store_roster
from storage.roster import delete_respondent
from storage.schema import calls, organisations, respondents, surveys
from storage.uploads import HOLD_FOR, held_upload, hold_upload, take_upload

T0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
ROSTER = b"phone,name\n+254712300481,Wanjiru Kamau\n+254722845016,Brian Otieno\n12345,Nobody\n"


async def test_a_dry_run_counts_what_an_import_would_do_and_stores_nothing(
    engine: AsyncEngine,
) -> None:
    await import_respondents(
        engine, b"phone\n+254712300481\n", filename="r.csv", default_region="KE",
        organisation="Kenya TVET",
    )  # fmt: skip
    report = await import_respondents(
        engine, ROSTER, filename="r.csv", default_region="KE", organisation="Kenya TVET",
        dry_run=True,
    )  # fmt: skip
    assert (report.created, report.updated, report.dry_run) == (1, 1, True)
    assert [(e.line, e.column) for e in report.errors] == [(4, "phone")]
    async with engine.connect() as conn:
        assert (await conn.scalars(select(respondents.c.name))).all() == [""]
    # Not even a new organisation is made by a dry run.
    await import_respondents(
        engine, ROSTER, filename="r.csv", default_region="KE", organisation="Uganda Skills",
        dry_run=True,
    )  # fmt: skip
    async with engine.connect() as conn:
        assert (await conn.scalars(select(organisations.c.name))).all() == ["Kenya TVET"]

    parsed = await read_roster(ROSTER, filename="r.csv", default_region="KE")
    assert (len(parsed.entries), parsed.lines_with_errors) == (2, 1)
    async with engine.begin() as conn:
        stored = await store_roster(conn, parsed, organisation="Kenya TVET")
    assert (stored.created, stored.updated, stored.dry_run) == (1, 1, False)


async def test_an_upload_is_held_for_its_sender_for_an_hour_and_taken_once(
    engine: AsyncEngine,
) -> None:
    officer = await create_user(
        engine, email="o@tvet.ke", organisation="Kenya TVET", role="admin",
        password="correct horse battery staple",
    )  # fmt: skip
    colleague = await create_user(
        engine, email="c@tvet.ke", organisation="Kenya TVET", role="admin",
        password="correct horse battery staple",
    )  # fmt: skip
    mine = {"user_id": officer.id, "organisation_id": officer.organisation_id, "kind": "roster"}
    token = await hold_upload(engine, filename="r.csv", content=ROSTER, now=T0, **mine)
    held = await held_upload(engine, token, now=T0 + dt.timedelta(minutes=5), **mine)
    assert held is not None and (held.filename, held.content) == ("r.csv", ROSTER)
    theirs = {**mine, "user_id": colleague.id}
    assert await held_upload(engine, token, now=T0, **theirs) is None
    assert (
        await held_upload(engine, token, now=T0 + HOLD_FOR + dt.timedelta(seconds=1), **mine)
        is None
    )
    assert await held_upload(engine, token + "x", now=T0, **mine) is None
    async with engine.begin() as conn:
        assert await take_upload(conn, token, now=T0, **mine)
    async with engine.begin() as conn:
        assert not await take_upload(conn, token, now=T0, **mine)
    # Holding another upload later clears what was never confirmed.
    stale = await hold_upload(engine, filename="old.csv", content=b"x", now=T0, **mine)
    await hold_upload(engine, filename="new.csv", content=b"y", now=T0 + 2 * HOLD_FOR, **mine)
    assert await held_upload(engine, stale, now=T0, **mine) is None


async def test_deleting_a_respondent_deletes_the_calls_to_their_number_in_their_organisation(
    engine: AsyncEngine,
) -> None:
    for name in ("Kenya TVET", "Uganda Skills"):
        await import_respondents(
            engine, b"phone\n+254712300481\n", filename="r.csv", default_region="KE",
            organisation=name,
        )  # fmt: skip
    async with engine.begin() as conn:
        kenya = await organisation_id_of(conn, "Kenya TVET", T0)
        uganda = await organisation_id_of(conn, "Uganda Skills", T0)
        for org, form_id in ((kenya, "tracer"), (uganda, "baseline")):
            survey = (
                await conn.execute(
                    surveys.insert()
                    .values(form_id=form_id, organisation_id=org, title="", created_at=T0)
                    .returning(surveys.c.id)
                )
            ).scalar_one()
            await conn.execute(
                calls.insert().values(survey_id=survey, phone="+254712300481", placed_at=T0)
            )
        person = await conn.scalar(
            select(respondents.c.id).where(respondents.c.organisation_id == kenya)
        )
    async with engine.begin() as conn:
        assert await delete_respondent(conn, uganda, person) is None  # not theirs
        deleted = await delete_respondent(conn, kenya, person)
    assert deleted is not None and (deleted.responses, deleted.calls) == (0, 1)
    async with engine.connect() as conn:
        assert (await conn.scalars(select(respondents.c.organisation_id))).all() == [uganda]
        assert len((await conn.execute(select(calls))).all()) == 1  # Uganda's call stays
    async with engine.begin() as conn:
        assert await delete_respondent(conn, kenya, 2**40) is None
