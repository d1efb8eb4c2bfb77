"""Server-side sessions of the admin site (aiohttp-session), kept in Redis when
`REDIS_URL` is set and in SQL otherwise.

The cookie holds only a random key (256 bits); the session's data stays on the server,
under the key's SHA-256, so neither a copy of Redis nor of the database holds a cookie
anyone could replay. A session ends at its absolute limit whatever happens, and earlier
when left idle (`admin.auth` checks both on every request).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any, Protocol

from aiohttp import web
from aiohttp_session import AbstractStorage, Session
from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.schema import admin_sessions

__all__ = ["COOKIE", "AdminSessions", "RedisSessions", "SqlSessions"]

COOKIE = "st_admin"


class _Backend(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def put(self, key: str, data: str, seconds: int) -> None: ...
    async def drop(self, key: str) -> None: ...


class RedisSessions:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, key: str) -> str | None:
        raw = await self.redis.get(f"st:admin:session:{key}")
        return raw.decode() if isinstance(raw, bytes) else raw

    async def put(self, key: str, data: str, seconds: int) -> None:
        await self.redis.set(f"st:admin:session:{key}", data, ex=seconds)

    async def drop(self, key: str) -> None:
        await self.redis.delete(f"st:admin:session:{key}")


class SqlSessions:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, key: str) -> str | None:
        now = dt.datetime.now(dt.UTC)
        async with self.engine.connect() as conn:
            data = await conn.scalar(
                select(admin_sessions.c.data).where(
                    admin_sessions.c.key == key, admin_sessions.c.expires_at > now
                )
            )
        return None if data is None else str(data)

    async def put(self, key: str, data: str, seconds: int) -> None:
        now = dt.datetime.now(dt.UTC)
        expires = now + dt.timedelta(seconds=seconds)
        async with self.engine.begin() as conn:
            updated = await conn.execute(
                admin_sessions.update()
                .where(admin_sessions.c.key == key)
                .values(data=data, expires_at=expires)
            )
            if updated.rowcount == 0:
                # Expired rows go when a session is made: the table stays the size of
                # the sessions alive, with no job of its own.
                await conn.execute(delete(admin_sessions).where(admin_sessions.c.expires_at <= now))
                await conn.execute(
                    admin_sessions.insert().values(key=key, data=data, expires_at=expires)
                )

    async def drop(self, key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(admin_sessions).where(admin_sessions.c.key == key))


def _stored_key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class AdminSessions(AbstractStorage):
    """aiohttp-session's storage over one of the backends, chosen when the service
    starts (`backend` is set by the admin application's start-up)."""

    def __init__(self, *, secure: bool, max_age: int) -> None:
        super().__init__(
            cookie_name=COOKIE,
            path="/admin/",
            secure=secure,
            httponly=True,
            samesite="Lax",  # forms also carry a CSRF token; Lax keeps links from mail working
            max_age=max_age,
            encoder=json.dumps,
            decoder=json.loads,
        )
        self.backend: _Backend | None = None

    def _backend(self) -> _Backend:
        if self.backend is None:
            raise RuntimeError("the admin sessions' backend is set when the service starts")
        return self.backend

    async def load_session(self, request: web.Request) -> Session:
        cookie = self.load_cookie(request)
        if cookie:
            raw = await self._backend().get(_stored_key(cookie))
            data: Any = None
            if raw is not None:
                try:
                    data = self._decoder(raw)
                except ValueError:
                    data = None
            if isinstance(data, dict):
                return Session(cookie, data=data, new=False, max_age=self.max_age)
        return Session(None, data=None, new=True, max_age=self.max_age)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        key = session.identity
        if session.empty:
            if key is not None:
                await self._backend().drop(_stored_key(str(key)))
            self.save_cookie(response, "", max_age=session.max_age)
            return
        if key is None:
            key = secrets.token_urlsafe(32)
        await self._backend().put(
            _stored_key(str(key)),
            self._encoder(self._get_session_data(session)),
            session.max_age or self.max_age or 3600,
        )
        self.save_cookie(response, str(key), max_age=session.max_age)

    async def forget(self, session: Session) -> None:
        """Drop a session's server side at once (a login replaces the session before it)."""
        if session.identity is not None:
            await self._backend().drop(_stored_key(str(session.identity)))
