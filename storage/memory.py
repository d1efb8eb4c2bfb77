"""`MemoryResponseStore`: the engine's `ResponseStore` port held in this process, and
`MemoryCallLog`, its `CallLog`.

For table tests of the interview layer (the same tests run on SQLite and PostgreSQL
through `SqlResponseStore`) and for tools that need a survey without a database. It
keeps the SQL store's rules: answers are upserts keyed by (response, question), a
turn's events apply in order, an unknown response id is an `EngineError`, a redial
that attaches an interrupted response puts it back in progress, and the respondent's
language is set by their first choice only.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

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
    CallOutcome,
    CallRecord,
    EntryPoint,
    NewResponse,
    RespondentRecord,
    ResponseRecord,
    SurveyVersionRef,
)

__all__ = ["MemoryCallLog", "MemoryResponseStore"]


@dataclass(slots=True)
class _Response:
    record: ResponseRecord
    answers: dict[str, str] = field(default_factory=dict)
    recorded: set[str] = field(default_factory=set)  # answers that are voice recordings
    channels: dict[str, str] = field(default_factory=dict)  # question -> channel given on
    ended_at: dt.datetime | None = None


class MemoryResponseStore:
    """`ResponseStore` in dictionaries. Set up with `add_survey`, `bind` and
    `add_respondent` (all in organisation `DEFAULT_ORGANISATION_ID` unless told); read
    back with the port's own methods and `answer_channels`."""

    DEFAULT_ORGANISATION_ID = 1

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._surveys: dict[str, int] = {}  # form_id -> survey id
        self._owners: dict[int, int] = {}  # survey id -> organisation id
        self._versions: dict[int, tuple[SurveyVersionRef, Survey]] = {}
        self._entry_points: dict[tuple[str, str], EntryPoint] = {}
        # By (organisation id, phone): each organisation keeps its own record of a number.
        self._respondents: dict[tuple[int, str], RespondentRecord] = {}
        self._responses: dict[int, _Response] = {}

    # -- setting up ---------------------------------------------------------------------

    def add_survey(
        self, survey: Survey, *, organisation_id: int = DEFAULT_ORGANISATION_ID
    ) -> SurveyVersionRef:
        """A new version of `survey` (by form_id), which becomes the current one."""
        survey_id = self._surveys.setdefault(survey.form_id, next(self._ids))
        self._owners.setdefault(survey_id, organisation_id)
        ref = SurveyVersionRef(survey_id, next(self._ids), survey.form_id, survey.version)
        self._versions[ref.version_id] = (ref, survey)
        return ref

    def bind(self, channel: str, address: str, survey_id: int, *, roster_only: bool) -> None:
        self._entry_points[(channel, address)] = EntryPoint(
            channel, address, survey_id, roster_only, self._owners[survey_id]
        )

    def set_closed(self, survey_id: int, closed: bool = True) -> None:
        """Close the survey (or publish it again), as staff do on the admin site."""
        for key, entry in self._entry_points.items():
            if entry.survey_id == survey_id:
                self._entry_points[key] = replace(entry, closed=closed)

    def add_respondent(
        self,
        phone: str,
        language: str | None,
        *,
        organisation_id: int = DEFAULT_ORGANISATION_ID,
    ) -> RespondentRecord:
        record = RespondentRecord(next(self._ids), phone, language, on_roster=True)
        self._respondents[(organisation_id, phone)] = record
        return record

    # -- reading back (what the SQL store's export shows) --------------------------------

    def answer_channels(self, response_id: int) -> dict[str, str]:
        """The channel each current answer of the response was given on, by question."""
        return dict(self._response(response_id).channels)

    # -- the port -----------------------------------------------------------------------

    async def ping(self) -> bool:
        return True

    async def entry_point(self, channel: str, address: str) -> EntryPoint | None:
        return self._entry_points.get((channel, address))

    async def current_version(self, survey_id: int) -> SurveyVersionRef:
        refs = [ref for ref, _ in self._versions.values() if ref.survey_id == survey_id]
        if not refs:
            raise EngineError("unknown_survey", f"no survey with id {survey_id} (or no version)")
        return max(refs, key=lambda ref: ref.version_id)

    async def load_survey(self, version_id: int) -> Survey:
        found = self._versions.get(version_id)
        if found is None:
            raise EngineError("unknown_survey_version", f"no survey version with id {version_id}")
        return found[1]

    async def find_respondent(self, organisation_id: int, phone: str) -> RespondentRecord | None:
        return self._respondents.get((organisation_id, phone))

    async def create_respondent(
        self, organisation_id: int, phone: str, language: str | None
    ) -> RespondentRecord:
        found = self._respondents.get((organisation_id, phone))
        if found is not None:
            return found
        record = RespondentRecord(next(self._ids), phone, language, on_roster=False)
        self._respondents[(organisation_id, phone)] = record
        return record

    async def dial_in(
        self, organisation_id: int, phone: str, new_response: NewResponse
    ) -> tuple[RespondentRecord, int | None]:
        found = self._respondents.get((organisation_id, phone))
        if found is not None:
            return found, None
        created = await self.create_respondent(organisation_id, phone, None)
        started = await self.start_response(
            respondent_id=created.id,
            version_id=new_response.version_id,
            channel=new_response.channel,
            session_ref=new_response.session_ref,
            language=new_response.language,
            turn_ref=new_response.turn_ref,
            now=new_response.now,
        )
        return created, started.id

    async def latest_response(self, respondent_id: int, survey_id: int) -> ResponseRecord | None:
        mine = [
            r
            for r in self._responses.values()
            if r.record.respondent_id == respondent_id and r.record.survey_id == survey_id
        ]
        if not mine:
            return None
        return self._read(max(mine, key=lambda r: (r.record.started_at, r.record.id)))

    async def response_by_session(self, channel: str, session_ref: str) -> ResponseRecord | None:
        mine = [
            r
            for r in self._responses.values()
            if r.record.channel == channel and r.record.session_ref == session_ref
        ]
        return self._read(max(mine, key=lambda r: r.record.id)) if mine else None

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
        ref, _ = self._versions[version_id]
        record = ResponseRecord(
            id=next(self._ids),
            respondent_id=respondent_id,
            survey_id=ref.survey_id,
            survey_version_id=version_id,
            channel=channel,
            status=ResponseStatus.IN_PROGRESS,
            language=language,
            session_ref=session_ref,
            turn_ref=turn_ref,
            started_at=now,
            updated_at=now,
        )
        self._responses[record.id] = _Response(record)
        return record

    async def attach_session(
        self, response_id: int, *, channel: str, session_ref: str, turn_ref: str, now: dt.datetime
    ) -> None:
        response = self._response(response_id)
        status = response.record.status
        if status is ResponseStatus.INTERRUPTED:
            status = ResponseStatus.IN_PROGRESS
        response.record = replace(
            response.record,
            channel=channel,
            session_ref=session_ref,
            turn_ref=turn_ref,
            updated_at=now,
            resume_offered=True,
            status=status,
        )

    async def record_turn(
        self,
        response_id: int,
        events: Sequence[DataEvent],
        *,
        turn_ref: str,
        now: dt.datetime,
        resume_offered: bool = False,
    ) -> None:
        response = self._response(response_id)
        record = replace(
            response.record, turn_ref=turn_ref, updated_at=now, resume_offered=resume_offered
        )
        for event in events:
            match event:
                case AnswerGiven(question=question, value=value, kind=kind):
                    response.answers[question] = value
                    # The channel as of this turn: `attach_session` moves a resumed one.
                    response.channels[question] = record.channel
                    if kind is AnswerKind.RECORDING:
                        response.recorded.add(question)
                    else:
                        response.recorded.discard(question)
                case AnswersCleared(questions=questions):
                    for question in questions:
                        response.answers.pop(question, None)
                        response.recorded.discard(question)
                        response.channels.pop(question, None)
                case Restarted():
                    response.answers.clear()
                    response.recorded.clear()
                    response.channels.clear()
                case LanguageChosen(language=language):
                    record = replace(record, language=language)
                    self._first_language(record.respondent_id, language)
                case Ended(status=status):
                    record = replace(record, status=status)
                    if status is not ResponseStatus.INTERRUPTED:  # resumable: not over
                        response.ended_at = now
                case Suspended():
                    record = replace(record, status=ResponseStatus.INTERRUPTED)
                case Failed():
                    record = replace(record, status=ResponseStatus.FAILED)
                    response.ended_at = now
                case _:
                    raise EngineError("unknown_event", f"cannot store {event!r}")
        response.record = record

    async def end_session(
        self, channel: str, session_ref: str, events: Sequence[DataEvent], *, now: dt.datetime
    ) -> bool:
        if any(not isinstance(e, Suspended | Ended | Failed) for e in events) or not events:
            raise EngineError("bad_session_end", f"a session's end changes a status: {events!r}")
        found = [
            r
            for r in self._responses.values()
            if r.record.channel == channel
            and r.record.session_ref == session_ref
            and r.record.status is ResponseStatus.IN_PROGRESS
        ]
        for response in found:
            turn_ref = response.record.turn_ref or ""
            offered = response.record.resume_offered
            await self.record_turn(
                response.record.id, events, turn_ref=turn_ref, now=now, resume_offered=offered
            )
        return bool(found)

    # -- inside -------------------------------------------------------------------------

    def _response(self, response_id: int) -> _Response:
        found = self._responses.get(response_id)
        if found is None:
            raise EngineError("unknown_response", f"no response with id {response_id}")
        return found

    def _read(self, response: _Response) -> ResponseRecord:
        return replace(
            response.record,
            answers=dict(response.answers),
            recorded=frozenset(response.recorded),
        )

    def _first_language(self, respondent_id: int, language: str) -> None:
        # The respondent's own earlier choice (or the roster's) wins over this survey's.
        for key, respondent in self._respondents.items():
            if respondent.id == respondent_id and respondent.language is None:
                self._respondents[key] = replace(respondent, language=language)


class MemoryCallLog:
    """`CallLog` in a dictionary, with the SQL log's rules: an unanswered call ends with
    its outcome, and an end already recorded is kept."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._calls: dict[int, CallRecord] = {}

    async def call_placed(self, survey_id: int, phone: str, *, now: dt.datetime) -> int:
        call_id = next(self._ids)
        self._calls[call_id] = CallRecord(call_id, survey_id, phone, placed_at=now)
        return call_id

    async def call_outcome(
        self,
        call_id: int,
        outcome: CallOutcome,
        *,
        reason: int | None,
        unique_id: str | None,
        channel: str | None,
        error: str | None,
        now: dt.datetime,
    ) -> None:
        call = self._calls[call_id]
        self._calls[call_id] = replace(
            call,
            outcome=outcome,
            reason=reason,
            unique_id=unique_id,
            channel=channel,
            error=error,
            ended_at=call.ended_at if outcome is CallOutcome.ANSWERED else now,
        )

    async def call_ended(self, call_id: int, *, now: dt.datetime) -> None:
        call = self._calls[call_id]
        if call.ended_at is None:
            self._calls[call_id] = replace(call, ended_at=now)

    async def get_call(self, call_id: int) -> CallRecord | None:
        return self._calls.get(call_id)
