"""Every route of the admin site, as a stranger and as an analyst would try it: a page
added later is held to the same rules without a test of its own (ASVS 4.1.1, 4.2.2)."""

from __future__ import annotations

import re

from aiohttp import web

from admin.app import ADMIN_PREFIX, PUBLIC_ROUTES
from tests.admin.conftest import Site

# Posts an analyst may make: reading and exporting need no admin (an export's form
# posts; only its full phone numbers need one), nor does signing out.
ANALYST_MAY_POST = frozenset({"logout", "login_post", "survey_export_post"})
_PARAMETER = re.compile(r"\{[^}]+\}")


def _admin_app(site: Site) -> web.Application:
    for resource in site.client.app.router.resources():
        app = getattr(resource, "_app", None)
        if app is not None and resource.canonical.rstrip("/") + "/" == ADMIN_PREFIX:
            return app
    raise AssertionError("the admin site is not mounted")


def _routes(site: Site, method: str) -> list[tuple[str, str]]:
    """(name, a path of it with every parameter an id nobody has)."""
    found = []
    for route in _admin_app(site).router.routes():
        if route.method != method or route.name is None or route.name in PUBLIC_ROUTES:
            continue
        path = _PARAMETER.sub("999999", route.resource.canonical)  # the prefix included
        assert path.startswith(ADMIN_PREFIX), path
        found.append((route.name, path))
    return found


async def test_every_page_needs_a_signed_in_member_of_staff(site: Site) -> None:
    pages = _routes(site, "GET")
    assert pages, "no admin pages found"
    for name, path in pages:
        response = await site.client.get(path, allow_redirects=False)
        assert response.status == 303, (name, path, response.status)
        assert response.headers["Location"].startswith("/admin/login"), name


async def test_every_page_without_an_id_opens_for_an_admin(site: Site) -> None:
    await site.sign_in(site.admin)
    for name, path in _routes(site, "GET"):
        if "999999" not in path:
            response = await site.client.get(path, allow_redirects=False)
            assert response.status == 200, (name, path, response.status)


async def test_every_form_needs_its_csrf_token(site: Site) -> None:
    await site.sign_in(site.admin)
    for name, path in _routes(site, "POST"):
        response = await site.client.post(path, data={"_csrf": "forged"}, allow_redirects=False)
        assert response.status == 403, (name, path, response.status)


async def test_an_analyst_can_change_nothing(site: Site) -> None:
    await site.sign_in(site.analyst)
    token = await site.csrf("/admin/")
    for name, path in _routes(site, "POST"):
        if name in ANALYST_MAY_POST:
            continue
        response = await site.client.post(path, data={"_csrf": token}, allow_redirects=False)
        assert response.status == 403, (name, path, response.status)
