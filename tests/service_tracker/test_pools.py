"""A worker's PostgreSQL connections: one budget (`DATABASE_POOL_SIZE`) for both pools,
never exceeded however many hops run at once; SQLite is not bound by it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service_tracker.app import create_app
from service_tracker.config import Settings
from service_tracker.keys import DATABASE, RESPONSES, SESSIONS
from storage.db import create_engine
from storage.surveys import import_survey
from tests.conftest import empty_tables
from tests.ussd.phones import ENGLISH_WORKING_PATH, TRACER_CODE, TRACER_XLSX, Handset, Service

HANDSETS = 40


async def _service(aiohttp_client, settings: Settings) -> Service:
    client: TestClient = await aiohttp_client(create_app(settings))
    app = client.server.app
    await empty_tables(app[DATABASE])
    imported = await import_survey(
        app[DATABASE],
        TRACER_XLSX.read_bytes(),
        filename=TRACER_XLSX.name,
        ussd_code=TRACER_CODE,
        roster_only=False,
    )
    return Service(
        client,
        app[DATABASE],
        app[RESPONSES],
        app[SESSIONS],
        imported.survey_id,
        None,
        imported.organisation_id,
    )


async def _whole_surveys_at_once(service: Service) -> list[str]:
    """HANDSETS graduates answering the whole survey at the same time, the gateway's
    session-end notices and the load balancer's health checks among them."""
    phones = [f"+2547000{n:05d}" for n in range(HANDSETS)]

    async def graduate(phone: str) -> None:
        handset = Handset(service, phone)
        await handset.dial()
        for typed in ENGLISH_WORKING_PATH:
            await handset.send(typed)
        await handset.hang_up()

    async def health_checks() -> None:
        for _ in range(HANDSETS):
            response = await service.client.get("/healthz")
            assert response.status == 200

    await asyncio.gather(*(graduate(p) for p in phones), health_checks())
    return phones


@pytest.mark.postgres
async def test_one_worker_never_holds_more_connections_than_its_budget(
    aiohttp_client, postgres_database_url: str, redis_url: str
) -> None:
    budget = 4  # one for the engine, three for the hot path
    dsn = postgres_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    watcher = await asyncpg.connect(dsn, server_settings={"application_name": "pool-watcher"})
    count = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> ALL($1::int[])"
    )
    try:
        # Connections other tests of this session left open are not this worker's.
        before = [
            r["pid"]
            for r in await watcher.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            )
        ]
        settings = Settings(
            database_url=postgres_database_url, redis_url=redis_url, database_pool_size=budget
        )
        service = await _service(aiohttp_client, settings)
        peak = 0
        done = asyncio.Event()

        async def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, await watcher.fetchval(count, before))
                await asyncio.sleep(0.002)

        watching = asyncio.create_task(watch())
        try:
            phones = await _whole_surveys_at_once(service)
        finally:
            done.set()
            await watching
        peak = max(peak, await watcher.fetchval(count, before))
    finally:
        await watcher.close()

    # Every pool filled up to its share (so the load was enough to exceed a wrong
    # budget), and not one connection more.
    assert peak == budget
    for phone in phones:
        assert await service.answers_of(phone), phone


async def test_sqlite_is_not_bound_by_the_postgres_budget(
    aiohttp_client, sqlite_database_url: str
) -> None:
    settings = Settings(database_url=sqlite_database_url, database_pool_size=2)
    service = await _service(aiohttp_client, settings)
    phones = await _whole_surveys_at_once(service)
    for phone in phones:
        assert await service.answers_of(phone), phone
    # The budget sizes PostgreSQL's pools only; SQLite keeps SQLAlchemy's own pool.
    assert service.engine.pool.size() == create_engine(sqlite_database_url).pool.size()
