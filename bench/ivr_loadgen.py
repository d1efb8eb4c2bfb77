"""Closed-loop FastAGI load generator: N simulated Asterisk channels with a graduate on
each, calling the service's AGI listener back to back.

Each line holds one call at a time. A call is what Asterisk 22 sends for a Local
channel that reached ``AGI(agi://HOST:PORT/survey)`` from extension `--extension`: the
``agi_*`` block, then a reply to each command, paced like a person but compressed:

- STREAM FILE "plays" for its file's real length divided by `--speed` and ends without
  a key: the caller listens to every prompt to its end;
- GET DATA plays its prompt the same way, then replies after `--think-ms` (a person's
  time, divided by `--speed`, each between half and one and a half times it, so calls
  do not stay in step) with the next keys of the script; WAIT FOR DIGIT likewise;
- RECORD FILE "speaks" for `--speak-ms` (divided by `--speed`), writes a real WAV
  (8 kHz, 16-bit, a 440 Hz
  tone, as Asterisk's `wav` format does) at the path it names, and ends with ``#``;
- GET VARIABLE says the variable is not set (an inbound call), ANSWER and HANGUP
  succeed; after HANGUP the server closes the connection and the call is over.

The script is the sample survey (examples/graduate_tracer.xlsx) answered by a wage
earner in English, the suggestion spoken and kept (`SCRIPT`). Every call is a new
respondent (a fresh caller ID) and a new session (`agi_uniqueid`).

Turnaround is measured for every command but the first of a call: from the moment
our reply was written to the moment the next command line arrived. It is classed by
what the reply we sent asked of the server (`TURN_KINDS`): `answer` (the reply that
completed an answer: the engine's turn, committed to SQL before the next prompt),
`open` (ANSWER's reply: the interview is opened, respondent and response rows),
`recording` (RECORD FILE's reply: the take is read for silence), `sound` (anything
else: the next sound of a prompt, no engine work).

Runs as its own process so that the orchestrator (`bench.ivr_load`) can measure its
CPU. Protocol on stdout, one line each: `MARK start` / `MARK end` around the measured
window, then `RESULT {json}` once every call in progress has ended.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shlex
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from tests.ivr.agi_peer import agi_environment, environment_block

# The sample survey by a wage earner in English (tests/ivr/test_channel.py WAGE_EARNER):
# language, consent, status, months, related, formality, income, further education,
# relevance, satisfaction, the note (any key), four soft skills; then the suggestion
# spoken at the tone and kept (1).
SPEAK = "<speak>"
SCRIPT: tuple[str, ...] = (
    "1", "1", "1", "3#", "1", "1", "3", "2", "4", "4", "5", "4", "4", "4", "4", SPEAK, "1",
)  # fmt: skip
TURN_KINDS = ("answer", "open", "recording", "sound")
# What Asterisk plays from its own sounds: not files of ours.
ASTERISK_SOUNDS = frozenset({"silence/1", "beep", "ss-noservice"})
MAX_ERROR_SAMPLES = 8


def take_wav(seconds: float = 1.0) -> bytes:
    """A spoken take as Asterisk's `wav` format writes it: 8 kHz mono 16-bit PCM."""
    frames = int(8000 * seconds)
    samples = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / 8000))) for n in range(frames)
    )
    header = b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    return header + b"data" + struct.pack("<I", len(samples)) + samples


def call_environment(unique_id: str, caller_id: str, extension: str, port: int) -> bytes:
    """The block Asterisk 22 writes for a Local channel reaching the `[survey]` context
    (the tests' fake Asterisk writes the same one)."""
    environment = agi_environment(
        caller_id=caller_id,
        extension=extension,
        request=f"agi://127.0.0.1:{port}/survey",
        channel=f"Local/s@respondent-{unique_id[-8:]};2",
        uniqueid=unique_id,
    )
    return environment_block(environment)


