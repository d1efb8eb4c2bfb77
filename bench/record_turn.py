"""How long one `SqlResponseStore.record_turn` takes, next to a hand-written upsert.

    .venv/bin/python -m bench.record_turn [--turns 1000] [--rounds 5]

Runs sequential turns (one answer each, six questions round and round, so the upsert
inserts and updates) on a temporary SQLite file and on a fresh PostgreSQL database
(created and dropped here; --postgres names the server's admin URL). Prints
microseconds per turn for the store; for the statement record_turn sends, written by
hand on bare asyncpg (the difference is SQLAlchemy's cost); and for the floor, a bare
asyncpg `INSERT ... ON CONFLICT` of the answer alone, as bench/durable_server.py does.
A measurement, not a check: the USSD load benchmark (bench/ussd_load.py) is the one
that decides.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy import insert

from storage.db import create_engine, upgrade
from storage.organisations import organisation_for_import
from storage.responses import SqlResponseStore
from storage.schema import survey_versions, surveys
from survey_engine.events import AnswerGiven

QUESTIONS = ("consent", "employed", "months", "relevant", "skills", "income")


async def _prepare(store: SqlResponseStore) -> int:
    now = dt.datetime.now(dt.UTC)
    async with store.engine.begin() as conn:
        organisation_id, _ = await organisation_for_import(conn, None, now)
        survey_id = (
            await conn.execute(
                insert(surveys)
                .values(
                    form_id="timing",
                    title="timing",
                    organisation_id=organisation_id,
                    created_at=now,
                )
                .returning(surveys.c.id)
            )
        ).scalar_one()
        version_id = (
            await conn.execute(
                insert(survey_versions)
                .values(
                    survey_id=survey_id,
                    version="1",
                    source=b"",
                    source_sha256="0" * 64,
                    languages="en",
                    imported_at=now,
                )
                .returning(survey_versions.c.id)
            )
        ).scalar_one()
    respondent = await store.create_respondent(organisation_id, "+254712345678", "en")
    response = await store.start_response(
        respondent_id=respondent.id,
        version_id=version_id,
        channel="ussd",
        session_ref="timing",
        language="en",
        turn_ref="",
        now=now,
    )
    return response.id


async def _turns(store: SqlResponseStore, response_id: int, turns: int) -> float:
    """Microseconds per turn over `turns` sequential turns."""
    text = ""
    start = time.perf_counter()
    for i in range(turns):
        text = f"{text}*{i % 10}"[-60:]
        await store.record_turn(
            response_id,
            (AnswerGiven(QUESTIONS[i % 6], str(i)),),
            turn_ref=text,
            now=dt.datetime.now(dt.UTC),
        )
    return (time.perf_counter() - start) / turns * 1e6


async def _bare_turns(pool: asyncpg.Pool, turns: int) -> float:
    start = time.perf_counter()
    for i in range(turns):
        await pool.execute(BARE_UPSERT, "s", QUESTIONS[i % 6], str(i))
    return (time.perf_counter() - start) / turns * 1e6


async def _bare_turn_turns(pool: asyncpg.Pool, response_id: int, turns: int) -> float:
    text = ""
    start = time.perf_counter()
    for i in range(turns):
        text = f"{text}*{i % 10}"[-60:]
        await pool.fetch(
            BARE_TURN, text, dt.datetime.now(dt.UTC), response_id, QUESTIONS[i % 6], str(i), "text"
        )
    return (time.perf_counter() - start) / turns * 1e6


# What record_turn sends for an answer, by hand: the cost of SQLAlchemy is the difference.
BARE_TURN = (
    "WITH turn_response AS (UPDATE responses SET turn_ref = $1, updated_at = $2"
    " WHERE id = $3 RETURNING id, respondent_id, channel),"
    " turn_answer AS (INSERT INTO answers (response_id, question, value, kind, channel,"
    " answered_at, updated_at) SELECT id, $4, $5, $6, channel, $2, $2 FROM turn_response"
    " ON CONFLICT (response_id, question) DO UPDATE SET value = excluded.value,"
    " kind = excluded.kind, channel = excluded.channel, updated_at = excluded.updated_at"
    " RETURNING answers.id)"
    " SELECT id FROM turn_response"
)
BARE_UPSERT = (
    "INSERT INTO bare_answers (session_id, question, value) VALUES ($1, $2, $3)"
    " ON CONFLICT (session_id, question) DO UPDATE SET value = EXCLUDED.value,"
    " answered_at = now()"
)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000, help="turns per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    name = f"timing_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    folder = tempfile.TemporaryDirectory()
    engines = []
    try:
        sqlite_url = f"sqlite:///{Path(folder.name) / 'timing.db'}"
        pg_url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
        stores = {}
        for label, url in (("SQLite", sqlite_url), ("PostgreSQL", pg_url)):
            await asyncio.to_thread(upgrade, url)
            engines.append(engine := create_engine(url))
            store = SqlResponseStore(engine)
            stores[label] = (store, await _prepare(store))
        pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=2)
        await pool.execute(
            "CREATE TABLE bare_answers (session_id text, question text, value text,"
            " answered_at timestamptz DEFAULT now(), PRIMARY KEY (session_id, question))"
        )
        # Warm up connections, prepared statements and SQLAlchemy's compiled cache.
        for store, response_id in stores.values():
            await _turns(store, response_id, 200)
        await _bare_turns(pool, 200)
        pg_response_id = stores["PostgreSQL"][1]
        await _bare_turn_turns(pool, pg_response_id, 200)

        # Rounds interleave the three, so a busy neighbour on the machine hits all alike.
        figures: dict[str, list[float]] = {label: [] for label in (*stores, "turn", "bare")}
        for _ in range(args.rounds):
            for label, (store, response_id) in stores.items():
                figures[label].append(await _turns(store, response_id, args.turns))
            figures["turn"].append(await _bare_turn_turns(pool, pg_response_id, args.turns))
            figures["bare"].append(await _bare_turns(pool, args.turns))
        await pool.close()
    finally:
        for engine in engines:
            await engine.dispose()
        folder.cleanup()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()

    print(f"µs per turn, median (min) of {args.rounds} rounds of {args.turns} sequential turns")
    for label, title in (
        ("SQLite", "record_turn, SQLite"),
        ("PostgreSQL", "record_turn, PostgreSQL"),
        ("turn", "same SQL by hand, bare asyncpg"),
        ("bare", "bare asyncpg answer upsert only"),
    ):
        values = figures[label]
        print(f"  {title:32} {statistics.median(values):7.0f} ({min(values):.0f})")


if __name__ == "__main__":
    asyncio.run(main())
