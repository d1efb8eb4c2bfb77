"""The respondents list of the admin site on a roster of 100,000: p50 and p95 of the
searches a programme officer runs (`storage.roster.search_roster`, count and page).

    .venv/bin/python -m bench.roster_pages [--respondents 100000] [--repeat 30]

Needs PostgreSQL on 127.0.0.1:5432 (user `postgres`, trust auth); uses a scratch
database `bench_roster_<pid>`, migrated, filled and dropped at the end. Two thirds of
the respondents have answered, some twice; a second organisation holds as many again.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import time

import asyncpg

from storage.db import create_engine, upgrade
from storage.roster import RosterFilter, roster_facets, search_roster

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PROGRAMMES = ["Tailoring", "Solar PV installation", "ICT support", "Motorcycle repair",
              "Hairdressing", "Plumbing", "Welding", "Catering"]  # fmt: skip
COHORTS = ["2025-A", "2025-B", "2025-C", "2026-A", "2026-B", "2026-C"]
NAMES = ["Wanjiru", "Brian", "Neema", "Baraka", "Awa", "Moussa", "Rana", "Karim", "Amina",
         "Otieno", "Kamau", "Mushi", "Diop", "Haddad", "Ndiaye", "Achieng"]  # fmt: skip
_RESPONDENT_COLUMNS = ["id", "organisation_id", "phone", "name", "programme", "cohort",
    "language", "gender", "on_roster", "attributes", "created_at", "updated_at"]  # fmt: skip
_RESPONSE_COLUMNS = ["respondent_id", "survey_id", "survey_version_id", "channel", "status",
    "started_at", "updated_at"]  # fmt: skip
STATUSES = ["complete", "complete", "in_progress", "refused", "interrupted"]


async def _fill(dsn: str, count: int) -> None:
    rnd = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(dsn)
    try:
        for org in (1, 2):
            await conn.execute(
                "INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3)",
                org, f"Org {org}", now,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO surveys (id, form_id, organisation_id, title, created_at) "
                "VALUES ($1, $2, $1, 'Tracer', $3)",
                org, f"tracer_{org}", now,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO survey_versions (id, survey_id, version, source, source_sha256, "
                "languages, imported_at) VALUES ($1, $1, '1', '', '', 'en', $2)",
                org, now,
            )  # fmt: skip
        people = [
            (
                index + 1,
                1 + index % 2,
                f"+2547{index:08d}",
                f"{rnd.choice(NAMES)} {rnd.choice(NAMES)}",
                rnd.choice(PROGRAMMES),
                rnd.choice(COHORTS),
                "{}",
                now,
            )
            for index in range(count * 2)
        ]
        await conn.copy_records_to_table(
            "respondents",
            records=[(*p[:6], "sw", "", True, p[6], p[7], p[7]) for p in people],
            columns=_RESPONDENT_COLUMNS,
        )
        answered = []
        for person in people:
            for _ in range(rnd.choice([0, 1, 1, 2])):
                answered.append(
                    (person[0], person[1], person[1], "ussd", rnd.choice(STATUSES), now, now)
                )
        await conn.copy_records_to_table(
            "responses",
            records=answered,
            columns=_RESPONSE_COLUMNS,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _measure(url: str, repeat: int) -> None:
    engine = create_engine(url)
    cases = {
        "first page": (RosterFilter(), 1),
        "page 1000": (RosterFilter(), 1000),
        "programme + cohort": (RosterFilter(programme="Plumbing", cohort="2026-A"), 1),
        "status complete": (RosterFilter(status="complete"), 1),
        "status none": (RosterFilter(status="none"), 1),
        "status refused, page 50": (RosterFilter(status="refused"), 50),
        "name 'amina'": (RosterFilter(text="amina"), 1),
        "phone digits '0001234'": (RosterFilter(text="0001234"), 1),
        "whole number": (RosterFilter(text="0700012346"), 1),
    }
    try:
        for label, (wanted, page) in cases.items():
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                found = await search_roster(engine, 1, wanted, page=page, default_region="KE")
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(
                f"{label:28} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms"
                f"  ({found.total} match)"
            )
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            await roster_facets(engine, 1)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{'filter values':28} p50 {statistics.median(times):7.1f} ms")
    finally:
        await engine.dispose()


async def _main(count: int, repeat: int) -> None:
    name = f"bench_roster_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    try:
        await asyncio.to_thread(upgrade, url)
        await _fill(url, count)
        print(f"{count} respondents in the organisation asked about, {count} in another")
        await _measure(url, repeat)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--respondents", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(_main(args.respondents, args.repeat))
