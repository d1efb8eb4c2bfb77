"""`SqlResponseStore`: the engine's `ResponseStore` port on SQLAlchemy Core.

`record_turn` runs on every USSD hop, so its statements are built once per shape of
turn, and a usual turn (an answer, a language, an ending, or only a new input
reference) is ONE statement on PostgreSQL: the response update is a CTE that the answer
upsert and the respondent's language read from, run in autocommit (a single statement
is atomic on its own), so a hop costs one round trip. SQLite has no data-modifying
CTEs: there the same work is two or three statements in one transaction, whose "round
trips" are thread hops inside the process.

Turns that remove answers (going back changed the skip logic, or a restart) apply
their events in order inside one transaction: they are rare, and order matters there.

Records returned are the frozen values of `survey_engine.ports`; rows never leave.
Bind parameter names start with `b_`: SQLAlchemy reads parameter keys that match a
column name of an INSERT/UPDATE target as extra SET columns.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    Executable,
    Integer,
    Row,
    Select,
    String,
    bindparam,
    case,
    delete,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import db
from storage.pg_direct import PgDirect
from storage.schema import (
    UtcDateTime,
    answers,
    entry_points,
    respondents,
    responses,
    survey_versions,
    surveys,
)
from storage.surveys import load_stored_form, stored_media
from survey_engine.errors import EngineError
from survey_engine.events import (
    AnswerGiven,
    AnswerKind,
    AnswersCleared,
    DataEvent,
    Ended,
    Failed,
    LanguageChosen,
    ResponseStatus,
    Restarted,
    Suspended,
)
from survey_engine.model import Survey
from survey_engine.ports import (
    EntryPoint,
    NewResponse,
    RespondentRecord,
    ResponseRecord,
    SurveyVersionRef,
)

__all__ = ["SqlResponseStore"]

_IN_PROGRESS = ResponseStatus.IN_PROGRESS.value
_INTERRUPTED = ResponseStatus.INTERRUPTED.value
_RECORDING = AnswerKind.RECORDING.value

# Shared, typed bind parameters (asyncpg needs to know what a parameter is).
_RESPONSE_ID = bindparam("b_response_id", type_=responses.c.id.type)
_NOW = bindparam("b_now", type_=UtcDateTime())
_LANGUAGE = bindparam("b_language", type_=String())
_STATUS = bindparam("b_status", type_=String())
_TURN_REF = bindparam("b_turn_ref", type_=String())
_QUESTION = bindparam("b_question", type_=String())
_VALUE = bindparam("b_value", type_=String())
_KIND = bindparam("b_kind", type_=String())
_CHANNEL = bindparam("b_channel", type_=String())
_SESSION_REF = bindparam("b_session_ref", type_=String())


# -- reading ------------------------------------------------------------------------------

_RESPONSE_COLUMNS = (
    responses.c.id,
    responses.c.respondent_id,
    responses.c.survey_id,
    responses.c.survey_version_id,
    responses.c.channel,
    responses.c.status,
    responses.c.language,
    responses.c.session_ref,
    responses.c.turn_ref,
    responses.c.started_at,
    responses.c.updated_at,
    responses.c.resume_offered,
)


def _with_answers(one_response: Select[Any]) -> Select[Any]:
    """The chosen response (a LIMIT 1 select) joined with its answers and their kinds:
    one round trip."""
    chosen = one_response.subquery("chosen")
    return (
        select(chosen, answers.c.question, answers.c.value, answers.c.kind)
        .select_from(chosen.outerjoin(answers, answers.c.response_id == chosen.c.id))
        .order_by(answers.c.id)
    )


_LATEST_RESPONSE = _with_answers(
    select(*_RESPONSE_COLUMNS)
    .where(
        responses.c.respondent_id == bindparam("b_respondent_id"),
        responses.c.survey_id == bindparam("b_survey_id"),
    )
    .order_by(responses.c.started_at.desc(), responses.c.id.desc())
    .limit(1)
)

_RESPONSE_BY_SESSION = _with_answers(
    select(*_RESPONSE_COLUMNS)
    .where(responses.c.channel == _CHANNEL, responses.c.session_ref == _SESSION_REF)
    # A session fills one response; should a gateway ever reuse an id, the newest wins.
    .order_by(responses.c.id.desc())
    .limit(1)
)

_ENTRY_POINT = (
    select(
        entry_points.c.survey_id,
        entry_points.c.roster_only,
        surveys.c.organisation_id,
        surveys.c.status,
    )
    .join_from(entry_points, surveys, surveys.c.id == entry_points.c.survey_id)
    .where(entry_points.c.channel == _CHANNEL, entry_points.c.address == bindparam("b_address"))
)

_CURRENT_VERSION = (
    select(surveys.c.id, survey_versions.c.id, surveys.c.form_id, survey_versions.c.version)
    .join_from(surveys, survey_versions, survey_versions.c.survey_id == surveys.c.id)
    .where(surveys.c.id == bindparam("b_survey_id"))
    .order_by(survey_versions.c.id.desc())
    .limit(1)
)

_VERSION_SOURCE = (
    select(survey_versions.c.source, surveys.c.form_id)
    .join_from(survey_versions, surveys, survey_versions.c.survey_id == surveys.c.id)
    .where(survey_versions.c.id == bindparam("b_version_id"))
)

_RESPONDENT_COLUMNS = (
    respondents.c.id,
    respondents.c.phone,
    respondents.c.language,
    respondents.c.on_roster,
    respondents.c.name,
)
_ORGANISATION_ID = bindparam("b_organisation_id", type_=Integer())
# Served by the unique index on (organisation_id, phone).
_FIND_RESPONDENT = select(*_RESPONDENT_COLUMNS).where(
    respondents.c.organisation_id == _ORGANISATION_ID,
    respondents.c.phone == bindparam("b_phone"),
)

# The first hop of a dial, in one round trip: the survey's organisation's respondent is
# found; a number new to it becomes its respondent and the first response begins.
_PG_DIAL_IN = text(
    """
    WITH found AS (
        SELECT id, phone, language, on_roster, name FROM respondents
        WHERE organisation_id = :b_organisation_id AND phone = :b_phone
    ), created AS (
        INSERT INTO respondents (organisation_id, phone, name, language, programme, cohort,
                                 gender, on_roster, attributes, created_at, updated_at)
        SELECT :b_organisation_id, :b_phone, '', NULL, '', '', '', false, '{}', :b_now, :b_now
        WHERE NOT EXISTS (SELECT 1 FROM found)
        ON CONFLICT (organisation_id, phone) DO NOTHING
        RETURNING id, phone, language, on_roster, name
    ), started AS (
        INSERT INTO responses (respondent_id, survey_id, survey_version_id, channel, status,
                               language, session_ref, turn_ref, started_at, updated_at)
        SELECT created.id, survey_versions.survey_id, survey_versions.id, :b_channel,
               'in_progress', :b_language, :b_session_ref, :b_turn_ref, :b_now, :b_now
        FROM created JOIN survey_versions ON survey_versions.id = :b_version_id
        RETURNING id, respondent_id
    )
    SELECT found.*, NULL::integer AS response_id FROM found
    UNION ALL
    SELECT created.*, started.id AS response_id
    FROM created LEFT JOIN started ON started.respondent_id = created.id
    """
).bindparams(bindparam("b_now", type_=UtcDateTime()), _ORGANISATION_ID)


# -- starting and attaching ---------------------------------------------------------------

_START_RESPONSE = (
    responses.insert()
    .values(
        respondent_id=bindparam("b_respondent_id"),
        survey_id=select(survey_versions.c.survey_id)
        .where(survey_versions.c.id == bindparam("b_version_id"))
        .scalar_subquery(),
        survey_version_id=bindparam("b_version_id"),
        channel=_CHANNEL,
        status=_IN_PROGRESS,
        language=_LANGUAGE,
        session_ref=_SESSION_REF,
        turn_ref=_TURN_REF,
        started_at=_NOW,
        updated_at=_NOW,
    )
    .returning(*_RESPONSE_COLUMNS)
)

_ATTACH_SESSION = (
    update(responses)
    .where(responses.c.id == _RESPONSE_ID)
    .values(
        channel=_CHANNEL,
        session_ref=_SESSION_REF,
        turn_ref=_TURN_REF,
        updated_at=_NOW,
        resume_offered=True,
        # A redial continues an interrupted response: it is in progress again, so the
        # next session-end notice can interrupt it again. Finished ones stay finished.
        status=case((responses.c.status == _INTERRUPTED, _IN_PROGRESS), else_=responses.c.status),
    )
)


@cache
def _end_session(ended: bool) -> Executable:
    # Conditional in one statement: the session must still hold the response, in progress.
    values: dict[str, Any] = {"status": _STATUS, "updated_at": _NOW}
    if ended:
        values["ended_at"] = _NOW
    return (
        update(responses)
        .where(
            responses.c.channel == _CHANNEL,
            responses.c.session_ref == _SESSION_REF,
            responses.c.status == _IN_PROGRESS,
        )
        .values(values)
    )


# -- one turn -----------------------------------------------------------------------------


@dataclass(slots=True)
class _TurnPlan:
    """What a turn's events do to the response row, and the answer changes in order."""

    language: str | None = None
    status: str | None = None
    ended: bool = False
    answer_events: list[AnswerGiven | AnswersCleared | Restarted] = field(default_factory=list)

    @property
    def shape(self) -> tuple[bool, bool, bool]:
        return (self.language is not None, self.status is not None, self.ended)

    @property
    def single_answer(self) -> AnswerGiven | None:
        """The turn's answer when it is the only answer change (the usual turn)."""
        match self.answer_events:
            case [AnswerGiven() as answer]:
                return answer
        return None


