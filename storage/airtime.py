"""Airtime thank-yous in SQL: owed for each complete response matched to a wave of a
study that gives one, recorded once per graduate and wave (UNIQUE respondent, wave),
claimed before it is sent, and what came of it.

A row goes `pending` -> `sending` (claimed, committed) -> `sent` or `failed`. It is
sent with an idempotency key made of the graduate and the wave, so even a request
repeated after a crash is not paid twice by the API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import upsert_insert
from storage.schema import UtcDateTime, airtime, respondents, responses, study_waves
from storage.studies import StoredStudy

__all__ = ["Owed", "claim_airtime", "owe_airtime", "record_airtime", "waiting_airtime"]


@dataclass(frozen=True, slots=True)
class Owed:
    id: int
    respondent_id: int
    wave_id: int
    phone: str
    amount: str  # "KES 20"

    @property
    def key(self) -> str:
        """The idempotency key: one thank-you per graduate and wave."""
        return f"st-airtime-{self.respondent_id}-{self.wave_id}"


async def owe_airtime(conn: AsyncConnection, study: StoredStudy, now: dt.datetime) -> int:
    """Record a thank-you for every complete response matched to one of the study's
    waves that has none yet; how many were recorded."""
    if not study.airtime:
        return 0
    rows = (
        select(
            literal(study.id),
            responses.c.wave_id,
            responses.c.respondent_id,
            literal(study.airtime),
            literal("pending"),
            literal(now, UtcDateTime()),
        )
        .join_from(responses, study_waves, study_waves.c.id == responses.c.wave_id)
        .where(study_waves.c.study_id == study.id, responses.c.status == "complete")
        .distinct()
    )
    result = await conn.execute(
        upsert_insert(conn, airtime)
        .from_select(
            ["study_id", "wave_id", "respondent_id", "amount", "status", "created_at"], rows
        )
        .on_conflict_do_nothing(index_elements=[airtime.c.respondent_id, airtime.c.wave_id])
    )
    return max(result.rowcount or 0, 0)


async def waiting_airtime(conn: AsyncConnection, limit: int) -> list[Owed]:
    rows = await conn.execute(
        select(
            airtime.c.id,
            airtime.c.respondent_id,
            airtime.c.wave_id,
            respondents.c.phone,
            airtime.c.amount,
        )
        .join_from(airtime, respondents, respondents.c.id == airtime.c.respondent_id)
        .where(airtime.c.status == "pending")
        .order_by(airtime.c.id)
        .limit(limit)
    )
    return [Owed(*row) for row in rows]


async def claim_airtime(conn: AsyncConnection, ids: Sequence[int], now: dt.datetime) -> set[int]:
    if not ids:
        return set()
    result = await conn.execute(
        update(airtime)
        .where(airtime.c.id.in_(ids), airtime.c.status == "pending")
        .values(status="sending", sent_at=now)
        .returning(airtime.c.id)
    )
    return set(result.scalars())


async def record_airtime(
    conn: AsyncConnection, results: Sequence[tuple[int, str, str | None, str | None]]
) -> None:
    """(id, status "sent" or "failed", the API's requestId, why it failed)."""
    if results:
        await conn.execute(
            update(airtime)
            .where(airtime.c.id == bindparam("b_id"))
            .values(
                status=bindparam("b_status"),
                request_id=bindparam("b_request"),
                error=bindparam("b_error"),
            ),
            [{"b_id": i, "b_status": s, "b_request": r, "b_error": e} for i, s, r, e in results],
        )
