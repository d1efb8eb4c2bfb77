"""The composed service: health for the load balancer."""

from __future__ import annotations

from service_tracker.app import create_app
from service_tracker.config import Settings
from service_tracker.keys import RECORDINGS


async def test_health_is_503_naming_an_unreachable_database(aiohttp_client):
    settings = Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/healthz")
    assert response.status == 503
    assert await response.json() == {"database": False, "sessions": True}


async def test_health_is_503_naming_an_unreachable_session_store(
    aiohttp_client, sqlite_database_url
):
    settings = Settings(database_url=sqlite_database_url, redis_url="redis://127.0.0.1:1/0")
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/healthz")
    assert response.status == 503
    assert await response.json() == {"database": True, "sessions": False}


async def test_channels_get_the_recordings_folder_from_recordings_dir(tmp_path):
    app = create_app(Settings(recordings_dir=str(tmp_path / "answers")))
    made = await app[RECORDINGS].new("tracer", 5, "story")
    assert made.path.startswith(str(tmp_path / "answers" / "tracer" / "5" / "story-"))
