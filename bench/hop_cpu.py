"""CPU of the service's own code per USSD hop, without any I/O.

    .venv/bin/python -m bench.hop_cpu [--sessions 3000]

Runs whole sessions of the benchmark survey (bench/six_questions.xlsx) through the
gateway parser, the real USSD channel and interview layer (survey engine, screen
rendering, session record), with the in-process session store and a response store
that does nothing.
What remains is the Python the service adds to every hop on top of the libraries
(aiohttp, redis-py, asyncpg) that the durable handler of bench/ussd_load.py pays too.
Unlike the load benchmark it is quiet: one process, no network, CPU time only, so a
change to the hot path shows up here first. It prints µs per hop and, with
`--profile`, the functions that cost most.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import pstats
import time
from collections.abc import Sequence
from pathlib import Path

from interviews import Interviews, InterviewSettings
from service_tracker.config import DEFAULT_LOCAL_SESSION_RECORDS
from storage.sessions import MemorySessionStore
from survey_engine.events import DataEvent
from survey_engine.model import Survey
from survey_engine.ports import EntryPoint, NewResponse, RespondentRecord, SurveyVersionRef
from survey_engine.xlsform import load_xlsform
from ussd.channel import UssdChannel
from ussd.gateways.africastalking import parse_callback

SURVEY = Path(__file__).with_name("six_questions.xlsx")
CODE = "*384*1#"
TEXTS = ("", "1", "1*1", "1*1*12", "1*1*12*3", "1*1*12*3*4", "1*1*12*3*4*more practice")


class _NoStore:
    """Answers the channel's questions from memory and stores nothing."""

    def __init__(self, survey: Survey) -> None:
        self._survey = survey

    async def entry_point(self, channel: str, address: str) -> EntryPoint | None:
        return EntryPoint(channel, address, 1, False, 1) if address == CODE else None

    async def current_version(self, survey_id: int) -> SurveyVersionRef:
        return SurveyVersionRef(survey_id, 1, self._survey.form_id, self._survey.version)

    async def load_survey(self, version_id: int) -> Survey:
        return self._survey

    async def dial_in(
        self, organisation_id: int, phone: str, new_response: NewResponse
    ) -> tuple[RespondentRecord, int]:
        return RespondentRecord(1, phone, None, False), 1

    async def record_turn(
        self,
        response_id: int,
        events: Sequence[DataEvent],
        *,
        turn_ref: str,
        now: dt.datetime,
        resume_offered: bool = False,
    ) -> None:
        return None


async def run(sessions: int, profile: str | None, top: int = 15) -> float:
    # As in production with Redis: the worker keeps the records it wrote.
    channel = UssdChannel(
        Interviews(
            _NoStore(load_xlsform(SURVEY)),  # type: ignore[arg-type]
            MemorySessionStore(),
            InterviewSettings(recent_records=DEFAULT_LOCAL_SESSION_RECORDS),
        )
    )
    forms = [
        {
            "sessionId": f"ATUid_{n}",
            "serviceCode": CODE,
            "phoneNumber": f"+2547{10_000_000 + n:08d}",
            "networkCode": "63902",
            "text": text,
        }
        for n in range(sessions)
        for text in TEXTS
    ]
    profiler = cProfile.Profile()
    started = time.process_time()
    if profile:
        profiler.enable()
    for form in forms:
        result = await channel.handle(parse_callback(form))
        assert result.reply.startswith(("CON ", "END ")), result.reply
    if profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(profile).print_stats(top)
    return (time.process_time() - started) / len(forms) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument(
        "--profile",
        nargs="?",
        const="tottime",
        choices=("tottime", "cumulative"),
        help="print the costliest functions, by own time (default) or with callees",
    )
    parser.add_argument("--top", type=int, default=15, help="how many functions --profile shows")
    args = parser.parse_args(argv)
    per_hop = asyncio.run(run(args.sessions, args.profile, args.top))
    print(
        f"service code per hop (parse, channel, interview, engine, screens, session record; "
        f"no I/O): {per_hop:.1f} µs over {args.sessions * len(TEXTS)} hops"
    )
    print(
        "baseline to compare with: the durable handler's whole hop in bench.ussd_load "
        "(about 350-480 µs of CPU here); reaching 0.8 of its throughput leaves this code "
        "about 100 µs (1.25 x its CPU) together with logging and the extra SQL work"
    )


if __name__ == "__main__":
    main()
