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
from collections.abc import Sequence
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.schema import answers, respondents, responses, survey_versions, surveys
from survey_engine.ports import SurveyVersionRef

__all__ = ["EXPORT_COLUMNS", "SurveyNotFound", "export_answers"]

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
    written = 0
    async with engine.connect() as conn:
        if organisation_id is not None:
            owner = await conn.scalar(
                select(surveys.c.organisation_id).where(surveys.c.id == survey_id)
            )
            if owner != organisation_id:
                raise SurveyNotFound(f"no survey with id {survey_id}")
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        result = await conn.stream(stmt)
        async for batch in result.partitions():
            writer.writerows(_csv_row(row) for row in batch)
            written += len(batch)
    return written


def _csv_row(row: Sequence[Any]) -> tuple[object, ...]:
    phone, question, value, channel, status, answered_at, response_id = row[:7]
    version, language, programme, cohort, kind = row[7:]
    return (
        phone,
        question,
        _cell(value),
        channel,
        status,
        _iso_utc(answered_at),
        response_id,
        version,
        language or "",
        _cell(programme),
        _cell(cohort),
        kind,
    )


def _cell(value: str | None) -> str:
    """`value`, with an apostrophe in front when a spreadsheet would take it for a
    formula; numbers (`-5`, `+254712345678`) stay numbers."""
    if not value:
        return ""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _iso_utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
