"""The application factory: wires storage into the channels. Nothing imports this module
but the command line and the tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from admin.app import AdminConfig
from admin.app import mount as mount_admin
from admin.auth import SessionLimits
from audio.library import AudioLibrary, PromptFiles
from interviews import Interviews, InterviewSettings
from ivr.channel import IvrChannel, IvrSettings
from ivr.server import AgiServer
from service_tracker.config import Settings
from service_tracker.gateway_auth import gateway_token_middleware
from service_tracker.keys import (
    AGI_SERVER,
    DATABASE,
    INTERVIEWS,
    IVR_INTERVIEWS,
    RECORDINGS,
    RESPONSES,
    SESSIONS,
    SETTINGS,
)
from storage.db import PoolSizes, create_engine
from storage.recordings import RecordingFolder
from storage.responses import SqlResponseStore
from storage.sessions import MemorySessionStore, RedisSessionStore
from ussd.channel import UssdChannel
from ussd.routes import DEFAULT_REGION, USSD_CHANNEL, add_routes
from waves.routes import add_sms_routes

# A load balancer waits a few seconds for /healthz: a probe that has not answered
# within this is a failure, so a hung Redis or database gives 503, not a hang.
HEALTH_PROBE_SECONDS = 1.0


def create_app(settings: Settings) -> web.Application:
    # The admin site's uploads are the largest bodies; the gateway's are a few hundred bytes.
    app = web.Application(client_max_size=settings.admin_max_upload_mb * 1024 * 1024)
    if settings.gateway_token:
        app.middlewares.append(gateway_token_middleware(settings.gateway_token))
    app[SETTINGS] = settings
    if settings.default_phone_region:
        app[DEFAULT_REGION] = settings.default_phone_region
    # Folders are made per recording: nothing is touched on disk until a voice answer.
    app[RECORDINGS] = RecordingFolder(settings.recordings_dir)
    # One generator per resource, in dependency order, so a failed start still cleans up.
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_sessions)
    app.cleanup_ctx.append(_interviews)
    app.cleanup_ctx.append(_agi)
    app.router.add_get("/healthz", healthz)
    add_routes(app)
    add_sms_routes(app)
    mount_admin(
        app,
        AdminConfig(
            redis_url=settings.redis_url,
            secure_cookies=settings.admin_secure_cookies,
            limits=SessionLimits(
                idle=dt.timedelta(minutes=settings.admin_session_idle_minutes),
                absolute=dt.timedelta(hours=settings.admin_session_hours),
            ),
        ),
    )
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # The worker's one connection budget, split between the engine and the hot path.
    pools = PoolSizes.split(settings.database_pool_size)
    engine = create_engine(settings.database_url, pool_size=pools.engine)
    app[DATABASE] = engine
    store = SqlResponseStore(engine, direct_pool_size=pools.direct)
    app[RESPONSES] = store
    yield
    await store.close()
    await engine.dispose()


async def _sessions(app: web.Application) -> AsyncIterator[None]:
    url = app[SETTINGS].redis_url
    if url is None:
        app[SESSIONS] = MemorySessionStore()
        yield
        return
    store = RedisSessionStore.from_url(url)
    app[SESSIONS] = store
    yield
    await store.close()


async def _interviews(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    common = InterviewSettings(
        session_ttl_seconds=settings.session_ttl_seconds,
        resume_window=dt.timedelta(hours=settings.resume_window_hours),
    )
    interviews = Interviews(
        app[RESPONSES],
        app[SESSIONS],
        # In front of Redis, this worker's own records spare most turns a GET.
        replace(
            common,
            recent_records=settings.local_session_records if settings.redis_url else 0,
        ),
    )
    app[INTERVIEWS] = interviews
    app[USSD_CHANNEL] = UssdChannel(interviews)
    # A call lives on one connection of one worker from its first turn to its last,
    # so its live record needs no sharing: it stays in this worker's memory, which
    # spares every voice turn a Redis write. SQL holds every answer, as for USSD.
    app[IVR_INTERVIEWS] = Interviews(app[RESPONSES], MemorySessionStore(), common)
    yield


async def _agi(app: web.Application) -> AsyncIterator[None]:
    """The FastAGI listener beside HTTP: the voice channel on the same interviews.
    Several workers share its port (SO_REUSEPORT), as they share HTTP's."""
    settings = app[SETTINGS]
    channel = IvrChannel(
        app[IVR_INTERVIEWS],
        PromptFiles(AudioLibrary(Path(settings.audio_dir))),
        app[RECORDINGS],
        IvrSettings(default_region=settings.default_phone_region),
    )
    server = AgiServer(
        {"survey": channel.handle},
        host=settings.agi_host,
        port=settings.agi_port,
        allow=settings.agi_allow,
        max_calls=settings.agi_max_calls,
        reuse_port=settings.agi_port != 0,
    )
    try:
        await server.start()
    except OSError as error:
        raise RuntimeError(
            f"cannot listen for FastAGI on {settings.agi_host}:{settings.agi_port} ({error}); "
            "set AGI_HOST and AGI_PORT"
        ) from error
    app[AGI_SERVER] = server
    logging.getLogger("service_tracker").info(
        "FastAGI on agi://%s:%s/survey", settings.agi_host, server.port
    )
    yield
    await server.close()


async def healthz(request: web.Request) -> web.Response:
    """200 when every probe answers within `HEALTH_PROBE_SECONDS`, 503 otherwise; the
    body names each probe with whether it passed."""
    app = request.app
    database, sessions = await asyncio.gather(
        _probe(app[RESPONSES].ping()), _probe(app[SESSIONS].ping())
    )
    agi = app[AGI_SERVER].listening
    healthy = database and sessions and agi
    return web.json_response(
        {"database": database, "sessions": sessions, "agi": agi}, status=200 if healthy else 503
    )


async def _probe(ping: Awaitable[bool]) -> bool:
    try:
        async with asyncio.timeout(HEALTH_PROBE_SECONDS):
            return await ping
    except TimeoutError:
        return False
