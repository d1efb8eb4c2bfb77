"""Who is signed in, for how long, and what they may do.

Every page but the sign-in page needs a signed-in member of staff. The user is read
again from the database on every request, so an account's role or removal takes effect
at once. A session ends `idle` after the last request and at most `absolute` after the
sign-in (ASVS 3.3.1, 3.3.2), and with the sign-out. Roles: `admin` does everything;
`analyst` reads and exports only (ASVS 4.1.1: denied by default, checked on the server).
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import Session, get_session, new_session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from service_tracker.keys import DATABASE
from storage.accounts import User, record
from storage.schema import organisations, users

__all__ = [
    "CSRF_FIELD",
    "SessionLimits",
    "audit",
    "csrf_token",
    "current_user",
    "requires_admin",
    "sign_in",
    "sign_out",
    "signed_in_user",
]

CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
_USER = web.RequestKey("admin_user", User)
_EXPIRED = web.RequestKey("admin_expired", bool)
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class SessionLimits:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=12)


def _clock() -> float:
    """Seconds since the epoch; tests move it on to expire sessions."""
    return time.time()


def signed_in_user(request: web.Request) -> User | None:
    """The member of staff signed in, if any (None on the sign-in page)."""
    return request.get(_USER)


def current_user(request: web.Request) -> User:
    """The signed-in member of staff (the auth middleware has made sure there is one)."""
    return request[_USER]


async def audit(
    request: web.Request,
    conn: AsyncConnection,
    action: str,
    object_kind: str = "",
    object_id: object = "",
    *,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """A line of the audit log for what the signed-in member of staff did, from their
    address, in `conn`'s transaction (stored with the action or not at all)."""
    await record(
        conn, current_user(request), action, object_kind, object_id,
        address=request.remote or "", detail=detail,
    )  # fmt: skip


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, made on first use (the sign-in form has one too)."""
    session = await get_session(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def sign_in(request: web.Request, user: User) -> None:
    """A new session for `user`: the one before is dropped, so a key planted before the
    sign-in is worth nothing after it (ASVS 3.2.1)."""
    storage = request.get("aiohttp_session_storage")
    old = await get_session(request)
    if storage is not None and hasattr(storage, "forget"):
        await storage.forget(old)
    session = await new_session(request)
    now = int(_clock())
    session.update(
        {"uid": user.id, "csrf": secrets.token_urlsafe(32), "signed_in": now, "seen": now}
    )


async def sign_out(request: web.Request) -> None:
    (await get_session(request)).invalidate()


def auth_middleware(
    limits: SessionLimits, public: frozenset[str]
) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name or ""
        session = await get_session(request)
        if request.method in _UNSAFE:
            await _check_csrf(request, session)
        if route in public:
            return await handler(request)
        user = await _signed_in(request, session, limits)
        if user is None:
            query = {"next": request.rel_url.path_qs} if request.method == "GET" else {}
            if request.get(_EXPIRED):
                query["expired"] = "1"
            raise web.HTTPSeeOther(request.app.router["login"].url_for().with_query(query))
        request[_USER] = user
        return await handler(request)

    return authenticate


async def _signed_in(request: web.Request, session: Session, limits: SessionLimits) -> User | None:
    uid, signed_in, seen = session.get("uid"), session.get("signed_in"), session.get("seen")
    if not isinstance(uid, int) or not isinstance(signed_in, int) or not isinstance(seen, int):
        return None
    now = int(_clock())
    too_old = now - signed_in > limits.absolute.total_seconds()
    if too_old or now - seen > limits.idle.total_seconds():
        session.invalidate()
        request[_EXPIRED] = True
        return None
    async with request.config_dict[DATABASE].connect() as conn:
        row = (
            await conn.execute(
                select(
                    users.c.id,
                    users.c.email,
                    users.c.organisation_id,
                    users.c.role,
                    organisations.c.name.label("organisation"),
                )
                .join(organisations, organisations.c.id == users.c.organisation_id)
                .where(users.c.id == uid)
            )
        ).first()
    if row is None:  # the account was removed
        session.invalidate()
        return None
    if now - seen >= 60:  # spares a session write on every click
        session["seen"] = now
    return User(row.id, row.email, row.organisation_id, row.organisation, row.role)


async def _check_csrf(request: web.Request, session: Session) -> None:
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.post()  # aiohttp keeps it: the handler reads it again for free
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not (isinstance(expected, str) and given and hmac.compare_digest(given, expected)):
        raise web.HTTPForbidden(reason="csrf")


def requires_admin(handler: Handler) -> Handler:
    """For an action an analyst may not take: 403, whatever they typed in the URL."""

    @functools.wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        if not current_user(request).is_admin:
            raise web.HTTPForbidden(reason="role")
        return await handler(request)

    return checked