def _plan(events: Sequence[DataEvent]) -> _TurnPlan:
    plan = _TurnPlan()
    for event in events:
        match event:
            case AnswerGiven() | Restarted():
                plan.answer_events.append(event)
            case AnswersCleared(questions=questions):
                if questions:
                    plan.answer_events.append(event)
            case LanguageChosen(language=language):
                plan.language = language
            case Ended(status=status):
                # Interrupted (too many wrong answers) stays resumable: not ended.
                plan.status = status.value
                plan.ended = status is not ResponseStatus.INTERRUPTED
            case Suspended():
                plan.status = _INTERRUPTED
            case Failed():
                # The survey broke at run time: the response is over, not resumable.
                plan.status, plan.ended = ResponseStatus.FAILED.value, True
            case _:
                raise EngineError("unknown_event", f"cannot store {event!r}")
    return plan


def _response_values(
    language: bool, status: bool, ended: bool, resume_offered: bool = False
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "turn_ref": _TURN_REF,
        "updated_at": _NOW,
        "resume_offered": resume_offered,
    }
    if language:
        values["language"] = _LANGUAGE
    if status:
        values["status"] = _STATUS
    if ended:
        values["ended_at"] = _NOW
    return values


@cache
def _response_update(
    language: bool, status: bool, ended: bool, resume_offered: bool = False
) -> Executable:
    return (
        update(responses)
        .where(responses.c.id == _RESPONSE_ID)
        .values(_response_values(language, status, ended, resume_offered))
    )


