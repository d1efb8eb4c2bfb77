"""USSD load benchmark: the service against a bare and a durable aiohttp handler.

    .venv/bin/python -m bench.ussd_load [--duration 15] [--handsets 64,16]
                                        [--only bare,durable,service] [--workers 1,2]

In one run on this machine, against the same PostgreSQL and Redis, each server is one
process (the service also with `--workers 2`) driven by `bench.loadgen` in closed loop
(64, then 16 simulated handsets running whole sessions back to back):

- bare: aiohttp returning a constant CON screen, the ceiling of one Python process;
- durable: the smallest honest durable hop (Redis session, validation, PostgreSQL
  upsert committed, session written back), the limit for a durable hop in Python;
- service: `service-tracker serve` on bench/six_questions.xlsx, with 1 and 2 workers,
  and once more with 1 worker whose local session records are turned off
  (`LOCAL_SESSION_RECORDS=0`, "service w1 redis"), so that every hop reads Redis.

For the service, every acknowledged answer is looked up in SQL afterwards and compared
value by value, session by session, with what the load generator typed (canonical
values computed by the survey engine from the same workbook).

The machine is small and noisy, so everything is judged by ratios taken in the same
run, and the CPU each party used during the measured window is printed next to the
throughput: if the load generator were near one full core, it, not the server, would
be what was measured.

Exit status: 0 when every check that could be evaluated passed and every requested
configuration ran, 1 otherwise, 2 when PostgreSQL or Redis cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench import procstat
from bench.harness import (
    PYTHON,
    SERVICE_CLI,
    ServerFailed,
    drop_database,
    free_port,
    fresh_state,
    run_generator,
    run_setup,
    services_ready,
    sql_value,
    start_http_server,
    stop_server,
)

WORKBOOK = Path(__file__).resolve().with_name("six_questions.xlsx")
USSD_CODE = "*384*1#"

# Targets of the issue.
TARGET_SERVICE_OVER_DURABLE = 0.8  # at 64 handsets
TARGET_P99_MS = 20.0  # at 16 handsets
# One core is all an asyncio process can use; near it, the generator paces the test.
LOADGEN_BOTTLENECK_PCT = 90.0
# Above this, something else on the machine competed with the benchmark.
NOISY_OTHER_PCT = 25.0
# Disjoint phone-number ranges per run: every session is a new respondent even when
# several runs share a database (the 8 digits after +2547 are base + session number).
PHONES_PER_RUN = 5_000_000

CPU_GROUPS = ("server", "pg", "redis", "loadgen")
REDIS_ONLY = "service w1 redis"  # one worker, LOCAL_SESSION_RECORDS=0


@dataclass
class Config:
    """One server configuration under test."""

    name: str  # bare, durable, service w1, ...
    kind: str  # bare | durable | service
    workers: int = 1
    answers_table: str | None = None  # where its acknowledged answers must be
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the server


@dataclass
class Run:
    """One load-generator run against one configuration."""

    config: Config
    handsets: int
    result: dict[str, Any]
    cpu: dict[str, float]
    rows: int | None = None  # new rows in the answers table, when it has one
    # Sessions whose stored answers differ from those acknowledged (service only).
    mismatched: list[str] | None = None

    @property
    def hops_per_s(self) -> float:
        return float(self.result["hops_per_s"])

    @property
    def p99(self) -> float:
        return float(self.result["latency_ms"]["p99"])

    @property
    def errors(self) -> int:
        return int(self.result["errors"])


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Bench:
    """Everything shared by the runs: settings, the scratch database, the log dir."""

    args: argparse.Namespace
    logdir: Path
    admin_dsn: str
    db_name: str
    runs: list[Run] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # config name -> why it did not run
    run_index: int = 0

    @property
    def dsn(self) -> str:
        return f"{self.admin_dsn.rsplit('/', 1)[0]}/{self.db_name}"

    @property
    def database_url(self) -> str:
        # What the service expects (SQLAlchemy async URL); the durable handler accepts it.
        return self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.args.redis_url,
            "PYTHONUNBUFFERED": "1",
        }


# --- PostgreSQL and Redis ------------------------------------------------------------


def reset_state(bench: Bench) -> None:
    """A fresh, empty database and an empty Redis db: every configuration starts equal."""
    fresh_state(bench.admin_dsn, bench.db_name, bench.args.redis_url)


def count_rows(bench: Bench, table: str) -> int:
    return int(sql_value(bench.dsn, f"SELECT count(*) FROM {table}"))


def start_server(bench: Bench, config: Config, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start the configuration's server on `port` and wait until /healthz says 200."""
    host = ["--host", "127.0.0.1", "--port", str(port)]
    if config.kind == "bare":
        argv = [PYTHON, "-m", "bench.bare_server", *host]
    elif config.kind == "durable":
        argv = [PYTHON, "-m", "bench.durable_server", *host]
    else:
        argv = [str(SERVICE_CLI), "serve", *host, "--workers", str(config.workers)]
    env = {**bench.env(), **config.env}
    return start_http_server(argv, env, port, log, bench.args.start_timeout)


