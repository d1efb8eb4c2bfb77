"""Failed sign-ins, counted per account and per address (OWASP ASVS 2.2.1).

After `ACCOUNT_LIMIT` failures for one email, or `ADDRESS_LIMIT` from one address,
within `WINDOW`, further attempts are refused without checking the password until the
window that began with the first failure ends. A success clears the account's count
(not the address's: one right password must not reset a guessing spree). Counts are
kept in Redis when there is one, so every worker shares them, else in SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.schema import login_throttle

__all__ = ["ACCOUNT_LIMIT", "ADDRESS_LIMIT", "WINDOW", "LoginThrottle"]

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = dt.timedelta(minutes=15)


class _Counts(Protocol):
    async def failures(self, key: str) -> tuple[int, dt.datetime | None]: ...
    async def add_failure(self, key: str) -> None: ...
    async def clear(self, key: str) -> None: ...


@dataclass(slots=True)
class RedisCounts:
    redis: Redis

    async def failures(self, key: str) -> tuple[int, dt.datetime | None]:
        name = f"st:admin:throttle:{key}"
        count, ttl = await self.redis.get(name), await self.redis.ttl(name)
        if count is None or ttl is None or ttl < 0:
            return 0, None
        return int(count), dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)

    async def add_failure(self, key: str) -> None:
        name = f"st:admin:throttle:{key}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, int(WINDOW.total_seconds()), nx=True)
            await pipe.execute()

    async def clear(self, key: str) -> None:
        await self.redis.delete(f"st:admin:throttle:{key}")


@dataclass(slots=True)
class SqlCounts:
    engine: AsyncEngine

    async def failures(self, key: str) -> tuple[int, dt.datetime | None]:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(login_throttle).where(login_throttle.c.key == key))
            ).first()
        if row is None:
            return 0, None
        ends = row.window_started_at + WINDOW
        if ends <= dt.datetime.now(dt.UTC):
            return 0, None
        return int(row.failures), ends

    async def add_failure(self, key: str) -> None:
        now = dt.datetime.now(dt.UTC)
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(login_throttle).where(login_throttle.c.key == key).with_for_update()
                )
            ).first()
            if row is not None and row.window_started_at + WINDOW > now:
                await conn.execute(
                    login_throttle.update()
                    .where(login_throttle.c.key == key)
                    .values(failures=login_throttle.c.failures + 1)
                )
                return
            await conn.execute(delete(login_throttle).where(login_throttle.c.key == key))
            await conn.execute(
                login_throttle.insert().values(key=key, failures=1, window_started_at=now)
            )

    async def clear(self, key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(login_throttle).where(login_throttle.c.key == key))


class LoginThrottle:
    def __init__(self, counts: _Counts) -> None:
        self.counts = counts

    @staticmethod
    def keys(email: str, address: str) -> tuple[str, str]:
        return f"acct:{email.strip().lower()[:320]}", f"addr:{address[:64]}"

    async def locked_until(self, email: str, address: str) -> dt.datetime | None:
        """When sign-ins for this email or from this address may be tried again, if
        they are refused now."""
        account, place = self.keys(email, address)
        until = None
        for key, limit in ((account, ACCOUNT_LIMIT), (place, ADDRESS_LIMIT)):
            failures, ends = await self.counts.failures(key)
            if failures >= limit and ends is not None:
                until = ends if until is None else max(until, ends)
        return until

    async def failed(self, email: str, address: str) -> None:
        for key in self.keys(email, address):
            await self.counts.add_failure(key)

    async def succeeded(self, email: str, address: str) -> None:
        await self.counts.clear(self.keys(email, address)[0])
