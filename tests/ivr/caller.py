"""A simulated call: a fake Asterisk with a person on the line, speaking FastAGI to our
server on a real TCP socket.

Where `agi_peer.AgiPeer` replays an exact command script, this one behaves like
Asterisk 22 with a respondent who follows a list of actions, whatever commands the
server chooses, so a test reads like the call:

    call = SimulatedCall(["1", "42#", SPEAK, ""], caller_id="254712345678")
    seen = await call.run(port)

Actions, consumed in order by the commands that collect input:

- keys, such as ``"1"`` or ``"42#"``: typed when a command collects (GET DATA, WAIT
  FOR DIGIT, or a STREAM FILE whose escape digits include the first key). A leading
  ``!`` presses the first key during the first sound of the prompt (barge-in);
  without it the caller listens to every STREAM FILE to its end first. A key pressed
  during a STREAM FILE that does not take it is thrown away, as Asterisk does.
- ``""`` (`SILENCE`): the caller says nothing; the collecting command times out.
- `SPEAK` / `QUIET`: at the next RECORD FILE the caller speaks (a tone is written to
  the file, then ``#``) or stays silent (zeros, then the silence timeout).
- `SPEAK_THEN_HANG_UP`: speaks, then hangs up during the recording.
- `HANG_UP`: the caller hangs up at the next command that collects.

When the actions run out, the caller hangs up at the next command that collects.
Files are checked as Asterisk would: an absolute name must exist with `.wav`, else
the reply is ``result=-1 endpos=0`` and the name is listed in `missing` (Asterisk's
log would say "does not exist"); Asterisk's own sounds are known by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shlex
import struct
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ivr.server import AgiServer
from tests.ivr.agi_peer import agi_environment, environment_block

SILENCE = ""
SPEAK = "<speak>"
QUIET = "<quiet>"
SPEAK_THEN_HANG_UP = "<speak, hang up>"
HANG_UP = "<hang up>"
_COMMANDS = (
    "ANSWER",
    "VERBOSE",
    "HANGUP",
    "GET VARIABLE",
    "SET VARIABLE",
    "STREAM FILE",
    "GET DATA",
    "WAIT FOR DIGIT",
    "RECORD FILE",
)
ASTERISK_SOUNDS = frozenset({"silence/1", "beep", "ss-noservice"})


@dataclass
class CallSeen:
    """What the fake Asterisk saw during the call."""

    commands: list[str] = field(default_factory=list)
    played: list[str] = field(default_factory=list)  # every file, in order
    interrupted: list[bool] = field(default_factory=list)  # per file: a key stopped it
    missing: list[str] = field(default_factory=list)  # files that "do not exist"
    recordings: list[Path] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)  # actions left when the call ended
    hung_up_by_server: bool = False
    hung_up_by_caller: bool = False
    turnaround: list[float] = field(default_factory=list)  # seconds per command

    def expand(self, parts: Mapping[str, Sequence[str]]) -> None:
        """Joined prompt files (`PromptFiles.parts`) as the files they join, in `played`
        (only the first, where a key stopped it) and in `commands` (`a+b+c`)."""
        played: list[str] = []
        for name, stopped in zip(self.played, self.interrupted, strict=True):
            joined = parts.get(name, (name,))
            played.extend(joined[:1] if stopped else joined)
        self.played = played
        for joined, names in parts.items():
            self.commands = [c.replace(joined, "+".join(names)) for c in self.commands]

    def played_keys(self) -> list[str]:
        """Played files by name without folders (the test audio names files by key)."""
        return [Path(name).name for name in self.played]


class SimulatedCall:
    def __init__(
        self,
        actions: Sequence[str],
        *,
        caller_id: str = "254712345678",
        extension: str = "5000",
        unique_id: str = "1718000000.1",
        variables: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.actions = list(actions)
        self.variables = dict(variables or {})
        self.environment = dict(environment or {}) or agi_environment(
            caller_id=caller_id, extension=extension, uniqueid=unique_id
        )
        self.seen = CallSeen()

    async def run(self, port: int, host: str = "127.0.0.1", within: float = 10.0) -> CallSeen:
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(environment_block(self.environment))
                await writer.drain()
                await self._converse(reader, writer)
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
        self.seen.unused = list(self.actions)
        return self.seen

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        replied_at: float | None = None
        while True:
            raw = await reader.readline()
            if not raw:
                return
            if replied_at is not None:
                self.seen.turnaround.append(loop.time() - replied_at)
            line = raw.decode().rstrip("\n")
            self.seen.commands.append(line)
            reply = self._reply(line)
            if reply is None:  # the caller hangs up
                self.seen.hung_up_by_caller = True
                writer.write(b"HANGUP\n")
                await writer.drain()
                return
            writer.write(reply.encode() + b"\n")
            await writer.drain()
            replied_at = loop.time()

    # -- one command ---------------------------------------------------------------

    def _reply(self, line: str) -> str | None:
        for command in _COMMANDS:
            if line == command or line.startswith(command + " "):
                args = shlex.split(line[len(command) :])
                break
        else:
            return "510 Invalid or unknown command"
        if command == "ANSWER":
            return "200 result=0"
        if command == "VERBOSE":
            return "200 result=1"
        if command == "HANGUP":
            self.seen.hung_up_by_server = True
            return "200 result=1"
        if command == "SET VARIABLE":
            self.variables[args[0]] = args[1]
            return "200 result=1"
        if command == "GET VARIABLE":
            value = self.variables.get(args[0])
            return "200 result=0" if value is None else f"200 result=1 ({value})"
        if command == "STREAM FILE":
            return self._stream(args[0], args[1] if len(args) > 1 else "")
        if command == "GET DATA":
            return self._get_data(args)
        if command == "WAIT FOR DIGIT":
            return self._wait_for_digit()
        if command == "RECORD FILE":
            return self._record(args)
        return "510 Invalid or unknown command"

    def _exists(self, name: str) -> bool:
        if name in ASTERISK_SOUNDS:
            return True
        return name.startswith("/") and Path(f"{name}.wav").is_file()

    def _stream(self, name: str, escape: str) -> str:
        self.seen.played.append(name)
        self.seen.interrupted.append(False)
        if not self._exists(name):
            self.seen.missing.append(name)
            return "200 result=-1 endpos=0"
        head = self.actions[0] if self.actions else None
        while head and head.startswith("!") and len(head) > 1:
            # Pressed during the sound: it interrupts, or Asterisk throws it away.
            key, rest = head[1], head[2:]
            self.actions[0] = "!" + rest if rest and key not in escape else rest
            if not self.actions[0]:
                self.actions.pop(0)
            if key in escape:
                self.seen.interrupted[-1] = True
                return f"200 result={ord(key)} endpos=1200"
            head = self.actions[0] if self.actions else None
        return "200 result=0 endpos=8000"

    def _get_data(self, args: list[str]) -> str | None:
        name = args[0]
        self.seen.played.append(name)
        self.seen.interrupted.append(False)
        if not self._exists(name):
            self.seen.missing.append(name)
        max_digits = int(args[2]) if len(args) > 2 else 1024
        if not self.actions or self.actions[0] in (HANG_UP, SPEAK_THEN_HANG_UP):
            if self.actions:
                self.actions.pop(0)
            return None
        head = self.actions[0].lstrip("!")
        if head in (SPEAK, QUIET):
            return "200 result= (timeout)"  # waiting to speak: no key
        typed = ""
        for index, key in enumerate(head):
            if key == "#":
                rest = head[index + 1 :]
                self._consume(rest)
                return f"200 result={typed}"
            typed += key
            if len(typed) == max_digits:
                # The rest is already on its way: pressed during what comes next.
                rest = head[index + 1 :]
                self._consume("!" + rest if rest else "")
                return f"200 result={typed}"
        self.actions.pop(0)
        return f"200 result={typed} (timeout)"

    def _consume(self, rest: str) -> None:
        if rest:
            self.actions[0] = rest
        else:
            self.actions.pop(0)

    def _wait_for_digit(self) -> str | None:
        if not self.actions or self.actions[0] == HANG_UP:
            if self.actions:
                self.actions.pop(0)
            return None
        head = self.actions[0].lstrip("!")
        if not head or head in (SPEAK, QUIET):
            if not head:
                self.actions.pop(0)
            return "200 result=0"
        self._consume(head[1:])
        return f"200 result={ord(head[0])}"

    def _record(self, args: list[str]) -> str | None:
        path = Path(f"{args[0]}.{args[1]}")
        action = self.actions.pop(0) if self.actions else HANG_UP
        if action == HANG_UP:
            return None
        loud = action in (SPEAK, SPEAK_THEN_HANG_UP)
        write_take(path, loud)
        self.seen.recordings.append(path)
        if action == SPEAK_THEN_HANG_UP:
            return None
        if loud:
            return "200 result=35 (dtmf) endpos=16000"
        return "200 result=0 (timeout) endpos=8000"


def write_take(path: Path, loud: bool, seconds: float = 1.0) -> None:
    """A WAV as Asterisk's `wav` format writes it: 8 kHz, 16-bit, mono."""
    frames = int(8000 * seconds)
    amplitude = 8000 if loud else 0
    samples = (int(amplitude * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(frames))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))


async def calls_over(server: AgiServer, *, placed: bool = False, within: float = 10) -> None:
    """Return once `server` has no call in progress. The caller may hang up before the
    server has finished with a call; `placed`: a call was placed elsewhere (through
    Asterisk) and may not have reached the server yet, so wait for it to arrive first."""
    async with asyncio.timeout(within):
        # The server counts calls but signals nothing: poll it.
        while placed and server.active_calls == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        while server.active_calls:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
