"""Answers as CSV (`service-tracker export answers --survey ID_OR_FORM_ID`).

One row per stored answer, long format, so that every survey version and every wave
fits the same columns and a pivot in a spreadsheet or pandas gives one column per
question. Rows are streamed from the database in batches: a large survey is never
held in memory.

A voice answer's value is the reference the server made for its recording, relative
to RECORDINGS_DIR (`storage.recordings`): the export never names a folder of the
server, and the same columns serve typed and spoken answers. `kind` tells what a
value is: `text` (typed), `recording` (spoken) or `calculated` (worked out by the
survey: a calculate row, a hidden value, the metadata the system fills), so what a
respondent said is never confused with what the form computed.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.results import ResultFilter, WideResponse
from storage.schema import answers, respondents, responses, survey_versions, surveys
from survey_engine.model import QuestionType, Survey
from survey_engine.ports import SurveyVersionRef

__all__ = [
    "EXPORT_COLUMNS",
    "WIDE_COLUMNS",
    "SurveyNotFound",
    "WideLayout",
    "answer_rows",
    "export_answers",
    "safe_cell",
    "wide_layout",
]

EXPORT_COLUMNS = (
    "respondent",  # E.164 phone number
    "question",  # the question's name in the form
    # As stored: choice name(s), ISO date, plain number, text; a voice answer's is its
    # recording's path relative to RECORDINGS_DIR (the file is `<value>.wav` there).
    "value",
    "channel",  # the channel the answer was given on: ussd, ivr
    "response_status",
    "answered_at",  # ISO 8601 UTC, when the question was first answered in the response
    "response_id",
    "survey_version",
    "language",  # the language the response was given in
    "programme",
    "cohort",
    "kind",  # text (typed), recording (spoken) or calculated (by the form, not said)
)

_BATCH = 1000
# A cell a spreadsheet would run as a formula. Respondents type free text over USSD,
# and staff open exports in Excel or LibreOffice (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


class SurveyNotFound(LookupError):
    """No such survey for the organisation asking (another organisation's survey is
    reported exactly as one that does not exist)."""


async def export_answers(
    engine: AsyncEngine,
    survey: SurveyVersionRef | int,
    out: TextIO,
    *,
    organisation_id: int | None,
) -> int:
    """Write every answer to `survey` (all its versions) to `out`; return the rows written.

    `organisation_id`: the organisation of the staff exporting; a survey that is not
    its own raises `SurveyNotFound` before anything is written. None (the operator's
    `export answers` command) exports any survey, and nothing for an unknown id.
    Ordered by response, then by the order the answers were first given."""
    survey_id = survey.survey_id if isinstance(survey, SurveyVersionRef) else survey
    writer = csv.writer(out)
    written = 0
    rows = answer_rows(engine, survey_id, organisation_id=organisation_id)
    async for batch in rows:
        if not written:
            writer.writerow(EXPORT_COLUMNS)
        writer.writerows(batch)
        written += len(batch)
    if not written:
        writer.writerow(EXPORT_COLUMNS)
    return written


async def answer_rows(
    engine: AsyncEngine,
    survey_id: int,
    *,
    organisation_id: int | None,
    filters: ResultFilter | None = None,
) -> AsyncIterator[list[tuple[object, ...]]]:
    """The rows of the long export (`EXPORT_COLUMNS`, cells as `safe_cell` makes them) in
    batches, read through a server-side cursor: memory holds one batch, whatever the
    survey's size. Raises `SurveyNotFound` before the first batch when the survey is
    not `organisation_id`'s; `filters` (the admin site's) needs an organisation."""
    stmt = (
        select(
            respondents.c.phone,
            answers.c.question,
            answers.c.value,
            answers.c.channel,
            responses.c.status,
            answers.c.answered_at,
            responses.c.id,
            survey_versions.c.version,
            responses.c.language,
            respondents.c.programme,
            respondents.c.cohort,
            answers.c.kind,
        )
        .join_from(answers, responses, answers.c.response_id == responses.c.id)
        .join(respondents, respondents.c.id == responses.c.respondent_id)
        .join(survey_versions, survey_versions.c.id == responses.c.survey_version_id)
        .where(responses.c.survey_id == survey_id)
        .order_by(responses.c.id, answers.c.id)
        .execution_options(yield_per=_BATCH)
    )
    if filters is not None and organisation_id is not None:
        stmt = stmt.where(*filters.conditions(organisation_id))
        if filters.question:
            stmt = stmt.where(answers.c.question == filters.question)
    async with engine.connect() as conn:
        if organisation_id is not None:
            owner = await conn.scalar(
                select(surveys.c.organisation_id).where(surveys.c.id == survey_id)
            )
            if owner != organisation_id:
                raise SurveyNotFound(f"no survey with id {survey_id}")
        result = await conn.stream(stmt)
        async for batch in result.partitions():
            yield [_csv_row(row) for row in batch]


def _csv_row(row: Sequence[Any]) -> tuple[object, ...]:
    phone, question, value, channel, status, answered_at, response_id = row[:7]
    version, language, programme, cohort, kind = row[7:]
    return (
        phone,
        question,
        safe_cell(value),
        channel,
        status,
        _iso_utc(answered_at),
        response_id,
        version,
        language or "",
        safe_cell(programme),
        safe_cell(cohort),
        kind,
    )


def safe_cell(value: str | None) -> str:
    """`value`, with an apostrophe in front when a spreadsheet would take it for a
    formula; numbers (`-5`, `+254712345678`) stay numbers."""
    if not value:
        return ""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _iso_utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- the wide shape: one row per response, one column per question ---------------------

WIDE_COLUMNS = (
    "response_id",
    "respondent",  # E.164 phone number (masked on the admin site unless asked for)
    "programme",
    "cohort",
    "gender",
    "survey_version",
    "channel",  # the channel the response was last on
    "response_status",
    "language",
    "started_at",
    "ended_at",
    "opted_out_at",  # when the graduate asked never to be contacted again, else empty
)
_PASS = re.compile(r"^(.*)\[(\d+)\]$")  # `topic[2]`: a repeat's second pass


@dataclass(frozen=True, slots=True)
class WideLayout:
    """The wide export's question columns and how to show each answer: choice names
    become labels in `language` (the form's default where it has no such language);
    a select_multiple's or rank's names are joined with "; "."""

    questions: tuple[str, ...]
    language: str | None
    # version id -> question name -> choice name -> label
    labels: Mapping[int, Mapping[str, Mapping[str, str]]]

    def row(self, response: WideResponse, phone: str) -> tuple[object, ...]:
        labels = self.labels.get(response.version_id, {})
        cells = [
            response.response_id,
            phone,
            safe_cell(response.programme),
            safe_cell(response.cohort),
            safe_cell(response.gender),
            response.version,
            response.channel,
            response.status,
            response.language or "",
            _iso_utc(response.started_at),
            _iso_utc(response.ended_at) if response.ended_at else "",
            _iso_utc(response.opted_out_at) if response.opted_out_at else "",
        ]
        for question in self.questions:
            value = response.answers.get(question)
            if value is None:
                cells.append("")
                continue
            choices = labels.get(_base(question))
            if choices:
                value = "; ".join(choices.get(name, name) for name in value.split())
            cells.append(safe_cell(value))
        return tuple(cells)

    @property
    def header(self) -> tuple[str, ...]:
        return (*WIDE_COLUMNS, *self.questions)


def wide_layout(
    forms: Mapping[int, Survey], answered: Iterable[str], language: str | None
) -> WideLayout:
    """The layout for a survey whose versions are `forms` (by version id) and whose
    stored answers name `answered`: the questions in the newest form's order (older
    versions' own after them, a repeat's passes in order), then anything answered that
    no form names, so no stored answer is left out."""
    order: dict[str, int] = {}
    for _, form in sorted(forms.items(), reverse=True):
        names = [q.name for q in form.questions if q.type is not QuestionType.NOTE]
        for name in (*names, *(c.name for c in form.calculations)):
            order.setdefault(name, len(order))
    given = set(answered)
    present = {name for name in order if name in given}
    for name in given:
        base = _base(name)
        if base != name and base in order:
            present.add(name)

    def key(name: str) -> tuple[int, int, str]:
        found = _PASS.match(name)
        base, turn = (found.group(1), int(found.group(2))) if found else (name, 0)
        return (order.get(base, len(order)), turn, name)

    rest = sorted(given - present - set(order))
    questions = (*sorted(present, key=key), *rest)
    labels: dict[int, dict[str, dict[str, str]]] = {}
    for version_id, form in forms.items():
        codes = {lang.code for lang in form.languages}
        code = language if language in codes else form.default_language
        labels[version_id] = {
            q.name: {c.name: c.labels.get(code) or c.name for c in q.choices}
            for q in form.questions
            if q.type.has_choices and q.choices
        }
    return WideLayout(tuple(questions), language, labels)


def _base(question: str) -> str:
    found = _PASS.match(question)
    return found.group(1) if found else question
