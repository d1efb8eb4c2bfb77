"""Signing in and out of the admin site (issue 16): passwords, sessions that end,
CSRF on every form, throttled guessing, roles, and the headers every page carries."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from storage.schema import audit_log
from tests.admin.conftest import PASSWORD, Site


async def test_staff_sign_in_and_land_on_their_organisation(site: Site) -> None:
    response = await site.sign_in(site.admin)
    assert response.status == 303 and response.headers["Location"] == "/admin/"
    cookie = response.headers["Set-Cookie"]
    assert "st_admin=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/admin/" in cookie and "Secure" not in cookie
    page = await (await site.client.get("/admin/")).text()
    assert "Kenya TVET" in page and "officer@tvet.ke" in page


async def test_the_gateway_and_health_endpoints_set_no_cookie(site: Site) -> None:
    await site.sign_in(site.admin)
    response = await site.client.get("/healthz")
    assert "Set-Cookie" not in response.headers


async def test_a_wrong_password_and_an_unknown_email_get_one_answer(site, engine) -> None:
    wrong = await site.sign_in(site.admin, password="not the password at all")
    page = await wrong.text()
    assert wrong.status == 401 and "The email or the password is not right." in page
    assert "officer@tvet.ke" in page  # the email typed stays in the form
    unknown = await site.client.post(
        "/admin/login",
        data={"_csrf": await site.csrf(), "email": "who@x.org", "password": PASSWORD},
    )
    assert (
        unknown.status == 401 and "The email or the password is not right." in await unknown.text()
    )
    assert (await site.client.get("/admin/", allow_redirects=False)).status == 303
    async with engine.connect() as conn:
        actions = (await conn.execute(select(audit_log.c.action, audit_log.c.actor))).all()
    assert ("login.failed", "officer@tvet.ke") in actions and (
        "login.failed",
        "who@x.org",
    ) in actions


@pytest.mark.parametrize("token", [None, "forged-token"])
async def test_a_form_without_its_csrf_token_is_refused(site: Site, token) -> None:
    await site.csrf()  # a session exists, with its own token
    data = {"email": site.admin.email, "password": PASSWORD}
    if token:
        data["_csrf"] = token
    response = await site.client.post("/admin/login", data=data, allow_redirects=False)
    assert response.status == 403
    assert "This form has expired" in await response.text()
    # Signed in, the sign-out form needs it too.
    await site.sign_in(site.admin)
    refused = await site.client.post("/admin/logout", data={"_csrf": "forged"})
    assert refused.status == 403
    assert (await site.client.get("/admin/", allow_redirects=False)).status == 200


async def test_repeated_failures_lock_the_account_even_for_the_right_password(site, engine) -> None:
    for _ in range(5):
        assert (await site.sign_in(site.admin, password="guess guess guess")).status == 401
    locked = await site.sign_in(site.admin)
    assert locked.status == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in await locked.text()
    # Another account from the same address is not locked by them.
    assert (await site.sign_in(site.analyst)).status == 303
    async with engine.connect() as conn:
        throttled = await conn.scalar(
            select(audit_log.c.actor).where(audit_log.c.action == "login.throttled")
        )
    assert throttled == "officer@tvet.ke"


@pytest.mark.parametrize(("minutes", "ends"), [(29, False), (31, True)])
async def test_a_session_left_idle_ends(site: Site, monkeypatch, minutes, ends) -> None:
    await site.sign_in(site.admin)
    later = time.time() + minutes * 60
    monkeypatch.setattr("admin.auth._clock", lambda: later)
    response = await site.client.get("/admin/", allow_redirects=False)
    if not ends:
        assert response.status == 200
        return
    assert response.status == 303
    assert response.headers["Location"].startswith("/admin/login?next=/admin/&expired=1")
    page = await (await site.client.get(response.headers["Location"])).text()
    assert "Your session has ended" in page


async def test_a_session_in_use_still_ends_at_its_absolute_limit(site: Site, monkeypatch) -> None:
    await site.sign_in(site.admin)
    start = time.time()
    for step in range(1, 36):  # a click every 20 minutes for 11 h 40 min keeps it alive
        moment = start + step * 1200
        monkeypatch.setattr("admin.auth._clock", lambda moment=moment: moment)
        assert (await site.client.get("/admin/", allow_redirects=False)).status == 200
    monkeypatch.setattr("admin.auth._clock", lambda: start + 12 * 3600 + 60)
    assert (await site.client.get("/admin/", allow_redirects=False)).status == 303


async def test_signing_out_ends_the_session_on_the_server(site: Site) -> None:
    await site.sign_in(site.admin)
    cookie = site.client.session.cookie_jar.filter_cookies(site.client.make_url("/admin/"))
    kept = {name: morsel.value for name, morsel in cookie.items()}
    token = await site.csrf("/admin/")
    response = await site.client.post("/admin/logout", data={"_csrf": token}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/admin/login"
    # The old cookie, replayed, opens nothing.
    site.client.session.cookie_jar.clear()
    site.client.session.cookie_jar.update_cookies(kept)
    assert (await site.client.get("/admin/", allow_redirects=False)).status == 303


async def test_an_analyst_cannot_take_an_admin_action(site: Site) -> None:
    await site.sign_in(site.analyst)
    response = await site.client.get("/admin/audit")
    assert (
        response.status == 403 and "You cannot do this with your account." in await response.text()
    )
    home = await (await site.client.get("/admin/")).text()
    assert "Audit log" not in home  # not offered either


async def test_the_audit_log_shows_only_the_organisations_own(site: Site) -> None:
    await site.sign_in(site.other)  # Lebanon VTC signs in first
    await site.client.post("/admin/logout", data={"_csrf": await site.csrf("/admin/")})
    await site.sign_in(site.admin)
    page = await (await site.client.get("/admin/audit")).text()
    assert "officer@tvet.ke" in page and "login" in page
    assert "head@vtc.lb" not in page


async def test_failed_sign_ins_to_an_account_are_shown_to_its_organisations_admins(site) -> None:
    await site.sign_in(site.analyst, password="a guess at it, wrong")
    await site.sign_in(site.other, password="a guess at it, wrong")
    await site.sign_in(site.admin)
    page = await (await site.client.get("/admin/audit")).text()
    assert "login.failed" in page and "analyst@tvet.ke" in page
    assert "head@vtc.lb" not in page


async def test_sign_in_goes_back_to_the_page_asked_for_and_never_elsewhere(site: Site) -> None:
    assert (await site.sign_in(site.admin, next="/admin/audit")).headers[
        "Location"
    ] == "/admin/audit"
    await site.client.post("/admin/logout", data={"_csrf": await site.csrf("/admin/")})
    elsewhere = await site.sign_in(site.admin, next="https://evil.example/admin/")
    assert elsewhere.headers["Location"] == "/admin/"


async def test_every_admin_page_carries_its_security_headers(site: Site) -> None:
    for path in ("/admin/login", "/admin/static/admin.css"):
        response = await site.client.get(path)
        assert response.status == 200
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (await site.client.get("/admin/login")).headers["Cache-Control"] == "no-store"


async def test_signing_in_replaces_the_session_before_it(site: Site) -> None:
    """A key planted before sign-in (session fixation) is worth nothing after it."""
    await site.csrf()  # the sign-in page made a session, for its CSRF token
    jar = site.client.session.cookie_jar
    before = {n: m.value for n, m in jar.filter_cookies(site.client.make_url("/admin/")).items()}
    await site.sign_in(site.admin)
    after = {n: m.value for n, m in jar.filter_cookies(site.client.make_url("/admin/")).items()}
    assert before["st_admin"] != after["st_admin"]
    jar.clear()
    jar.update_cookies(before)
    assert (await site.client.get("/admin/", allow_redirects=False)).status == 303
