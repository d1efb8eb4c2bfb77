"""The running service for USSD session tests: the real app on a real socket, on
SQLite with the in-process session store, and on PostgreSQL with Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from service_tracker.app import create_app
from service_tracker.config import Settings
from service_tracker.keys import DATABASE, RESPONSES, SESSIONS
from service_tracker.logs import MaskingFilter
from storage.surveys import import_survey
from tests.conftest import empty_tables
from tests.ussd.phones import TRACER_CODE, TRACER_XLSX, Service


@pytest.fixture(autouse=True)
def _logs_as_the_service_writes_them(caplog: pytest.LogCaptureFixture) -> None:
    """`caplog` sees each line through the filter the service's log handler has
    (`configure_logging`): the routes log numbers as they are and rely on it."""
    caplog.handler.addFilter(MaskingFilter())


async def _start(aiohttp_client, database_url: str, redis_url: str | None) -> Service:
    settings = Settings(database_url=database_url, redis_url=redis_url)
    client: TestClient = await aiohttp_client(create_app(settings))
    app = client.server.app
    engine: AsyncEngine = app[DATABASE]
    await empty_tables(engine)
    imported = await import_survey(
        engine,
        TRACER_XLSX.read_bytes(),
        filename=TRACER_XLSX.name,
        ussd_code=TRACER_CODE,
        roster_only=False,
    )
    return Service(
        client,
        engine,
        app[RESPONSES],
        app[SESSIONS],
        imported.survey_id,
        redis_url,
        imported.organisation_id,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres])])
async def service(request: pytest.FixtureRequest, aiohttp_client) -> AsyncIterator[Service]:
    """SQLite + in-process sessions, then PostgreSQL + Redis: production's code path."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_database_url")
        yield await _start(aiohttp_client, url, None)
    else:
        url = request.getfixturevalue("postgres_database_url")
        yield await _start(aiohttp_client, url, request.getfixturevalue("redis_url"))


@pytest.fixture
async def sqlite_service(aiohttp_client, sqlite_database_url: str) -> Service:
    return await _start(aiohttp_client, sqlite_database_url, None)


@pytest.fixture
async def two_workers(
    aiohttp_client, postgres_database_url: str, redis_url: str
) -> tuple[Service, Service]:
    """Two stateless workers of one deployment: one PostgreSQL, one Redis."""
    first = await _start(aiohttp_client, postgres_database_url, redis_url)
    settings = Settings(database_url=postgres_database_url, redis_url=redis_url)
    client: TestClient = await aiohttp_client(create_app(settings))
    app = client.server.app
    second = Service(
        client,
        app[DATABASE],
        app[RESPONSES],
        app[SESSIONS],
        first.survey_id,
        redis_url,
        first.organisation_id,
    )
    return first, second
