"""The admin site as staff reach it: the whole service (`create_app`), its sessions in
SQL (SQLite and PostgreSQL) or in Redis, and accounts made as `users create` makes them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient

from service_tracker.app import create_app
from service_tracker.config import Settings
from storage.accounts import User, create_user

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _cheap_passwords(fast_password_hashing: None) -> None:
    """Every test here signs in: see `fast_password_hashing`."""


@pytest.fixture(params=["sql", pytest.param("redis", marks=pytest.mark.redis)])
def session_backend(request: pytest.FixtureRequest) -> str | None:
    """Where sessions and failed sign-ins are kept: SQL without REDIS_URL, else Redis."""
    return request.getfixturevalue("redis_url") if request.param == "redis" else None


@dataclass
class Site:
    client: TestClient
    admin: User  # of "Kenya TVET"
    analyst: User  # of "Kenya TVET"
    other: User  # an admin of "Lebanon VTC"

    async def csrf(self, path: str = "/admin/login") -> str:
        page = await (await self.client.get(path)).text()
        found = _CSRF.search(page)
        assert found, page
        return found.group(1)

    async def sign_in(self, user: User, password: str = PASSWORD, **extra: str):
        token = await self.csrf()
        return await self.client.post(
            "/admin/login",
            data={"_csrf": token, "email": user.email, "password": password, **extra},
            allow_redirects=False,
        )


@pytest.fixture
def recordings_dir(tmp_path) -> str:
    """The service's RECORDINGS_DIR: a test's own folder, never the checkout's var/."""
    return str(tmp_path / "recordings")


@pytest.fixture
async def site(
    aiohttp_client, engine, database_url, session_backend, recordings_dir
) -> AsyncIterator[Site]:
    admin = await create_user(
        engine, email="officer@tvet.ke", organisation="Kenya TVET", role="admin", password=PASSWORD
    )
    analyst = await create_user(
        engine, email="analyst@tvet.ke", organisation="Kenya TVET", role="analyst",
        password=PASSWORD,
    )  # fmt: skip
    other = await create_user(
        engine, email="head@vtc.lb", organisation="Lebanon VTC", role="admin", password=PASSWORD
    )
    settings = Settings(
        database_url=database_url, redis_url=session_backend, recordings_dir=recordings_dir
    )
    client = await aiohttp_client(create_app(settings))
    yield Site(client, admin, analyst, other)
