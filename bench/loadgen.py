"""Closed-loop USSD load generator speaking raw HTTP/1.1 over asyncio streams.

Each simulated handset holds one keep-alive connection and runs whole survey
sessions back to back, each with a fresh session id and a fresh valid Kenyan mobile
number, exactly as Africa's Talking would call the callback: a form-encoded POST
whose `text` is every input of the session so far joined with `*`.

Why not aiohttp's client: it tops out around 6,000-7,000 requests/s on one core of
this machine, below what a bare aiohttp server answers, so the generator would be
the bottleneck. Writing a prebuilt request and reading `Content-Length` bytes costs a
fraction of that.

It runs as its own process so that the orchestrator (`bench.ussd_load`) can measure
its CPU use. Protocol with the orchestrator on stdout, one line each:
`MARK start` when the measured window opens, `MARK end` when it closes, then
`RESULT {json}` once every handset has finished the hop it had in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

PATH = "/ussd/africastalking"
SERVICE_CODE = "*384*1#"
NETWORK_CODE = "63902"

# The answers of one session, in order; `months` is the third. Every one of them is a
# valid answer that must come back as an advancing screen (`CON`, `END` on the last).
ANSWERS = ("1", "1", "12", "3", "4", "more practice")
MONTHS_INDEX = 2
BAD_MONTHS = "99"
# The re-prompt after BAD_MONTHS must show the months question again; both its label
# and its constraint message in bench/six_questions.xlsx contain this word.
MONTHS_WORD = b"months"
MAX_ERROR_SAMPLES = 5


@dataclass(frozen=True)
class Hop:
    """One request of a session: the URL-encoded `text` and what the reply must be."""

    text_enc: str
    expect: bytes  # b"CON " or b"END "
    answer: bool  # a valid answer: its 200 reply acknowledges a committed answer
    bad: bool  # the out-of-range number: the reply must re-prompt the same question


def session_plan(bad: bool) -> tuple[Hop, ...]:
    """The hops of one session; `bad` sends an out-of-range number once first."""
    inputs = list(ANSWERS)
    if bad:
        inputs.insert(MONTHS_INDEX, BAD_MONTHS)
    hops = [Hop(text_enc="", expect=b"CON ", answer=False, bad=False)]
    for i in range(1, len(inputs) + 1):
        text = "*".join(inputs[:i])
        last = i == len(inputs)
        is_bad = bad and i == MONTHS_INDEX + 1
        hops.append(
            Hop(
                text_enc=quote(text, safe=""),
                expect=b"END " if last else b"CON ",
                answer=not is_bad,
                bad=is_bad,
            )
        )
    return tuple(hops)


@dataclass
class Stats:
    """Counters shared by all handsets (one event loop, so no locking)."""

    window_start: float = 0.0
    window_end: float = float("inf")
    stopping: bool = False
    hops_total: int = 0
    hops_window: int = 0
    errors: int = 0
    errors_window: int = 0
    acked_answers: int = 0
    sessions_started: int = 0
    sessions_completed: int = 0
    sessions_completed_window: int = 0
    bad_number_hops: int = 0
    # Session id -> answers acknowledged in it (a prefix of ANSWERS, in order): the
    # orchestrator compares them, value by value, with what SQL holds.
    acked_by_session: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    error_samples: list[dict[str, Any]] = field(default_factory=list)

    def error(self, now: float, sample: dict[str, Any]) -> None:
        self.errors += 1
        if self.window_start <= now <= self.window_end:
            self.errors_window += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(sample)


class ReplyError(Exception):
    """The server answered, but not what the survey needs at this hop."""


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server wants the connection closed."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    chunked = False
    close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size + 2))
        return status, b"".join(p[:-2] for p in parts), close
    if length < 0:
        return status, await reader.read(), True
    return status, await reader.readexactly(length), close


class Handset:
    """One simulated phone: one connection, sessions back to back."""

    def __init__(self, args: argparse.Namespace, stats: Stats, counter: list[int]) -> None:
        self.host: str = args.host
        self.port: int = args.port
        self.stats = stats
        self.counter = counter
        self.bad_every: int = args.bad_every
        self.phone_base: int = args.phone_base
        self.session_prefix: str = args.session_prefix
        self.request_head = (
            f"POST {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
        )
        self.fixed_fields = (
            f"&serviceCode={quote(args.service_code, safe='')}&networkCode={args.network_code}"
        )
        self.plans = (session_plan(False), session_plan(True))
        self.constant: bool = args.constant
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def disconnect(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def run(self) -> None:
        stats = self.stats
        loop = asyncio.get_running_loop()
        while not stats.stopping:
            number = self.counter[0]
            self.counter[0] += 1
            stats.sessions_started += 1
            # Fresh identity per session: the service must treat every session as a
            # new respondent, as on a real campaign.
            phone = f"%2B2547{self.phone_base + number:08d}"
            session = f"{self.session_prefix}{number:09d}"
            prefix = f"sessionId={session}&phoneNumber={phone}"
            prefix += self.fixed_fields + "&text="
            plan = self.plans[1 if self.bad_every and number % self.bad_every == 0 else 0]
            try:
                await self.run_session(loop, session, prefix, plan)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                now = loop.time()
                stats.error(now, {"error": f"{type(exc).__name__}: {exc}"})
                self.disconnect()
                await asyncio.sleep(0.01)  # do not spin if the server went away
            except ReplyError:
                pass  # already recorded; the session's state is unknown, start afresh

    async def run_session(
        self, loop: asyncio.AbstractEventLoop, session: str, prefix: str, plan: tuple[Hop, ...]
    ) -> None:
        stats = self.stats
        previous = b""
        for hop in plan:
            if stats.stopping:
                return  # the window is over: abandon the session between hops
            if self.writer is None:
                await self.connect()
            assert self.reader is not None and self.writer is not None
            body = prefix + hop.text_enc
            request = f"{self.request_head}Content-Length: {len(body)}\r\n\r\n{body}"
            started = loop.time()
            self.writer.write(request.encode())
            status, reply, close = await read_response(self.reader)
            now = loop.time()
            if close:
                self.disconnect()
            stats.hops_total += 1
            in_window = stats.window_start <= now <= stats.window_end
            if in_window:
                stats.hops_window += 1
                stats.latencies.append(now - started)
            problem = ""
            expect = b"CON " if self.constant else hop.expect
            if status != 200:
                problem = f"HTTP {status}"
            elif not reply.startswith(expect):
                problem = f"expected {expect.decode().strip()}"
            elif self.constant:
                pass  # the bare server says the same CON screen to everything
            elif hop.bad and MONTHS_WORD not in reply.lower():
                problem = "expected a re-prompt of the months question"
            elif not hop.bad and reply == previous:
                problem = "the screen did not advance"
            if problem:
                stats.error(
                    now,
                    {
                        "error": problem,
                        "request": body,
                        "status": status,
                        "reply": reply[:300].decode(errors="replace"),
                    },
                )
                raise ReplyError(problem)
            if self.constant:
                pass  # nothing is answered, so nothing is acknowledged
            elif hop.bad:
                stats.bad_number_hops += 1
            elif hop.answer:
                stats.acked_answers += 1
                stats.acked_by_session[session] = stats.acked_by_session.get(session, 0) + 1
            previous = reply
        stats.sessions_completed += 1
        if stats.window_start <= loop.time() <= stats.window_end:
            stats.sessions_completed_window += 1


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def mark(name: str) -> None:
    # The orchestrator samples every process's CPU counters when it reads these.
    sys.stdout.write(f"MARK {name}\n")
    sys.stdout.flush()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the load and return the result document."""
    loop = asyncio.get_running_loop()
    stats = Stats()
    counter = [0]
    handsets = [Handset(args, stats, counter) for _ in range(args.handsets)]
    await asyncio.gather(*(h.connect() for h in handsets))
    cpu_start = time.process_time()
    start = loop.time()
    stats.window_start = start + args.warmup
    stats.window_end = stats.window_start + args.duration
    tasks = [asyncio.create_task(h.run()) for h in handsets]
    await asyncio.sleep(args.warmup)
    mark("start")
    window_cpu_start = time.process_time()
    await asyncio.sleep(max(0.0, stats.window_end - loop.time()))
    stats.stopping = True
    window_cpu = time.process_time() - window_cpu_start
    mark("end")
    # Handsets finish the hop in flight; one that hangs is an error, not a stall.
    _done, pending = await asyncio.wait(tasks, timeout=args.stop_timeout)
    for task in pending:
        task.cancel()
        stats.error(loop.time(), {"error": f"hop still in flight {args.stop_timeout}s after stop"})
    for handset in handsets:
        handset.disconnect()
    window = args.duration
    latencies = sorted(stats.latencies)
    ms = 1000.0
    return {
        "handsets": args.handsets,
        "warmup_s": args.warmup,
        "window_s": window,
        "hops": stats.hops_window,
        "hops_per_s": stats.hops_window / window if window else 0.0,
        "hops_total": stats.hops_total,
        "errors": stats.errors,
        "errors_window": stats.errors_window,
        "error_samples": stats.error_samples,
        "latency_ms": {
            "p50": percentile(latencies, 0.50) * ms,
            "p95": percentile(latencies, 0.95) * ms,
            "p99": percentile(latencies, 0.99) * ms,
            "max": (latencies[-1] if latencies else 0.0) * ms,
            "mean": (sum(latencies) / len(latencies) if latencies else 0.0) * ms,
        },
        "acked_answers": stats.acked_answers,
        "acked_by_session": stats.acked_by_session,
        "bad_number_hops": stats.bad_number_hops,
        "sessions_started": stats.sessions_started,
        "sessions_completed": stats.sessions_completed,
        "sessions_completed_window": stats.sessions_completed_window,
        "loadgen_cpu_s": time.process_time() - cpu_start,
        "loadgen_cpu_window_s": window_cpu,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Closed-loop USSD load generator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default=PATH)
    parser.add_argument("--handsets", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds")
    parser.add_argument("--bad-every", type=int, default=10, help="1 session in N sends 99 first")
    parser.add_argument(
        "--phone-base",
        type=int,
        default=0,
        help="first phone number is +2547 followed by this (8 digits); runs against the "
        "same database need disjoint ranges",
    )
    parser.add_argument("--session-prefix", default="ATUid_bench_")
    parser.add_argument("--service-code", default=SERVICE_CODE)
    parser.add_argument("--network-code", default=NETWORK_CODE)
    parser.add_argument(
        "--constant",
        action="store_true",
        help="the server answers every hop with the same CON screen (bench.bare_server): "
        "check only HTTP 200 and CON",
    )
    parser.add_argument("--stop-timeout", type=float, default=10.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
