"""A survey's results as staff read them: counts by status and channel, answers a page
at a time, and every response streamed one row per response (the wide export).

Every function takes the survey's id; the caller has checked that the survey is the
organisation's (`storage.scoped.survey_of`), and each statement is also limited to
respondents of that organisation, so a slip in a caller still shows nothing of another
organisation's.

Filters (`ResultFilter`) mean the same on every page and export: the date range is
the day a response was started (UTC), the channel the one the response was last on,
and programme, cohort and gender those of the respondent's roster entry. Answers
staff gave in the phone simulator (storage.simulated) are left out unless asked for
(`tests`: "include" them, or "only" them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import connected
from storage.schema import answers, respondents, responses, survey_versions
from storage.simulated import not_simulated

__all__ = [
    "TESTS",
    "AnswerLine",
    "ResponseCounts",
    "ResultFilter",
    "WideResponse",
    "answered_questions",
    "answers_page",
    "filter_choices",
    "response_counts",
    "test_responses",
    "wide_responses",
]

_BATCH = 1000
TESTS = ("include", "only")  # what `ResultFilter.tests` may ask for


@dataclass(frozen=True, slots=True)
class ResultFilter:
    """What a page or an export is limited to; None: no limit."""

    question: str | None = None  # the answers table and the long export only
    channel: str | None = None
    status: str | None = None
    since: dt.date | None = None  # responses started on or after this day (UTC)
    until: dt.date | None = None  # ... and on or before this one
    programme: str | None = None
    cohort: str | None = None
    gender: str | None = None
    tests: str | None = None  # the simulator's: None leaves them out, "include", "only"

    def conditions(self, organisation_id: int) -> list[ColumnElement[bool]]:
        """The WHERE conditions on `responses` joined with `respondents`."""
        found = self.respondent_conditions(organisation_id)
        if self.channel:
            found.append(responses.c.channel == self.channel)
        if self.status:
            found.append(responses.c.status == self.status)
        if self.since:
            found.append(responses.c.started_at >= _midnight(self.since))
        if self.until:
            found.append(responses.c.started_at < _midnight(self.until + dt.timedelta(days=1)))
        return found

    def respondent_conditions(self, organisation_id: int) -> list[ColumnElement[bool]]:
        """The conditions on `respondents` alone."""
        found: list[ColumnElement[bool]] = [respondents.c.organisation_id == organisation_id]
        for name in ("programme", "cohort", "gender"):
            value = getattr(self, name)
            if value:
                found.append(respondents.c[name] == value)
        if self.tests == "only":
            found.append(~not_simulated())
        elif self.tests != "include":
            found.append(not_simulated())
        return found

    def query(self) -> dict[str, str]:
        """The filter as URL query parameters (the names the pages read)."""
        values = {
            "question": self.question,
            "channel": self.channel,
            "status": self.status,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "programme": self.programme,
            "cohort": self.cohort,
            "gender": self.gender,
            "tests": self.tests,
        }
        return {key: value for key, value in values.items() if value}


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class ResponseCounts:
    """Responses by (status, channel); `total` is all of them."""

    cells: Mapping[tuple[str, str], int]

    @property
    def total(self) -> int:
        return sum(self.cells.values())

    @property
    def channels(self) -> list[str]:
        return sorted({channel for _, channel in self.cells})

    @property
    def statuses(self) -> list[str]:
        return sorted({status for status, _ in self.cells})

    def by_status(self, status: str) -> int:
        return sum(n for (s, _), n in self.cells.items() if s == status)

    def by_channel(self, channel: str) -> int:
        return sum(n for (_, c), n in self.cells.items() if c == channel)

    def cell(self, status: str, channel: str) -> int:
        return self.cells.get((status, channel), 0)


async def response_counts(
    bind: AsyncEngine | AsyncConnection,
    organisation_id: int,
    survey_id: int,
    filters: ResultFilter | None = None,
) -> ResponseCounts:
    filters = filters or ResultFilter()
    stmt = (
        select(responses.c.status, responses.c.channel, func.count())
        .join_from(responses, respondents, respondents.c.id == responses.c.respondent_id)
        .where(responses.c.survey_id == survey_id, *filters.conditions(organisation_id))
        .group_by(responses.c.status, responses.c.channel)
    )
    async with connected(bind) as conn:
        rows = (await conn.execute(stmt)).all()
    return ResponseCounts({(row[0], row[1]): int(row[2]) for row in rows})


async def test_responses(
    bind: AsyncEngine | AsyncConnection, organisation_id: int, survey_id: int
) -> int:
    """How many responses to the survey staff gave in the phone simulator: the pages
    say they are left out, and how to show them."""
    testers = select(respondents.c.id).where(
        respondents.c.organisation_id == organisation_id,
        respondents.c.on_roster.is_(False),
        ~not_simulated(),
    )
    stmt = select(func.count()).where(
        responses.c.survey_id == survey_id, responses.c.respondent_id.in_(testers)
    )
    async with connected(bind) as conn:
        return int(await conn.scalar(stmt) or 0)


@dataclass(frozen=True, slots=True)
class AnswerLine:
    answer_id: int
    response_id: int
    phone: str  # E.164: mask it before showing it
    programme: str
    cohort: str
    question: str
    value: str
    kind: str
    channel: str  # the answer's own
    status: str  # the response's
    version_id: int
    answered_at: dt.datetime


async def answers_page(
    bind: AsyncEngine | AsyncConnection,
    organisation_id: int,
    survey_id: int,
    filters: ResultFilter | None = None,
    *,
    before: int | None = None,
    limit: int = 50,
) -> tuple[list[AnswerLine], bool]:
    """Answers newest first, `limit` of them older than answer `before`; and whether
    there are more. Pages by key, not by offset: the thousandth page costs what the
    first does."""
    filters = filters or ResultFilter()
    stmt = _answers_from(
        select(
            answers.c.id,
            answers.c.response_id,
            respondents.c.phone,
            respondents.c.programme,
            respondents.c.cohort,
            answers.c.question,
            answers.c.value,
            answers.c.kind,
            answers.c.channel,
            responses.c.status,
            responses.c.survey_version_id,
            answers.c.answered_at,
        ),
        organisation_id,
        survey_id,
        filters,
    )
    if before is not None:
        stmt = stmt.where(answers.c.id < before)
    stmt = stmt.order_by(answers.c.id.desc()).limit(limit + 1)
    async with connected(bind) as conn:
        rows = (await conn.execute(stmt)).all()
    lines = [AnswerLine(*row) for row in rows[:limit]]
    return lines, len(rows) > limit


def _answers_from(
    stmt: Select[tuple[object, ...]], organisation_id: int, survey_id: int, filters: ResultFilter
) -> Select[tuple[object, ...]]:
    stmt = (
        stmt.join_from(answers, responses, responses.c.id == answers.c.response_id)
        .join(respondents, respondents.c.id == responses.c.respondent_id)
        .where(responses.c.survey_id == survey_id, *filters.conditions(organisation_id))
    )
    if filters.question:
        stmt = stmt.where(answers.c.question == filters.question)
    return stmt


async def filter_choices(
    bind: AsyncEngine | AsyncConnection, organisation_id: int
) -> dict[str, list[str]]:
    """The programmes, cohorts and genders of the organisation's roster, for the filter
    menus: one pass over its respondents (the survey's own would cost a lookup each)."""
    stmt = (
        select(respondents.c.programme, respondents.c.cohort, respondents.c.gender)
        .where(respondents.c.organisation_id == organisation_id)
        .group_by(respondents.c.programme, respondents.c.cohort, respondents.c.gender)
        .limit(5000)
    )
    found: dict[str, set[str]] = {"programme": set(), "cohort": set(), "gender": set()}
    async with connected(bind) as conn:
        for programme, cohort, gender in await conn.execute(stmt):
            found["programme"].add(programme)
            found["cohort"].add(cohort)
            found["gender"].add(gender)
    return {name: sorted(v for v in values if v) for name, values in found.items()}


@dataclass(slots=True)
class WideResponse:
    """One response with its answers by question name (the wide export's row)."""

    response_id: int
    phone: str  # E.164: mask it unless an admin asked for the numbers
    programme: str
    cohort: str
    gender: str
    version_id: int
    version: str
    channel: str
    status: str
    language: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    opted_out_at: dt.datetime | None  # the graduate's, as of the export
    answers: dict[str, str] = field(default_factory=dict)


async def wide_responses(
    engine: AsyncEngine,
    organisation_id: int,
    survey_id: int,
    filters: ResultFilter | None = None,
) -> AsyncIterator[list[WideResponse]]:
    """Every response to the survey within `filters`, in order, in batches, each with
    all its answers. Read through a server-side cursor: memory holds one batch,
    whatever the survey's size."""
    filters = filters or ResultFilter()
    stmt = (
        select(
            responses.c.id,
            respondents.c.phone,
            respondents.c.programme,
            respondents.c.cohort,
            respondents.c.gender,
            responses.c.survey_version_id,
            survey_versions.c.version,
            responses.c.channel,
            responses.c.status,
            responses.c.language,
            responses.c.started_at,
            responses.c.ended_at,
            respondents.c.opted_out_at,
            answers.c.question,
            answers.c.value,
        )
        .join_from(responses, respondents, respondents.c.id == responses.c.respondent_id)
        .join(survey_versions, survey_versions.c.id == responses.c.survey_version_id)
        .outerjoin(answers, answers.c.response_id == responses.c.id)
        .where(responses.c.survey_id == survey_id, *filters.conditions(organisation_id))
        .order_by(responses.c.id, answers.c.id)
        .execution_options(yield_per=_BATCH)
    )
    current: WideResponse | None = None
    async with engine.connect() as conn:
        result = await conn.stream(stmt)
        async for batch in result.partitions():
            done: list[WideResponse] = []
            for row in batch:
                if current is None or current.response_id != row[0]:
                    if current is not None:
                        done.append(current)
                    current = WideResponse(*row[:13])
                if row[13] is not None:
                    current.answers[row[13]] = row[14]
            if done:
                yield done
    if current is not None:
        yield [current]


async def answered_questions(
    bind: AsyncEngine | AsyncConnection, organisation_id: int, survey_id: int
) -> set[str]:
    """Every question name answered in the survey (`topic[2]` for a repeat's second
    pass): the wide export's columns, as many as the longest repeat needs."""
    stmt = (
        select(answers.c.question)
        .join_from(answers, responses, responses.c.id == answers.c.response_id)
        .join(respondents, respondents.c.id == responses.c.respondent_id)
        .where(responses.c.survey_id == survey_id, respondents.c.organisation_id == organisation_id)
        .distinct()
    )
    async with connected(bind) as conn:
        return {row[0] for row in await conn.execute(stmt)}
