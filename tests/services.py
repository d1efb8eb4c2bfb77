"""The real services tests run against: PostgreSQL and Redis on this machine.

`ensure_postgres(url)` and `ensure_redis(url)` return when the service answers, start
it when it does not (on the local host only), and raise `ServiceUnavailable` with the
command to run when it cannot be started. Fixtures turn that into a test failure:
a test that needs a database never skips silently.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import asyncpg

__all__ = [
    "POSTGRES_START",
    "REDIS_START",
    "ServiceUnavailable",
    "ensure_postgres",
    "ensure_redis",
    "run_coroutine",
]

T = TypeVar("T")

POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port {port} --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


class ServiceUnavailable(RuntimeError):
    """A service the tests need is down and could not be started; says how to start it."""


def run_coroutine(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running loop
    (session fixtures, pytest-asyncio): on a fresh loop in a thread of its own."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make())  # type: ignore[arg-type]
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error

    thread = threading.Thread(target=target, name="run_coroutine")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def ensure_postgres(url: str, *, wait_seconds: float = 30.0) -> None:
    """Return once PostgreSQL accepts a connection to `url` (postgresql://...).

    The cluster started is Debian's `main` one, on the port its configuration gives."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

    def answers() -> str | None:
        async def connect() -> None:
            conn = await asyncpg.connect(dsn, timeout=5)
            await conn.close()

        try:
            run_coroutine(connect)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            return f"{type(error).__name__}: {error}"
        return None

    _ensure("PostgreSQL", url, answers, POSTGRES_START, wait_seconds)


def ensure_redis(url: str, *, wait_seconds: float = 15.0) -> None:
    """Return once Redis at `url` (redis://host:port/db) answers PING."""
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 6379)

    def answers() -> str | None:
        try:
            with socket.create_connection(address, timeout=2) as conn:
                conn.sendall(b"PING\r\n")
                reply = conn.recv(64)
        except OSError as error:
            return f"{type(error).__name__}: {error}"
        # "-LOADING" while it reads its dump: not ready yet.
        return None if reply.startswith(b"+PONG") else f"replied {reply!r}"

    _ensure("Redis", url, answers, REDIS_START.format(port=address[1]), wait_seconds)


def _ensure(
    name: str,
    url: str,
    answers: Callable[[], str | None],
    start_command: str,
    wait_seconds: float,
) -> None:
    problem = answers()
    if problem is None:
        return
    if (urlsplit(url).hostname or "") not in _LOCAL_HOSTS:
        raise ServiceUnavailable(f"{name} at {url} does not answer ({problem})")
    started = subprocess.run(
        start_command, shell=True, capture_output=True, text=True, timeout=60, check=False
    )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        problem = answers()
        if problem is None:
            return
        time.sleep(0.2)
    output = (started.stdout + started.stderr).strip()
    raise ServiceUnavailable(
        f"{name} is not running at {url} ({problem}) and could not be started.\n"
        f"Start it with:\n    {start_command}\n"
        + (f"The attempt said (exit {started.returncode}):\n{output}" if output else "")
    )
