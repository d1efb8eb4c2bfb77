"""The admin site in a real headless Chromium (Debian's package, driven by Playwright with
the system browser; Playwright's own browser download cannot reach its host here).

The service runs in the test's event loop on a free port, on a migrated SQLite database
with one organisation's admin. Screenshots of the pages a test visits are saved under
`var/screenshots/` (or `SCREENSHOTS_DIR`) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

from service_tracker.app import create_app
from service_tracker.config import Settings
from storage.accounts import User, create_user
from storage.db import create_engine

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"
# What keeps Chromium from reaching for hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Resolved now: a test may change the working folder (AUDIO_DIR defaults under it).
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or "var/screenshots").resolve()


@pytest.fixture(autouse=True)
def _cheap_passwords(fast_password_hashing: None) -> None:
    """Every test here signs in: see `fast_password_hashing`."""


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
async def browser(screenshots: Path) -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `scripts/install-system-deps tests` (as root)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@dataclass
class Browsing:
    page: Page
    base: str
    admin: User

    async def open(self, path: str) -> None:
        await self.page.goto(self.base + path)

    async def sign_in(self, user: User | None = None, password: str = PASSWORD) -> None:
        await self.open("/admin/login")
        await self.page.get_by_label("Email").fill((user or self.admin).email)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_load_state()

    async def screenshot(self, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
async def browsing(browser: Browser, sqlite_database_url: str) -> AsyncIterator[Browsing]:
    from tests.conftest import empty_tables

    engine = create_engine(sqlite_database_url)
    await empty_tables(engine)
    admin = await create_user(
        engine, email="officer@tvet.ke", organisation="Kenya TVET", role="admin", password=PASSWORD
    )
    await engine.dispose()
    server = TestServer(create_app(Settings(database_url=sqlite_database_url)), host="127.0.0.1")
    await server.start_server()
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    try:
        yield Browsing(page, str(server.make_url("")).rstrip("/"), admin)
    finally:
        await context.close()
        await server.close()
