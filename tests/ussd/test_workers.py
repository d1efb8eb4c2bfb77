"""Several stateless workers behind a load balancer, sharing PostgreSQL and Redis: a
session's hops may reach any of them, and every answer is stored once."""

from __future__ import annotations

import pytest

from tests.ussd.phones import Handset

pytestmark = pytest.mark.postgres


async def test_hops_alternating_between_workers_store_every_answer_once(two_workers):
    a, b = two_workers
    on_a = Handset(a, "+254712345630")
    on_b = on_a.on(b)
    await on_a.dial()
    await on_b.send("1")  # English
    await on_a.send("1")  # consent
    await on_b.send("1")  # in wage work
    screen = await on_a.send("12")  # months: worker a last saw the text before "1*1"
    assert "related" in screen.lower()
    assert await on_b.repeat() == screen  # the gateway retries on the other worker
    stored = await a.answers_of(on_a.number)
    assert stored == {"consent": "yes", "employed": "wage", "months_to_job": "12"}
    assert await a.answer_rows(on_a.number) == 3


async def test_a_session_lost_from_redis_continues_from_sql_on_another_worker(two_workers):
    a, b = two_workers
    on_a = Handset(a, "+254712345631")
    await on_a.dial()
    await on_a.send("1")
    await on_a.send("1")
    await on_a.send("1")
    await a.forget_sessions(on_a)  # FLUSHDB
    screen = await on_a.on(b).send("12")  # a worker that never saw this session
    assert "related" in screen.lower()
    stored = await b.answers_of(on_a.number)
    assert stored == {"consent": "yes", "employed": "wage", "months_to_job": "12"}


async def test_one_worker_carries_on_when_redis_lost_the_record(two_workers):
    a, _ = two_workers
    phone = Handset(a, "+254712345632")
    await phone.dial()
    await phone.send("1")
    await phone.send("1")
    await a.forget_sessions(phone)
    screen = await phone.send("1")
    assert "month" in screen.lower()
    assert await a.answers_of(phone.number) == {"consent": "yes", "employed": "wage"}
