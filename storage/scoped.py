"""Reads for the admin site, each within one organisation.

Staff see only their own organisation's surveys, respondents, responses and answers,
whatever id they put in a URL. Every function here takes the organisation of the
member of staff asking and answers None for another organisation's object exactly as
for one that does not exist, so a page cannot tell "not yours" from "no such thing".

    list_surveys(bind, organisation_id)                 the organisation's surveys
    survey_of(bind, organisation_id, survey_id)         SurveySummary | None
    respondent_of(bind, organisation_id, respondent_id) StoredRespondent | None
    response_of(bind, organisation_id, response_id)     StoredResponse | None (answers in)
    recording_of(bind, organisation_id, answer_id)      StoredRecording | None
    export_answers(engine, survey, out, organisation_id=...)
                                                        raises SurveyNotFound when not theirs

`bind` is an engine or a connection (a page's transaction). `list_surveys` and
`survey_of` live in `storage.surveys`, `export_answers` in `storage.exports`; they are
named here so the admin site has one module to read through. A response belongs to
the organisation of its survey (and of its respondent: the interview path only ever
joins the two within one organisation).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import connected
from storage.exports import SurveyNotFound, export_answers
from storage.schema import answers, respondents, responses, survey_versions, surveys
from storage.surveys import SurveySummary, list_surveys, survey_of
from survey_engine.events import AnswerKind, ResponseStatus

__all__ = [
    "StoredAnswer",
    "StoredRecording",
    "StoredRespondent",
    "StoredResponse",
    "SurveyNotFound",
    "SurveySummary",
    "export_answers",
    "list_surveys",
    "recording_of",
    "respondent_of",
    "response_of",
    "survey_of",
]


@dataclass(frozen=True, slots=True)
class StoredRespondent:
    id: int
    organisation_id: int
    phone: str  # E.164; mask it where the full number is not needed
    name: str
    language: str | None
    programme: str
    cohort: str
    completion_date: dt.date | None
    gender: str
    on_roster: bool  # False: a number that dialled in without being on the roster
    attributes: Mapping[str, Any]  # the roster's other columns (district, trade, ...)
    created_at: dt.datetime
    updated_at: dt.datetime
    opted_out_at: dt.datetime | None = None  # asked never to be contacted again
    time_zone: str | None = None  # where they live (IANA), when known


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    id: int
    question: str
    # As stored: choice name(s), ISO date, number, text; for a recording, its reference
    # relative to RECORDINGS_DIR (`recording_of` gives it, `RecordingFolder.path_of`
    # turns it into a file path).
    value: str
    kind: AnswerKind
    channel: str
    answered_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: int
    respondent_id: int
    survey_id: int
    survey_version_id: int
    version: str  # the survey version's `settings.version`
    channel: str  # the channel it was last on
    status: ResponseStatus
    language: str | None
    started_at: dt.datetime
    updated_at: dt.datetime
    ended_at: dt.datetime | None
    answers: tuple[StoredAnswer, ...] = field(default=())  # in the order first given


@dataclass(frozen=True, slots=True)
class StoredRecording:
    """A voice answer. `ref` is relative to RECORDINGS_DIR, without extension:
    `storage.recordings.RecordingFolder.path_of(ref)` gives the file's path (and refuses
    a reference that would lead outside the folder); the file is `<path>.wav`."""

    answer_id: int
    response_id: int
    survey_id: int
    question: str
    ref: str


# Ids come from URLs: one beyond an INTEGER column is no row (PostgreSQL would refuse
# the parameter rather than find nothing).
_MAX_ID = 2**31 - 1


def _is_id(*values: int) -> bool:
    return all(0 < value <= _MAX_ID for value in values)


_T = TypeVar("_T")
_S = TypeVar("_S", bound=Select[Any])


def _owned_responses(stmt: _S, organisation_id: int) -> _S:
    """`stmt` (which reads `responses`) kept to responses whose survey and respondent
    are both the organisation's."""
    return (
        stmt.join(surveys, surveys.c.id == responses.c.survey_id)
        .join(respondents, respondents.c.id == responses.c.respondent_id)
        .where(
            surveys.c.organisation_id == organisation_id,
            respondents.c.organisation_id == organisation_id,
        )
    )


def _record(record: type[_T], row: Row[Any], /, **converted: Any) -> _T:
    """A record of the row's columns named as its fields; `converted` gives the fields
    whose column needs turning into the field's type."""
    columns = row._mapping
    names = [f.name for f in fields(record)]  # type: ignore[arg-type]
    values = {name: columns[name] for name in names if name not in converted}
    return record(**values, **converted)


async def respondent_of(
    bind: AsyncEngine | AsyncConnection, organisation_id: int, respondent_id: int
) -> StoredRespondent | None:
    """The respondent with this id when it is the organisation's; None otherwise."""
    if not _is_id(organisation_id, respondent_id):
        return None
    stmt = select(respondents).where(
        respondents.c.id == respondent_id, respondents.c.organisation_id == organisation_id
    )
    async with connected(bind) as conn:
        row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    return _record(
        StoredRespondent,
        row,
        on_roster=bool(row.on_roster),
        attributes=dict(row.attributes or {}),
    )


async def response_of(
    bind: AsyncEngine | AsyncConnection, organisation_id: int, response_id: int
) -> StoredResponse | None:
    """The response with this id, with its answers, when its survey (and respondent) are
    the organisation's; None otherwise."""
    if not _is_id(organisation_id, response_id):
        return None
    stmt = (
        select(
            responses.c.id,
            responses.c.respondent_id,
            responses.c.survey_id,
            responses.c.survey_version_id,
            survey_versions.c.version,
            responses.c.channel,
            responses.c.status,
            responses.c.language,
            responses.c.started_at,
            responses.c.updated_at,
            responses.c.ended_at,
        )
        .select_from(responses)
        .join(survey_versions, survey_versions.c.id == responses.c.survey_version_id)
        .where(responses.c.id == response_id)
    )
    stmt = _owned_responses(stmt, organisation_id)
    async with connected(bind) as conn:
        row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        given = await conn.execute(
            select(answers).where(answers.c.response_id == response_id).order_by(answers.c.id)
        )
        stored = tuple(
            _record(StoredAnswer, answer, kind=AnswerKind(answer.kind)) for answer in given
        )
    return _record(StoredResponse, row, status=ResponseStatus(row.status), answers=stored)


async def recording_of(
    bind: AsyncEngine | AsyncConnection, organisation_id: int, answer_id: int
) -> StoredRecording | None:
    """The voice answer with this id when its survey is the organisation's; None
    otherwise, and None for an answer that is not a recording (typed text is never
    read as a file name)."""
    if not _is_id(organisation_id, answer_id):
        return None
    stmt = (
        select(
            answers.c.id,
            answers.c.response_id,
            responses.c.survey_id,
            answers.c.question,
            answers.c.value,
        )
        .join_from(answers, responses, responses.c.id == answers.c.response_id)
        .where(answers.c.id == answer_id, answers.c.kind == AnswerKind.RECORDING.value)
    )
    stmt = _owned_responses(stmt, organisation_id)
    async with connected(bind) as conn:
        row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    return StoredRecording(
        answer_id=row.id,
        response_id=row.response_id,
        survey_id=row.survey_id,
        question=row.question,
        ref=row.value,
    )
