"""Staff accounts (issue 16): argon2 hashes, one account per email however typed, the
organisation made once, and every account made written to the audit log; on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.accounts import AccountError, authenticate, create_user
from storage.schema import audit_log, organisations, users

PASSWORD = "correct horse battery staple"


async def test_an_account_logs_in_with_its_password_only(engine) -> None:
    made = await create_user(
        engine, email=" Officer@Agency.ORG ", organisation="Kenya TVET", role="admin",
        password=PASSWORD,
    )  # fmt: skip
    assert (made.email, made.organisation, made.role) == (
        "officer@agency.org",
        "Kenya TVET",
        "admin",
    )
    user = await authenticate(engine, "OFFICER@agency.org", PASSWORD)
    assert user is not None and user.id == made.id and user.is_admin
    assert await authenticate(engine, "officer@agency.org", PASSWORD + "!") is None
    assert await authenticate(engine, "nobody@agency.org", PASSWORD) is None
    async with engine.connect() as conn:
        row = (await conn.execute(select(users))).one()
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    assert row.last_login_at is not None


async def test_staff_of_one_organisation_share_it_and_each_account_is_audited(engine) -> None:
    await create_user(
        engine, email="a@x.org", organisation="Kenya TVET", role="admin", password=PASSWORD
    )
    await create_user(
        engine, email="b@x.org", organisation="Kenya  TVET", role="analyst", password=PASSWORD
    )
    async with engine.connect() as conn:
        names = (await conn.execute(select(organisations.c.name))).scalars().all()
        actions = (await conn.execute(select(audit_log.c.action, audit_log.c.actor))).all()
    assert names == ["Kenya TVET"]
    assert sorted(actions) == [("user.create", "a@x.org"), ("user.create", "b@x.org")]


@pytest.mark.parametrize(
    ("email", "role", "password", "said"),
    [
        ("a@x.org", "admin", "short", "at least 12 characters"),
        ("a@x.org", "admin", "x" * 129, "at most 128 characters"),
        ("not-an-email", "admin", PASSWORD, "is not an email address"),
        ("a@x.org", "owner", PASSWORD, "the role is admin or analyst"),
    ],
)
async def test_an_account_that_cannot_be_made_says_why(engine, email, role, password, said) -> None:
    with pytest.raises(AccountError, match=said):
        await create_user(engine, email=email, organisation="O", role=role, password=password)


async def test_one_account_per_email(engine) -> None:
    await create_user(engine, email="a@x.org", organisation="O", role="admin", password=PASSWORD)
    with pytest.raises(AccountError, match=r"already an account for a@x\.org"):
        await create_user(
            engine, email="A@X.org", organisation="P", role="admin", password=PASSWORD
        )
