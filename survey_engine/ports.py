"""What the engine's channels need from the outside world, as protocols.

`storage/` implements them (SQL through SQLAlchemy, sessions in Redis or in
memory); the composition root hands the implementations to the channels, and
tests can hand in others. Records crossing this line are plain frozen values.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from survey_engine.events import DataEvent, ResponseStatus
from survey_engine.model import Survey


@dataclass(frozen=True, slots=True)
class SurveyVersionRef:
    survey_id: int
    version_id: int
    form_id: str
    version: str


class Channel(enum.StrEnum):
    """How a respondent reaches a survey. Stored as its value."""

    USSD = "ussd"
    IVR = "ivr"
    SMS = "sms"


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """An address on a channel that reaches a survey: a USSD code as dialled
    (`*384*123#`, `*384*123*2#` for extension 2), an IVR number, an SMS short code.
    A caller is looked up (and kept) among the respondents of the survey's
    organisation."""

    channel: str  # a Channel value
    address: str
    survey_id: int
    roster_only: bool
    organisation_id: int  # the survey's owner
    closed: bool = False  # staff closed the survey: no new session starts


@dataclass(frozen=True, slots=True)
class RespondentRecord:
    id: int
    phone: str  # E.164
    language: str | None
    on_roster: bool  # False: created when an unknown number dialled in
    name: str = ""


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    id: int
    respondent_id: int
    survey_id: int
    survey_version_id: int
    channel: str
    status: ResponseStatus
    language: str | None
    session_ref: str | None  # the channel's id of the session (call, dial) last on it
    turn_ref: str | None  # the channel's reference of the last turn applied (opaque)
    started_at: dt.datetime
    updated_at: dt.datetime
    answers: Mapping[str, str] = field(default_factory=dict)
    resume_offered: bool = False  # the offer to continue or start again is on screen
    recorded: frozenset[str] = frozenset()  # the answers that are voice recordings


@dataclass(frozen=True, slots=True)
class NewResponse:
    """A response about to begin: what `ResponseStore.start_response` records."""

    version_id: int
    channel: str
    session_ref: str
    language: str | None
    turn_ref: str
    now: dt.datetime


class SessionStore(Protocol):
    """Short-lived state of live sessions (position, page), expiring on its own."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def ping(self) -> bool: ...


class ResponseStore(Protocol):
    """The durable record: surveys, respondents, responses and their answers."""

    async def ping(self) -> bool: ...

    async def entry_point(self, channel: str, address: str) -> EntryPoint | None:
        """What `address` on `channel` reaches, if anything (implementations cache it)."""
        ...

    async def current_version(self, survey_id: int) -> SurveyVersionRef: ...

    async def load_survey(self, version_id: int) -> Survey:
        """The compiled survey of one version (implementations cache it)."""
        ...

    async def find_respondent(self, organisation_id: int, phone: str) -> RespondentRecord | None:
        """The organisation's respondent with this number (another organisation's record
        of the same number is another respondent)."""
        ...

    async def create_respondent(
        self, organisation_id: int, phone: str, language: str | None
    ) -> RespondentRecord:
        """A number not on the organisation's roster dialled in: keep it, flagged
        `on_roster=False`."""
        ...

    async def dial_in(
        self, organisation_id: int, phone: str, new_response: NewResponse
    ) -> tuple[RespondentRecord, int | None]:
        """The organisation's respondent with this number and, when the number is new
        to it, the id of `new_response` begun for it: an unknown number becomes a
        respondent flagged `on_roster=False` whose first response starts at once (it
        cannot have an earlier one). A known respondent comes back with None, for the caller to look
        at its history. One round trip where possible: it runs on every first hop."""
        ...

    async def latest_response(self, respondent_id: int, survey_id: int) -> ResponseRecord | None:
        """The respondent's newest response to any version of the survey, with answers."""
        ...

    async def response_by_session(self, channel: str, session_ref: str) -> ResponseRecord | None:
        """The response a channel session is filling, with answers (for recovery)."""
        ...

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
    ) -> ResponseRecord: ...

    async def attach_session(
        self, response_id: int, *, channel: str, session_ref: str, turn_ref: str, now: dt.datetime
    ) -> None:
        """A redial continues an earlier response under a new session; the
        response records that the offer to continue or start again is on screen."""
        ...

    async def record_turn(
        self,
        response_id: int,
        events: Sequence[DataEvent],
        *,
        turn_ref: str,
        now: dt.datetime,
        resume_offered: bool = False,
    ) -> None:
        """Apply one turn's events and its reference in one committed transaction.

        Answers are upserts keyed by (response, question): the same answer applied
        twice leaves one row. `resume_offered`: after this turn the respondent still
        sees the offer to continue or start again (they typed something else)."""
        ...

    async def end_session(
        self, channel: str, session_ref: str, events: Sequence[DataEvent], *, now: dt.datetime
    ) -> bool:
        """Apply the engine's events for a session that ended (`Suspended`: a status, no
        answers) to the response it fills, only while that response is still in
        progress on that session: a redial that took it over since is left alone.
        True when a response changed."""
        ...


