"""Fixtures shared by every test package: real databases and Redis, and forms as files.

    postgres_admin_url   (session) URL of an existing PostgreSQL database to create
                         test databases from; the server is started when down
    sqlite_database_url  (session) a migrated SQLite file in a temporary folder
    postgres_database_url (session) a fresh, uniquely named, migrated PostgreSQL
                         database, dropped at the end of the session
    database_url         a migrated database URL, once per backend: "sqlite", "postgres"
                         (the postgres run carries the `postgres` marker)
    engine               an AsyncEngine on `database_url` with every table empty
    redis_url            a Redis URL on its own database number (15), flushed per test
    xlsx_from_markdown   turns a pyxform markdown form into .xlsx bytes, for code that
                         stores uploaded files

Override the servers with TEST_POSTGRES_URL and TEST_REDIS_URL.
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from openpyxl import Workbook
from pyxform.xls2json_backends import md_to_dict
from redis import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, upgrade
from storage.schema import metadata
from tests.services import ServiceUnavailable, ensure_postgres, ensure_redis, run_coroutine

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-transcripts",
        action="store_true",
        help="rewrite tests/transcripts/*.yaml from the current behaviour",
    )


def _require(ensure: Callable[[str], None], url: str) -> None:
    """Fail (never skip) when a service the test needs is down and cannot be started."""
    try:
        ensure(url)
    except ServiceUnavailable as error:
        problem = str(error)
    else:
        return
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    _require(ensure_postgres, POSTGRES_ADMIN_URL)
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def postgres_database_url(postgres_admin_url: str) -> Iterator[str]:
    # One database per test session, so parallel sessions and leftovers never collide.
    name = f"service_tracker_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin_dsn = postgres_admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_coroutine(lambda: admin(f'CREATE DATABASE "{name}"'))
    try:
        url = admin_dsn.rsplit("/", 1)[0] + f"/{name}"
        upgrade(url)
        yield url
    finally:
        run_coroutine(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "service_tracker.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database: the test runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_database_url")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await empty_tables(engine)
    yield engine
    await engine.dispose()


async def empty_tables(engine: AsyncEngine) -> None:
    tables = [table.name for table in reversed(metadata.sorted_tables)]
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="session")
def _redis_server() -> str:
    _require(ensure_redis, REDIS_URL)
    return REDIS_URL


@pytest.fixture
def redis_url(_redis_server: str) -> Iterator[str]:
    client = Redis.from_url(_redis_server)
    try:
        client.flushdb()
        yield _redis_server
        client.flushdb()
    finally:
        client.close()


@pytest.fixture
def xlsx_from_markdown() -> Callable[[str], bytes]:
    return markdown_to_xlsx


def markdown_to_xlsx(md: str) -> bytes:
    """The workbook a form author would upload, from pyxform's markdown table notation."""
    book = md_to_dict(md)
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet_name in book["sheet_names"]:
        sheet = workbook.create_sheet(sheet_name)
        header = list(book[f"{sheet_name}_header"][0]) if book.get(f"{sheet_name}_header") else []
        sheet.append(header)
        for row in book[sheet_name]:
            sheet.append([row.get(column) for column in header])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.fixture
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its smallest cost: the admin tests make and check hundreds of
    passwords, and what they test is who gets in, not how slow a guess is."""
    from argon2 import PasswordHasher

    import storage.accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(storage.accounts, "_HASHER", cheap)
    monkeypatch.setattr(storage.accounts, "_DUMMY_HASH", cheap.hash("not a password"))
