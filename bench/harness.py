"""What every benchmark here does around its measurement: PostgreSQL and Redis up, a
scratch database and a flushed Redis db per run, the service's setup commands, a server
process started until its /healthz says 200 and stopped with all its workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import asyncpg
import redis

from bench import procstat

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVICE_CLI = Path(sys.executable).with_name("service-tracker")

# How CI starts Redis; only used when it is not answering.
REDIS_START = (
    "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


class ServerFailed(Exception):
    """A server (or the service's setup commands) did not come up."""


# --- PostgreSQL and Redis ------------------------------------------------------------


def sql(dsn: str, query: str, *params: Any) -> list[asyncpg.Record]:
    """The rows of one statement, on a connection of its own."""

    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            return list(await conn.fetch(query, *params))
        finally:
            await conn.close()

    return asyncio.run(go())


def sql_value(dsn: str, query: str) -> Any:
    rows = sql(dsn, query)
    return rows[0][0] if rows else None


def scratch_dsn(admin_dsn: str, name: str) -> str:
    return f"{admin_dsn.rsplit('/', 1)[0]}/{name}"


def fresh_state(admin_dsn: str, db_name: str, redis_url: str) -> None:
    """An empty scratch database and an empty Redis db: every run starts equal."""
    drop_database(admin_dsn, db_name)
    sql(admin_dsn, f'CREATE DATABASE "{db_name}"')
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def drop_database(admin_dsn: str, db_name: str) -> None:
    sql(admin_dsn, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def _pg_up(dsn: str) -> bool:
    try:
        sql(dsn, "SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def _redis_up(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def _wait(probe: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.3)
    return False


def ensure_services(admin_dsn: str, redis_url: str) -> list[str]:
    """Start PostgreSQL and Redis if they are not answering; the problems left, if any."""
    problems = []
    if not _pg_up(admin_dsn):
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        if versions:
            print(f"PostgreSQL not answering; starting cluster {versions[-1]}/main", flush=True)
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
                check=False,
            )
        if not _wait(lambda: _pg_up(admin_dsn), 30):
            problems.append(f"PostgreSQL unreachable at {admin_dsn}")
    if not _redis_up(redis_url):
        print("Redis not answering; starting redis-server", flush=True)
        subprocess.run(shlex.split(REDIS_START), check=False)
        if not _wait(lambda: _redis_up(redis_url), 15):
            problems.append(f"Redis unreachable at {redis_url}")
    return problems


def services_ready(admin_dsn: str, redis_url: str) -> bool:
    """`ensure_services`, telling on standard error what could not be started: a
    benchmark's first step (exit 2 when False)."""
    problems = ensure_services(admin_dsn, redis_url)
    for problem in problems:
        print(f"cannot run: {problem}", file=sys.stderr)
    return not problems


# --- processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def run_setup(argv: Sequence[str], env: Mapping[str, str], log: Path, timeout: float) -> None:
    """Run one of the service's setup commands; raise ServerFailed with its output."""
    with log.open("ab") as out:
        done = subprocess.run(
            list(argv),
            cwd=REPO,
            env=dict(env),
            stdout=out,
            stderr=out,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise ServerFailed(f"`{' '.join(argv)}` exited {done.returncode}:\n{tail(log)}")


def start_http_server(
    argv: Sequence[str], env: Mapping[str, str], port: int, log: Path, timeout: float
) -> subprocess.Popen[bytes]:
    """Start `argv` in a process group of its own (so stopping it reaches every worker
    it forks) and wait until http://127.0.0.1:`port`/healthz says 200."""
    out: IO[bytes] = log.open("ab")
    proc = subprocess.Popen(
        list(argv), cwd=REPO, env=dict(env), stdout=out, stderr=out, start_new_session=True
    )
    out.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"`{' '.join(argv)}` exited {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    stop_server(proc)
    raise ServerFailed(f"`{' '.join(argv)}` not healthy after {timeout:g} s:\n{tail(log)}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it if it does not go."""
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_generator(
    argv: Sequence[str], log: Path, groups: Callable[[int], list[procstat.Group]]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Run a load generator to its end: (its RESULT, each CPU group's % of a core
    between its `MARK start` and `MARK end`). `groups(pid)` names the processes to
    sample, given the generator's pid."""
    with log.open("ab") as errors:
        gen = subprocess.Popen(
            list(argv), cwd=REPO, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    sampled = groups(gen.pid)
    samples: dict[str, procstat.Sample] = {}
    result: dict[str, Any] | None = None
    assert gen.stdout is not None
    for line in gen.stdout:
        if line.startswith("MARK "):
            samples[line.split()[1]] = procstat.sample(sampled)
        elif line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    gen.wait()
    if result is None:
        raise ServerFailed(f"the load generator exited {gen.returncode} without a result")
    cpu = procstat.cpu_percent(samples["start"], samples["end"]) if len(samples) == 2 else {}
    return result, cpu