# -- voice answers ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewRecording:
    """Where a channel records one voice answer, made by the server (never the caller).

    `ref` is what the answer stores and exports: a relative POSIX path under
    RECORDINGS_DIR without extension (`<form_id>/<response_id>/<question>-<random>`).
    `path` is the same place as an absolute file path without extension, as text, as
    Asterisk's `RECORD FILE` takes it: Asterisk adds the format, so the file on disk is
    `<path>.wav` (Asterisk must see RECORDINGS_DIR at the same path)."""

    ref: str
    path: str


class RecordingStore(Protocol):
    """The folder of recorded answers (RECORDINGS_DIR)."""

    async def new(self, form_id: str, response_id: int, question: str) -> NewRecording:
        """A fresh, unused place for the answer to `question`, its folders created."""
        ...

    async def path_of(self, ref: str) -> str:
        """The absolute path (without extension) of a stored `ref`; ValueError for a ref
        that is not shaped like one this store makes or that leads outside the folder."""
        ...

    async def peak(self, ref: str) -> int | None:
        """The loudest sample of the recording (16-bit), or None when it cannot be
        read: a take near 0 holds nothing said."""
        ...

    async def discard(self, ref: str) -> None:
        """Delete a take no answer stores (silent, or recorded again)."""
        ...


# -- outbound calls -----------------------------------------------------------------------


class CallOutcome(enum.StrEnum):
    """How an outbound survey call ended up, as the dialer read it from Asterisk. Stored
    as its value."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"  # rang until the ring time ran out
    FAILED = "failed"  # congestion, no such number, unreachable: the reason says which


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One outbound call in the call log.

    `outcome` is None while the call is being placed. `ended_at` is when it ended: the
    outcome's time for a call that was not answered, the hang-up for one that was (None
    while it lasts, or when nobody saw it end). `reason` is Asterisk's numeric reason of
    the outcome (None when Asterisk never reported one); `unique_id` and `channel` are
    Asterisk's names of the call, when known; `error` says what went wrong on our side
    (the AMI connection lost, no answer from Asterisk in time)."""

    id: int
    survey_id: int
    phone: str  # E.164
    placed_at: dt.datetime
    ended_at: dt.datetime | None = None
    outcome: CallOutcome | None = None
    reason: int | None = None
    unique_id: str | None = None
    channel: str | None = None
    error: str | None = None


class CallLog(Protocol):
    """The record of outbound calls: one row per attempt, written as it goes."""

    async def call_placed(self, survey_id: int, phone: str, *, now: dt.datetime) -> int:
        """A call about to be placed to `phone` (E.164) for the survey: its id."""
        ...

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
        """The call's outcome; a call that was not answered has ended with it (`now`)."""
        ...

    async def call_ended(self, call_id: int, *, now: dt.datetime) -> None:
        """An answered call hung up; a call that has already ended keeps its end."""
        ...

    async def get_call(self, call_id: int) -> CallRecord | None: ...