# --- one load run --------------------------------------------------------------------


def load(
    bench: Bench, config: Config, server: subprocess.Popen[bytes], port: int, handsets: int
) -> Run:
    """One generator run; CPU of every party sampled when the window opens and closes."""
    args = bench.args
    bench.run_index += 1
    session_prefix = f"ATUid_{os.getpid()}_{bench.run_index}_"
    argv = [
        PYTHON, "-m", "bench.loadgen",
        "--port", str(port),
        "--handsets", str(handsets),
        "--warmup", str(args.warmup),
        "--duration", str(args.duration),
        "--phone-base", str(bench.run_index * PHONES_PER_RUN),
        "--session-prefix", session_prefix,
    ]  # fmt: skip
    if config.kind == "bare":
        argv.append("--constant")
    before = count_rows(bench, config.answers_table) if config.answers_table else None

    def groups(gen_pid: int) -> list[procstat.Group]:
        return [
            procstat.Group("server", roots=(server.pid,)),
            # Only our database's backends (and the cluster's own processes): other tests
            # share this PostgreSQL, and their short-lived backends would be reaped by the
            # postmaster, so reaped children are not counted either.
            procstat.Group(
                "pg",
                comm="postgres",
                keep=procstat.postgres_process_of(bench.db_name),
                reaped=False,
            ),
            procstat.Group("redis", comm="redis-server"),
            procstat.Group("loadgen", roots=(gen_pid,)),
        ]

    result, cpu = run_generator(argv, bench.logdir / "loadgen.log", groups)
    rows = None
    if config.answers_table and before is not None:
        rows = count_rows(bench, config.answers_table) - before
    mismatched = None
    if config.kind == "service":
        mismatched = compare_answers(bench, session_prefix, result["acked_by_session"])
    run = Run(config, handsets, result, cpu, rows, mismatched)
    print_progress(run)
    return run


def expected_answers() -> list[tuple[str, str]]:
    """(question, stored value) of each answer loadgen.ANSWERS gives, in order, as the
    survey engine reads them from the same workbook."""
    from bench.loadgen import ANSWERS
    from survey_engine.events import AnswerGiven
    from survey_engine.inputs import Answer
    from survey_engine.machine import advance, start
    from survey_engine.xlsform import load_xlsform

    survey = load_xlsform(WORKBOOK)
    turn = start(survey)
    given: list[tuple[str, str]] = []
    for typed in ANSWERS:
        turn = advance(survey, turn.state, Answer(typed))
        given += [(e.question, e.value) for e in turn.events if isinstance(e, AnswerGiven)]
    return given


