"""Uploads held between a preview and its confirmation (the admin site's roster import).

An officer sends a file, reads the preview, then confirms. The file is kept here, in
SQL, rather than sent back by the browser: what is imported is exactly what was
previewed, nothing the client sends is trusted but a random token, and any worker behind
the load balancer can take the confirmation (a temporary file on one worker's disk
could not). The token is stored only as its SHA-256, like session keys, and opens the
upload only for the member of staff who sent it, within their organisation, for
`HOLD_FOR`. Taking an upload deletes it in the caller's transaction, so a double click
on "Import" imports once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import connected
from storage.schema import admin_uploads

__all__ = ["HOLD_FOR", "HeldUpload", "held_upload", "hold_upload", "take_upload"]

HOLD_FOR = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class HeldUpload:
    filename: str
    content: bytes
    sha256: str  # of the content, for the audit log
    held_at: dt.datetime


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def hold_upload(
    engine: AsyncEngine,
    *,
    user_id: int,
    organisation_id: int,
    kind: str,
    filename: str,
    content: bytes,
    now: dt.datetime | None = None,
) -> str:
    """Keep `content` for its sender; returns the token that opens it again. Uploads
    held longer than `HOLD_FOR` (anyone's, never confirmed) are deleted on the way."""
    now = now or dt.datetime.now(dt.UTC)
    token = secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        await conn.execute(delete(admin_uploads).where(admin_uploads.c.held_at < now - HOLD_FOR))
        await conn.execute(
            admin_uploads.insert().values(
                key=_key(token),
                user_id=user_id,
                organisation_id=organisation_id,
                kind=kind,
                filename=filename[:255],
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                held_at=now,
            )
        )
    return token


def _mine(token: str, user_id: int, organisation_id: int, kind: str, now: dt.datetime) -> list:
    return [
        admin_uploads.c.key == _key(token),
        admin_uploads.c.user_id == user_id,
        admin_uploads.c.organisation_id == organisation_id,
        admin_uploads.c.kind == kind,
        admin_uploads.c.held_at >= now - HOLD_FOR,
    ]


async def held_upload(
    bind: AsyncEngine | AsyncConnection,
    token: str,
    *,
    user_id: int,
    organisation_id: int,
    kind: str,
    now: dt.datetime | None = None,
) -> HeldUpload | None:
    """The upload `token` opens for this user, or None (unknown, someone else's,
    already taken, or older than `HOLD_FOR`)."""
    where = _mine(token, user_id, organisation_id, kind, now or dt.datetime.now(dt.UTC))
    async with connected(bind) as conn:
        row = (
            await conn.execute(
                select(
                    admin_uploads.c.filename,
                    admin_uploads.c.content,
                    admin_uploads.c.sha256,
                    admin_uploads.c.held_at,
                ).where(*where)
            )
        ).first()
    if row is None:
        return None
    return HeldUpload(row.filename, row.content, row.sha256, row.held_at)


async def take_upload(
    conn: AsyncConnection,
    token: str,
    *,
    user_id: int,
    organisation_id: int,
    kind: str,
    now: dt.datetime | None = None,
) -> bool:
    """Delete the upload in the caller's transaction; False when it was not there to
    take (a second confirmation, racing or late, must then import nothing)."""
    where = _mine(token, user_id, organisation_id, kind, now or dt.datetime.now(dt.UTC))
    result = await conn.execute(delete(admin_uploads).where(*where))
    return result.rowcount == 1
