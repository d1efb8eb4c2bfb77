"""Staff accounts of the admin site: organisations, users, passwords and the audit log.

Passwords are kept as argon2id hashes (argon2-cffi, its default parameters, which follow
RFC 9106's recommendation for memory-constrained machines). A login that names no account
still spends one hash's time, so how long a refusal takes does not tell whether the
email has an account.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.organisations import organisation_id
from storage.schema import ROLES, audit_log, organisations, users

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "AccountError",
    "User",
    "authenticate",
    "create_user",
    "organisation_id",
    "record",
]

MIN_PASSWORD_LENGTH = 12  # OWASP ASVS 2.1.1
MAX_PASSWORD_LENGTH = 128  # ASVS 2.1.2: at least 64 allowed; longer only costs hashing

_HASHER = PasswordHasher()
# Verified against when the email has no account, so both refusals cost the same.
_DUMMY_HASH = _HASHER.hash("not a password anyone has")


class AccountError(ValueError):
    """An account that cannot be made as asked; the message says why, for the operator."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    organisation_id: int
    organisation: str
    role: str  # "admin" | "analyst"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str) -> None:
    """ASVS 2.1: at least 12 characters, at most 128, any characters (spaces and
    emoji included), no composition rules."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password may have at most {MAX_PASSWORD_LENGTH} characters")


async def create_user(
    engine: AsyncEngine, *, email: str, organisation: str, role: str, password: str
) -> User:
    """A new staff account in `organisation` (made if new), audited as `user.create`."""
    email = normalise_email(email)
    organisation = " ".join(organisation.split())
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise AccountError(f"'{email}' is not an email address")
    if not organisation:
        raise AccountError("the organisation needs a name")
    if role not in ROLES:
        raise AccountError(f"the role is {' or '.join(ROLES)}, not '{role}'")
    check_password(password)
    hashed = await asyncio.to_thread(_HASHER.hash, password)
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as conn:
        taken = await conn.scalar(select(func.count()).where(users.c.email == email))
        if taken:
            raise AccountError(f"there is already an account for {email}")
        org_id = await organisation_id(conn, organisation, now)
        inserted = await conn.execute(
            users.insert()
            .values(
                email=email,
                organisation_id=org_id,
                role=role,
                password_hash=hashed,
                created_at=now,
            )
            .returning(users.c.id)
        )
        user = User(int(inserted.scalar_one()), email, org_id, organisation, role)
        await record(conn, user, "user.create", "user", user.id, detail={"role": role})
    return user


async def authenticate(engine: AsyncEngine, email: str, password: str) -> User | None:
    """The account these credentials open, or None. Its hash is upgraded when argon2's
    parameters have changed since it was made, and the login time kept."""
    email = normalise_email(email)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(users, organisations.c.name.label("organisation"))
                .join(organisations, organisations.c.id == users.c.organisation_id)
                .where(users.c.email == email)
            )
        ).first()
    stored = row.password_hash if row is not None else _DUMMY_HASH
    ok = await asyncio.to_thread(_verify, stored, password[:MAX_PASSWORD_LENGTH])
    if row is None or not ok:
        return None
    user = User(row.id, row.email, row.organisation_id, row.organisation, row.role)
    values: dict[str, Any] = {"last_login_at": dt.datetime.now(dt.UTC)}
    if _HASHER.check_needs_rehash(stored):
        values["password_hash"] = await asyncio.to_thread(_HASHER.hash, password)
    async with engine.begin() as conn:
        await conn.execute(users.update().where(users.c.id == user.id).values(**values))
    return user


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def record(
    conn: AsyncConnection,
    user: User | None,
    action: str,
    object_kind: str = "",
    object_id: object = "",
    *,
    actor: str = "",
    address: str = "",
    detail: Mapping[str, Any] | None = None,
) -> None:
    """One line of the audit log, in the caller's transaction (so an action and its
    record are stored together or not at all). Without a user (a failed sign-in), the
    line belongs to the organisation of the account `actor` names, if there is one, so
    its admins see who tried their accounts."""
    organisation = user.organisation_id if user else None
    if user is None and actor:
        organisation = await conn.scalar(
            select(users.c.organisation_id).where(users.c.email == normalise_email(actor))
        )
    await conn.execute(
        audit_log.insert().values(
            at=dt.datetime.now(dt.UTC),
            organisation_id=organisation,
            user_id=user.id if user else None,
            actor=user.email if user else actor[:320],
            action=action,
            object_kind=object_kind,
            object_id=str(object_id),
            address=address[:64],
            detail=dict(detail or {}),
        )
    )
