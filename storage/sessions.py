"""Session stores: the engine's `SessionStore` port on Redis, or in this process.

Sessions hold only what a live USSD or voice session needs between hops and expire
on their own; SQL keeps the answers, so a lost session resumes from there.

`RedisSessionStore` is what several workers share. `MemorySessionStore` serves a single
process (the embedded demo, tests): bounded, so a flood of dials cannot exhaust memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["MemorySessionStore", "RedisSessionStore"]


def _check_ttl(ttl_seconds: int) -> None:
    if ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")


class RedisSessionStore:
    """Sessions in Redis, each key with its own expiry (SET ... EX)."""

    def __init__(self, redis: Redis, *, key_prefix: str = "") -> None:
        self._redis = redis
        self._prefix = key_prefix

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        key_prefix: str = "",
        connect_timeout: float = 2.0,
        socket_timeout: float | None = None,
    ) -> RedisSessionStore:
        """A store on a new client for `url` (`redis://host:6379/0`).

        Connecting times out quickly. Commands have no timeout of their own by default:
        redis-py wraps every send in `asyncio.wait_for` when they do (a new task per
        command, 3 % of a USSD worker's CPU); the USSD route bounds the whole hop with
        one deadline instead, so a stuck Redis fails the hop rather than hanging it."""
        client = Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=connect_timeout
        )
        return cls(client, key_prefix=key_prefix)

    async def get(self, key: str) -> bytes | None:
        # The client must not decode responses (`from_url` makes one that does not).
        return await self._redis.get(self._prefix + key)  # type: ignore[no-any-return]

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        _check_ttl(ttl_seconds)
        await self._redis.set(self._prefix + key, value, ex=ttl_seconds)

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()


class MemorySessionStore:
    """Sessions in a dict of this process, for one worker.

    At most `max_entries` sessions are kept: when full, the least recently written one
    is dropped (its respondent resumes from SQL, as after any lost session). `now` is
    the clock, in seconds, injected by tests."""

    def __init__(
        self, *, max_entries: int = 100_000, now: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max_entries = max_entries
        self._now = now
        # key -> (expires_at, value), least recently written first.
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires_at, value = found
        if expires_at <= self._now():
            del self._entries[key]
            return None
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        _check_ttl(ttl_seconds)
        now = self._now()
        self._entries[key] = (now + ttl_seconds, value)
        self._entries.move_to_end(key)
        self._drop_expired_oldest(now)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def _drop_expired_oldest(self, now: float) -> None:
        # The oldest writes are the likeliest to have expired: sweeping from that end
        # keeps the dict near its live size at a constant cost per write.
        while self._entries:
            key, (expires_at, _) = next(iter(self._entries.items()))
            if expires_at > now:
                return
            del self._entries[key]

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def ping(self) -> bool:
        return True