def compare_answers(bench: Bench, prefix: str, acked: dict[str, int]) -> list[str]:
    """Sessions whose answers in SQL are not exactly the acknowledged ones."""

    async def fetch() -> list[Any]:
        conn = await asyncpg.connect(bench.dsn, timeout=5)
        try:
            return await conn.fetch(
                "SELECT r.session_ref, a.question, a.value FROM answers a "
                "JOIN responses r ON r.id = a.response_id WHERE starts_with(r.session_ref, $1)",
                prefix,
            )
        finally:
            await conn.close()

    stored: dict[str, dict[str, str]] = {}
    for row in asyncio.run(fetch()):
        stored.setdefault(row["session_ref"], {})[row["question"]] = row["value"]
    expected = expected_answers()
    wrong = [
        session
        for session in sorted(set(stored) | set(acked))
        if stored.get(session, {}) != dict(expected[: acked.get(session, 0)])
    ]
    return wrong


def print_progress(run: Run) -> None:
    lat = run.result["latency_ms"]
    rows = "" if run.rows is None else f", rows {run.rows}/{run.result['acked_answers']} acked"
    if run.mismatched is not None:
        rows += f", {len(run.mismatched)} sessions differ"
    print(
        f"  {run.config.name:<17} {run.handsets:>3} handsets: {run.hops_per_s:8.0f} hops/s, "
        f"p99 {lat['p99']:.1f} ms, errors {run.errors}{rows}, "
        f"cpu server {run.cpu.get('server', 0):.0f}% loadgen {run.cpu.get('loadgen', 0):.0f}%",
        flush=True,
    )


def bench_config(bench: Bench, config: Config) -> None:
    """Reset state, set up and start the configuration, run every handset count."""
    print(f"{config.name}:", flush=True)
    reset_state(bench)
    log = bench.logdir / f"{config.name.replace(' ', '_')}.log"
    if config.kind == "service":
        if not SERVICE_CLI.exists():
            raise ServerFailed(f"{SERVICE_CLI} not found (is the package installed?)")
        run_setup([str(SERVICE_CLI), "db", "upgrade"], bench.env(), log, 180)
        run_setup(
            [str(SERVICE_CLI), "survey", "import", str(WORKBOOK), "--ussd-code", USSD_CODE],
            bench.env(),
            log,
            180,
        )
    port = free_port()
    server = start_server(bench, config, port, log)
    try:
        for handsets in bench.args.handsets:
            bench.runs.append(load(bench, config, server, port, handsets))
    finally:
        stop_server(server)


# --- report --------------------------------------------------------------------------


def find(bench: Bench, name: str, handsets: int) -> Run | None:
    for run in bench.runs:
        if run.config.name == name and run.handsets == handsets:
            return run
    return None


