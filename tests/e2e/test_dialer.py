"""Outbound survey calls through the real Asterisk 22: each outcome as Asterisk reports it,
recorded in the call log on SQLite and PostgreSQL; the variables the AGI side reads;
the bound on concurrent calls; reconnecting after Asterisk restarts; the command line.

The callee is a Local channel into a `[dialer-*]` context of
scripts/asterisk/etc/extensions.conf (answers, busy, congestion, rings out); an answered
call goes to `[dialer-ivr]`, which hangs up after a second, or to `[survey]` (FastAGI).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.dialer import CallOutcome, CallRequest, Dialer, DialerSettings
from storage.calls import SqlCallLog
from storage.memory import MemoryCallLog
from storage.surveys import import_survey
from survey_engine.ports import CallRecord
from tests.conftest import markdown_to_xlsx
from tests.e2e.asterisk import AsteriskSandbox, free_port, start_sandbox, stop_sandbox

pytestmark = pytest.mark.asterisk

PHONE = "+254712345678"
ENTRY = "+254201234567"
FORM = """
| survey |
| | type | name | label |
| | integer | months | Months? |
"""


def dialer_settings(asterisk: AsteriskSandbox, callee: str, **changes: object) -> DialerSettings:
    values: dict[str, object] = {
        "username": asterisk.ami_user,
        "secret": asterisk.ami_secret,
        "host": asterisk.ami_host,
        "port": asterisk.ami_port,
        "trunk": f"Local/{{number}}@{callee}",
        "context": "dialer-ivr",
        "ring_seconds": 1,
        "connect_seconds": 5,
        "reconnect_seconds": 1,
        "answer_grace_seconds": 10,
    }
    values.update(changes)
    return DialerSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def survey_id(engine: AsyncEngine) -> int:
    imported = await import_survey(
        engine,
        markdown_to_xlsx(FORM),
        filename="tracer.xlsx",
        ussd_code=None,
        roster_only=False,
        ivr_numbers=[ENTRY],
    )
    return imported.survey_id


async def _ended(calls: SqlCallLog | MemoryCallLog, call_id: int) -> CallRecord:
    for _ in range(100):
        record = await calls.get_call(call_id)
        if record is not None and record.ended_at is not None:
            return record
        await asyncio.sleep(0.05)
    raise AssertionError(f"call {call_id} never ended: {await calls.get_call(call_id)}")


@pytest.mark.parametrize(
    ("callee", "outcome", "reason"),
    [
        pytest.param("dialer-answer", CallOutcome.ANSWERED, 4, id="answered"),
        pytest.param("dialer-busy", CallOutcome.BUSY, 5, id="busy"),
        pytest.param("dialer-ring", CallOutcome.NO_ANSWER, 3, id="rings-out"),
        pytest.param("dialer-congestion", CallOutcome.FAILED, 8, id="congestion"),
        pytest.param("dialer-decline", CallOutcome.FAILED, 0, id="declined"),
        pytest.param("no-such-context", CallOutcome.FAILED, 0, id="no-such-number"),
    ],
)
async def test_each_outcome_is_recorded_as_asterisk_reports_it(
    asterisk: AsteriskSandbox,
    engine: AsyncEngine,
    survey_id: int,
    callee: str,
    outcome: CallOutcome,
    reason: int,
) -> None:
    calls = SqlCallLog(engine)
    async with Dialer(dialer_settings(asterisk, callee), calls) as dialer:
        result = await dialer.place(CallRequest(survey_id, PHONE, ENTRY))
        record = await _ended(calls, result.call_id)

    assert (result.outcome, result.reason, result.error) == (outcome, reason, None)
    assert (record.survey_id, record.phone) == (survey_id, PHONE)
    assert (record.outcome, record.reason, record.error) == (outcome, reason, None)
    assert record.unique_id == result.unique_id
    assert record.unique_id is not None and record.unique_id.startswith(f"st-{record.id}-")
    assert record.channel is not None and record.channel.startswith(f"Local/{PHONE}@{callee}")
    assert record.placed_at <= record.ended_at  # type: ignore[operator]
    if outcome is CallOutcome.ANSWERED:
        # [dialer-ivr] hangs up a second after the answer: the end is the hang-up.
        assert record.ended_at - record.placed_at >= dt.timedelta(seconds=0.9)  # type: ignore[operator]


async def test_the_agi_side_reads_the_variables_the_dialer_set(
    asterisk: AsteriskSandbox,
) -> None:
    """The answered call runs [survey], which calls FastAGI: there, GET VARIABLE finds
    what the dialer set."""
    read: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
    names = ["ST_PHONE", "ST_ENTRY", "ST_CALL"]

    async def fastagi(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()).strip():
            pass  # the agi_* block
        values = {}
        for name in names:
            writer.write(f"GET VARIABLE {name}\n".encode())
            await writer.drain()
            reply = (await reader.readline()).decode().strip()  # 200 result=1 (value)
            values[name] = reply.partition("(")[2].rstrip(")")
        writer.write(b"HANGUP\n")
        await writer.drain()
        writer.close()
        if not read.done():
            read.set_result(values)

    calls = MemoryCallLog()
    since = asterisk.log_size()
    server = await asyncio.start_server(fastagi, asterisk.agi_host, asterisk.agi_port)
    try:
        settings = dialer_settings(asterisk, "dialer-answer", context="survey", exten="s")
        async with Dialer(settings, calls) as dialer:
            result = await dialer.place(CallRequest(5, PHONE, "4000"))
            values = await asyncio.wait_for(read, 10)
            await _ended(calls, result.call_id)
    finally:
        server.close()
        await server.wait_closed()
    assert result.outcome is CallOutcome.ANSWERED
    assert values == {
        "ST_PHONE": PHONE,
        "ST_ENTRY": "4000",
        "ST_CALL": str(result.call_id),
    }
    assert "does not exist" not in asterisk.log(since)


async def test_no_more_calls_than_the_bound_are_up_at_once(
    asterisk: AsteriskSandbox, engine: AsyncEngine, survey_id: int
) -> None:
    calls = SqlCallLog(engine)
    async with Dialer(dialer_settings(asterisk, "dialer-answer", max_calls=2), calls) as dialer:
        results = await asyncio.gather(
            *(dialer.place(CallRequest(survey_id, PHONE, ENTRY)) for _ in range(5))
        )
        records = [await _ended(calls, r.call_id) for r in results]
    assert all(r.outcome is CallOutcome.ANSWERED for r in records)
    # From Asterisk's own answer and hang-up events: never more than two calls up.
    moments = sorted(
        [(r.placed_at, 1) for r in records] + [(r.ended_at, -1) for r in records],
        key=lambda m: (m[0], m[1]),
    )
    up, most = 0, 0
    for _, change in moments:
        up += change
        most = max(most, up)
    assert most == 2
    # Five calls of about a second, two at a time: three rounds.
    span = max(r.ended_at for r in records) - min(r.placed_at for r in records)  # type: ignore[type-var, operator]
    assert span >= dt.timedelta(seconds=2.7)


async def test_after_asterisk_restarts_the_dialer_reconnects_and_calls_go_through(
    tmp_path: Path,
) -> None:
    run_dir, share = tmp_path / "run", tmp_path / "share"
    share.mkdir()
    secret = secrets.token_hex(12)
    ports = {"agi_port": free_port(), "ami_port": free_port(), "ami_secret": secret}
    sandbox = await asyncio.to_thread(start_sandbox, run_dir, share, **ports)
    calls = MemoryCallLog()
    ringing_phone = "+254112345678"  # [dialer-mixed] lets it ring; +2547... answers
    try:
        settings = dialer_settings(sandbox, "dialer-mixed", ring_seconds=20, connect_seconds=1)
        async with Dialer(settings, calls) as dialer:
            ringing = asyncio.create_task(dialer.place(CallRequest(5, ringing_phone, ENTRY)))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(stop_sandbox, run_dir)
            lost = await asyncio.wait_for(ringing, 10)
            while_down = await dialer.place(CallRequest(5, PHONE, ENTRY))

            restarted = await asyncio.to_thread(start_sandbox, run_dir, share, **ports)
            answered = await dialer.place(CallRequest(5, PHONE, ENTRY))
            assert dialer.connected
            await asyncio.sleep(0.5)
            log = restarted.log()
    finally:
        await asyncio.to_thread(stop_sandbox, run_dir)

    # Stopping, Asterisk hangs up the ringing call and reports it before it closes AMI
    # (a connection cut without that report is tests/ivr/test_dialer.py's case).
    assert (lost.outcome, lost.reason, lost.error) == (CallOutcome.FAILED, 0, None)
    assert while_down.outcome is CallOutcome.FAILED and while_down.reason is None
    assert while_down.error == (
        f"no AMI connection to 127.0.0.1:{sandbox.ami_port} within 1 s; the call was not placed"
    )
    assert (answered.outcome, answered.reason) == (CallOutcome.ANSWERED, 4)
    # The restarted Asterisk dialled the new call only: the lost one was not sent again.
    assert f"Local/{PHONE}@dialer-mixed" in log
    assert ringing_phone not in log
    records = [await calls.get_call(r.call_id) for r in (lost, while_down, answered)]
    assert [r.outcome for r in records if r] == [
        CallOutcome.FAILED,
        CallOutcome.FAILED,
        CallOutcome.ANSWERED,
    ]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service_tracker.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli_env(asterisk: AsteriskSandbox, tmp_path: Path) -> Callable[[str], dict[str, str]]:
    database = f"sqlite:///{tmp_path / 'calls.db'}"

    def env(callee: str) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
            "DATABASE_URL": database,
            "AMI_HOST": asterisk.ami_host,
            "AMI_PORT": str(asterisk.ami_port),
            "AMI_USERNAME": asterisk.ami_user,
            "AMI_SECRET": asterisk.ami_secret,
            "IVR_TRUNK": f"Local/{{number}}@{callee}",
            "IVR_CONTEXT": "dialer-ivr",
            "DEFAULT_PHONE_REGION": "KE",
        }

    return env


def test_the_call_command_places_a_call_and_exits_by_its_outcome(
    cli_env: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    form = tmp_path / "tracer.xlsx"
    form.write_bytes(markdown_to_xlsx(FORM))
    env = cli_env("dialer-answer")
    assert _cli(env, "db", "upgrade").returncode == 0
    imported = _cli(env, "survey", "import", str(form), "--ivr-number", "0201234567")
    assert imported.returncode == 0, imported.stderr

    answered = _cli(env, "call", "--survey", "tracer", "--phone", "0712345678")
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout == (
        f"call 1 to {PHONE} for survey tracer (caller ID {ENTRY}): answered (Asterisk's reason 4)\n"
    )
    # The log line on standard error masks the number.
    assert PHONE not in answered.stderr and "+2547•••••678" in answered.stderr

    busy = _cli(cli_env("dialer-busy"), "call", "--survey", "1", "--phone", PHONE)
    assert busy.returncode == 1, busy.stderr
    assert busy.stdout == (
        f"call 2 to {PHONE} for survey tracer (caller ID {ENTRY}): busy (Asterisk's reason 5)\n"
    )