_ANSWER_COLUMNS = [
    "response_id",
    "question",
    "value",
    "kind",
    "channel",
    "answered_at",
    "updated_at",
]
# An answer is given on the response's channel as of its turn (`attach_session` moves a
# response resumed on another channel): read from the row, never a parameter.
_RESPONSE_CHANNEL = (
    select(responses.c.channel).where(responses.c.id == _RESPONSE_ID).scalar_subquery()
)


def _answer_upsert(insert: Any, rows: Select[Any] | None = None) -> Any:
    """INSERT ... ON CONFLICT (response_id, question) DO UPDATE: never a second row.
    Answering again replaces the value, its kind (a recording after typed text) and
    its channel (changed by voice after USSD).

    `insert` is the dialect's (postgresql.insert, sqlite.insert); `rows` a SELECT of the
    values in `_ANSWER_COLUMNS` order, else they are the bind parameters."""
    if rows is None:
        stmt = insert(answers).values(
            response_id=_RESPONSE_ID,
            question=_QUESTION,
            value=_VALUE,
            kind=_KIND,
            channel=_RESPONSE_CHANNEL,
            answered_at=_NOW,
            updated_at=_NOW,
        )
    else:
        stmt = insert(answers).from_select(_ANSWER_COLUMNS, rows)
    return stmt.on_conflict_do_update(
        index_elements=[answers.c.response_id, answers.c.question],
        set_={
            "value": stmt.excluded.value,
            "kind": stmt.excluded.kind,
            "channel": stmt.excluded.channel,
            "updated_at": stmt.excluded.updated_at,
        },
    )