def ratio(a: Run | None, b: Run | None) -> float | None:
    if a is None or b is None or b.hops_per_s == 0:
        return None
    return a.hops_per_s / b.hops_per_s


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def report(bench: Bench) -> tuple[list[Check], dict[str, float | None]]:
    """Print the table, the ratios and the checks; return the checks and ratios."""
    print()
    print(
        f"USSD load, {bench.args.duration:g} s measured after {bench.args.warmup:g} s warm-up "
        f"per run; CPU in % of one core during the measured window "
        f"(this machine: {os.cpu_count()} cores = {100 * (os.cpu_count() or 1)} %)"
    )
    header = (
        f"{'config':<17} {'hs':>3} {'hops/s':>8} {'p50':>6} {'p95':>6} {'p99':>6} "
        f"{'errors':>6} | {'server':>6} {'pg':>5} {'redis':>5} {'loadgen':>7} {'other':>5} "
        f"{'machine':>7}"
    )
    print(header)
    print("-" * len(header))
    for run in bench.runs:
        lat = run.result["latency_ms"]
        cpu = run.cpu
        print(
            f"{run.config.name:<17} {run.handsets:>3} {run.hops_per_s:>8.0f} "
            f"{lat['p50']:>6.2f} {lat['p95']:>6.2f} {lat['p99']:>6.2f} {run.errors:>6} | "
            + " ".join(
                f"{cpu.get(k, 0):>{w}.0f}"
                for k, w in zip((*CPU_GROUPS, "other", "machine"), (6, 5, 5, 7, 5, 7), strict=True)
            )
        )
    print(
        "(latencies in ms per hop; pg = the cluster's own processes and our database's "
        "backends;\n other = CPU used by anything else on the machine, e.g. other test runs)"
    )
    for name, why in bench.failures.items():
        lines = why.splitlines()
        print(f"\n{name.upper()} DID NOT RUN: {lines[0]}")
        if len(lines) > 1:
            print(f"  last line: {lines[-1].strip()}")
        print(f"  log: {bench.logdir}/{name.replace(' ', '_')}.log")

    hs = bench.args.handsets
    big, small = max(hs), min(hs)
    first_service = f"service w{bench.args.workers[0]}"
    ratios: dict[str, float | None] = {}
    print("\nratios (hops/s, same run)")
    for n in sorted(set(hs), reverse=True):
        pairs = [
            (f"service/durable @{n}", first_service, "durable"),
            (f"service/bare    @{n}", first_service, "bare"),
            (f"durable/bare    @{n}", "durable", "bare"),
        ]
        for w in bench.args.workers[1:]:
            pairs.append(
                (f"service w{w}/w{bench.args.workers[0]} @{n}", f"service w{w}", first_service)
            )
        pairs += [
            (f"service redis/durable @{n}", REDIS_ONLY, "durable"),
            (f"service redis/local @{n}", REDIS_ONLY, "service w1"),
        ]
        for label, a, b in pairs:
            if not {a.split()[0], b.split()[0]} <= set(bench.args.only):
                continue  # not asked for in this run
            value = ratio(find(bench, a, n), find(bench, b, n))
            if value is None and REDIS_ONLY in (a, b):
                continue  # that configuration was not run
            ratios[" ".join(label.split())] = value
            print(f"  {label:<24} {fmt_ratio(value)}")

    checks: list[Check] = []
    ran_service = "service" in bench.args.only
    if ran_service and "durable" in bench.args.only:
        value = ratio(find(bench, first_service, big), find(bench, "durable", big))
        checks.append(
            Check(
                f"service >= {TARGET_SERVICE_OVER_DURABLE} x durable @{big}",
                value is not None and value >= TARGET_SERVICE_OVER_DURABLE,
                fmt_ratio(value),
            )
        )
    if ran_service:
        run = find(bench, first_service, small)
        checks.append(
            Check(
                f"service p99 < {TARGET_P99_MS:g} ms @{small}",
                run is not None and run.p99 < TARGET_P99_MS,
                "n/a" if run is None else f"{run.p99:.2f} ms",
            )
        )
    errors = {f"{r.config.name}@{r.handsets}": r.errors for r in bench.runs if r.errors}
    checks.append(Check("zero errors", not errors and bool(bench.runs), str(errors or 0)))
    for run in bench.runs:
        if run.mismatched is not None:
            checks.append(
                Check(
                    f"answers in SQL = acknowledged, value by value ({run.config.name} "
                    f"@{run.handsets})",
                    not run.mismatched,
                    f"{len(run.result['acked_by_session'])} sessions compared, "
                    f"{len(run.mismatched)} differ {run.mismatched[:3]}",
                )
            )
        if run.rows is not None:
            acked = run.result["acked_answers"]
            checks.append(
                Check(
                    f"answers in SQL = acknowledged ({run.config.name} @{run.handsets})",
                    run.rows == acked,
                    f"{run.rows} rows in {run.config.answers_table}, {acked} acknowledged",
                )
            )
    worst = max(bench.runs, key=lambda r: r.cpu.get("loadgen", 0), default=None)
    if worst is not None:
        checks.append(
            Check(
                f"load generator below {LOADGEN_BOTTLENECK_PCT:g} % of a core",
                all(r.cpu.get("loadgen", 0) < LOADGEN_BOTTLENECK_PCT for r in bench.runs),
                f"max {worst.cpu.get('loadgen', 0):.0f} % ({worst.config.name} @{worst.handsets})",
            )
        )
    for name in bench.failures:
        checks.append(Check(f"{name} ran", False, bench.failures[name].splitlines()[0]))

    noisy = [r for r in bench.runs if r.cpu.get("other", 0) > NOISY_OTHER_PCT]
    if noisy:
        # Not a failure of the code under test, but the ratios are worth less: say so.
        worst_other = max(noisy, key=lambda r: r.cpu["other"])
        print(
            f"\nNOTE: other processes used more than {NOISY_OTHER_PCT:g} % of a core during "
            f"{len(noisy)} of {len(bench.runs)} runs (up to {worst_other.cpu['other']:.0f} %, "
            f"{worst_other.config.name} @{worst_other.handsets}); rerun on a quieter machine "
            "before trusting the ratios."
        )

    print("\nchecks")
    for check in checks:
        print(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    samples = [(r, s) for r in bench.runs for s in r.result["error_samples"]]
    if samples:
        print("\nfirst errors")
        for run, sample in samples[:8]:
            print(f"  {run.config.name} @{run.handsets}: {json.dumps(sample)[:400]}")
    return checks, ratios


# --- main ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="USSD load benchmark: service vs bare and durable aiohttp handlers."
    )
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per run")
    parser.add_argument(
        "--handsets", default="64,16", help="concurrent handsets, one run each (default 64,16)"
    )
    parser.add_argument(
        "--only", default="bare,durable,service", help="configurations, from bare,durable,service"
    )
    parser.add_argument("--workers", default="1,2", help="service worker counts (default 1,2)")
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin DSN"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--start-timeout", type=float, default=60.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep-logs", action="store_true", help="keep server logs when all pass")
    args = parser.parse_args(argv)
    args.handsets = [int(n) for n in args.handsets.split(",") if n.strip()]
    args.workers = [int(n) for n in args.workers.split(",") if n.strip()]
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(args.only) - {"bare", "durable", "service"}
    if unknown:
        parser.error(f"unknown configuration(s) {', '.join(sorted(unknown))}")
    return args


