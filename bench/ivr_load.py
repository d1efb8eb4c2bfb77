"""IVR load benchmark: simulated FastAGI calls, then real calls through Asterisk.

    .venv/bin/python -m bench.ivr_load [--calls 500] [--duration 40] [--speed 20]
                                       [--think-ms 2000] [--no-real] [--real-calls 50]

The service runs as in production: `service-tracker serve` on PostgreSQL and Redis,
after `db upgrade`, `survey import examples/graduate_tracer.xlsx --ivr-number 5000` and
`audio render --engine espeak`, its FastAGI listener beside HTTP.

(a) Simulated calls. `bench.ivr_loadgen` (its own process) keeps `--calls` calls in
progress, each the whole sample survey (English, wage earner, the suggestion spoken
and kept), back to back, paced like a person but `--speed` times faster (each prompt
plays its file's length, keys come `--think-ms` after it, a spoken answer lasts
`--speak-ms`, all divided by `--speed`). The same run is made with 1
call first: the baseline. Printed per run: the server's turnaround (our reply to its
next command) for the command after an answer (the engine's turn, committed to SQL
before the next prompt), after ANSWER (the interview opened), after a recording, and
over all commands; calls completed per second; errors; and the CPU of the server,
PostgreSQL, Redis, the load generator and everything else, from /proc.

(b) Real calls (unless `--no-real`): a sandboxed Asterisk 22 (`scripts/asterisk-sandbox`)
whose `[survey]` context reaches the same service; `--real-calls` Local channels placed
at once through AMI, each a graduate scripted in `[respondent]` answering the whole
survey with DTMF and a spoken answer (Playback, recorded by RECORD FILE). Printed:
calls placed and completed, errors, wall time, CPU per process (Asterisk too).

After each run every completed call's response is read back from SQL: status complete
and exactly the answers the survey engine makes of the same keys, value by value, the
spoken one a recording on disk that is not silent.

Exit status: 0 when every check passed, 1 otherwise, 2 when PostgreSQL, Redis or (for
(b)) Asterisk cannot be had.
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
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procstat
from bench.harness import (
    PYTHON,
    REPO,
    SERVICE_CLI,
    ServerFailed,
    drop_database,
    free_port,
    fresh_state,
    run_generator,
    run_setup,
    services_ready,
    sql,
    start_http_server,
    stop_server,
)
from bench.ivr_loadgen import SCRIPT, SPEAK

WORKBOOK = REPO / "examples" / "graduate_tracer.xlsx"
FORM_ID = "graduate_tracer"
IVR_NUMBER = "5000"

# Targets of the issue.
TARGET_P99_MS = 5.0  # engine turnaround at --calls concurrent calls
LOADGEN_BOTTLENECK_PCT = 90.0
NOISY_OTHER_PCT = 25.0
# A take whose loudest sample is below this holds nothing said (ivr.channel's bound).
SILENT_PEAK = 500
# Disjoint caller-ID ranges per run (2547 + 8 digits).
PHONES_PER_RUN = 5_000_000
# Turnaround rows of the table: (label, key in the generator's result).
TURN_ROWS = (
    ("after an answer", "answer"),
    ("after ANSWER", "open"),
    ("after a recording", "recording"),
    ("all commands", "all"),
)

# The real caller's timeline in the sandbox's `[respondent]` context: wait, keys, play.
# Keys as tests/e2e/test_ivr_calls.py sends them: one press per prompt, after it ends.
REAL_WAIT_S = 0.9


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Run:
    label: str
    calls: int
    result: dict[str, Any]
    cpu: dict[str, float]
    sql_wrong: list[str] = field(default_factory=list)
    sql_checked: int = 0


@dataclass
class RealRun:
    calls: int
    placed: int
    failed_to_place: list[str]
    completed: int
    wrong: list[str]
    wall_s: float
    cpu: dict[str, float]
    missing_files: int
    errors: list[str]


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path  # logs and the sandbox's run folder
    logdir: Path
    data_dir: Path  # audio and recordings (Asterisk's shared folder in (b))
    db_name: str
    runs: list[Run] = field(default_factory=list)
    real: RealRun | None = None
    failures: dict[str, str] = field(default_factory=dict)
    unavailable: list[str] = field(default_factory=list)

    @property
    def dsn(self) -> str:
        return f"{self.args.pg.rsplit('/', 1)[0]}/{self.db_name}"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    def env(self, agi_port: int) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
            "REDIS_URL": self.args.redis_url,
            "AUDIO_DIR": str(self.audio_dir),
            "RECORDINGS_DIR": str(self.recordings_dir),
            "AGI_HOST": "127.0.0.1",
            "AGI_PORT": str(agi_port),
            "PYTHONUNBUFFERED": "1",
        }


# --- state ---------------------------------------------------------------------------


def prepare(bench: Bench, agi_port: int) -> None:
    """A fresh database with the sample survey bound to IVR_NUMBER, and its prompts
    rendered by espeak-ng into the audio folder."""
    fresh_state(bench.args.pg, bench.db_name, bench.args.redis_url)
    log, env = bench.logdir / "setup.log", bench.env(agi_port)
    cli = str(SERVICE_CLI)
    run_setup([cli, "db", "upgrade"], env, log, 300)
    run_setup([cli, "survey", "import", str(WORKBOOK), "--ivr-number", IVR_NUMBER], env, log, 300)
    started = time.monotonic()
    run_setup([cli, "audio", "render", "--survey", FORM_ID, "--engine", "espeak"], env, log, 300)
    print(f"  prompts rendered with espeak-ng in {time.monotonic() - started:.1f} s", flush=True)


def start_service(bench: Bench, agi_port: int) -> subprocess.Popen[bytes]:
    http_port = free_port()
    argv = [str(SERVICE_CLI), "serve", "--host", "127.0.0.1", "--port", str(http_port)]
    argv += ["--workers", str(bench.args.workers)]
    return start_http_server(argv, bench.env(agi_port), http_port, bench.logdir / "service.log", 60)


# --- what SQL must hold --------------------------------------------------------------


def expected_answers() -> dict[str, str | None]:
    """question -> stored value the survey engine makes of SCRIPT on the same workbook;
    None for the spoken answer (a recording reference the server chose)."""
    from survey_engine.events import AnswerGiven
    from survey_engine.inputs import Answer, Recording
    from survey_engine.machine import advance, start
    from survey_engine.xlsform import load_xlsform

    survey = load_xlsform(WORKBOOK)
    turn = start(survey)
    given: dict[str, str | None] = {}
    script = list(SCRIPT)
    # The key after the spoken answer keeps the take: the channel's, not the engine's.
    script = script[: script.index(SPEAK) + 1]
    for action in script:
        resume = Recording("bench/1/take") if action == SPEAK else Answer(action.rstrip("#"))
        turn = advance(survey, turn.state, resume)
        for event in turn.events:
            if isinstance(event, AnswerGiven):
                given[event.question] = None if action == SPEAK else event.value
    assert turn.ended is not None, "SCRIPT does not reach the end of the survey"
    return given


def peak(path: Path) -> int | None:
    try:
        with wave.open(str(path), "rb") as take:
            data = take.readframes(take.getnframes())
    except (OSError, EOFError, wave.Error):
        return None
    samples = memoryview(data[: len(data) // 2 * 2]).cast("h")
    return max((abs(s) for s in samples), default=0)


def check_responses(
    bench: Bench, refs: list[str], expected: dict[str, str | None]
) -> tuple[list[str], list[str]]:
    """(sessions whose response is wrong with why, sessions with a response in SQL) for
    the calls whose session refs are `refs`."""
    rows = sql(
        bench.dsn,
        "SELECT r.session_ref, r.status, a.question, a.value, a.kind, "
        "a.channel FROM responses r LEFT JOIN answers a ON a.response_id = r.id "
        "WHERE r.session_ref = ANY($1::text[])",
        refs,
    )
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = found.setdefault(row["session_ref"], {"status": row["status"], "answers": {}})
        if row["question"] is not None:
            entry["answers"][row["question"]] = (row["value"], row["kind"], row["channel"])
    wrong = []
    for ref in refs:
        entry = found.get(ref)
        problem = ""
        if entry is None:
            problem = "no response"
        elif entry["status"] != "complete":
            problem = f"status {entry['status']}"
        else:
            answers = entry["answers"]
            if set(answers) != set(expected):
                problem = f"questions differ: {sorted(set(answers) ^ set(expected))}"
            for question, value in expected.items():
                if problem:
                    break
                got, kind, channel = answers[question]
                if channel != "ivr":
                    problem = f"{question} on channel {channel}"
                elif value is None:
                    take = bench.recordings_dir / f"{got}.wav"
                    loudest = peak(take)
                    if kind != "recording":
                        problem = f"{question} stored as {kind}"
                    elif loudest is None or loudest < SILENT_PEAK:
                        problem = f"{question}: no take that is not silent at {got}"
                elif got != value or kind != "text":
                    problem = f"{question} = {got!r} ({kind}), expected {value!r}"
        if problem:
            wrong.append(f"{ref}: {problem}")
    return wrong, sorted(found)


# --- (a) simulated calls -------------------------------------------------------------


def load(
    bench: Bench, server: subprocess.Popen[bytes], agi_port: int, calls: int, index: int
) -> Run:
    args = bench.args
    label = "baseline" if calls == 1 else "load"
    prefix = f"bench-ivr-{os.getpid()}-{index}-"
    argv = [
        PYTHON, "-m", "bench.ivr_loadgen",
        "--port", str(agi_port),
        "--extension", IVR_NUMBER,
        "--calls", str(calls),
        "--warmup", str(args.warmup),
        "--duration", str(args.duration),
        "--speed", str(args.speed),
        "--think-ms", str(args.think_ms),
        "--speak-ms", str(args.speak_ms),
        "--phone-base", str(index * PHONES_PER_RUN),
        "--call-prefix", prefix,
    ]  # fmt: skip
    result, cpu = run_generator(
        argv, bench.logdir / "loadgen.log", lambda pid: cpu_groups(bench, server, pid)
    )
    run = Run(label, calls, result, cpu)
    # Let the server finish the calls' ends (it logs and closes after our last reply).
    time.sleep(0.5)
    wrong, _ = check_responses(bench, result["completed"], expected_answers())
    run.sql_wrong, run.sql_checked = wrong, len(result["completed"])
    turn = result["turnaround_ms"]
    print(
        f"  {calls:>4} calls: {result['calls_per_s']:.1f} calls/s, "
        f"{result['commands_per_s']:.0f} commands/s, p99 after an answer "
        f"{turn['answer']['p99']:.2f} ms, all {turn['all']['p99']:.2f} ms, in progress "
        f"{result['in_progress']['mean']:.0f}, errors {result['errors']} (refused "
        f"{result['refused']}), {len(wrong)}/{run.sql_checked} responses wrong in SQL, cpu server "
        f"{cpu.get('server', 0):.0f}% loadgen {cpu.get('loadgen', 0):.0f}%",
        flush=True,
    )
    return run


def cpu_groups(bench: Bench, server: subprocess.Popen[bytes], gen_pid: int) -> list[procstat.Group]:
    groups = [
        procstat.Group("server", roots=(server.pid,)),
        procstat.Group(
            "pg", comm="postgres", keep=procstat.postgres_process_of(bench.db_name), reaped=False
        ),
        procstat.Group("redis", comm="redis-server"),
        procstat.Group("loadgen", roots=(gen_pid,)),
    ]
    return groups


# --- (b) real calls through Asterisk -------------------------------------------------


def real_timeline() -> dict[str, str]:
    """The `[respondent]` variables for SCRIPT: one press per prompt after a pause, the
    spoken answer as in tests/e2e (any key skips to the tone, speak, `#`, keep)."""
    variables: dict[str, str] = {"LINGER": "3"}
    steps: list[tuple[float, str, str]] = []
    for action in SCRIPT[: SCRIPT.index(SPEAK)]:
        steps.append((REAL_WAIT_S, action, ""))
    steps += [(REAL_WAIT_S, "5", "hello-world"), (0.3, "#", ""), (REAL_WAIT_S, "1", "")]
    for number, (wait, keys, play) in enumerate(steps, start=1):
        variables[f"WAIT{number}"] = str(wait)
        if keys:
            variables[f"KEYS{number}"] = keys
        if play:
            variables[f"PLAY{number}"] = play
    return variables


async def place_real_calls(bench: Bench, sandbox: Any, calls: int) -> tuple[list[str], list[str]]:
    """Originate `calls` Local/s@respondent calls at once; (the callers' phones whose
    call Asterisk placed, why the others were not)."""
    from panoramisk import Manager

    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=sandbox.ami_host,
        port=sandbox.ami_port,
        username=sandbox.ami_user,
        secret=sandbox.ami_secret,
        ping_delay=3600,
    )
    await manager.connect()
    if manager.authenticated_future is not None:
        await asyncio.wait_for(manager.authenticated_future, 10)
    variables = real_timeline()
    base = 9 * PHONES_PER_RUN

    async def originate(n: int) -> tuple[str, str | None]:
        caller = f"2547{base + n:08d}"
        try:
            messages = await asyncio.wait_for(
                manager.send_action(
                    {
                        "Action": "Originate",
                        "Channel": "Local/s@respondent",
                        "Context": "survey",
                        "Exten": IVR_NUMBER,
                        "Priority": "1",
                        "CallerID": f"<{caller}>",
                        "Async": "true",
                        "Timeout": "30000",
                        "Variable": [f"{k}={v}" for k, v in variables.items()],
                    },
                    as_list=True,
                ),
                60,
            )
        except TimeoutError:
            return caller, "no OriginateResponse within 60 s"
        outcome = [m.get("Response") for m in messages if m.get("Event") == "OriginateResponse"]
        return caller, None if outcome == ["Success"] else f"Originate: {messages}"

    try:
        results = await asyncio.gather(*(originate(n) for n in range(calls)))
    finally:
        manager.close()
    placed = [caller for caller, problem in results if problem is None]
    failed = [f"{caller}: {problem}" for caller, problem in results if problem is not None]
    return placed, failed


def real_responses(bench: Bench, callers: list[str]) -> dict[str, str]:
    """caller ID -> the session ref of its latest response."""
    rows = sql(
        bench.dsn,
        "SELECT p.phone, r.session_ref FROM responses r JOIN respondents p "
        "ON p.id = r.respondent_id WHERE p.phone = ANY($1::text[]) ORDER BY r.id",
        [f"+{c}" for c in callers],
    )
    return {row["phone"][1:]: row["session_ref"] for row in rows}


def real_section(bench: Bench, sandbox: Any, server: subprocess.Popen[bytes]) -> RealRun:
    calls = bench.args.real_calls
    # Our own sandbox's daemon only: other engineers' tests may run an Asterisk too.
    daemon = int((sandbox.run_dir / "pid").read_text().strip())
    groups = [g for g in cpu_groups(bench, server, os.getpid()) if g.name != "loadgen"]
    groups.append(procstat.Group("asterisk", roots=(daemon,)))
    log_since = sandbox.log_size()
    before = procstat.sample(groups)
    started = time.monotonic()
    placed, failed = asyncio.run(place_real_calls(bench, sandbox, calls))
    # Every placed call ends when the service hangs up after the thank-you; wait for
    # Asterisk to have no channel left.
    deadline = time.monotonic() + bench.args.real_timeout
    while time.monotonic() < deadline:
        if active_channels(sandbox) == 0:
            break
        time.sleep(0.5)
    wall = time.monotonic() - started
    after = procstat.sample(groups)
    errors = list(failed)
    left = active_channels(sandbox)
    if left:
        errors.append(f"{left} channels still up {bench.args.real_timeout:g} s after placing")
    time.sleep(0.5)
    refs = real_responses(bench, placed)
    missing = [c for c in placed if c not in refs]
    wrong, _ = check_responses(bench, [refs[c] for c in placed if c in refs], expected_answers())
    wrong += [f"+{c}: no response in SQL" for c in missing]
    log = sandbox.log(log_since)
    missing_files = log.count("does not exist")
    if missing_files:
        errors.append(f"{missing_files} 'does not exist' lines in Asterisk's log")
    completed = len(placed) - len(wrong)
    run = RealRun(
        calls=calls,
        placed=len(placed),
        failed_to_place=failed,
        completed=max(0, completed),
        wrong=wrong,
        wall_s=wall,
        cpu=procstat.cpu_percent(before, after),
        missing_files=missing_files,
        errors=errors,
    )
    print(
        f"  {calls} real calls: {run.placed} placed, {run.completed} complete in SQL, "
        f"{len(errors)} errors, {wall:.1f} s",
        flush=True,
    )
    return run


def active_channels(sandbox: Any) -> int:
    done = subprocess.run(
        [
            "chroot",
            str(sandbox.root),
            "/usr/sbin/asterisk",
            "-C",
            "/etc/asterisk/asterisk.conf",
            "-rx",
            "core show channels count",
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    for line in done.stdout.splitlines():
        if "active channel" in line:
            return int(line.split()[0])
    return -1


# --- report --------------------------------------------------------------------------


def report(bench: Bench) -> list[Check]:
    args = bench.args
    cores = os.cpu_count() or 1
    print()
    print(
        f"IVR load, simulated FastAGI calls: {args.duration:g} s measured after "
        f"{args.warmup:g} s warm-up per run; pacing {args.speed:g} times a real call: "
        f"each prompt for its file's length, keys {args.think_ms:g} ms after it, a spoken "
        f"answer {args.speak_ms:g} ms (people's times x0.5-1.5), all divided by "
        f"{args.speed:g}; service with {args.workers} worker(s)"
    )
    print(
        f"CPU in % of one core during the window (this machine: {cores} cores = "
        f"{100 * cores} %); turnaround in ms from our reply to the server's next command"
    )
    header = (
        f"{'calls':>5} {'turnaround':<18} {'n':>7} {'p50':>7} {'p99':>7} {'max':>7} | "
        f"{'calls/s':>7} {'cmd/s':>6} {'errors':>6} | {'server':>6} {'pg':>4} {'redis':>5} "
        f"{'loadgen':>7} {'other':>5}"
    )
    print(header)
    print("-" * len(header))
    for run in bench.runs:
        result, cpu = run.result, run.cpu
        for row, (label, key) in enumerate(TURN_ROWS):
            t = result["turnaround_ms"][key]
            tail_part = ""
            if row == 0:
                tail_part = (
                    f" | {result['calls_per_s']:>7.1f} {result['commands_per_s']:>6.0f} "
                    f"{result['errors']:>6} | {cpu.get('server', 0):>6.0f} "
                    f"{cpu.get('pg', 0):>4.0f} "
                    f"{cpu.get('redis', 0):>5.0f} {cpu.get('loadgen', 0):>7.0f} "
                    f"{cpu.get('other', 0):>5.0f}"
                )
            calls = f"{run.calls:>5}" if row == 0 else " " * 5
            print(
                f"{calls} {label:<18} {t['n']:>7} {t['p50']:>7.2f} {t['p99']:>7.2f} "
                f"{t['max']:>7.1f}{tail_part}"
            )
        active = result["in_progress"]
        print(
            f"{'':>5} (calls in progress {active['mean']:.0f} on average, {active['min']} to "
            f"{active['max']}; {result['refused']} refused; {result['commands_per_call']:.0f} "
            f"commands a call, {result['call_seconds']['p50'] / 1000:.1f} s at p50; "
            f"{result['calls_completed']} completed in all)"
        )
    if bench.runs:
        by_name = bench.runs[-1].result["commands_by_name"]
        print(
            "commands a call: "
            + ", ".join(f"{name} {count:.0f}" for name, count in by_name.items())
        )
    base = next((r for r in bench.runs if r.calls == 1), None)
    top = next((r for r in bench.runs if r.calls == args.calls and r.calls != 1), None)
    ratios: dict[str, float] = {}
    if base and top:
        print(f"\nratios ({args.calls} calls / 1 call, same run)")
        for label, key in TURN_ROWS:
            b, t = base.result["turnaround_ms"][key], top.result["turnaround_ms"][key]
            for stat in ("p50", "p99"):
                if b[stat] > 0 and t["n"]:
                    ratios[f"{key} {stat}"] = t[stat] / b[stat]
            shown = [
                f"{stat} x{ratios[f'{key} {stat}']:.2f}" if f"{key} {stat}" in ratios else "n/a"
                for stat in ("p50", "p99")
            ]
            print(f"  {label:<18} {', '.join(shown)}")
    if bench.real is not None:
        real = bench.real
        print(
            f"\nIVR through a real Asterisk 22: {real.calls} Local channels originated at once "
            f"through AMI, each answering the whole survey by DTMF and a spoken answer"
        )
        print(
            f"  placed {real.placed}, complete in SQL {real.completed}, errors "
            f"{len(real.errors)}, wall {real.wall_s:.1f} s"
        )
        print(
            "  cpu % of one core: "
            + ", ".join(
                f"{k} {real.cpu.get(k, 0):.0f}"
                for k in ("server", "pg", "redis", "asterisk", "other")
            )
        )
    for name, why in bench.failures.items():
        print(f"\n{name.upper()} DID NOT RUN: {why.splitlines()[0]}")

    checks: list[Check] = []
    if top is not None:
        p99 = top.result["turnaround_ms"]["answer"]["p99"]
        checks.append(
            Check(
                f"p99 turnaround after an answer < {TARGET_P99_MS:g} ms @{args.calls} calls",
                p99 < TARGET_P99_MS,
                f"{p99:.2f} ms",
            )
        )
        active = top.result["in_progress"]
        checks.append(
            Check(
                f"{args.calls} calls in progress during the window (95 % at least on average)",
                active["mean"] >= 0.95 * args.calls,
                f"{active['mean']:.0f} on average, {active['min']} to {active['max']}",
            )
        )
        p99_all = top.result["turnaround_ms"]["all"]["p99"]
        checks.append(
            Check(
                f"p99 turnaround, all commands < {TARGET_P99_MS:g} ms @{args.calls} calls",
                p99_all < TARGET_P99_MS,
                f"{p99_all:.2f} ms",
            )
        )
    for run in bench.runs:
        checks.append(
            Check(
                f"zero errors @{run.calls}",
                run.result["errors"] == 0 and run.result["calls_completed"] > 0,
                f"{run.result['errors']} errors ({run.result['refused']} calls refused), "
                f"{run.result['calls_completed']} calls completed"
                + (f" {run.result['error_samples'][:2]}" if run.result["errors"] else ""),
            )
        )
        checks.append(
            Check(
                f"every completed call's answers in SQL, value by value @{run.calls}",
                not run.sql_wrong and run.sql_checked > 0,
                f"{run.sql_checked} responses checked, {len(run.sql_wrong)} wrong "
                f"{run.sql_wrong[:2]}",
            )
        )
    if bench.runs:
        worst = max(bench.runs, key=lambda r: r.cpu.get("loadgen", 0))
        checks.append(
            Check(
                f"load generator below {LOADGEN_BOTTLENECK_PCT:g} % of a core",
                worst.cpu.get("loadgen", 0) < LOADGEN_BOTTLENECK_PCT,
                f"max {worst.cpu.get('loadgen', 0):.0f} % (@{worst.calls})",
            )
        )
    if bench.real is not None:
        real = bench.real
        checks.append(
            Check(
                f"all {real.calls} real calls complete, answers right in SQL",
                real.completed == real.calls and not real.wrong,
                f"{real.completed}/{real.calls} {real.wrong[:2]}",
            )
        )
        checks.append(Check("real calls: no errors", not real.errors, f"{real.errors[:3]}"))
    for name, why in bench.failures.items():
        checks.append(Check(f"{name} ran", False, why.splitlines()[0]))
    noisy = [r for r in bench.runs if r.cpu.get("other", 0) > NOISY_OTHER_PCT]
    if noisy:
        print(
            f"\nNOTE: other processes used more than {NOISY_OTHER_PCT:g} % of a core during "
            f"{len(noisy)} run(s); the figures are worth less than on a quiet machine."
        )
    print("\nchecks")
    for check in checks:
        print(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "runs": [
                        {
                            "calls": r.calls,
                            "cpu_pct": r.cpu,
                            "sql_wrong": r.sql_wrong,
                            **{k: v for k, v in r.result.items() if k != "completed"},
                        }
                        for r in bench.runs
                    ],
                    "ratios": ratios,
                    "real": bench.real.__dict__ if bench.real else None,
                    "checks": [c.__dict__ for c in checks],
                },
                indent=2,
            )
        )
    return checks


def mounted_under(folder: Path) -> bool:
    """Whether anything is still mounted inside `folder` (a sandbox that did not stop):
    then it must not be deleted."""
    prefix = str(folder.resolve()) + "/"
    with open("/proc/mounts") as mounts:
        return any(line.split()[1].startswith(prefix) for line in mounts)


# --- main ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="IVR benchmark: simulated FastAGI calls, then real calls through Asterisk."
    )
    parser.add_argument("--calls", type=int, default=500, help="concurrent simulated calls")
    parser.add_argument("--duration", type=float, default=40.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=10.0, help="warm-up seconds per run")
    parser.add_argument(
        "--speed",
        type=float,
        default=20.0,
        help="times faster than real calls: prompts play their length / SPEED, people "
        "press keys and speak in their time / SPEED (20: 500 calls load the server like "
        "10,000 real ones)",
    )
    parser.add_argument("--think-ms", type=float, default=2000.0, help="before keys, real time")
    parser.add_argument("--speak-ms", type=float, default=5000.0, help="a spoken answer, real time")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    parser.add_argument(
        "--no-real", dest="real", action="store_false", help="skip (b), the real Asterisk"
    )
    parser.add_argument("--real-calls", type=int, default=50)
    parser.add_argument("--real-timeout", type=float, default=240.0)
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin DSN"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep-logs", action="store_true", help="keep logs when all pass")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not services_ready(args.pg, args.redis_url):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="bench_ivr_"))
    logdir = workdir / "logs"
    logdir.mkdir()
    bench = Bench(args, workdir, logdir, workdir, f"bench_ivr_{os.getpid()}")
    print(f"work folder and logs: {workdir}", flush=True)
    sandbox = None
    run_dir = workdir / "asterisk-run"
    try:
        if args.real:
            from tests.e2e.asterisk import SandboxUnavailable, start_sandbox

            share = workdir / "share"
            share.mkdir()
            try:
                sandbox = start_sandbox(run_dir, share)
            except SandboxUnavailable as error:
                bench.unavailable.append(f"Asterisk: {error}")
                print(f"cannot run (b): {error}", file=sys.stderr)
                args.real = False
            else:
                # Prompts and recordings where Asterisk sees them, at the same path.
                bench.data_dir = share
        agi_port = sandbox.agi_port if sandbox is not None else free_port()
        try:
            prepare(bench, agi_port)
            server = start_service(bench, agi_port)
        except (ServerFailed, subprocess.TimeoutExpired) as error:
            bench.failures["service"] = str(error)
            print(f"  the service did not start: {error}", flush=True)
        else:
            try:
                for index, calls in enumerate(dict.fromkeys((1, args.calls)), start=1):
                    print(f"(a) {calls} simulated call(s) at once:", flush=True)
                    try:
                        bench.runs.append(load(bench, server, agi_port, calls, index))
                    except ServerFailed as error:
                        bench.failures[f"{calls} calls"] = str(error)
                if sandbox is not None:
                    print(f"(b) {args.real_calls} calls through Asterisk:", flush=True)
                    bench.real = real_section(bench, sandbox, server)
            finally:
                stop_server(server)
    finally:
        if sandbox is not None:
            from tests.e2e.asterisk import stop_sandbox

            with contextlib.suppress(Exception):
                stop_sandbox(run_dir)
        with contextlib.suppress(Exception):
            drop_database(bench.args.pg, bench.db_name)
    checks = report(bench)
    ok = all(check.ok for check in checks)
    if ok and not args.keep_logs and not bench.unavailable and not mounted_under(workdir):
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"\nlogs kept in {logdir}")
    if bench.unavailable:
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
