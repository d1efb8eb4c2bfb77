"""`service-tracker simulate ussd`: a feature phone in the terminal, on the real endpoint."""

from __future__ import annotations

import io

from service_tracker.simulator import simulate_ussd


async def test_the_simulator_shows_screens_and_hangs_up_on_end_of_input(sqlite_service):
    server = sqlite_service.client.server
    out = io.StringIO()
    code = await simulate_ussd(
        str(server.make_url("/")),
        phone="+254712345678",
        service_code="*384*123#",
        stdin=io.StringIO("1\n1\n"),
        stdout=out,
    )
    assert code == 0
    shown = out.getvalue()
    assert "│ Choose your language" in shown
    assert "│ 1. Yes, for an employer" in shown
    assert shown.rstrip().endswith("hung up")
    assert await sqlite_service.answers_of("+254712345678") == {"consent": "yes"}
    assert await sqlite_service.status_of("+254712345678") is not None
