"""The invitations the worker sends, in SQL: the ones ready to go, claiming them before
a send, and what came of it.

An invitation goes `pending` (recorded, waiting for its time) -> `sending` (claimed by
one worker, committed before the request leaves) -> `sent` (the gateway took it; its
message id is kept for the delivery report) or `failed` (with why). Claiming is a
conditional UPDATE: of two workers only one gets a row, so none is sent twice. A
worker killed between a claim and the record of its result leaves the row `sending`:
it is never sent again (it may have gone), and `study status` can show it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import upsert_insert
from storage.schema import (
    UtcDateTime,
    entry_points,
    invitations,
    respondents,
    studies,
    study_waves,
)
from storage.studies import PENDING, answered

__all__ = [
    "FAILED",
    "SENDING",
    "SENT",
    "Outgoing",
    "SentInvitation",
    "cancel",
    "cancel_answered",
    "claim",
    "invitations_for",
    "opt_out",
    "postpone",
    "ready",
    "record_delivery",
    "record_failed",
    "record_sent",
    "retry",
    "ussd_codes",
]

SENDING, SENT, FAILED, CANCELLED = "sending", "sent", "failed", "cancelled"


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    study_id: int
    wave_id: int
    respondent_id: int
    attempt: int
    channel: str
    phone: str
    name: str
    language: str | None
    programme: str
    time_zone: str | None
    opted_out: bool


async def ready(
    conn: AsyncConnection, now: dt.datetime, *, channel: str, limit: int
) -> list[Outgoing]:
    """Pending invitations on `channel` whose time has come, oldest first."""
    rows = await conn.execute(
        select(
            invitations.c.id,
            invitations.c.study_id,
            invitations.c.wave_id,
            invitations.c.respondent_id,
            invitations.c.attempt,
            invitations.c.channel,
            respondents.c.phone,
            respondents.c.name,
            respondents.c.language,
            respondents.c.programme,
            respondents.c.time_zone,
            respondents.c.opted_out_at.is_not(None).label("opted_out"),
        )
        .join_from(invitations, respondents, respondents.c.id == invitations.c.respondent_id)
        .where(
            invitations.c.status == PENDING,
            invitations.c.channel == channel,
            invitations.c.send_after <= now,
        )
        .order_by(invitations.c.send_after, invitations.c.id)
        .limit(limit)
    )
    return [Outgoing(**row._mapping) for row in rows]


async def postpone(conn: AsyncConnection, moves: Sequence[tuple[int, dt.datetime]]) -> None:
    """Invitations outside contact hours wait for the next window."""
    if moves:
        await conn.execute(
            update(invitations)
            .where(invitations.c.id == bindparam("b_id"), invitations.c.status == PENDING)
            .values(send_after=bindparam("b_at", type_=UtcDateTime())),
            [{"b_id": i, "b_at": at} for i, at in moves],
        )


async def cancel(conn: AsyncConnection, ids: Sequence[int], why: str) -> None:
    """Pending invitations that must not go (the graduate opted out meanwhile)."""
    if ids:
        await conn.execute(
            update(invitations)
            .where(invitations.c.id.in_(ids), invitations.c.status == PENDING)
            .values(status=CANCELLED, error=why)
        )


async def claim(conn: AsyncConnection, ids: Sequence[int], now: dt.datetime) -> set[int]:
    """The ids this worker may send: pending until now, `sending` from now on."""
    if not ids:
        return set()
    result = await conn.execute(
        update(invitations)
        .where(invitations.c.id.in_(ids), invitations.c.status == PENDING)
        .values(status=SENDING, sent_at=now)
        .returning(invitations.c.id)
    )
    return set(result.scalars())


async def record_sent(conn: AsyncConnection, sent: Sequence[tuple[int, str | None]]) -> None:
    """The gateway took these; their message ids match the delivery reports."""
    if sent:
        await conn.execute(
            update(invitations)
            .where(invitations.c.id == bindparam("b_id"))
            .values(status=SENT, provider_ref=bindparam("b_ref")),
            [{"b_id": i, "b_ref": ref} for i, ref in sent],
        )


async def record_failed(conn: AsyncConnection, failed: Sequence[tuple[int, str]]) -> None:
    if failed:
        await conn.execute(
            update(invitations)
            .where(invitations.c.id == bindparam("b_id"))
            .values(status=FAILED, error=bindparam("b_error")),
            [{"b_id": i, "b_error": why[:1000]} for i, why in failed],
        )


async def retry(
    conn: AsyncConnection, earlier: Outgoing, at: dt.datetime, now: dt.datetime
) -> None:
    """The next attempt on the same channel, recorded now and sent from `at`; recorded
    once even if two workers ask (its key is the respondent, wave and attempt)."""
    await conn.execute(
        upsert_insert(conn, invitations).values(
            study_id=earlier.study_id, wave_id=earlier.wave_id,
            respondent_id=earlier.respondent_id, attempt=earlier.attempt + 1,
            channel=earlier.channel, status=PENDING, created_at=now, send_after=at,
        ).on_conflict_do_nothing(
            index_elements=[
                invitations.c.respondent_id, invitations.c.wave_id, invitations.c.attempt,
            ]
        )
    )  # fmt: skip


async def ussd_codes(conn: AsyncConnection, survey_ids: Sequence[int]) -> dict[int, str]:
    """The USSD code an invitation asks each survey's graduates to dial (its first)."""
    rows = await conn.execute(
        select(entry_points.c.survey_id, entry_points.c.address)
        .where(entry_points.c.survey_id.in_(survey_ids), entry_points.c.channel == "ussd")
        .order_by(entry_points.c.id)
    )
    found: dict[int, str] = {}
    for survey_id, address in rows:
        found.setdefault(survey_id, address)
    return found


