"""A small fake Asterisk for tests: it connects to our FastAGI server on a real TCP
socket, writes a raw `agi_*` block, then answers each command from a script and
records every command line it received, so a test can assert the exact AGI sent.

    peer = AgiPeer([
        ("ANSWER", "200 result=0"),
        ("STREAM FILE", "200 result=0 endpos=8000"),
        ("GET DATA", "200 result=1 (timeout)"),
        HANGUP,                       # the caller hangs up here
    ])
    result = await peer.call(port)
    assert result.commands == ["ANSWER", 'STREAM FILE welcome "12#"', "GET DATA q1 5000 4"]

A step is (expected command prefix, reply line or lines, or None to stay silent as
Asterisk does while a caller thinks), `HANGUP` (write the line
Asterisk sends when the caller hangs up, unprompted) or `CLOSE` (drop the connection).
A command that does not start with the expected prefix, or arrives after the script
has run out, is answered `510 Invalid or unknown command` and listed in `unexpected`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

HANGUP = "HANGUP"
CLOSE = "CLOSE"

Step = tuple[str, str | Sequence[str] | None] | str


def agi_environment(
    script: str = "survey",
    *,
    caller_id: str = "254712345678",
    extension: str = "5000",
    args: Sequence[str] = (),
    **overrides: str,
) -> dict[str, str]:
    """The block Asterisk 22 writes for ``AGI(agi://127.0.0.1:4573/<script>,args...)``
    from a Local channel, in its order; `overrides` replace or add `agi_<name>` lines."""
    environment = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:4573/{script}",
        "agi_channel": "Local/s@respondent-00000001;2",
        "agi_language": "en",
        "agi_type": "Local",
        "agi_uniqueid": "1718000000.1",
        "agi_version": "22.0.0",
        "agi_callerid": caller_id,
        "agi_calleridname": "unknown",
        "agi_callingpres": "0",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": "unknown",
        "agi_rdnis": "unknown",
        "agi_context": "survey",
        "agi_extension": extension,
        "agi_priority": "2",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "140000000000000",
    }
    for index, value in enumerate(args, start=1):
        environment[f"agi_arg_{index}"] = value
    environment.update({f"agi_{name}": value for name, value in overrides.items()})
    return environment


def environment_block(environment: Mapping[str, str]) -> bytes:
    return b"".join(f"{key}: {value}\n".encode() for key, value in environment.items()) + b"\n"


@dataclass
class PeerResult:
    """What the fake Asterisk saw: every command line, those the script did not
    expect, and whether the server closed the connection (rather than us)."""

    commands: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    closed_by_server: bool = False


class AgiPeer:
    def __init__(
        self,
        script: Sequence[Step] = (),
        environment: Mapping[str, str] | None = None,
        *,
        raw_block: bytes | None = None,
    ) -> None:
        self.script = list(script)
        self.environment = agi_environment() if environment is None else dict(environment)
        self.raw_block = raw_block

    async def call(self, port: int, host: str = "127.0.0.1", within: float = 5.0) -> PeerResult:
        """Connect, play the script, and return when the server closes the
        connection (or CLOSE drops it). Fails the test after `within` seconds."""
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                return await self._converse(reader, writer)
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

    async def _converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> PeerResult:
        result = PeerResult()
        block = (
            self.raw_block if self.raw_block is not None else environment_block(self.environment)
        )
        writer.write(block)
        await writer.drain()
        steps = list(self.script)
        while True:
            while steps and steps[0] in (HANGUP, CLOSE):
                if steps.pop(0) == CLOSE:
                    return result
                writer.write(b"HANGUP\n")
                await writer.drain()
            try:
                raw = await reader.readline()
            except ConnectionError:
                raw = b""
            if not raw:
                result.closed_by_server = True
                return result
            line = raw.decode().rstrip("\n")
            result.commands.append(line)
            step = steps.pop(0) if steps else None
            if step is None or not line.startswith(step[0]):
                result.unexpected.append(line)
                replies: Sequence[str] = ["510 Invalid or unknown command"]
            else:
                reply = step[1]
                replies = [] if reply is None else [reply] if isinstance(reply, str) else reply
            writer.write(b"".join(f"{reply}\n".encode() for reply in replies))
            try:
                await writer.drain()
            except ConnectionError:
                result.closed_by_server = True
                return result
