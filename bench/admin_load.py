"""Admin benchmark: the results page, the dashboard and the exports on PostgreSQL with
100,000 respondents and 100,000 then 1,000,000 answers.

    python -m bench.admin_load [--requests 30] [--pg DSN] [--json FILE]

One run on a scratch database: `db upgrade`, the sample survey imported, an admin made
by `users create`, then 100,000 graduates on the roster and 10,000 responses of 10
answers each written with COPY; `service-tracker serve` (one worker) is started and
measured; then 90,000 more responses (20,000 of them a second response of the same
graduate, so distance travelled has pairs) bring the answers to 1,000,000 and it is
measured again. For each size:

- the results page and the dashboard: p50 and p95 over `--requests` sequential
  requests after two warm-ups (target p95 < 500 ms). The dashboard four ways: its
  first view after the answers were loaded, timed once (it counts every graduate into
  `outcome_facts`); views with nothing new (figures from the cache); and views each
  after one more graduate completed (written straight to the database, untimed), as
  during fieldwork: the figures known are corrected by what that graduate counts for;
  and views each after a roster change, which counts every figure afresh;
- the wide CSV, wide XLSX and long CSV exports: time, bytes, and the server process's
  peak RSS while it runs (sampled from /proc every 10 ms) against its RSS before: the
  growth must not follow the number of answers;
- the CPU each process used during each measurement (server, PostgreSQL backends of
  the scratch database, this client), as bench/harness.py's helpers count it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench import procstat
from bench.harness import (
    REPO,
    SERVICE_CLI,
    ServerFailed,
    drop_database,
    free_port,
    fresh_state,
    run_setup,
    scratch_dsn,
    services_ready,
    start_http_server,
    stop_server,
)

WORKBOOK = REPO / "examples" / "graduate_tracer.xlsx"
ORGANISATION = "Bench TVET"
EMAIL = "bench@tvet.example"
PASSWORD = "a long benchmark password"
RESPONDENTS = 100_000
FIRST_RESPONSES = 10_000  # x 10 answers = 100,000
ALL_RESPONSES = 100_000  # x 10 answers = 1,000,000
TARGET_P95_MS = 500.0
PROGRAMMES = ("Welding", "Tailoring", "Electrical", "Plumbing", "Hairdressing", "ICT")
COHORTS = ("2025-A", "2025-B", "2026-A", "2026-B")
EMPLOYED = ("wage", "self", "not_working")
AGREE = ("strongly_disagree", "disagree", "neutral", "agree", "strongly_agree")
_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@dataclass
class Timing:
    name: str
    p50_ms: float
    p95_ms: float
    cpu: dict[str, float]


@dataclass
class ExportRun:
    name: str
    seconds: float
    bytes: int
    rss_before_mb: float
    rss_peak_mb: float
    cpu: dict[str, float]

    @property
    def growth_mb(self) -> float:
        return self.rss_peak_mb - self.rss_before_mb


@dataclass
class Size:
    answers: int
    pages: list[Timing] = field(default_factory=list)
    exports: list[ExportRun] = field(default_factory=list)
    catch_up_ms: float = 0.0  # the dashboard's first view after the answers were loaded


# -- data ------------------------------------------------------------------------------


async def _ids(conn: asyncpg.Connection) -> tuple[int, int, int]:
    row = await conn.fetchrow(
        "SELECT s.id, max(v.id), s.organisation_id FROM surveys s "
        "JOIN survey_versions v ON v.survey_id = s.id GROUP BY s.id, s.organisation_id"
    )
    assert row is not None
    return row[0], row[1], row[2]


async def add_respondents(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        _, _, organisation_id = await _ids(conn)
        now = dt.datetime.now(dt.UTC)
        records = [
            (
                organisation_id,
                f"+2547{i:08d}",
                f"Graduate {i}",
                "en",
                PROGRAMMES[i % len(PROGRAMMES)],
                COHORTS[(i // 7) % len(COHORTS)],
                dt.date(2025, 6, 30),
                ("female", "male")[i % 2],
                True,
                "{}",
                now,
                now,
            )
            for i in range(RESPONDENTS)
        ]
        await conn.copy_records_to_table(
            "respondents",
            records=records,
            columns=[
                "organisation_id", "phone", "name", "language", "programme", "cohort",
                "completion_date", "gender", "on_roster", "attributes", "created_at",
                "updated_at",
            ],
        )  # fmt: skip
    finally:
        await conn.close()


async def add_responses(dsn: str, first: int, last: int) -> None:
    """Responses `first` .. `last - 1` (by number), 10 answers each, with COPY. Response
    k belongs to graduate k % 80,000: beyond 80,000 a graduate answers a second time."""
    rng = random.Random(first)
    conn = await asyncpg.connect(dsn)
    try:
        survey_id, version_id, _ = await _ids(conn)
        base_respondent = await conn.fetchval("SELECT min(id) FROM respondents")
        base_response = (await conn.fetchval("SELECT coalesce(max(id), 0) FROM responses")) + 1
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        response_rows, answer_rows = [], []
        for k in range(first, last):
            response_id = base_response + (k - first)
            second = k >= 80_000
            at = start + dt.timedelta(days=120 if second else k % 90, minutes=k % 600)
            status = "complete" if k % 10 else ("refused" if k % 20 else "in_progress")
            channel = "ivr" if k % 3 == 0 else "ussd"
            response_rows.append(
                (response_id, base_respondent + k % 80_000, survey_id, version_id, channel,
                 status, "en", at, at, at)
            )  # fmt: skip
            employed = EMPLOYED[rng.randrange(3)]
            given = {
                "consent": "yes",
                "employed": employed,
                "months_to_job": str(rng.randrange(0, 13)),
                "job_related": ("yes", "some", "no")[rng.randrange(3)],
                "further_education": ("yes", "no")[rng.randrange(2)],
                "training_relevant": AGREE[rng.randrange(5)],
                "satisfied": AGREE[rng.randrange(5)],
                "skill_confidence": str(rng.randrange(1, 6)),
                "skill_communication": str(rng.randrange(1, 6)),
                "suggestion": f"More practice on the machines, please ({k})",
            }
            for question, value in given.items():
                answer_rows.append((response_id, question, value, "text", channel, at, at))
        await conn.copy_records_to_table(
            "responses",
            records=response_rows,
            columns=[
                "id", "respondent_id", "survey_id", "survey_version_id", "channel", "status",
                "language", "started_at", "updated_at", "ended_at",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "answers",
            records=answer_rows,
            columns=[
                "response_id", "question", "value", "kind", "channel", "answered_at",
                "updated_at",
            ],
        )  # fmt: skip
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('responses', 'id'), "
            "(SELECT max(id) FROM responses))"
        )
        await conn.execute("ANALYZE respondents; ANALYZE responses; ANALYZE answers")
    finally:
        await conn.close()


async def _one_more_response(dsn: str) -> None:
    """A graduate who had not answered completes the survey (as `add_responses` does)."""
    conn = await asyncpg.connect(dsn)
    try:
        survey_id, version_id, _ = await _ids(conn)
        respondent_id = await conn.fetchval(
            "SELECT min(p.id) FROM respondents p WHERE NOT EXISTS "
            "(SELECT 1 FROM responses r WHERE r.respondent_id = p.id)"
        )
        at = dt.datetime.now(dt.UTC)
        response_id = await conn.fetchval(
            "INSERT INTO responses (respondent_id, survey_id, survey_version_id, channel, "
            "status, language, started_at, updated_at, ended_at) "
            "VALUES ($1, $2, $3, 'ussd', 'complete', 'en', $4, $4, $4) RETURNING id",
            respondent_id, survey_id, version_id, at,
        )  # fmt: skip
        given = {"consent": "yes", "employed": "wage", "months_to_job": "2",
                 "job_related": "yes", "satisfied": "agree", "skill_confidence": "4"}  # fmt: skip
        await conn.executemany(
            "INSERT INTO answers (response_id, question, value, kind, channel, answered_at, "
            "updated_at) VALUES ($1, $2, $3, 'text', 'ussd', $4, $4)",
            [(response_id, question, value, at) for question, value in given.items()],
        )
    finally:
        await conn.close()


async def _roster_change(dsn: str) -> None:
    """One graduate's roster entry is written again (as an import does)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "UPDATE respondents SET updated_at = $1, grouped_at = $1 "
            "WHERE id = (SELECT min(id) FROM respondents)",
            dt.datetime.now(dt.UTC),
        )
    finally:
        await conn.close()