@dataclass
class Stats:
    """Counters shared by all lines (one event loop, so no locking)."""

    window_start: float = 0.0
    window_end: float = float("inf")
    stopping: bool = False
    calls_started: int = 0
    calls_completed: int = 0
    calls_completed_window: int = 0
    commands_total: int = 0
    commands_window: int = 0
    errors: int = 0
    errors_window: int = 0
    refused: int = 0  # calls the server closed before a command
    active: int = 0  # calls in progress now: the server has sent a command, not ended
    active_samples: list[int] = field(default_factory=list)
    by_command: dict[str, int] = field(default_factory=dict)  # commands received, by name
    missing_files: int = 0
    # Turnaround in seconds, per kind of turn, inside the window.
    turnaround: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in TURN_KINDS})
    # Unique ids of the calls that went through the whole script and were hung up by
    # the server: the orchestrator checks each one's response in SQL.
    completed: list[str] = field(default_factory=list)
    commands_per_call: list[int] = field(default_factory=list)
    call_seconds: list[float] = field(default_factory=list)
    error_samples: list[dict[str, Any]] = field(default_factory=list)

    def in_window(self, now: float) -> bool:
        return self.window_start <= now <= self.window_end

    def error(self, now: float, sample: dict[str, Any]) -> None:
        self.errors += 1
        if self.in_window(now):
            self.errors_window += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(sample)


class CallFailed(Exception):
    """The call did not go as a person following the script would expect."""


