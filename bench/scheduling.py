"""Scheduling benchmark: who is due, on PostgreSQL with 1,000,000 graduates in a study
of 3 waves, a third of them already invited.

    python -m bench.scheduling [--graduates 1000000] [--runs 5] [--pg DSN]

One run on a scratch database: `db upgrade`, the sample survey imported, a study
(waves at 0d, 3m and 6m, a 30-day window), then the graduates written with COPY, their
completion dates spread over two years (about 1,370 a day), in Nairobi; every third
graduate already has an invitation for each wave that has opened. It prints, each as
the median of `--runs` and with the CPU each process used:

- the full due set (`storage.studies.due`), beside a plain anti-join of respondents x
  waves against invitations (the same work without the ranges of completion dates):
  target at most 1.5 x the anti-join;
- invitations enqueued per second, recording the whole due set at once
  (`storage.studies.enqueue`: one INSERT ... SELECT): target at least 10,000;
- the next day's increment, once today's are recorded (`due(..., since=...)`, as the
  worker's passes between its hourly full ones): target under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from bench import procstat
from bench.harness import (
    REPO,
    SERVICE_CLI,
    drop_database,
    fresh_state,
    run_setup,
    scratch_dsn,
    services_ready,
)
from storage.db import create_engine
from storage.studies import due, enqueue, find_study

WORKBOOK = REPO / "examples" / "graduate_tracer.xlsx"
ORGANISATION = "Bench TVET"
STUDY = """
name = "bench"
survey = "graduate_tracer"
waves = [
  { name = "completion", offset = "0d" },
  { name = "3 months", offset = "3m" },
  { name = "6 months", offset = "6m" },
]
wave_window = "30d"
"""
TODAY = dt.date(2027, 6, 15)
NOW = dt.datetime(2027, 6, 15, 9, tzinfo=dt.UTC)  # noon in Nairobi
DAYS = 730
TARGET_RATIO, TARGET_RATE, TARGET_INCREMENT_MS = 1.5, 10_000, 50.0

PLAIN_ANTI_JOIN = """
SELECT count(*) FROM respondents r CROSS JOIN study_waves w
WHERE w.study_id = $1 AND r.organisation_id = $2 AND r.on_roster
  AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.respondent_id = r.id AND i.wave_id = w.id)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graduates", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each query")
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin DSN"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    return parser.parse_args(argv)


async def load(dsn: str, graduates: int, study_id: int, organisation_id: int) -> int:
    """The graduates, and the invitations of every third one; how many invitations."""
    conn = await asyncpg.connect(dsn)
    try:
        start = TODAY - dt.timedelta(days=DAYS)
        now = dt.datetime.now(dt.UTC)
        await conn.copy_records_to_table(
            "respondents",
            records=(
                (organisation_id, f"+2547{n:08d}", f"Graduate {n}", "sw", "Welding",
                 "2026", start + dt.timedelta(days=n % DAYS), ("female", "male")[n % 2], True,
                 "{}", now, now, "Africa/Nairobi")
                for n in range(graduates)
            ),
            columns=["organisation_id", "phone", "name", "language", "programme", "cohort",
                     "completion_date", "gender", "on_roster", "attributes", "created_at",
                     "updated_at", "time_zone"],
        )  # fmt: skip
        # Every third graduate invited to each wave that has opened for them.
        invited = await conn.execute(
            """
            INSERT INTO invitations (study_id, wave_id, respondent_id, attempt, channel,
                                     status, created_at, send_after)
            SELECT $1, w.id, r.id, 1, 'sms', 'sent', $2, $2
            FROM respondents r JOIN study_waves w ON w.study_id = $1
            WHERE r.id % 3 = 0
              AND (r.completion_date + make_interval(months => w.offset_months))::date
                  + w.offset_days <= $3::date
            """,
            study_id, now, TODAY,
        )  # fmt: skip
        await conn.execute("ANALYZE respondents; ANALYZE invitations; ANALYZE study_waves")
        return int(invited.split()[-1])
    finally:
        await conn.close()


async def timed(runs: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """The median of `runs` timings (ms) after a warm-up, and the last result."""
    result = await work()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = await work()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), result


