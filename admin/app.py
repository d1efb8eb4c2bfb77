"""The admin site: server-rendered pages under /admin/ on the service's HTTP server.

It is a sub-application, so its cookies, CSRF checks and security headers stay on its
own pages: the gateway endpoints remain cookie-free. Everything a page loads is served
from `admin/static/` (no CDN: offices may be offline).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import session_middleware
from redis.asyncio import Redis

from admin import views
from admin.auth import CSRF_FIELD, SessionLimits, auth_middleware, csrf_token, signed_in_user
from admin.keys import THROTTLE
from admin.sessions import AdminSessions, RedisSessions, SqlSessions
from admin.throttle import LoginThrottle, RedisCounts, SqlCounts
from service_tracker.keys import DATABASE

__all__ = ["ADMIN_PREFIX", "AdminConfig", "admin_app"]

ADMIN_PREFIX = "/admin/"
HERE = Path(__file__).resolve().parent
log = logging.getLogger("service_tracker.admin")

# ASVS 14.4: what a page may load and where it may be framed. Scripts and styles come
# from the service only; audio from the service (prompts, recordings).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
# The sign-in page and the static files are reached without a session.
PUBLIC_ROUTES = frozenset({"login", "login_post", "static"})


class AdminConfig:
    """What the admin site needs from the service's settings."""

    def __init__(
        self,
        *,
        redis_url: str | None,
        secure_cookies: bool = False,
        limits: SessionLimits | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.secure_cookies = secure_cookies
        self.limits = limits or SessionLimits()


def admin_app(config: AdminConfig) -> web.Application:
    sessions = AdminSessions(
        secure=config.secure_cookies, max_age=int(config.limits.absolute.total_seconds())
    )
    app = web.Application(
        middlewares=[
            _headers,
            _error_pages,
            session_middleware(sessions),
            auth_middleware(config.limits, PUBLIC_ROUTES),
        ]
    )
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        context_processors=[_page_context],
    )
    env.globals["CSRF_FIELD"] = CSRF_FIELD

    async def backends(app: web.Application) -> AsyncIterator[None]:
        # The parent's engine exists by now: its start-up runs before its sub-apps'.
        engine = app[_PARENT_DATABASE]() if _PARENT_DATABASE in app else None
        redis = Redis.from_url(config.redis_url) if config.redis_url else None
        if redis is not None:
            sessions.backend = RedisSessions(redis)
            app[THROTTLE] = LoginThrottle(RedisCounts(redis))
        else:
            assert engine is not None
            sessions.backend = SqlSessions(engine)
            app[THROTTLE] = LoginThrottle(SqlCounts(engine))
        yield
        if redis is not None:
            await redis.aclose()

    app.cleanup_ctx.append(backends)
    views.add_routes(app)
    app.router.add_static("/static/", HERE / "static", name="static")
    return app


_PARENT_DATABASE = web.AppKey("admin_parent_database", object)


def mount(parent: web.Application, config: AdminConfig) -> web.Application:
    """Add the admin site to the service's application under /admin/."""
    admin = admin_app(config)
    admin[_PARENT_DATABASE] = lambda: parent[DATABASE]
    parent.add_subapp(ADMIN_PREFIX, admin)
    return admin


async def _page_context(request: web.Request) -> dict[str, object]:
    user = signed_in_user(request)
    return {
        "user": user,
        "csrf": await csrf_token(request),
        "year": dt.date.today().year,
        "path": request.path,
    }


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:
        error.headers.update(_HEADERS)
        raise
    response.headers.update(_HEADERS)
    if response.content_type == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


_ERRORS = {
    403: ("Not allowed", "You cannot do this with your account."),
    404: ("Not found", "There is nothing here, or it belongs to another organisation."),
    413: ("File too large", "The file is larger than the service accepts."),
}


@web.middleware
async def _error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status not in _ERRORS or error.content_type == "text/html":
            raise
        title, text = _ERRORS[error.status]
        if error.status == 403 and error.reason == "csrf":
            title, text = (
                "This form has expired",
                "Reload the page and send it again. (Its security token was missing or old.)",
            )
        response = aiohttp_jinja2.render_template(
            "error.html", request, {"title": title, "text": text}, status=error.status
        )
        return response