def _answer_params(answer: AnswerGiven) -> dict[str, str]:
    return {"b_question": answer.question, "b_value": answer.value, "b_kind": answer.kind.value}


_SQLITE_ANSWER_UPSERT = _answer_upsert(sqlite.insert)
_PG_ANSWER_UPSERT = _answer_upsert(postgresql.insert)

_RESPONDENT_LANGUAGE = (
    update(respondents)
    .where(
        respondents.c.id
        == select(responses.c.respondent_id)
        .where(responses.c.id == _RESPONSE_ID)
        .scalar_subquery(),
        # The respondent's own earlier choice (or the roster's) wins over this survey's.
        respondents.c.language.is_(None),
    )
    .values(language=_LANGUAGE, updated_at=_NOW)
)

_CLEAR_ANSWERS = delete(answers).where(
    answers.c.response_id == _RESPONSE_ID,
    answers.c.question.in_(bindparam("b_questions", expanding=True)),
)
_RESTART_ANSWERS = delete(answers).where(answers.c.response_id == _RESPONSE_ID)


@cache
def _pg_turn(
    answer: bool, language: bool, status: bool, ended: bool, resume_offered: bool = False
) -> Executable:
    """A whole usual turn as one PostgreSQL statement:

    WITH turn_response AS (UPDATE responses ... RETURNING id, respondent_id, channel),
         turn_answer AS (INSERT INTO answers SELECT ... FROM turn_response ON CONFLICT ...),
         turn_language AS (UPDATE respondents ... WHERE id = turn_response.respondent_id)
    SELECT id FROM turn_response

    The answer and language read the updated response (the answer its channel too, so
    the turn needs no extra parameter), so an unknown response id
    changes nothing and returns no row (instead of failing on a foreign key)."""
    response = (
        update(responses)
        .where(responses.c.id == _RESPONSE_ID)
        .values(_response_values(language, status, ended, resume_offered))
        .returning(responses.c.id, responses.c.respondent_id, responses.c.channel)
        .cte("turn_response")
    )
    stmt = select(response.c.id)
    if answer:
        upsert = _answer_upsert(
            postgresql.insert,
            select(response.c.id, _QUESTION, _VALUE, _KIND, response.c.channel, _NOW, _NOW),
        )
        stmt = stmt.add_cte(upsert.returning(answers.c.id).cte("turn_answer"))
    if language:
        respondent = (
            update(respondents)
            .where(
                respondents.c.id == response.c.respondent_id,
                respondents.c.language.is_(None),
            )
            .values(language=_LANGUAGE, updated_at=_NOW)
            .returning(respondents.c.id)
            .cte("turn_language")
        )
        stmt = stmt.add_cte(respondent)
    return stmt


# -- the store ----------------------------------------------------------------------------


