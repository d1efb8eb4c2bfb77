"""The pages of the admin site that every other page builds on: signing in and out, the
home page, and the organisation's audit log."""

from __future__ import annotations

import datetime as dt

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from admin import respondents, results, simulator, studies, surveys
from admin.auth import current_user, requires_admin, sign_in, sign_out
from admin.keys import THROTTLE
from service_tracker.keys import DATABASE
from storage.accounts import authenticate, record
from storage.schema import audit_log

__all__ = ["add_routes"]

AUDIT_PAGE = 100


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home, name="home")
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login, name="login_post")
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_get("/audit", audit, name="audit")
    surveys.add_routes(app)  # and their audio (admin.audio)
    respondents.add_routes(app)
    simulator.add_routes(app)
    results.add_routes(app)
    studies.add_routes(app)


@aiohttp_jinja2.template("login.html")
async def login_form(request: web.Request) -> dict[str, object]:
    return {
        "expired": request.query.get("expired") == "1",
        "next": _safe_next(request.query.get("next", "")),
        "email": "",
    }


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email = str(form.get("email", ""))[:320].strip()
    password = str(form.get("password", ""))
    address = request.remote or ""
    engine = request.config_dict[DATABASE]
    throttle = request.app[THROTTLE]
    context = {"email": email, "next": _safe_next(str(form.get("next", ""))), "expired": False}
    until = await throttle.locked_until(email, address)
    if until is not None:
        minutes = max(1, round((until - dt.datetime.now(dt.UTC)).total_seconds() / 60))
        async with engine.begin() as conn:
            await record(conn, None, "login.throttled", actor=email, address=address)
        context["error"] = (
            f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes != 1)}."
        )
        return aiohttp_jinja2.render_template("login.html", request, context, status=429)
    user = await authenticate(engine, email, password) if email and password else None
    if user is None:
        await throttle.failed(email, address)
        async with engine.begin() as conn:
            await record(conn, None, "login.failed", actor=email, address=address)
        # One message for a wrong email and a wrong password (ASVS 2.2.x / 3.x).
        context["error"] = "The email or the password is not right."
        return aiohttp_jinja2.render_template("login.html", request, context, status=401)
    await throttle.succeeded(email, address)
    await sign_in(request, user)
    async with engine.begin() as conn:
        await record(conn, user, "login", address=address)
    target = context["next"] or str(request.app.router["home"].url_for())
    raise web.HTTPSeeOther(str(target))


async def logout(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    async with request.config_dict[DATABASE].begin() as conn:
        await record(conn, user, "logout", address=request.remote or "")
    await sign_out(request)
    raise web.HTTPSeeOther(str(request.app.router["login"].url_for()))


@aiohttp_jinja2.template("home.html")
async def home(request: web.Request) -> dict[str, object]:
    return {}


@requires_admin
@aiohttp_jinja2.template("audit.html")
async def audit(request: web.Request) -> dict[str, object]:
    user = current_user(request)
    async with request.config_dict[DATABASE].connect() as conn:
        rows = (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.organisation_id == user.organisation_id)
                .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
                .limit(AUDIT_PAGE)
            )
        ).all()
    return {"entries": rows}


def _safe_next(target: str) -> str:
    """Only a page of this site: a sign-in must never send anyone elsewhere (ASVS 5.1.5)."""
    if target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""
