"""Which survey and which of its rows a results page, dashboard or export is about:
the survey of the signed-in user's organisation named in the URL (else 404), its
compiled form, and the filters asked for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from admin.auth import current_user
from service_tracker.keys import DATABASE, RESPONSES
from storage.results import TESTS, ResultFilter, test_responses
from storage.scoped import SurveySummary, survey_of
from survey_engine.errors import SurveyLoadError
from survey_engine.events import ResponseStatus
from survey_engine.model import Survey

__all__ = [
    "CHANNELS",
    "STATUSES",
    "load_form",
    "parse_filters",
    "survey_or_404",
    "tests_left_out",
]

CHANNELS = ("ussd", "ivr", "sms")
STATUSES = tuple(s.value for s in ResponseStatus)


async def survey_or_404(request: web.Request, survey_id: str | int) -> SurveySummary:
    """The survey with this id when it is the signed-in user's organisation's; else 404."""
    try:
        number = int(survey_id)
    except ValueError:
        raise web.HTTPNotFound() from None
    found = await survey_of(
        request.config_dict[DATABASE], current_user(request).organisation_id, number
    )
    if found is None:
        raise web.HTTPNotFound()
    return found


async def tests_left_out(
    engine: AsyncEngine, organisation_id: int, survey_id: int, filters: ResultFilter
) -> int:
    """The simulator's responses the filters leave out (0 when they are asked for)."""
    return 0 if filters.tests else await test_responses(engine, organisation_id, survey_id)


async def load_form(request: web.Request, version_id: int) -> Survey:
    """A compiled survey version, from the interview store's cache (compiled once). A
    stored version this release cannot compile is a page that says why (409), not a
    server error: staff can upload a corrected version."""
    try:
        return await request.config_dict[RESPONSES].load_survey(version_id)
    except SurveyLoadError as error:
        problems = [str(e) for e in error.errors][:10]
        page = aiohttp_jinja2.render_string(
            "error.html",
            request,
            {
                "title": "This survey version does not load",
                "text": "The service cannot compile the survey's current version, so "
                "nothing that needs its questions can be shown. Upload a corrected "
                "version on the Surveys page.",
                "problems": problems,
            },
        )
        raise web.HTTPConflict(text=page, content_type="text/html") from None


def parse_filters(query: Mapping[str, str]) -> tuple[ResultFilter, list[str]]:
    """The filters a page or export was asked for, and what was wrong with them (a bad
    value is left out, and the page says so)."""
    problems: list[str] = []

    def text(name: str) -> str | None:
        return (query.get(name) or "").strip()[:255] or None

    def day(name: str, label: str) -> dt.date | None:
        value = text(name)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            problems.append(f"The {label} date '{value}' is not a date like 2026-03-31.")
            return None

    channel, status = text("channel"), text("status")
    if channel and channel not in CHANNELS:
        problems.append(f"There is no channel '{channel}'.")
        channel = None
    if status and status not in STATUSES:
        problems.append(f"There is no status '{status}'.")
        status = None
    tests = text("tests")
    if tests and tests not in TESTS:
        problems.append(f"Simulator test answers can be {' or '.join(TESTS)}, not '{tests}'.")
        tests = None
    since, until = day("since", "from"), day("until", "to")
    if since and until and since > until:
        problems.append("The from date is after the to date.")
    return (
        ResultFilter(
            question=text("question"),
            channel=channel,
            status=status,
            since=since,
            until=until,
            programme=text("programme"),
            cohort=text("cohort"),
            gender=text("gender"),
            tests=tests,
        ),
        problems,
    )