class SqlResponseStore:
    """`ResponseStore` on a SQLAlchemy async engine (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        direct_pool_size: int = db.DEFAULT_POOL_SIZES.direct,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        # On PostgreSQL a single statement needs no BEGIN/COMMIT round trips around it:
        # autocommit makes it one round trip. On SQLite autocommit would cost two extra
        # thread hops per checkout (setting and resetting the isolation level), and
        # sqlite3 opens no transaction for a SELECT anyway.
        self._single = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self._postgres else engine
        )
        self._answer_upsert = _PG_ANSWER_UPSERT if self._postgres else _SQLITE_ANSWER_UPSERT
        # Single statements on PostgreSQL skip SQLAlchemy's execution layer: see pg_direct.
        # Its pool holds at most `direct_pool_size` connections, on top of the engine's.
        self._direct = PgDirect(engine, pool_size=direct_pool_size) if self._postgres else None
        self._create_respondent = _create_respondent_statement(
            postgresql.insert if self._postgres else sqlite.insert
        )
        # Entry points and current versions change only when staff import: every first hop
        # would otherwise ask for them. A few seconds of staleness is harmless.
        self._clock = clock
        self._entry_points: _TtlCache[tuple[str, str], EntryPoint | None] = _TtlCache(cache_seconds)
        self._versions: _TtlCache[int, SurveyVersionRef] = _TtlCache(cache_seconds)
        # Survey versions are immutable: compile each once per process.
        self._surveys: dict[int, Survey] = {}
        self._loading: dict[int, asyncio.Future[Survey]] = {}

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def ping(self) -> bool:
        return await db.ping(self._engine)

    def forget_surveys(self) -> None:
        """Staff imported or rebound a survey in this process: read bindings and current
        versions afresh (other processes see the change within `cache_seconds`)."""
        self._entry_points.clear()
        self._versions.clear()

    async def close(self) -> None:
        """Close the direct PostgreSQL pool (the engine is its owner's to dispose)."""
        if self._direct is not None:
            await self._direct.close()

    async def _read(
        self, stmt: Executable, params: dict[str, Any], *, hot: bool = False
    ) -> list[Row[Any]]:
        if hot and self._direct is not None:
            rows, _ = await self._direct.run(stmt, params)
            return rows  # type: ignore[return-value]
        async with self._single.connect() as conn:
            return list((await conn.execute(stmt, params)).all())

    async def _one(
        self, stmt: Executable, params: dict[str, Any], *, hot: bool = False
    ) -> Row[Any] | None:
        rows = await self._read(stmt, params, hot=hot)
        return rows[0] if rows else None

    async def _write(
        self, stmt: Executable, params: dict[str, Any], *, hot: bool = False, want_rows: bool = True
    ) -> tuple[list[Row[Any]], int]:
        """One statement, committed: its RETURNING rows and its row count. `hot`: a
        statement of every USSD hop, run directly on asyncpg on PostgreSQL."""
        if hot and self._direct is not None:
            rows, count = await self._direct.run(stmt, params, want_rows=want_rows)
            return rows, count  # type: ignore[return-value]
        async with self._single.connect() as conn:
            result = await conn.execute(stmt, params)
            rows = list(result.all()) if result.returns_rows else []
            if not self._postgres:
                await conn.commit()
        return rows, result.rowcount

    # -- surveys ----------------------------------------------------------------------

    async def entry_point(self, channel: str, address: str) -> EntryPoint | None:
        key = (channel, address)
        hit, cached = self._entry_points.get(key, self._clock())
        if hit:
            return cached
        row = await self._one(_ENTRY_POINT, {"b_channel": channel, "b_address": address})
        entry = None
        if row is not None:
            entry = EntryPoint(
                channel,
                address,
                row.survey_id,
                bool(row.roster_only),
                row.organisation_id,
                closed=row.status == "closed",
            )
        self._entry_points.put(key, entry, self._clock())
        return entry

    async def current_version(self, survey_id: int) -> SurveyVersionRef:
        hit, ref = self._versions.get(survey_id, self._clock())
        if hit:
            return ref
        row = await self._one(_CURRENT_VERSION, {"b_survey_id": survey_id})
        if row is None:
            raise EngineError("unknown_survey", f"no survey with id {survey_id} (or no version)")
        ref = SurveyVersionRef(survey_id=row[0], version_id=row[1], form_id=row[2], version=row[3])
        self._versions.put(survey_id, ref, self._clock())
        return ref

    async def load_survey(self, version_id: int) -> Survey:
        survey = self._surveys.get(version_id)
        if survey is not None:
            return survey
        # Many first hops arrive together after a start: compile each version once.
        loading = self._loading.get(version_id)
        if loading is None:
            loading = asyncio.ensure_future(self._compile(version_id))
            self._loading[version_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(version_id, None))
        return await asyncio.shield(loading)

    async def _compile(self, version_id: int) -> Survey:
        row = await self._one(_VERSION_SOURCE, {"b_version_id": version_id})
        if row is None:
            raise EngineError("unknown_survey_version", f"no survey version with id {version_id}")
        async with self._single.connect() as conn:
            media = await stored_media(conn, version_id)
        # Compiling a form takes milliseconds of CPU: keep the event loop answering.
        survey = await asyncio.to_thread(load_stored_form, row.source, row.form_id, media)
        self._surveys[version_id] = survey
        return survey

    # -- respondents --------------------------------------------------------------------

    async def find_respondent(self, organisation_id: int, phone: str) -> RespondentRecord | None:
        row = await self._one(
            _FIND_RESPONDENT, {"b_organisation_id": organisation_id, "b_phone": phone}, hot=True
        )
        return None if row is None else _respondent(row)

    async def dial_in(
        self, organisation_id: int, phone: str, new_response: NewResponse
    ) -> tuple[RespondentRecord, int | None]:
        who = {"b_organisation_id": organisation_id, "b_phone": phone}
        start = {
            "b_version_id": new_response.version_id,
            "b_channel": new_response.channel,
            "b_session_ref": new_response.session_ref,
            "b_language": new_response.language,
            "b_turn_ref": new_response.turn_ref,
            "b_now": new_response.now,
        }
        if self._postgres:
            rows, _ = await self._write(_PG_DIAL_IN, {**who, **start}, hot=True)
            if rows:
                return _respondent(rows[0]), rows[0].response_id
            # Another first hop of the same new number created it in the meantime.
        found = await self.find_respondent(organisation_id, phone)
        if found is not None:
            return found, None
        created = await self.create_respondent(organisation_id, phone, None)
        rows, _ = await self._write(_START_RESPONSE, {"b_respondent_id": created.id, **start})
        return created, rows[0].id

    async def create_respondent(
        self, organisation_id: int, phone: str, language: str | None
    ) -> RespondentRecord:
        who = {"b_organisation_id": organisation_id, "b_phone": phone}
        params = {**who, "b_language": language, "b_now": dt.datetime.now(dt.UTC)}
        rows, _ = await self._write(self._create_respondent, params)
        if not rows:
            # Two first hops of the same new number raced: the other one created it.
            (row,) = await self._read(_FIND_RESPONDENT, who)
            return _respondent(row)
        return _respondent(rows[0])

    # -- responses ----------------------------------------------------------------------

    async def latest_response(self, respondent_id: int, survey_id: int) -> ResponseRecord | None:
        rows = await self._read(
            _LATEST_RESPONSE,
            {"b_respondent_id": respondent_id, "b_survey_id": survey_id},
            hot=True,
        )
        return _response_with_answers(rows)

    async def response_by_session(self, channel: str, session_ref: str) -> ResponseRecord | None:
        rows = await self._read(
            _RESPONSE_BY_SESSION, {"b_channel": channel, "b_session_ref": session_ref}, hot=True
        )
        return _response_with_answers(rows)

    async def start_response(
        self,
        *,
        respondent_id: int,
        version_id: int,
        channel: str,
        session_ref: str,
        language: str | None,
        turn_ref: str,
        now: dt.datetime,
    ) -> ResponseRecord:
        rows, _ = await self._write(
            _START_RESPONSE,
            {
                "b_respondent_id": respondent_id,
                "b_version_id": version_id,
                "b_channel": channel,
                "b_language": language,
                "b_session_ref": session_ref,
                "b_turn_ref": turn_ref,
                "b_now": now,
            },
            hot=True,
        )
        return _response(rows[0], {})

    async def attach_session(
        self, response_id: int, *, channel: str, session_ref: str, turn_ref: str, now: dt.datetime
    ) -> None:
        _, count = await self._write(
            _ATTACH_SESSION,
            {
                "b_response_id": response_id,
                "b_channel": channel,
                "b_session_ref": session_ref,
                "b_turn_ref": turn_ref,
                "b_now": now,
            },
        )
        if count == 0:
            raise _unknown_response(response_id)

    async def record_turn(
        self,
        response_id: int,
        events: Sequence[DataEvent],
        *,
        turn_ref: str,
        now: dt.datetime,
        resume_offered: bool = False,
    ) -> None:
        plan = _plan(events)
        shape = (*plan.shape, resume_offered)
        params: dict[str, Any] = {
            "b_response_id": response_id,
            "b_turn_ref": turn_ref,
            "b_now": now,
        }
        if plan.language is not None:
            params["b_language"] = plan.language
        if plan.status is not None:
            params["b_status"] = plan.status

        answer = plan.single_answer
        if self._postgres and (answer is not None or not plan.answer_events):
            if answer is not None:
                params.update(_answer_params(answer))
            turn = _pg_turn(answer is not None, *shape)
            _, count = await self._write(turn, params, hot=True, want_rows=False)
            if count == 0:
                raise _unknown_response(response_id)
            return

        if not plan.answer_events and plan.language is None:
            # Paging, a re-prompt, an ending: the response row alone.
            _, count = await self._write(_response_update(*shape), params, hot=True)
            if count == 0:
                raise _unknown_response(response_id)
            return

        async with self._engine.begin() as conn:
            # The response first: it proves the id and takes the write lock for the turn.
            result = await conn.execute(_response_update(*shape), params)
            if result.rowcount == 0:
                raise _unknown_response(response_id)
            if plan.language is not None:
                await conn.execute(
                    _RESPONDENT_LANGUAGE,
                    {"b_response_id": response_id, "b_language": plan.language, "b_now": now},
                )
            # In event order: a restart or a clear before an answer must not delete it.
            for event in plan.answer_events:
                match event:
                    case AnswerGiven():
                        await conn.execute(
                            self._answer_upsert,
                            {"b_response_id": response_id, "b_now": now, **_answer_params(event)},
                        )
                    case AnswersCleared(questions=questions):
                        await conn.execute(
                            _CLEAR_ANSWERS,
                            {"b_response_id": response_id, "b_questions": list(questions)},
                        )
                    case Restarted():
                        await conn.execute(_RESTART_ANSWERS, {"b_response_id": response_id})

    async def end_session(
        self, channel: str, session_ref: str, events: Sequence[DataEvent], *, now: dt.datetime
    ) -> bool:
        plan = _plan(events)
        if plan.answer_events or plan.language is not None or plan.status is None:
            raise EngineError("bad_session_end", f"a session's end changes a status: {events!r}")
        params = {
            "b_channel": channel,
            "b_session_ref": session_ref,
            "b_status": plan.status,
            "b_now": now,
        }
        _, count = await self._write(_end_session(plan.ended), params, hot=True)
        return count > 0


def _create_respondent_statement(insert: Any) -> Executable:
    """A walk-in number becomes a respondent flagged as not on the roster."""
    return (
        insert(respondents)
        .values(
            organisation_id=_ORGANISATION_ID,
            phone=bindparam("b_phone"),
            language=bindparam("b_language"),
            on_roster=False,
            attributes={},
            created_at=bindparam("b_now"),
            updated_at=bindparam("b_now"),
        )
        .on_conflict_do_nothing(index_elements=[respondents.c.organisation_id, respondents.c.phone])
        .returning(*_RESPONDENT_COLUMNS)
    )


K = TypeVar("K")
V = TypeVar("V")


class _TtlCache(Generic[K, V]):
    """A small map whose entries expire after `seconds`, for rarely changing rows."""

    def __init__(self, seconds: float, max_entries: int = 1024) -> None:
        self._seconds = seconds
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K, now: float) -> tuple[bool, V]:
        """(True, value) while fresh; (False, None) otherwise."""
        found = self._entries.get(key)
        if found is None or found[0] <= now:
            return False, cast(V, None)
        return True, found[1]

    def clear(self) -> None:
        self._entries.clear()

    def put(self, key: K, value: V, now: float) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (now + self._seconds, value)


