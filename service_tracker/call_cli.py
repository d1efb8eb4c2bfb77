"""`service-tracker call --survey ID_OR_FORM_ID --phone NUMBER`: one outbound survey call
through Asterisk's AMI, for an operator trying the voice channel.

Exit status: 0 answered; 1 busy, no answer or failed (and Asterisk's AMI out of reach);
2 a usage or configuration error (unknown survey, no IVR number, a number that is not
one, AMI settings missing or refused).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from service_tracker.config import Settings
from storage.db import PoolSizes, create_engine

__all__ = ["add_call_command", "dialer_settings"]


def add_call_command(commands: Any) -> None:
    """Add `call` to the command line's subcommands."""
    call = commands.add_parser(
        "call", help="place one outbound survey call through Asterisk (AMI) and wait for it"
    )
    call.add_argument("--survey", required=True, help="survey id or form_id")
    call.add_argument(
        "--phone",
        required=True,
        help="the respondent's number, e.g. +254712345678 (or national, with DEFAULT_PHONE_REGION)",
    )
    call.set_defaults(run=_call)


def dialer_settings(settings: Settings) -> Any:
    """The dialer's settings from the service's (AMI_*, IVR_*); ValueError naming the
    variables when one that calls need is not set."""
    from ivr.dialer import DialerSettings

    missing = settings.missing_for_calls()
    if missing:
        raise ValueError(
            "outbound calls need Asterisk's AMI: set " + ", ".join(missing) + " (see README)"
        )
    assert settings.ami_username and settings.ami_secret and settings.ivr_trunk
    return DialerSettings(
        username=settings.ami_username,
        secret=settings.ami_secret,
        trunk=settings.ivr_trunk,
        host=settings.ami_host,
        port=settings.ami_port,
        context=settings.ivr_context,
        exten=settings.ivr_exten,
        ring_seconds=settings.ivr_ring_seconds,
        max_calls=settings.ivr_max_calls,
    )


def _call(settings: Settings, args: argparse.Namespace) -> int:
    from survey_engine.phones import PhoneNumberError, normalize_phone

    try:
        dialer = dialer_settings(settings)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        phone = normalize_phone(args.phone, settings.default_phone_region)
    except PhoneNumberError as error:
        print(f"--phone {args.phone!r}: {error}", file=sys.stderr)
        return 2
    return asyncio.run(_place(settings, dialer, args.survey, phone))


async def _place(settings: Settings, dialer_config: Any, survey_key: str, phone: str) -> int:
    from ivr.dialer import AmiLoginRefused, AmiUnavailable, CallOutcome, CallRequest, Dialer
    from storage.calls import SqlCallLog
    from storage.surveys import find_survey, list_surveys

    engine = create_engine(
        settings.database_url, pool_size=PoolSizes.split(settings.database_pool_size).engine
    )
    try:
        survey = await find_survey(engine, survey_key)
        if survey is None:
            print(f"no survey with id or form_id '{survey_key}'", file=sys.stderr)
            return 2
        summary = next(
            s for s in await list_surveys(engine, None) if s.survey_id == survey.survey_id
        )
        if not summary.ivr_numbers:
            print(
                f"survey {survey.form_id} has no IVR number: bind one with "
                "`service-tracker survey import FILE --ivr-number NUMBER`",
                file=sys.stderr,
            )
            return 2
        request = CallRequest(survey.survey_id, phone, summary.ivr_numbers[0])
        try:
            async with Dialer(dialer_config, SqlCallLog(engine)) as dialer:
                result = await dialer.place(request)
        except AmiLoginRefused as error:
            print(f"{error}: check AMI_USERNAME and AMI_SECRET", file=sys.stderr)
            return 2
        except AmiUnavailable as error:
            print(f"{error}: is Asterisk running? (AMI_HOST, AMI_PORT)", file=sys.stderr)
            return 1
    finally:
        await engine.dispose()
    line = (
        f"call {result.call_id} to {phone} for survey {survey.form_id} "
        f"(caller ID {request.entry}): {result.outcome.value}"
    )
    if result.detail != result.outcome.value.replace("_", " "):
        line += f", {result.detail}"
    if result.reason is not None:
        line += f" (Asterisk's reason {result.reason})"
    if result.error:
        line += f": {result.error}"
    print(line, flush=True)
    return 0 if result.outcome is CallOutcome.ANSWERED else 1
