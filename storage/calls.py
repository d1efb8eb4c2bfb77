"""`SqlCallLog`: the engine's `CallLog` port on SQLite or PostgreSQL (table `calls`).

Each method is one short Core statement in its own transaction: a call's row is
written when the call is placed, so a call that never gets an outcome (the process
stopped) still shows that it was placed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.schema import calls
from survey_engine.ports import CallOutcome, CallRecord

__all__ = ["SqlCallLog"]


class SqlCallLog:
    """`survey_engine.ports.CallLog` on the service's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def call_placed(self, survey_id: int, phone: str, *, now: dt.datetime) -> int:
        async with self._engine.begin() as conn:
            return (
                await conn.execute(
                    calls.insert()
                    .values(survey_id=survey_id, phone=phone, placed_at=now)
                    .returning(calls.c.id)
                )
            ).scalar_one()

    async def call_outcome(
        self,
        call_id: int,
        outcome: CallOutcome,
        *,
        reason: int | None,
        unique_id: str | None,
        channel: str | None,
        error: str | None,
        now: dt.datetime,
    ) -> None:
        values: dict[str, object] = {
            "outcome": outcome.value,
            "reason": reason,
            "unique_id": unique_id,
            "channel": channel,
            "error": error,
        }
        if outcome is not CallOutcome.ANSWERED:
            values["ended_at"] = now
        async with self._engine.begin() as conn:
            await conn.execute(calls.update().where(calls.c.id == call_id).values(**values))

    async def call_ended(self, call_id: int, *, now: dt.datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                calls.update()
                .where(calls.c.id == call_id, calls.c.ended_at.is_(None))
                .values(ended_at=now)
            )

    async def get_call(self, call_id: int) -> CallRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(calls).where(calls.c.id == call_id))).first()
        if row is None:
            return None
        return CallRecord(
            id=row.id,
            survey_id=row.survey_id,
            phone=row.phone,
            placed_at=row.placed_at,
            ended_at=row.ended_at,
            outcome=CallOutcome(row.outcome) if row.outcome is not None else None,
            reason=row.reason,
            unique_id=row.unique_id,
            channel=row.channel,
            error=row.error,
        )
