"""Single statements on PostgreSQL, run straight on an asyncpg pool.

Every USSD hop commits one statement before it replies, so the cost of executing a
statement is the cost of a hop. Through SQLAlchemy's async engine a statement also
pays for a pool checkout, a greenlet switch, an execution context and result
processing: measured with py-spy under the USSD load benchmark, that was 20 % of the
server's CPU against 2.5 % in asyncpg itself. Here the very same Core statements are
compiled once by SQLAlchemy's asyncpg dialect (so there is one definition of each) and
executed as prepared statements on a small asyncpg pool; each autocommits.

Only statements whose parameters need no SQLAlchemy type conversion belong here
(ints, strings, aware datetimes, lists); the rest of storage goes through the engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy import Executable, Select, TextClause
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["DirectRow", "PgDirect"]

_Literals = dict[str, str | int | float | bool]


class DirectRow:
    """An asyncpg record read like a SQLAlchemy row: `row.name` and `row[0]`."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, index: int) -> Any:
        return self._record[index]


class PgDirect:
    """Runs compiled Core statements on asyncpg; one pool per process, opened lazily,
    holding at most `pool_size` connections (the process's budget minus the engine's)."""

    def __init__(self, engine: AsyncEngine, *, pool_size: int) -> None:
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._dialect: Dialect = engine.dialect
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None
        self._compiled: dict[int, tuple[Executable, str, tuple[str, ...], _Literals, bool]] = {}

    def _compile(self, stmt: Executable) -> tuple[str, tuple[str, ...], _Literals, bool]:
        # Keyed by identity: the statements are module constants or cached builders.
        # The statement is kept in the value so its id cannot be reused by another.
        found = self._compiled.get(id(stmt))
        if found is None:
            compiled = stmt.compile(dialect=self._dialect)  # type: ignore[attr-defined]
            literals = {name: value for name, value in compiled.params.items() if value is not None}
            for name, value in literals.items():
                if not isinstance(value, str | int | float | bool):
                    # A dict for a JSON column needs SQLAlchemy's type processing.
                    raise TypeError(f"{name}={value!r} cannot be sent without conversion")
            returns_rows = isinstance(stmt, Select | TextClause) or bool(
                compiled.effective_returning
            )
            found = (
                stmt, compiled.string, tuple(compiled.positiontup or ()), literals, returns_rows
            )  # fmt: skip
            self._compiled[id(stmt)] = found
        return found[1], found[2], found[3], found[4]

    async def _ensure_pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._pool_size,
                    server_settings={"application_name": "service-tracker"},
                    reset=_keep_session,
                )
        return self._pool

    async def run(
        self, stmt: Executable, params: Mapping[str, Any], *, want_rows: bool = True
    ) -> tuple[Sequence[DirectRow], int]:
        """Execute one statement (autocommitted): its rows and the rows it touched.
        Without `want_rows` only the count comes back (no row objects are built)."""
        sql, names, literals, returns_rows = self._compile(stmt)
        args = [params[name] if name in params else literals.get(name) for name in names]
        for arg in args:
            if isinstance(arg, dt.datetime) and arg.tzinfo is None:
                # As `UtcDateTime` does on the engine's path: never guess a time zone.
                raise ValueError(f"naive datetime {arg!r}: expected a timezone-aware UTC time")
        pool = await self._ensure_pool()
        # fetch() and execute() reuse asyncpg's cache of prepared statements (prepare()
        # would parse and plan the statement again on every call).
        async with pool.acquire() as conn:
            if returns_rows and want_rows:
                records = await conn.fetch(sql, *args)
                return [DirectRow(r) for r in records], len(records)
            status = await conn.execute(sql, *args)
        return [], _touched(status)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Skip asyncpg's `RESET ALL; UNLISTEN *; ...` round trip on every release: these
    statements change no session state (asyncpg still rolls back an open transaction)."""


def _touched(status: str) -> int:
    # "UPDATE 3", "DELETE 0", "INSERT 0 1", "SELECT 1": the count is the last word.
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0