async def measure(dsn: str, db_name: str, runs: int) -> dict[str, Any]:
    engine = create_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    groups = [
        procstat.Group(
            "pg", comm="postgres", keep=procstat.postgres_process_of(db_name), reaped=False
        ),
        procstat.Group("client", roots=(os.getpid(),), keep=lambda _: False, reaped=False),
    ]
    found: dict[str, Any] = {}
    try:
        async with engine.connect() as conn:
            organisation_id = await conn.scalar(
                text("SELECT id FROM organisations WHERE name = :n"), {"n": ORGANISATION}
            )
        study = await find_study(engine, organisation_id, "bench")
        assert study is not None

        async def due_set() -> int:
            async with engine.connect() as conn:
                return len(await due(conn, study, NOW))

        raw = await asyncpg.connect(dsn)
        try:

            async def anti_join() -> int:
                return int(await raw.fetchval(PLAIN_ANTI_JOIN, study.id, organisation_id))

            start = procstat.sample(groups)
            found["due_ms"], found["due_rows"] = await timed(runs, due_set)
            found["due_cpu"] = procstat.cpu_percent(start, procstat.sample(groups))
            start = procstat.sample(groups)
            found["anti_ms"], found["anti_rows"] = await timed(runs, anti_join)
            found["anti_cpu"] = procstat.cpu_percent(start, procstat.sample(groups))
        finally:
            await raw.close()

        start = procstat.sample(groups)
        began = time.perf_counter()
        async with engine.begin() as conn:
            found["enqueued"] = await enqueue(conn, study, NOW)
        found["enqueue_s"] = time.perf_counter() - began
        found["enqueue_cpu"] = procstat.cpu_percent(start, procstat.sample(groups))

        tomorrow = NOW + dt.timedelta(days=1)

        async def increment() -> int:
            async with engine.connect() as conn:
                # As the worker's passes between full ones: the waves opened since.
                return len(await due(conn, study, tomorrow, since=NOW))

        start = procstat.sample(groups)
        found["increment_ms"], found["increment_rows"] = await timed(runs, increment)
        found["increment_cpu"] = procstat.cpu_percent(start, procstat.sample(groups))
    finally:
        await engine.dispose()
    return found


def _cpu(cpu: dict[str, float]) -> str:
    return " ".join(f"{k} {cpu.get(k, 0):.0f}%" for k in ("pg", "client", "other"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not services_ready(args.pg, args.redis_url):
        return 2
    db_name = f"bench_scheduling_{os.getpid()}"
    dsn = scratch_dsn(args.pg, db_name)
    log = Path(tempfile.mkdtemp(prefix="bench_scheduling_")) / "setup.log"
    env = {**os.environ, "DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://", 1)}
    env.pop("REDIS_URL", None)
    try:
        fresh_state(args.pg, db_name, args.redis_url)
        run_setup([str(SERVICE_CLI), "db", "upgrade"], env, log, 180)
        run_setup(
            [str(SERVICE_CLI), "survey", "import", str(WORKBOOK), "--organisation", ORGANISATION],
            env, log, 180,
        )  # fmt: skip
        study_file = log.parent / "study.toml"
        study_file.write_text(STUDY)
        run_setup(
            [str(SERVICE_CLI), "study", "import", str(study_file), "--organisation",
             ORGANISATION],
            env, log, 180,
        )  # fmt: skip
        ids = asyncio.run(_ids(dsn))
        began = time.perf_counter()
        invited = asyncio.run(load(dsn, args.graduates, *ids))
        print(
            f"{args.graduates:,} graduates and {invited:,} invitations loaded in "
            f"{time.perf_counter() - began:.0f} s",
            flush=True,
        )
        found = asyncio.run(measure(dsn, db_name, args.runs))
    except subprocess.CalledProcessError as error:
        print(f"did not run: {error}", file=sys.stderr)
        return 1
    finally:
        drop_database(args.pg, db_name)
    return 0 if report(found) else 1


async def _ids(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT id, organisation_id FROM studies WHERE name = 'bench'")
        assert row is not None
        return row[0], row[1]
    finally:
        await conn.close()


def report(found: dict[str, Any]) -> bool:
    ratio = found["due_ms"] / found["anti_ms"]
    rate = found["enqueued"] / found["enqueue_s"]
    checks = [
        (ratio <= TARGET_RATIO, f"due set / anti-join {ratio:.2f} (target <= {TARGET_RATIO})"),
        (
            rate >= TARGET_RATE,
            f"{rate:,.0f} invitations enqueued per second (target >= {TARGET_RATE:,})",
        ),
        (
            found["increment_ms"] < TARGET_INCREMENT_MS,
            f"next day's increment {found['increment_ms']:.1f} ms "
            f"(target < {TARGET_INCREMENT_MS:.0f} ms)",
        ),
    ]
    print("\nsummary (median of the runs)")
    print(f"  due set today:        {found['due_ms']:8.1f} ms, {found['due_rows']:,} pairs · "
          f"cpu {_cpu(found['due_cpu'])}")  # fmt: skip
    print(f"  plain anti-join:      {found['anti_ms']:8.1f} ms, {found['anti_rows']:,} pairs "
          f"(no dates) · cpu {_cpu(found['anti_cpu'])}")  # fmt: skip
    print(f"  enqueue the due set:  {found['enqueue_s'] * 1000:8.1f} ms, "
          f"{found['enqueued']:,} invitations · cpu {_cpu(found['enqueue_cpu'])}")  # fmt: skip
    print(f"  next day's increment: {found['increment_ms']:8.1f} ms, "
          f"{found['increment_rows']:,} pairs · cpu {_cpu(found['increment_cpu'])}")  # fmt: skip
    for passed, line in checks:
        print(f"  {'ok  ' if passed else 'OVER'} {line}")
    return all(passed for passed, _ in checks)


if __name__ == "__main__":
    sys.exit(main())