class CallProtocol(asyncio.Protocol):
    """One call on one connection: the fake Asterisk's side, driven by the server's
    commands. A protocol rather than streams: a reply is written from a timer, with
    no task, future or buffer copy per command, so the generator stays well below one
    core at thousands of commands a second."""

    def __init__(self, line: Line, unique_id: str, caller_id: str) -> None:
        self.line = line
        self.stats = line.stats
        self.block = call_environment(unique_id, caller_id, line.args.extension, line.args.port)
        self.actions = list(SCRIPT)
        self.buffer = b""
        self.replied_at: float | None = None
        self.kind = "sound"
        self.commands = 0
        self.hung_up = False
        self.problem: str | None = None
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.block)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buffer += data
        while b"\n" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\n", 1)
            self.command(raw.decode(), now)

    def command(self, line: str, now: float) -> None:
        stats = self.stats
        self.commands += 1
        if self.commands == 1:
            stats.active += 1
        stats.commands_total += 1
        words = line.split(" ", 2)
        name = words[0] if len(words) == 1 or not words[1].isupper() else " ".join(words[:2])
        stats.by_command[name] = stats.by_command.get(name, 0) + 1
        if self.replied_at is not None and stats.in_window(now):
            stats.commands_window += 1
            stats.turnaround[self.kind].append(now - self.replied_at)
        self.replied_at = None
        try:
            reply, self.kind, pause = self.line.reply(line, self.actions)
        except CallFailed as problem:
            self.fail(str(problem))
            return
        if line.startswith("RECORD FILE "):
            self.line.record(line)
        if line.startswith("HANGUP"):
            self.hung_up = True
        if pause:
            asyncio.get_running_loop().call_later(pause, self.send, reply)
        else:
            self.send(reply)

    def send(self, reply: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(reply)
        self.replied_at = time.monotonic()

    def fail(self, problem: str) -> None:
        self.problem = self.problem or problem
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.done.done():
            return
        if self.commands:
            self.stats.active -= 1
        if self.problem is None and exc is not None:
            self.problem = f"{type(exc).__name__}: {exc}"
        if self.problem is None and self.commands and not self.hung_up:
            self.problem = f"the server closed the call without HANGUP after {self.commands}"
        if self.problem is None and self.commands and self.actions:
            self.problem = f"the call ended with {len(self.actions)} answer(s) not asked for"
        self.done.set_result(None)


class Line:
    """One line: calls back to back, each a new respondent."""

    def __init__(self, args: argparse.Namespace, stats: Stats, counter: list[int], wav: bytes):
        self.args = args
        self.stats = stats
        self.counter = counter
        self.wav = wav
        self.rng = random.Random(counter[0] ^ id(self))
        self.known_files: set[str] = set()
        self.lengths: dict[str, float] = {}  # file -> seconds it plays in real time

    async def run(self, delay: float) -> None:
        await asyncio.sleep(delay)
        loop = asyncio.get_running_loop()
        stats = self.stats
        while not stats.stopping:
            number = self.counter[0]
            self.counter[0] += 1
            unique_id = f"{self.args.call_prefix}{number:07d}"
            caller_id = f"2547{self.args.phone_base + number:08d}"
            stats.calls_started += 1
            started = loop.time()
            call = CallProtocol(self, unique_id, caller_id)
            connected = False
            try:
                await loop.create_connection(lambda call=call: call, self.args.host, self.args.port)
                connected = True
                await call.done
            except OSError as exc:
                call.problem = f"{type(exc).__name__}: {exc}"
            now = loop.time()
            if connected and call.commands == 0:
                # Accepted, then closed (or reset) before a command: the server refused
                # the call (its bound on calls at once). Asterisk's AGI() would fail and
                # the caller hear nothing.
                stats.refused += 1
                stats.error(now, {"call": unique_id, "error": "refused: closed before a command"})
                await asyncio.sleep(self.args.refused_pause)
                continue
            if call.problem is not None:
                stats.error(now, {"call": unique_id, "error": call.problem})
                await asyncio.sleep(0.05)  # do not spin if the server went away
                continue
            stats.calls_completed += 1
            stats.completed.append(unique_id)
            stats.commands_per_call.append(call.commands)
            stats.call_seconds.append(now - started)
            if stats.in_window(now):
                stats.calls_completed_window += 1

    def _pause(self, base_ms: float) -> float:
        return base_ms * self.rng.uniform(0.5, 1.5) / 1000.0 / self.args.speed

    def _playing(self, name: str) -> float:
        """Seconds `name` plays at `--speed`: a prompt file's length from its size
        (8 kHz, 16-bit, mono after a 44-byte header), one second for Asterisk's own."""
        seconds = self.lengths.get(name)
        if seconds is None:
            try:
                seconds = max(0.0, (os.stat(f"{name}.wav").st_size - 44) / 16000)
            except OSError:
                seconds = 1.0
            self.lengths[name] = seconds
        return seconds / self.args.speed

    def reply(self, line: str, actions: list[str]) -> tuple[bytes, str, float]:
        """(reply line, kind of turn it asks of the server, seconds to wait first)."""
        args = self.args
        if line.startswith("STREAM FILE "):
            name = _arguments(line)[2]
            self.check_file(name)
            return b"200 result=0 endpos=8000\n", "sound", self._playing(name)
        if line.startswith("GET DATA "):
            parts = _arguments(line)
            self.check_file(parts[2])
            max_digits = int(parts[4]) if len(parts) > 4 else 1024
            typed, ended = _type_keys(actions, max_digits)
            suffix = "" if ended else " (timeout)"
            reply = f"200 result={typed}{suffix}\n".encode()
            return reply, "answer", self._playing(parts[2]) + self._pause(args.think_ms)
        if line.startswith("RECORD FILE "):
            if not actions or actions[0] != SPEAK:
                raise CallFailed(f"RECORD FILE with the script at {actions[:1]}")
            actions.pop(0)
            reply = b"200 result=35 (dtmf) endpos=8000\n"
            return reply, "recording", self._pause(args.speak_ms)
        if line.startswith("GET VARIABLE "):
            return b"200 result=0\n", "sound", 0.0
        if line.startswith("ANSWER"):
            return b"200 result=0\n", "open", 0.0
        if line.startswith(("HANGUP", "VERBOSE ")):
            return b"200 result=1\n", "sound", 0.0
        if line.startswith("WAIT FOR DIGIT "):
            if not actions or actions[0] == SPEAK:
                raise CallFailed(f"WAIT FOR DIGIT with the script at {actions[:1]}")
            key, rest = actions[0][0], actions[0][1:]
            if rest:
                actions[0] = rest
            else:
                actions.pop(0)
            return f"200 result={ord(key)}\n".encode(), "answer", self._pause(args.think_ms)
        raise CallFailed(f"unexpected command {line.strip()!r}")

    def check_file(self, name: str) -> None:
        """Asterisk plays `name`.wav (absolute) or one of its own sounds; anything else
        would be "does not exist" in its log."""
        if name in self.known_files or name in ASTERISK_SOUNDS:
            return
        if name.startswith("/") and os.path.isfile(f"{name}.wav"):
            self.known_files.add(name)
            return
        self.stats.missing_files += 1
        raise CallFailed(f"the server asked to play {name!r}, which does not exist")

    def record(self, line: str) -> None:
        parts = _arguments(line)
        with open(f"{parts[2]}.{parts[3]}", "wb") as out:
            out.write(self.wav)


def _arguments(line: str) -> list[str]:
    """A command's words; file names are bare words unless they hold odd characters."""
    if '"' in line.split(" ", 3)[2][:1]:
        return shlex.split(line)
    return line.split(" ")


def _type_keys(actions: list[str], max_digits: int) -> tuple[str, bool]:
    """The keys GET DATA collects from the script's next entry: up to `#` or
    `max_digits` (ended) or all of it (then the time runs out)."""
    if not actions or actions[0] == SPEAK:
        raise CallFailed(f"GET DATA with the script at {actions[:1]}")
    head = actions[0]
    typed = ""
    for index, key in enumerate(head):
        if key == "#" or len(typed) == max_digits:
            rest = head[index + 1 :] if key == "#" else head[index:]
            if rest:
                actions[0] = rest
            else:
                actions.pop(0)
            return typed, True
        typed += key
    actions.pop(0)
    return typed, len(typed) == max_digits


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def summary(values: list[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    ms = 1000.0
    return {
        "n": len(ordered),
        "p50": percentile(ordered, 0.50) * ms,
        "p99": percentile(ordered, 0.99) * ms,
        "max": (ordered[-1] if ordered else 0.0) * ms,
        "mean": (sum(ordered) / len(ordered) if ordered else 0.0) * ms,
    }


def mark(name: str) -> None:
    # The orchestrator samples every process's CPU counters when it reads these.
    sys.stdout.write(f"MARK {name}\n")
    sys.stdout.flush()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    stats = Stats()
    counter = [0]
    wav = take_wav()
    lines = [Line(args, stats, counter, wav) for _ in range(args.calls)]
    start = loop.time()
    stats.window_start = start + args.warmup
    stats.window_end = stats.window_start + args.duration
    # Lines start spread over the first half of the warm-up, so calls are out of step
    # when the window opens.
    spread = args.warmup / 2 if args.calls > 1 else 0.0
    tasks = [asyncio.create_task(line.run(spread * i / args.calls)) for i, line in enumerate(lines)]
    await asyncio.sleep(args.warmup)
    mark("start")
    cpu_start = time.process_time()
    while loop.time() < stats.window_end:
        stats.active_samples.append(stats.active)
        await asyncio.sleep(min(0.1, max(0.0, stats.window_end - loop.time())))
    window_cpu = time.process_time() - cpu_start
    mark("end")
    stats.stopping = True  # no new call; those in progress go to their end
    _done, pending = await asyncio.wait(tasks, timeout=args.stop_timeout)
    for task in pending:
        task.cancel()
        stats.error(
            loop.time(), {"error": f"call still in progress {args.stop_timeout}s after stop"}
        )
    everything = [v for values in stats.turnaround.values() for v in values]
    return {
        "calls": args.calls,
        "pacing": {"speed": args.speed, "think_ms": args.think_ms, "speak_ms": args.speak_ms},
        "warmup_s": args.warmup,
        "window_s": args.duration,
        "calls_started": stats.calls_started,
        "calls_completed": stats.calls_completed,
        "calls_completed_window": stats.calls_completed_window,
        "calls_per_s": stats.calls_completed_window / args.duration,
        "commands_window": stats.commands_window,
        "commands_per_s": stats.commands_window / args.duration,
        "commands_per_call": (
            sum(stats.commands_per_call) / len(stats.commands_per_call)
            if stats.commands_per_call
            else 0
        ),
        "call_seconds": summary(stats.call_seconds),
        "errors": stats.errors,
        "errors_window": stats.errors_window,
        "refused": stats.refused,
        "commands_by_name": {
            name: count / max(1, stats.calls_completed)
            for name, count in sorted(stats.by_command.items(), key=lambda item: -item[1])
        },
        "in_progress": {
            "mean": sum(stats.active_samples) / max(1, len(stats.active_samples)),
            "min": min(stats.active_samples, default=0),
            "max": max(stats.active_samples, default=0),
        },
        "missing_files": stats.missing_files,
        "error_samples": stats.error_samples,
        "turnaround_ms": {
            "all": summary(everything),
            **{kind: summary(values) for kind, values in stats.turnaround.items()},
        },
        "completed": stats.completed,
        "loadgen_cpu_window_s": window_cpu,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Closed-loop FastAGI load generator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the service's AGI port")
    parser.add_argument("--extension", default="5000", help="the IVR number dialled")
    parser.add_argument("--calls", type=int, default=500, help="concurrent calls")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument(
        "--speed", type=float, default=20.0, help="times faster than a real call (sounds, people)"
    )
    parser.add_argument("--think-ms", type=float, default=2000.0, help="before keys, in real time")
    parser.add_argument("--speak-ms", type=float, default=5000.0, help="a spoken answer, real time")
    parser.add_argument(
        "--phone-base",
        type=int,
        default=0,
        help="caller IDs are 2547 followed by this plus the call's number (8 digits); runs "
        "against the same database need disjoint ranges",
    )
    parser.add_argument("--call-prefix", default="bench-ivr-", help="agi_uniqueid prefix")
    parser.add_argument(
        "--refused-pause",
        type=float,
        default=2.0,
        help="seconds a line waits after a refused call before the next",
    )
    parser.add_argument("--stop-timeout", type=float, default=120.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
