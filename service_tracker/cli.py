"""`service-tracker`: the command line of the service.

serve [--host H] [--port P] [--workers N]
demo
db upgrade
survey import FILE.xlsx|FILE.xls [--ussd-code CODE] [--ivr-number NUMBER]... [--roster-only]
              [--skip-unaskable] [--media DIR] [--organisation NAME]
respondents import FILE.csv|FILE.xlsx [--organisation NAME]
export answers --survey ID_OR_FORM_ID
simulate ussd --phone NUMBER [--url URL] [--code CODE]
audio render --survey ID_OR_FORM_ID [--engine auto|gtts|espeak] [--language xx]
audio upload --survey ID_OR_FORM_ID --key KEY --language xx FILE
audio coverage --survey ID_OR_FORM_ID [--keys]
call --survey ID_OR_FORM_ID --phone NUMBER
users create --email EMAIL --organisation NAME --role admin|analyst [--password-stdin]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import multiprocessing
import secrets
import signal
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service_tracker.audio_cli import add_audio_commands
from service_tracker.call_cli import add_call_command
from service_tracker.commands import no_survey, read_input, run_with_engine
from service_tracker.config import ConfigError, Settings
from service_tracker.logs import configure_logging
from service_tracker.study_cli import add_study_commands
from service_tracker.users_cli import add_users_commands
from storage.accounts import create_user
from storage.db import ping, schema_is_current, upgrade
from storage.exports import export_answers
from storage.respondents import RosterImportReport, import_respondents
from storage.schema import organisations, surveys, users
from storage.surveys import ImportedSurvey, find_survey, import_survey, unloadable_versions
from survey_engine.errors import SurveyLoadError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO_SURVEY = EXAMPLES / "graduate_tracer.xlsx"
DEMO_ROSTER = EXAMPLES / "roster.csv"
DEMO_FORM_ID = "graduate_tracer"
DEMO_USSD_CODE = "*384*123#"
DEMO_IVR_NUMBER = "4000"  # an extension of the demo PBX
DEMO_ACCOUNT = "demo@example.org"  # the demo's first admin, made when there is none


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    return args.run(settings, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="service-tracker",
        description="Tracer surveys of training graduates over USSD and voice.",
    )
    commands = parser.add_subparsers(metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web service (USSD callbacks, health)")
    serve.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: PORT or 8080)")
    serve.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (default 1)"
    )
    serve.set_defaults(run=_serve)

    demo = commands.add_parser(
        "demo", help="prepare the embedded database, load the sample survey and serve it"
    )
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    _organisation_option(demo, "the sample survey and roster")
    demo.set_defaults(run=_demo)

    db = commands.add_parser("db", help="database maintenance").add_subparsers(metavar="ACTION")
    db.add_parser("upgrade", help="create or migrate the schema").set_defaults(run=_db_upgrade)

    survey = commands.add_parser("survey", help="surveys").add_subparsers(metavar="ACTION")
    survey_import = survey.add_parser("import", help="import an XLSForm (.xlsx or .xls)")
    survey_import.add_argument("file", type=Path)
    survey_import.add_argument("--ussd-code", help="bind a USSD code to it, e.g. '*384*123#'")
    survey_import.add_argument(
        "--ivr-number",
        action="append",
        default=[],
        metavar="NUMBER",
        help="bind a number dialled to reach it by voice (repeatable), e.g. '+254201234567',"
        " '0201234567' (read in DEFAULT_PHONE_REGION) or an extension such as '4000'",
    )
    survey_import.add_argument(
        "--roster-only",
        action="store_true",
        help="answer numbers that are not on the roster with a polite END",
    )
    survey_import.add_argument(
        "--skip-unaskable",
        action="store_true",
        help="leave out the questions a phone cannot ask (geopoint, image, audio...), "
        "listing each, instead of refusing the form",
    )
    survey_import.add_argument(
        "--media",
        type=Path,
        metavar="DIR",
        help="the folder of the files the form lists choices from "
        "(select_one_from_file districts.csv)",
    )
    _organisation_option(survey_import, "the survey")
    survey_import.set_defaults(run=_survey_import)

    respondents = commands.add_parser("respondents", help="the roster").add_subparsers(
        metavar="ACTION"
    )
    roster_import = respondents.add_parser("import", help="import a roster (.csv or .xlsx)")
    roster_import.add_argument("file", type=Path)
    _organisation_option(roster_import, "the graduates")
    roster_import.set_defaults(run=_respondents_import)

    export = commands.add_parser("export", help="export data").add_subparsers(metavar="WHAT")
    answers = export.add_parser("answers", help="answers as CSV on standard output")
    answers.add_argument("--survey", required=True, help="survey id or form_id")
    answers.set_defaults(run=_export_answers)

    simulate = commands.add_parser("simulate", help="a phone in the terminal").add_subparsers(
        metavar="CHANNEL"
    )
    ussd = simulate.add_parser("ussd", help="dial the USSD endpoint like a feature phone")
    ussd.add_argument("--phone", required=True, help="the caller's number, e.g. +254712345678")
    ussd.add_argument("--url", help="service base URL (default: http://HOST:PORT)")
    ussd.add_argument("--code", default=DEMO_USSD_CODE, help="service code dialled")
    ussd.set_defaults(run=_simulate_ussd)

    add_audio_commands(commands)
    add_call_command(commands)
    add_users_commands(commands)
    add_study_commands(commands)
    return parser


def _organisation_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--organisation",
        metavar="NAME",
        help=f"the organisation {what} belong(s) to (made if new); without it: the only "
        "organisation, or 'Default' when there is none yet",
    )


# -- serve -------------------------------------------------------------------


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers
    if workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    if workers > 1 and settings.redis_url is None:
        # An in-process session store is not shared: a hop could reach another worker.
        print("--workers above 1 needs REDIS_URL (sessions shared by the workers)", file=sys.stderr)
        return 2
    problem = run_with_engine(settings, _schema_problem)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    _warn_if_gateway_open(settings)
    for line in run_with_engine(settings, unloadable_versions):
        logging.getLogger("service_tracker").warning(
            "%s; its sessions fail until a corrected version is imported", line
        )
    if workers == 1:
        _serve_worker(settings, host, port, False)
        return 0
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_serve_worker, args=(settings, host, port, True), daemon=False)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(signum: int, _frame: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()
    return 0


async def _schema_problem(engine: AsyncEngine) -> str:
    """Why the database cannot be served, for the operator; "" when it can."""
    if not await ping(engine):
        return "the database does not answer: check DATABASE_URL"
    if not await schema_is_current(engine):
        return "the database schema is not up to date: run `service-tracker db upgrade`"
    return ""


def _serve_worker(settings: Settings, host: str, port: int, reuse_port: bool) -> None:
    from aiohttp import web

    from service_tracker.app import create_app

    configure_logging(settings.log_level, buffered=True)
    logging.getLogger("service_tracker").info(
        "serving on http://%s:%s (database %s, sessions %s)",
        host,
        port,
        _safe_url(settings.database_url),
        "redis" if settings.redis_url else "in-process",
    )
    app = create_app(settings)
    app.on_startup.append(_freeze_heap)
    web.run_app(
        app,
        host=host,
        port=port,
        reuse_port=reuse_port or None,
        access_log=None,
        print=None,
    )


async def _freeze_heap(app: object) -> None:
    """Once the worker has started (compiled surveys, pools, modules), keep what it
    holds out of the garbage collector's full passes: they took 100-120 ms under voice
    load, which every call in progress waited for, and take a few ms after this."""
    gc.collect()
    gc.freeze()


def _warn_if_gateway_open(settings: Settings) -> None:
    if settings.gateway_token is None:
        logging.getLogger("service_tracker").warning(
            "GATEWAY_TOKEN is not set: the gateway endpoints (/ussd/africastalking, "
            "/ussd/africastalking/events) accept callbacks from anyone who knows their URL"
        )


def _safe_url(url: str) -> str:
    # Never log a database password.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


# -- data commands ----------------------------------------------------------


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    _ensure_sqlite_folder(settings.database_url)
    upgrade(settings.database_url)
    print(f"database is up to date: {_safe_url(settings.database_url)}")
    return 0


def _ensure_sqlite_folder(url: str) -> None:
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


MEDIA_FILE_LIMIT = 10_000_000  # bytes: a list of every village of a country fits


def _media_files(folder: Path | None) -> dict[str, bytes] | None:
    """The CSV files of `--media DIR`, by name; None (said why) when it cannot be read."""
    if folder is None:
        return {}
    if not folder.is_dir():
        print(f"--media {folder}: not a folder", file=sys.stderr)
        return None
    files: dict[str, bytes] = {}
    for path in sorted(folder.iterdir()):
        if not (path.is_file() and path.suffix.lower() == ".csv"):
            continue
        if path.stat().st_size > MEDIA_FILE_LIMIT:
            print(f"{path.name}: larger than {MEDIA_FILE_LIMIT:,} bytes", file=sys.stderr)
            return None
        files[path.name] = path.read_bytes()
    return files


def _survey_import(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    source = read_input(path)
    if source is None:
        return 1
    media = _media_files(args.media)
    if media is None:
        return 1

    async def work(engine: AsyncEngine) -> ImportedSurvey:
        return await import_survey(
            engine,
            source,
            filename=path.name,
            ussd_code=args.ussd_code,
            roster_only=args.roster_only,
            ivr_numbers=args.ivr_number,
            default_region=settings.default_phone_region,
            skip_unaskable=args.skip_unaskable,
            media=media,
            organisation=args.organisation,
        )

    try:
        imported = run_with_engine(settings, work)
    except SurveyLoadError as error:
        print(f"{path.name}: the form has {len(error.errors)} error(s):", file=sys.stderr)
        for problem in error.errors:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"{path.name}: {error}", file=sys.stderr)
        return 1
    if imported.warnings:
        print(f"{path.name}: {len(imported.warnings)} warning(s):", file=sys.stderr)
        for warning in imported.warnings:
            print(f"  {warning}", file=sys.stderr)
    state = "imported" if imported.created else "already imported"
    print(
        f"survey id={imported.survey_id} form_id={imported.form_id} "
        f"version={imported.version} ({state}) in organisation {imported.organisation}"
    )
    access = "roster only" if args.roster_only else "open to any number"
    if args.ussd_code:
        print(f"USSD {args.ussd_code} reaches {imported.form_id} ({access})")
    for number in imported.ivr_numbers:
        print(f"IVR {number} reaches {imported.form_id} ({access})")
    return 0


def _respondents_import(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    data = read_input(path)
    if data is None:
        return 1

    async def work(engine: AsyncEngine) -> RosterImportReport:
        return await import_respondents(
            engine,
            data,
            filename=path.name,
            default_region=settings.default_phone_region,
            organisation=args.organisation,
        )

    try:
        report = run_with_engine(settings, work)
    except ValueError as error:
        print(f"{path.name}: {error}", file=sys.stderr)
        return 1
    for problem in report.errors:
        print(
            f"{path.name}: line {problem.line}, column '{problem.column}': {problem.message}",
            file=sys.stderr,
        )
    print(
        f"respondents: {report.created} created, {report.updated} updated, "
        f"{len(report.errors)} row(s) with errors (organisation {report.organisation})"
    )
    return 1 if report.errors else 0


def _export_answers(settings: Settings, args: argparse.Namespace) -> int:
    async def work(engine: AsyncEngine) -> bool:
        survey = await find_survey(engine, args.survey)
        if survey is None:
            return False
        # The operator's command: every organisation's surveys.
        await export_answers(engine, survey, sys.stdout, organisation_id=None)
        return True

    if not run_with_engine(settings, work):
        return no_survey(args.survey)
    return 0


# -- demo and simulator ------------------------------------------------------


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    print("Preparing the database ...")
    _db_upgrade(settings, args)
    print(
        f"Loading the sample survey {DEMO_SURVEY.name} on USSD code {DEMO_USSD_CODE} "
        f"and IVR number {DEMO_IVR_NUMBER} ..."
    )
    # Run again, the demo reloads into the organisation that already holds its survey.
    organisation = args.organisation or run_with_engine(settings, _demo_survey_owner)
    code = _survey_import(
        settings,
        argparse.Namespace(
            file=DEMO_SURVEY,
            ussd_code=DEMO_USSD_CODE,
            ivr_number=[DEMO_IVR_NUMBER],
            roster_only=False,
            skip_unaskable=False,
            media=None,
            organisation=organisation,
        ),
    )
    if code != 0:
        return code
    print(f"Loading the sample roster {DEMO_ROSTER.name} ...")
    # The roster goes where the survey is.
    organisation = run_with_engine(settings, _demo_survey_owner)
    _respondents_import(settings, argparse.Namespace(file=DEMO_ROSTER, organisation=organisation))
    account = run_with_engine(settings, _demo_account)
    host = args.host or settings.host
    port = args.port or settings.port
    base = f"http://{host}:{port}"
    # The token itself is not printed: this output is often kept or shared.
    query = "?token=$GATEWAY_TOKEN" if settings.gateway_token else ""
    _warn_if_gateway_open(settings)
    print(
        "\nService Tracker is running.\n"
        f"  health:                  {base}/healthz\n"
        f"  admin site:              {base}/admin/  {account}\n"
        f"  Africa's Talking USSD callback URL:  {base}/ussd/africastalking{query}\n"
        f"  Africa's Talking session events URL: {base}/ussd/africastalking/events{query}\n"
        "  try it from another terminal:\n"
        f"    .venv/bin/service-tracker simulate ussd --phone +254712345678 --url {base}\n"
        "  voice prompts for the survey, in its four languages (into AUDIO_DIR):\n"
        "    .venv/bin/service-tracker audio render --survey graduate_tracer\n"
        f"  FastAGI for Asterisk (calls to {DEMO_IVR_NUMBER} reach the survey):\n"
        f"    AGI(agi://{settings.agi_host}:{settings.agi_port}/survey)\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    _serve_worker(settings, host, port, False)
    return 0


async def _demo_account(engine: AsyncEngine) -> str:
    """A first admin account when there is none, so the demo's admin site can be
    tried at once: its password is made here and printed once."""
    async with engine.connect() as conn:
        if await conn.scalar(select(func.count()).select_from(users)):
            return "(sign in with your account)"
    # The demo's admin sees the sample survey: it is made in the survey's organisation.
    organisation = await _demo_survey_owner(engine)
    password = secrets.token_urlsafe(12)
    user = await create_user(
        engine,
        email=DEMO_ACCOUNT,
        organisation=organisation or "Demo",
        role="admin",
        password=password,
    )
    return f"(sign in as {user.email}, password {password})"


async def _demo_survey_owner(engine: AsyncEngine) -> str | None:
    """The name of the organisation holding the sample survey, if it is loaded."""
    stmt = (
        select(organisations.c.name)
        .join_from(surveys, organisations, organisations.c.id == surveys.c.organisation_id)
        .where(surveys.c.form_id == DEMO_FORM_ID)
    )
    async with engine.connect() as conn:
        return await conn.scalar(stmt)


def _simulate_ussd(settings: Settings, args: argparse.Namespace) -> int:
    from service_tracker.simulator import simulate_ussd

    base = args.url or f"http://{settings.host}:{settings.port}"
    return asyncio.run(
        simulate_ussd(base, phone=args.phone, service_code=args.code, token=settings.gateway_token)
    )


if __name__ == "__main__":
    raise SystemExit(main())