def _unknown_response(response_id: int) -> EngineError:
    return EngineError("unknown_response", f"no response with id {response_id}")


def _respondent(row: Row[Any]) -> RespondentRecord:
    return RespondentRecord(
        id=row.id,
        phone=row.phone,
        language=row.language,
        on_roster=bool(row.on_roster),
        name=row.name,
    )


def _response(
    row: Row[Any], answers_by_question: dict[str, str], recorded: frozenset[str] = frozenset()
) -> ResponseRecord:
    return ResponseRecord(
        id=row.id,
        respondent_id=row.respondent_id,
        survey_id=row.survey_id,
        survey_version_id=row.survey_version_id,
        channel=row.channel,
        status=ResponseStatus(row.status),
        language=row.language,
        session_ref=row.session_ref,
        turn_ref=row.turn_ref,
        started_at=row.started_at,
        updated_at=row.updated_at,
        answers=answers_by_question,
        resume_offered=bool(row.resume_offered),
        recorded=recorded,
    )


def _response_with_answers(rows: Sequence[Row[Any]]) -> ResponseRecord | None:
    if not rows:
        return None
    # The outer join gives one row per answer, or one row of NULLs for no answers.
    found = {row.question: row.value for row in rows if row.question is not None}
    recorded = frozenset(row.question for row in rows if row.kind == _RECORDING)
    return _response(rows[0], found, recorded)
