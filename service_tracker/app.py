"""The application factory: wires storage into the channels. Nothing imports this module
but the command line and the tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from aiohttp import web

from service_tracker.config import Settings
from service_tracker.keys import DATABASE, RESPONSES, SESSIONS, SETTINGS
from storage.db import PoolSizes, create_engine
from storage.responses import SqlResponseStore
from storage.sessions import MemorySessionStore, RedisSessionStore
from ussd.conversation import Conversation, ConversationSettings
from ussd.routes import CONVERSATION, DEFAULT_REGION, add_routes

# About 1 KB each: a bounded memory cost for a round trip saved on most hops.
RECENT_SESSION_RECORDS = 20_000


def create_app(settings: Settings) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    if settings.default_phone_region:
        app[DEFAULT_REGION] = settings.default_phone_region
    # One generator per resource, in dependency order, so a failed start still cleans up.
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_sessions)
    app.cleanup_ctx.append(_conversation)
    app.router.add_get("/healthz", healthz)
    add_routes(app)
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


async def _conversation(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[CONVERSATION] = Conversation(
        app[RESPONSES],
        app[SESSIONS],
        ConversationSettings(
            session_ttl_seconds=settings.session_ttl_seconds,
            resume_window=dt.timedelta(hours=settings.resume_window_hours),
            # In front of Redis, this worker's own records spare most hops a GET.
            recent_records=RECENT_SESSION_RECORDS if settings.redis_url else 0,
        ),
    )
    yield


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    database = await app[RESPONSES].ping()
    sessions = await app[SESSIONS].ping()
    healthy = database and sessions
    return web.json_response(
        {"database": database, "sessions": sessions}, status=200 if healthy else 503
    )