async def record_delivery(
    conn: AsyncConnection, message_id: str, status: str, reason: str, at: dt.datetime
) -> bool:
    """A delivery report for the invitation the gateway gave `message_id`: its status
    (and why it failed) kept; False when no invitation has that id."""
    result = await conn.execute(
        update(invitations)
        .where(invitations.c.provider_ref == message_id)
        .values(
            delivery_status=status[:16],
            delivery_at=at,
            error=reason[:1000] if reason else invitations.c.error,
        )
    )
    return bool(result.rowcount)


async def opt_out(conn: AsyncConnection, phone: str, at: dt.datetime) -> int:
    """The number asked never to be contacted again: every organisation's respondent of
    that number is opted out and their waiting invitations cancelled. How many
    respondents."""
    theirs = select(respondents.c.id).where(respondents.c.phone == phone)
    result = await conn.execute(
        update(respondents)
        .where(respondents.c.phone == phone, respondents.c.opted_out_at.is_(None))
        .values(opted_out_at=at, updated_at=at)
    )
    await conn.execute(
        update(invitations)
        .where(invitations.c.respondent_id.in_(theirs), invitations.c.status == PENDING)
        .values(status=CANCELLED, error="opted out")
    )
    return result.rowcount or 0


async def cancel_answered(conn: AsyncConnection) -> int:
    """Waiting invitations (retries, reminders) of graduates who have since answered
    that wave, on any channel: cancelled. How many."""
    result = await conn.execute(
        update(invitations)
        .where(
            invitations.c.status == PENDING,
            answered(invitations.c.wave_id, invitations.c.respondent_id),
        )
        .values(status=CANCELLED, error="answered")
    )
    return result.rowcount or 0


@dataclass(frozen=True, slots=True)
class SentInvitation:
    """One invitation as the respondent's page shows it."""

    study: str
    wave: str
    attempt: int
    channel: str
    status: str
    send_after: dt.datetime
    sent_at: dt.datetime | None
    delivery_status: str | None
    error: str | None


async def invitations_for(
    conn: AsyncConnection, organisation_id: int, respondent_id: int
) -> list[SentInvitation]:
    """The respondent's invitations, newest first, when the respondent is the
    organisation's (through its studies: another organisation's are never shown)."""
    rows = await conn.execute(
        select(
            studies.c.name.label("study"),
            study_waves.c.name.label("wave"),
            invitations.c.attempt,
            invitations.c.channel,
            invitations.c.status,
            invitations.c.send_after,
            invitations.c.sent_at,
            invitations.c.delivery_status,
            invitations.c.error,
        )
        .join_from(invitations, studies, studies.c.id == invitations.c.study_id)
        .join(study_waves, study_waves.c.id == invitations.c.wave_id)
        .where(
            invitations.c.respondent_id == respondent_id,
            studies.c.organisation_id == organisation_id,
        )
        .order_by(invitations.c.id.desc())
    )
    return [SentInvitation(**row._mapping) for row in rows]
