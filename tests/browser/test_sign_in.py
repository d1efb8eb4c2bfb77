"""Signing in to the admin site in a real browser."""

from __future__ import annotations

from tests.browser.conftest import Browsing


async def test_an_officer_signs_in_sees_their_organisation_and_signs_out(
    browsing: Browsing,
) -> None:
    page = browsing.page
    await browsing.open("/admin/")
    assert page.url.endswith("/admin/login?next=/admin/")  # sent to sign in first
    await browsing.screenshot("sign-in")
    await browsing.sign_in(password="a wrong password!")
    assert await page.get_by_role("alert").inner_text() == "The email or the password is not right."
    await browsing.sign_in()
    assert page.url.endswith("/admin/")
    assert await page.get_by_role("heading", level=1).inner_text() == "Kenya TVET"
    await browsing.screenshot("home")
    await page.get_by_role("link", name="Audit log").click()
    rows = page.locator("tbody tr")
    assert "login" in await rows.first.inner_text()
    await browsing.screenshot("audit-log")
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_load_state()
    assert page.url.endswith("/admin/login")


async def test_the_pages_load_nothing_from_outside_and_break_no_policy(browsing: Browsing) -> None:
    page = browsing.page
    outside: list[str] = []
    problems: list[str] = []
    page.on(
        "request", lambda r: outside.append(r.url) if not r.url.startswith(browsing.base) else None
    )
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await browsing.sign_in()
    await browsing.open("/admin/audit")
    assert outside == [] and problems == []
