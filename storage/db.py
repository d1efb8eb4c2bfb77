"""Database engines and migrations: one schema for SQLite (embedded) and PostgreSQL.

`create_engine` gives an async engine tuned for the backend; `PoolSizes` splits a
process's PostgreSQL connection budget between that engine and the asyncpg pool of the
hot path (`storage.pg_direct`); `upgrade` brings a database to the newest schema with the
Alembic migrations shipped in `storage/migrations`, with no `alembic.ini` needed at run
time (`alembic_config` builds the same configuration in code).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "DEFAULT_POOL_BUDGET",
    "DEFAULT_POOL_SIZES",
    "PoolSizes",
    "alembic_config",
    "connected",
    "create_engine",
    "normalize_database_url",
    "ping",
    "schema_is_current",
    "upgrade",
    "upgrade_connection",
    "upsert_insert",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# How long a SQLite writer waits for another writer's lock before failing: a USSD reply
# must go back within a few seconds, so wait a little, never forever.
SQLITE_BUSY_TIMEOUT_MS = 5000

# PostgreSQL connections one process may hold in all (both pools): 8 workers stay within
# the server's default max_connections of 100.
DEFAULT_POOL_BUDGET = 12


@dataclass(frozen=True, slots=True)
class PoolSizes:
    """One process's PostgreSQL connections, split between its two pools.

    `direct` (asyncpg) runs the statement of every USSD hop, so it takes five sixths;
    `engine` (SQLAlchemy) runs the rest: survey loads and the cache refreshes every few
    seconds, session-end notices, turns of several statements, health checks.
    """

    engine: int
    direct: int

    @classmethod
    def split(cls, budget: int) -> PoolSizes:
        if budget < 2:
            raise ValueError(f"{budget} connections: expected at least 2, one for each pool")
        engine = -(-budget // 6)  # a sixth, rounded up: at least one
        return cls(engine=engine, direct=budget - engine)


DEFAULT_POOL_SIZES = PoolSizes.split(DEFAULT_POOL_BUDGET)


def normalize_database_url(url: str) -> str:
    """The async-driver form of a database URL, as people usually write it.

    `postgresql://` and `postgres://` (Heroku style) use asyncpg, `sqlite:///file.db`
    uses aiosqlite; URLs that already name a driver, and other schemes, are unchanged.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    if scheme == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    return url


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, pool_size: int = DEFAULT_POOL_SIZES.engine, max_overflow: int = 0
) -> AsyncEngine:
    """An async engine for `url` (any form `normalize_database_url` accepts).

    SQLite gets WAL (readers do not block the writer), enforced foreign keys and a busy
    timeout on every connection; `pool_size` does not apply to it. PostgreSQL gets a
    fixed pool: the engine holds at most `pool_size + max_overflow` connections (a
    worker's share of its budget, `PoolSizes.engine`), so many workers stay within the
    server's `max_connections`. No overflow by default: an overflow connection is
    closed as soon as it is returned, and opening asyncpg connections under load (TLS
    probe, authentication, codec set-up) costs milliseconds of CPU each, far more than
    a hop waiting a moment for a pooled one.
    """
    url = normalize_database_url(url)
    if _is_sqlite(url):
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # A connection cut by a restart or a firewall is replaced after an hour at most;
        # pre-ping would cost a round trip on every checkout of the hot path.
        pool_recycle=3600,
        connect_args={"server_settings": {"application_name": "service-tracker"}},
    )


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


@asynccontextmanager
async def connected(bind: AsyncEngine | AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """A connection to read through: `bind` itself when it is one (so a read sees the
    caller's transaction), else a new one from the engine, closed afterwards."""
    if isinstance(bind, AsyncConnection):
        yield bind
        return
    async with bind.connect() as conn:
        yield conn


def upsert_insert(conn: AsyncConnection, table: Table) -> Any:
    """INSERT into `table` in the connection's dialect, which has ON CONFLICT (DO
    NOTHING, DO UPDATE) on both SQLite and PostgreSQL."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


async def ping(engine: AsyncEngine, *, within_seconds: float = 5.0) -> bool:
    """Whether the database answers a trivial query within `within_seconds`."""
    try:
        async with asyncio.timeout(within_seconds), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError):
        return False
    return True


async def schema_is_current(engine: AsyncEngine) -> bool:
    """Whether the database has every migration applied (the service refuses to serve a
    database it would fail on at the first hop)."""
    _alembic()  # quiets Alembic's import-time logging
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with engine.connect() as conn:
        current = await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    return current == head


def _alembic() -> Any:
    """Alembic, imported only by the commands that migrate: every other command (and the
    web service) starts faster without it, and its import logs a line per plugin at INFO,
    noise in our command line's output."""
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    import alembic.command
    import alembic.config

    return alembic


def alembic_config(url: str | None = None) -> Config:
    """The Alembic configuration of `storage/migrations`, built in code.

    For a new migration during development:
    `command.revision(alembic_config("sqlite:///dev.db"), "what changed", autogenerate=True)`.
    """
    config = _alembic().config.Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Revision files are named <rev>_<slug>.py and sorted by their numeric revision ids.
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        # `%` is interpolation syntax in Alembic's config parser; passwords may contain it.
        config.set_main_option("sqlalchemy.url", normalize_database_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Migrate the database at `url` to the newest schema (for the command line).

    Synchronous: the migrations run on their own event loop, in a worker thread when
    the caller already runs one (asyncio cannot nest loops in a thread)."""
    config = alembic_config(url)
    upgrade_to_head = _alembic().command.upgrade
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        upgrade_to_head(config, "head")
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(upgrade_to_head, config, "head").result()


async def upgrade_connection(connection: AsyncConnection) -> None:
    """Migrate through a connection the caller holds (app start-up, tests) and commit.

    On SQLite, batch migrations copy a table and drop the old one: with foreign keys
    enforced (as `create_engine` does) the drop would cascade into every row referring
    to it, so they are off while migrating. SQLite ignores that pragma inside a
    transaction: the connection must not have written anything yet."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        if (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar():
            raise RuntimeError("migrate SQLite on a connection that has not written yet")

    def run(sync_connection: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_connection
        _alembic().command.upgrade(config, "head")

    await connection.run_sync(run)
    await connection.commit()
    if sqlite:
        await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