# -- measuring -------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PeakRss:
    """The highest RSS of a process while the block runs, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def groups(server_pid: int, db_name: str) -> list[procstat.Group]:
    return [
        procstat.Group("server", roots=(server_pid,)),
        procstat.Group(
            "pg", comm="postgres", keep=procstat.postgres_process_of(db_name), reaped=False
        ),
        # This process alone: the server it started is its child, counted above.
        procstat.Group("client", roots=(os.getpid(),), keep=lambda _: False, reaped=False),
    ]


async def sign_in(session: aiohttp.ClientSession, base: str) -> None:
    page = await (await session.get(f"{base}/admin/login")).text()
    token = _CSRF.search(page)
    assert token, "no CSRF token on the sign-in page"
    response = await session.post(
        f"{base}/admin/login",
        data={"_csrf": token.group(1), "email": EMAIL, "password": PASSWORD},
        allow_redirects=False,
    )
    if response.status != 303:
        raise ServerFailed(f"sign-in answered {response.status}")


async def time_page(
    session: aiohttp.ClientSession,
    url: str,
    name: str,
    requests: int,
    sampled: list,
    before_each: Callable[[], Awaitable[None]] | None = None,
) -> Timing:
    """p50 and p95 of `requests` GETs after two warm-ups; `before_each` runs (untimed,
    though its CPU is counted) before each."""
    for _ in range(2):
        await (await session.get(url, allow_redirects=False)).read()
    start = procstat.sample(sampled)
    times = []
    for _ in range(requests):
        if before_each is not None:
            await before_each()
        began = time.perf_counter()
        response = await session.get(url, allow_redirects=False)
        await response.read()
        if response.status != 200:
            raise ServerFailed(f"{url} answered {response.status}")
        times.append((time.perf_counter() - began) * 1000)
    cpu = procstat.cpu_percent(start, procstat.sample(sampled))
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return Timing(name, statistics.median(times), p95, cpu)


async def time_once(session: aiohttp.ClientSession, url: str) -> float:
    began = time.perf_counter()
    response = await session.get(url, allow_redirects=False)
    await response.read()
    if response.status != 200:
        raise ServerFailed(f"{url} answered {response.status}")
    return (time.perf_counter() - began) * 1000


async def time_export(
    session: aiohttp.ClientSession, url: str, name: str, pid: int, sampled: list
) -> ExportRun:
    before = rss_mb(pid)
    start = procstat.sample(sampled)
    began = time.perf_counter()
    size = 0
    with PeakRss(pid) as peak:
        response = await session.get(url, allow_redirects=False)
        if response.status != 200:
            raise ServerFailed(f"{url} answered {response.status}")
        async for chunk in response.content.iter_chunked(1 << 16):
            size += len(chunk)
    seconds = time.perf_counter() - began
    cpu = procstat.cpu_percent(start, procstat.sample(sampled))
    return ExportRun(name, seconds, size, before, peak.peak, cpu)


async def measure(
    base: str, survey_id: int, answers: int, requests: int, pid: int, db_name: str, dsn: str
) -> Size:
    sampled = groups(pid, db_name)
    size = Size(answers)
    timeout = aiohttp.ClientTimeout(total=1800)
    # unsafe: the jar keeps cookies of an IP address (127.0.0.1).
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(timeout=timeout, cookie_jar=jar) as session:
        await sign_in(session, base)
        pages = {
            "results": f"{base}/admin/results/{survey_id}",
            "results, filtered": f"{base}/admin/results/{survey_id}"
            f"?question=employed&programme=Welding&since=2026-01-15",
            "dashboard": f"{base}/admin/dashboard?survey={survey_id}",
            "dashboard by gender, one cohort": f"{base}/admin/dashboard?survey={survey_id}"
            f"&by=gender&cohort=2025-A",
        }
        # The dashboard's first view counts every response loaded since the last one
        # into outcome_facts (storage.outcome_facts): timed once, apart.
        size.catch_up_ms = await time_once(session, pages["dashboard"])
        print(f"  dashboard, first view (counts the new responses): "
              f"{size.catch_up_ms:.0f} ms", flush=True)  # fmt: skip
        for name, url in pages.items():
            size.pages.append(await time_page(session, url, name, requests, sampled))
            print(f"  {name}: {_page_line(size.pages[-1])}", flush=True)
        # Fieldwork: a graduate completes between every two views, so the figures kept
        # are corrected. A roster change between every two views: everything is counted
        # afresh (as is a filter nobody asked for before, or another worker's first view).
        for name, change in (
            ("dashboard, a new response each view", _one_more_response),
            ("dashboard, counted afresh each view", _roster_change),
        ):
            size.pages.append(
                await time_page(
                    session, pages["dashboard"], name, requests, sampled,
                    before_each=lambda change=change: change(dsn),
                )
            )  # fmt: skip
            print(f"  {name}: {_page_line(size.pages[-1])}", flush=True)
        export = f"{base}/admin/results/{survey_id}/export"
        for name, query in (
            ("wide csv", "shape=wide&format=csv"),
            ("wide xlsx", "shape=wide&format=xlsx"),
            ("long csv", "shape=long&format=csv"),
        ):
            run = await time_export(session, f"{export}?{query}", name, pid, sampled)
            size.exports.append(run)
            print(f"  {name}: {_export_line(run)}", flush=True)
    return size


def _cpu(cpu: dict[str, float]) -> str:
    return " ".join(f"{k} {cpu.get(k, 0):.0f}%" for k in ("server", "pg", "client", "other"))


def _page_line(t: Timing) -> str:
    return f"p50 {t.p50_ms:.0f} ms, p95 {t.p95_ms:.0f} ms · cpu {_cpu(t.cpu)}"


def _export_line(r: ExportRun) -> str:
    return (
        f"{r.seconds:.1f} s, {r.bytes / 1e6:.1f} MB · server RSS {r.rss_before_mb:.0f} -> "
        f"peak {r.rss_peak_mb:.0f} MB (+{r.growth_mb:.0f}) · cpu {_cpu(r.cpu)}"
    )


# -- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin DSN"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not services_ready(args.pg, args.redis_url):
        return 2
    db_name = f"bench_admin_{os.getpid()}"
    dsn = scratch_dsn(args.pg, db_name)
    logdir = Path(tempfile.mkdtemp(prefix="bench_admin_"))
    log = logdir / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        "PYTHONUNBUFFERED": "1",
    }
    # Admin sessions in SQL: the Redis dbs on this machine are shared with other runs
    # that flush them.
    env.pop("REDIS_URL", None)
    sizes: list[Size] = []
    print(f"server log: {log}", flush=True)
    try:
        fresh_state(args.pg, db_name, args.redis_url)
        run_setup([str(SERVICE_CLI), "db", "upgrade"], env, log, 180)
        run_setup(
            [str(SERVICE_CLI), "survey", "import", str(WORKBOOK), "--organisation", ORGANISATION],
            env, log, 180,
        )  # fmt: skip
        subprocess.run(
            [str(SERVICE_CLI), "users", "create", "--email", EMAIL, "--organisation",
             ORGANISATION, "--role", "admin", "--password-stdin"],
            input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True,
        )  # fmt: skip
        began = time.perf_counter()
        asyncio.run(add_respondents(dsn))
        asyncio.run(add_responses(dsn, 0, FIRST_RESPONSES))
        print(f"100,000 respondents and 100,000 answers in {time.perf_counter() - began:.0f} s")
        survey_id = asyncio.run(_survey_id(dsn))
        for target in (FIRST_RESPONSES, ALL_RESPONSES):
            if target == ALL_RESPONSES:
                began = time.perf_counter()
                asyncio.run(add_responses(dsn, FIRST_RESPONSES, ALL_RESPONSES))
                print(f"900,000 more answers in {time.perf_counter() - began:.0f} s", flush=True)
            # A fresh server per size: each starts from the same memory.
            port = free_port()
            server = start_http_server(
                [str(SERVICE_CLI), "serve", "--port", str(port), "--workers", "1"],
                env, port, log, 60,
            )  # fmt: skip
            try:
                pid = _worker_pid(server.pid)
                print(f"{target * 10:,} answers:", flush=True)
                sizes.append(
                    asyncio.run(
                        measure(
                            f"http://127.0.0.1:{port}",
                            survey_id,
                            target * 10,
                            args.requests,
                            pid,
                            db_name,
                            dsn,
                        )
                    )
                )
            finally:
                stop_server(server)
    except (ServerFailed, subprocess.CalledProcessError) as error:
        print(f"did not run: {error}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            drop_database(args.pg, db_name)
    ok = report(sizes)
    if args.json:
        args.json.write_text(json.dumps([_as_dict(s) for s in sizes], indent=2))
    return 0 if ok else 1


async def _survey_id(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return (await _ids(conn))[0]
    finally:
        await conn.close()


def _worker_pid(pid: int) -> int:
    """The process serving requests: `serve --workers 1` serves in its own process."""
    procs = procstat.all_processes()
    children = [p.pid for p in procs.values() if p.ppid == pid]
    return (
        children[0] if len(children) == 1 and procs[children[0]].comm.startswith("python") else pid
    )


def report(sizes: list[Size]) -> bool:
    print("\nsummary")
    ok = True
    for size in sizes:
        first = "dashboard, first view"
        print(f"  {size.answers:>9,} answers  {first:<32} {size.catch_up_ms:.0f} ms"
              " (counts the responses loaded since the last view)")  # fmt: skip
        for t in size.pages:
            passed = t.p95_ms < TARGET_P95_MS
            ok &= passed
            print(f"  {size.answers:>9,} answers  {t.name:<32} {_page_line(t)}"
                  f"  {'ok' if passed else 'OVER 500 ms'}")  # fmt: skip
    if len(sizes) == 2:
        small, large = ({e.name: e for e in s.exports} for s in sizes)
        for name in small:
            a, b = small[name], large[name]
            # Constant memory: 10x the answers may not cost 10x the growth. Allow noise
            # of 20 MB (allocator arenas, the compiled form) above the smaller run's.
            passed = b.growth_mb <= a.growth_mb + 20
            ok &= passed
            print(
                f"  {name:<10} 100k: {a.seconds:.1f} s, +{a.growth_mb:.0f} MB peak RSS; "
                f"1M: {b.seconds:.1f} s, +{b.growth_mb:.0f} MB  "
                f"{'constant' if passed else 'GROWS with the answers'}"
            )
    return ok


def _as_dict(size: Size) -> dict[str, Any]:
    return {
        "answers": size.answers,
        "dashboard_first_view_ms": size.catch_up_ms,
        "pages": [t.__dict__ for t in size.pages],
        "exports": [{**e.__dict__, "growth_mb": e.growth_mb} for e in size.exports],
    }


if __name__ == "__main__":
    sys.exit(main())
