"""The real Asterisk the IVR tests stand on: AMI answers, a call can be placed, and the
`[survey]` context reaches a FastAGI server with the keys a scripted caller presses."""

from __future__ import annotations

import asyncio

import pytest
from panoramisk import Manager

from tests.e2e.asterisk import AsteriskSandbox

pytestmark = pytest.mark.asterisk


def _originate(channel: str, context: str, variables: dict[str, str]) -> dict[str, object]:
    return {
        "Action": "Originate",
        "Channel": channel,
        "Context": context,
        "Exten": "s",
        "Priority": "1",
        "Async": "true",
        "Timeout": "10000",
        "Variable": [f"{name}={value}" for name, value in variables.items()],
    }


async def _wait_for_log(asterisk: AsteriskSandbox, since: int, text: str) -> str:
    for _ in range(100):
        log = asterisk.log(since)
        if text in log:
            return log
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in Asterisk's log:\n{asterisk.log(since)}")


async def test_ami_login_and_ping(ami: Manager) -> None:
    response = await asyncio.wait_for(ami.send_action({"Action": "Ping"}), 10)

    assert response.success
    assert response.Ping == "Pong"


async def test_originate_plays_a_file_and_hangs_up(asterisk: AsteriskSandbox, ami: Manager) -> None:
    since = asterisk.log_size()

    messages = await asyncio.wait_for(
        ami.send_action(
            _originate("Local/s@respondent", "sandbox-playback", {"LINGER": "10"}), as_list=True
        ),
        20,
    )

    outcome = [m for m in messages if m.get("Event") == "OriginateResponse"]
    assert [m.get("Response") for m in outcome] == ["Success"], messages
    assert outcome[0].get("Channel", "").startswith("Local/s@respondent")
    log = await _wait_for_log(asterisk, since, "Spawn extension (sandbox-playback, s, 3)")
    assert "Playing 'hello-world.gsm'" in log
    assert "does not exist" not in log


async def test_survey_context_reaches_fastagi_with_the_key_pressed(
    asterisk: AsteriskSandbox, ami: Manager
) -> None:
    session: asyncio.Future[tuple[dict[str, str], str]] = asyncio.get_running_loop().create_future()

    async def fastagi(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        environment: dict[str, str] = {}
        while (line := (await reader.readline()).decode().rstrip("\n")) != "":
            name, _, value = line.partition(": ")
            environment[name] = value
        writer.write(b"WAIT FOR DIGIT 5000\n")
        await writer.drain()
        reply = (await reader.readline()).decode().strip()
        writer.write(b"HANGUP\n")
        await writer.drain()
        writer.close()
        if not session.done():
            session.set_result((environment, reply))

    server = await asyncio.start_server(fastagi, asterisk.agi_host, asterisk.agi_port)
    try:
        # The caller waits for the AGI to start collecting: a key pressed while no
        # command collects is thrown away.
        script = {"WAIT1": "1.5", "KEYS1": "1", "LINGER": "6"}
        messages = await asyncio.wait_for(
            ami.send_action(_originate("Local/s@respondent", "survey", script), as_list=True), 20
        )
        environment, reply = await asyncio.wait_for(session, 20)
    finally:
        server.close()
        await server.wait_closed()

    assert [m.get("Response") for m in messages if m.get("Event") == "OriginateResponse"] == [
        "Success"
    ]
    assert environment["agi_network_script"] == "survey"
    assert environment["agi_request"] == f"agi://127.0.0.1:{asterisk.agi_port}/survey"
    assert environment["agi_context"] == "survey"
    assert reply == "200 result=49"  # '1'
