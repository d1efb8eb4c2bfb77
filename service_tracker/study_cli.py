"""`service-tracker study import STUDY.toml` and `service-tracker study status STUDY`:
a tracer study kept as a file (under version control), and where each of its waves
stands. `service-tracker worker [--once]`: the process that records who is due and
sends the invitations (waves.worker), one pass every `--interval` seconds.

Exit status: 0 done; 1 refused (every reason on standard error, each with its key).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Any

from service_tracker.commands import run_with_engine
from service_tracker.config import Settings
from storage.organisations import OrganisationError, organisation_for_import
from storage.studies import (
    StoredStudy,
    StudyError,
    find_study,
    match_waves,
    store_study,
    study_status,
)
from waves.airtime import AfricasTalkingAirtime
from waves.sms import AfricasTalkingSms
from waves.study import StudyFileError, read_study
from waves.worker import tick

__all__ = ["add_study_commands"]


def add_study_commands(commands: Any) -> None:
    """Add `study import` and `study status` to the command line's subcommands."""
    study = commands.add_parser("study", help="tracer studies: waves and invitations")
    actions = study.add_subparsers(metavar="ACTION")
    imported = actions.add_parser("import", help="create or update a study from its file")
    imported.add_argument("file", type=Path, help="the study file (TOML)")
    _organisation(imported)
    imported.set_defaults(run=_import)
    status = actions.add_parser("status", help="per wave: due, invited, reached, completed...")
    status.add_argument("study", help="the study's name")
    _organisation(status)
    status.add_argument(
        "--today", type=dt.date.fromisoformat, help="the day to report on (default: today, UTC)"
    )
    status.set_defaults(run=_status)

    worker = commands.add_parser("worker", help="record who is due and send the invitations")
    worker.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    worker.add_argument(
        "--interval", type=float, default=60.0, help="seconds between passes (default 60)"
    )
    worker.set_defaults(run=_worker)


def _organisation(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--organisation",
        metavar="NAME",
        help="the organisation the study belongs to; without it: the only organisation",
    )


def _import(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"{path}: cannot be read: {error}", file=sys.stderr)
        return 1
    try:
        plan = read_study(text)
    except StudyFileError as error:
        for problem in error.problems:
            print(f"{path.name}: {problem}", file=sys.stderr)
        return 1

    async def work(engine: Any) -> StoredStudy:
        return await store_study(engine, plan, text, organisation=args.organisation)

    try:
        stored = run_with_engine(settings, work)
    except (StudyError, OrganisationError) as error:
        print(f"{path.name}: {error}", file=sys.stderr)
        return 1
    waves = ", ".join(f"{w.name} (+{w.offset})" for w in stored.waves)
    print(
        f"study '{stored.name}' {'created' if stored.created else 'updated'} in "
        f"{stored.organisation}: survey {stored.form_id}, waves {waves}"
    )
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    today = args.today or dt.datetime.now(dt.UTC).date()

    async def work(engine: Any) -> tuple[StoredStudy, list[Any]] | str:
        async with engine.connect() as conn:
            organisation_id, _ = await organisation_for_import(
                conn, args.organisation, dt.datetime.now(dt.UTC)
            )
            await conn.rollback()  # never make an organisation to report on
        found = await find_study(engine, organisation_id, args.study)
        if found is None:
            return f"there is no study '{args.study}'"
        async with engine.begin() as conn:
            await match_waves(conn, [found])  # responses the worker has not yet matched
        return found, await study_status(engine, found, today)

    try:
        result = run_with_engine(settings, work)
    except OrganisationError as error:
        print(f"study status: {error}", file=sys.stderr)
        return 1
    if isinstance(result, str):
        print(f"study status: {result}", file=sys.stderr)
        return 1
    stored, waves = result
    print(f"study '{stored.name}' ({stored.organisation}), survey {stored.form_id}, on {today}")
    columns = ("graduates", "opened", "due", "missed", "invited", "reached", "completed",
               "refused", "opted_out")  # fmt: skip
    width = max([len(w.name) for w in waves] + [4])
    print(f"{'wave':<{width}}  {'offset':>6}  " + "  ".join(f"{c:>9}" for c in columns))
    for wave in waves:
        cells = "  ".join(f"{getattr(wave, c):>9}" for c in columns)
        print(f"{wave.name:<{width}}  {'+' + str(wave.offset):>6}  {cells}")
    return 0


FULL_PASS_EVERY = dt.timedelta(hours=1)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    if args.interval <= 0:
        print("--interval must be more than 0 seconds", file=sys.stderr)
        return 2
    sms = AfricasTalkingSms.from_settings(settings)
    thanks = AfricasTalkingAirtime.from_settings(settings)
    log = logging.getLogger("service_tracker.worker")
    if sms is None:
        log.warning(
            "AFRICASTALKING_USERNAME and AFRICASTALKING_API_KEY are not set: invitations "
            "are recorded, and no SMS is sent"
        )

    async def work(engine: Any) -> None:
        # A full pass each hour (it finds graduates added to the roster late); between
        # them, only the waves opened since the last pass that left nothing due.
        last_full: dt.datetime | None = None
        since: dt.datetime | None = None
        while True:
            now = dt.datetime.now(dt.UTC)
            if last_full is None or now - last_full >= FULL_PASS_EVERY:
                since, last_full = None, now
            report = await tick(engine, sms, now, airtime=thanks, since=since)
            since = now if report.full else None
            log.info(
                "worker pass: %d recorded, %d sent, %d failed (%d to retry), %d waiting "
                "for contact hours, %d cancelled; airtime: %d sent, %d failed",
                report.enqueued, report.sent, report.failed, report.retrying,
                report.postponed, report.cancelled, report.airtime_sent, report.airtime_failed,
            )  # fmt: skip
            if args.once:
                return
            await asyncio.sleep(args.interval)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the loop, not in error
        run_with_engine(settings, work)
    return 0
