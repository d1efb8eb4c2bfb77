"""The composed service: health for the load balancer, and who may call the gateway
endpoints."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from service_tracker.app import HEALTH_PROBE_SECONDS, create_app
from service_tracker.config import Settings
from service_tracker.keys import AGI_SERVER, RECORDINGS
from service_tracker.logs import MaskingFilter


async def test_health_is_503_naming_an_unreachable_database(aiohttp_client):
    settings = Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/healthz")
    assert response.status == 503
    assert await response.json() == {"database": False, "sessions": True, "agi": True}


async def test_health_is_503_naming_an_unreachable_session_store(
    aiohttp_client, sqlite_database_url
):
    settings = Settings(database_url=sqlite_database_url, redis_url="redis://127.0.0.1:1/0")
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/healthz")
    assert response.status == 503
    assert await response.json() == {"database": True, "sessions": False, "agi": True}


async def test_channels_get_the_recordings_folder_from_recordings_dir(tmp_path):
    app = create_app(Settings(recordings_dir=str(tmp_path / "answers")))
    made = await app[RECORDINGS].new("tracer", 5, "story")
    assert made.path.startswith(str(tmp_path / "answers" / "tracer" / "5" / "story-"))


@pytest.fixture
async def hung_server() -> AsyncIterator[str]:
    """`host:port` of a server that accepts connections and never answers: what a hung
    Redis or PostgreSQL looks like from outside."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()  # until the client gives up

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    try:
        yield f"{host}:{port}"
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


async def _health_within(client, seconds: float) -> tuple[int, dict[str, bool], float]:
    started = time.monotonic()
    # Bounded here too, so a health check that hangs fails the test instead of hanging it.
    async with asyncio.timeout(seconds):
        response = await client.get("/healthz")
        body = await response.json()
    return response.status, body, time.monotonic() - started


async def test_health_is_503_within_a_second_or_so_when_redis_never_answers(
    aiohttp_client, sqlite_database_url, hung_server
):
    settings = Settings(database_url=sqlite_database_url, redis_url=f"redis://{hung_server}/0")
    client = await aiohttp_client(create_app(settings))
    status, body, took = await _health_within(client, 10)
    assert (status, body) == (503, {"database": True, "sessions": False, "agi": True})
    assert HEALTH_PROBE_SECONDS <= took < 2.5


async def test_health_is_503_within_a_second_or_so_when_the_database_never_answers(
    aiohttp_client, hung_server
):
    settings = Settings(database_url=f"postgresql+asyncpg://postgres@{hung_server}/none")
    client = await aiohttp_client(create_app(settings))
    status, body, took = await _health_within(client, 10)
    assert (status, body) == (503, {"database": False, "sessions": True, "agi": True})
    assert took < 2.5


async def test_health_probes_run_together_so_two_hung_stores_still_answer_in_time(
    aiohttp_client, hung_server
):
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@{hung_server}/none",
        redis_url=f"redis://{hung_server}/0",
    )
    client = await aiohttp_client(create_app(settings))
    status, body, took = await _health_within(client, 10)
    assert (status, body) == (503, {"database": False, "sessions": False, "agi": True})
    assert took < 2.5


TOKEN = "k3y-for-the-gateway_0123456789"
CALLBACK = {
    "sessionId": "ATUid_token_1",
    "serviceCode": "*384*123#",
    "phoneNumber": "+254712345640",
    "networkCode": "63902",
    "text": "",
}
SESSION_END = {"sessionId": "ATUid_token_1", "status": "Incomplete", "input": ""}


@pytest.fixture
async def guarded_client(aiohttp_client, sqlite_database_url):
    return await aiohttp_client(
        create_app(Settings(database_url=sqlite_database_url, gateway_token=TOKEN))
    )


@pytest.mark.parametrize(
    ("path", "form"),
    [
        pytest.param("/ussd/africastalking", CALLBACK, id="session-callback"),
        pytest.param("/ussd/africastalking/events", SESSION_END, id="session-end-events"),
    ],
)
async def test_with_a_gateway_token_every_gateway_callback_must_carry_it(
    guarded_client, caplog, path, form
):
    caplog.handler.addFilter(MaskingFilter())  # as the service's own log handler has
    caplog.set_level(logging.INFO)
    for query in ["", "?token=", "?token=k3y-for-the-gateway_012345678", f"?token={TOKEN}x"]:
        response = await guarded_client.post(path + query, data=form)
        assert response.status == 403, query
        assert await response.text() == "a valid gateway token is required"
    response = await guarded_client.post(f"{path}?token={TOKEN}", data=form)
    assert response.status == 200
    refusals = [m for m in caplog.messages if m.startswith("refused a gateway callback")]
    assert refusals[0] == f"refused a gateway callback to {path} from 127.0.0.1: no token"
    assert refusals[-1] == f"refused a gateway callback to {path} from 127.0.0.1: wrong token"
    assert len(refusals) == 4
    # The access log quotes the URL; the token in it is hidden like a phone number.
    assert any(f"POST {path}?token=*** " in line for line in caplog.messages)
    assert TOKEN not in caplog.text and TOKEN[:20] not in caplog.text


async def test_a_gateway_token_guards_the_gateway_only(guarded_client):
    response = await guarded_client.get("/healthz")
    assert response.status == 200


async def test_without_a_gateway_token_the_endpoints_stay_open(aiohttp_client, sqlite_database_url):
    client = await aiohttp_client(create_app(Settings(database_url=sqlite_database_url)))
    response = await client.post("/ussd/africastalking", data=CALLBACK)
    assert response.status == 200


async def test_the_service_answers_voice_calls_on_its_fastagi_port(
    aiohttp_client, database_url, tmp_path
):
    """The composed service on SQLite and PostgreSQL: a call to the survey's IVR number
    reaches FastAGI, the answers land in SQL, and /healthz reports the listener."""
    from sqlalchemy import text

    from audio.library import AudioLibrary
    from storage.db import create_engine
    from storage.surveys import import_survey
    from survey_engine.xlsform import load_xlsform
    from tests.conftest import empty_tables
    from tests.ivr.caller import HANG_UP, SimulatedCall, calls_over
    from tests.ivr.test_channel import TRACER, write_test_audio

    engine = create_engine(database_url)
    await empty_tables(engine)
    await import_survey(
        engine,
        TRACER.read_bytes(),
        filename=TRACER.name,
        ussd_code=None,
        roster_only=False,
        ivr_numbers=["+254201234567"],
    )
    write_test_audio(AudioLibrary(tmp_path / "audio"), load_xlsform(TRACER))
    settings = Settings(
        database_url=database_url,
        audio_dir=str(tmp_path / "audio"),
        recordings_dir=str(tmp_path / "answers"),
    )
    app = create_app(settings)
    client = await aiohttp_client(app)
    assert (await (await client.get("/healthz")).json())["agi"] is True

    server = app[AGI_SERVER]
    call = SimulatedCall(["1", "1", "2", HANG_UP], extension="254201234567")
    seen = await call.run(server.port)
    await calls_over(server)
    assert seen.missing == []
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT question, value, channel FROM answers ORDER BY question")
        )
        stored = [tuple(row) for row in rows]
        status = (await conn.execute(text("SELECT status FROM responses"))).scalar_one()
    await engine.dispose()
    assert stored == [("consent", "yes", "ivr"), ("employed", "self", "ivr")]
    assert status == "interrupted"
