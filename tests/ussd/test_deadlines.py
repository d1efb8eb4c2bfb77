"""A hop that outlives its deadline is answered with a polite END, not left hanging."""

from __future__ import annotations

import asyncio
import logging
import time

from service_tracker.app import create_app
from service_tracker.config import Settings
from service_tracker.keys import DATABASE, SESSIONS
from storage.surveys import import_survey
from tests.conftest import empty_tables
from tests.ussd.phones import TRACER_CODE, TRACER_XLSX
from ussd.routes import DEADLINES, HopDeadlines


async def test_a_task_past_its_deadline_is_cancelled_and_a_quick_one_is_not():
    deadlines = HopDeadlines(0.2, tick=0.02)
    outcome: dict[str, bool] = {}

    async def hop(name: str, seconds: float) -> None:
        task = deadlines.enter()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            outcome[name] = deadlines.leave(task)
            task.uncancel()
            return
        outcome[name] = deadlines.leave(task)

    started = time.monotonic()
    await asyncio.gather(hop("stuck", 30), hop("quick", 0.01))
    assert outcome == {"stuck": True, "quick": False}
    assert 0.2 <= time.monotonic() - started < 1.0
    await asyncio.sleep(0.05)
    assert deadlines._timer is None  # nothing running: the timer stopped


async def test_a_stuck_session_store_fails_the_hop_in_time_and_the_next_dial_works(
    aiohttp_client, sqlite_database_url, monkeypatch, caplog
):
    app = create_app(Settings(database_url=sqlite_database_url))
    app[DEADLINES] = HopDeadlines(0.3, tick=0.05)
    client = await aiohttp_client(app)
    await empty_tables(app[DATABASE])
    await import_survey(
        app[DATABASE],
        TRACER_XLSX.read_bytes(),
        filename=TRACER_XLSX.name,
        ussd_code=TRACER_CODE,
        roster_only=False,
    )
    store = app[SESSIONS]
    real_set = store.set

    async def stuck(*_args: object) -> None:
        await asyncio.sleep(60)

    monkeypatch.setattr(store, "set", stuck)
    form = {
        "sessionId": "stuck-1",
        "serviceCode": TRACER_CODE,
        "phoneNumber": "+254712345690",
        "networkCode": "63902",
        "text": "",
    }
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="service_tracker.ussd"):
        response = await client.post("/ussd/africastalking", data=form)
        body = await response.text()
    assert time.monotonic() - started < 2.0
    assert response.status == 200
    assert body == "END Sorry, something went wrong. Please dial again."
    assert "hop took longer than 0.3 s session=stuck-1" in caplog.text
    assert "+254712345690" not in caplog.text

    monkeypatch.setattr(store, "set", real_set)
    response = await client.post("/ussd/africastalking", data={**form, "sessionId": "stuck-2"})
    assert (await response.text()).startswith("CON ")