def configs(args: argparse.Namespace) -> list[Config]:
    result = []
    if "bare" in args.only:
        result.append(Config("bare", "bare"))
    if "durable" in args.only:
        result.append(Config("durable", "durable", answers_table="bench_answers"))
    if "service" in args.only:
        for workers in args.workers:
            result.append(Config(f"service w{workers}", "service", workers, "answers"))
            if workers == 1:
                # The same worker reading Redis on every hop (no local session records).
                no_local = {"LOCAL_SESSION_RECORDS": "0"}
                result.append(Config(REDIS_ONLY, "service", 1, "answers", no_local))
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not services_ready(args.pg, args.redis_url):
        return 2
    logdir = Path(tempfile.mkdtemp(prefix="bench_ussd_"))
    bench = Bench(args=args, logdir=logdir, admin_dsn=args.pg, db_name=f"bench_ussd_{os.getpid()}")
    print(f"server logs: {logdir}", flush=True)
    try:
        for config in configs(args):
            try:
                bench_config(bench, config)
            except (ServerFailed, subprocess.TimeoutExpired) as exc:
                bench.failures[config.name] = str(exc)
                print(f"  {config.name} did not run: {exc}", flush=True)
    finally:
        with contextlib.suppress(Exception):
            drop_database(bench.admin_dsn, bench.db_name)
    checks, ratios = report(bench)
    ok = all(check.ok for check in checks)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "runs": [
                        {
                            "config": r.config.name,
                            "handsets": r.handsets,
                            "rows": r.rows,
                            "cpu_pct": r.cpu,
                            **r.result,
                        }
                        for r in bench.runs
                    ],
                    "ratios": ratios,
                    "checks": [c.__dict__ for c in checks],
                    "failures": bench.failures,
                },
                indent=2,
            )
        )
    if ok and not args.keep_logs:
        shutil.rmtree(logdir, ignore_errors=True)
    else:
        print(f"\nserver logs kept in {logdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
