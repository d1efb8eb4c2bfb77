"""Session stores: Redis (shared by workers) and in-process memory (one worker)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from storage.sessions import MemorySessionStore, RedisSessionStore


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[RedisSessionStore]:
    store = RedisSessionStore.from_url(redis_url, key_prefix="test:")
    yield store
    await store.close()


@pytest.mark.redis
async def test_redis_keeps_bytes_until_deleted(redis_store: RedisSessionStore) -> None:
    assert await redis_store.ping() is True
    assert await redis_store.get("ussd:at:1") is None
    await redis_store.set("ussd:at:1", b"\x00state\xff", ttl_seconds=60)
    assert await redis_store.get("ussd:at:1") == b"\x00state\xff"
    await redis_store.set("ussd:at:1", b"newer", ttl_seconds=60)
    assert await redis_store.get("ussd:at:1") == b"newer"
    await redis_store.delete("ussd:at:1")
    assert await redis_store.get("ussd:at:1") is None
    await redis_store.delete("ussd:at:1")  # deleting twice is fine


@pytest.mark.redis
async def test_redis_sessions_expire_after_their_ttl(
    redis_store: RedisSessionStore, redis_url: str
) -> None:
    await redis_store.set("long", b"x", ttl_seconds=180)
    await redis_store.set("short", b"y", ttl_seconds=1)
    client = Redis.from_url(redis_url)
    try:
        assert 170 <= await client.ttl("test:long") <= 180  # the prefix is applied
    finally:
        await client.aclose()
    await asyncio.sleep(1.1)
    assert await redis_store.get("short") is None
    assert await redis_store.get("long") == b"x"


@pytest.mark.redis
async def test_redis_ping_is_false_when_redis_is_unreachable() -> None:
    store = RedisSessionStore.from_url("redis://127.0.0.1:9/0", socket_timeout=0.5)
    try:
        assert await store.ping() is False
    finally:
        await store.close()


@pytest.mark.redis
async def test_a_ttl_must_be_positive(redis_store: RedisSessionStore) -> None:
    for store in (MemorySessionStore(), redis_store):
        with pytest.raises(ValueError, match="positive"):
            await store.set("k", b"v", ttl_seconds=0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_sessions_expire_on_the_injected_clock() -> None:
    clock = FakeClock()
    store = MemorySessionStore(now=clock)
    await store.set("a", b"1", ttl_seconds=60)
    clock.now += 59.9
    assert await store.get("a") == b"1"
    clock.now += 0.1
    assert await store.get("a") is None
    assert len(store) == 0
    assert await store.ping() is True


async def test_memory_store_is_bounded_and_drops_the_oldest_first() -> None:
    clock = FakeClock()
    store = MemorySessionStore(max_entries=3, now=clock)
    for key in "abcd":
        await store.set(key, key.encode(), ttl_seconds=60)
    assert len(store) == 3
    assert await store.get("a") is None
    assert [await store.get(k) for k in "bcd"] == [b"b", b"c", b"d"]

    # Rewriting a session makes it the newest; expired ones go before live ones.
    await store.set("b", b"b2", ttl_seconds=60)
    clock.now += 61
    await store.set("e", b"e", ttl_seconds=60)
    assert len(store) == 1
    assert await store.get("e") == b"e"


async def test_memory_delete() -> None:
    store = MemorySessionStore()
    await store.set("a", b"1", ttl_seconds=5)
    await store.delete("a")
    await store.delete("a")
    assert await store.get("a") is None
