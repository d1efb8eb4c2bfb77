"""`Interviews`: the one runner of an interview, for every channel.

The survey engine is pure; a channel (USSD, IVR, later SMS) knows its wire protocol,
its rendering and its keys. Everything between them happens here, once, through the
engine's ports (`ResponseStore`, `SessionStore`) only:

- **open**: which survey and version an entry address reaches, whether staff closed
  it (a closed survey starts no session; one under way goes on), roster rules, the
  completed check, the resume window and offer, what a graduate who once said no (or
  whose survey broke) hears, and starting or attaching a response;
- **advance**: one turn of the engine, committed to SQL before the reply leaves;
- **keep**: the channel moved within one prompt (a USSD page): the turn reference is
  committed, no answer changes;
- **recover**: the live record was lost (Redis restarted): the session continues from
  what SQL holds, including a resume offer that was on screen;
- **end**: the channel says the session is over; the engine decides what that means
  (`HungUp` -> `Suspended` -> an interrupted, resumable response).

Each of these that shows the respondent something takes the channel's `render`
callback: it turns the engine's turn into the channel's own view (a USSD screen and its
page), which is saved with the live record in the same write, so a repeated delivery of
a turn is answered from the record without touching SQL.

Turn references are opaque here: the channel says which delivery is new (USSD compares
the gateway's `*`-joined text; the IVR counts its turns).
"""

from __future__ import annotations

import datetime as dt
import enum
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from survey_engine.errors import EngineError, SurveyLoadError
from survey_engine.events import AnswerGiven, DataEvent, Failed, ResponseStatus, Suspended
from survey_engine.inputs import Back, Context, HungUp, Resume
from survey_engine.machine import (
    Phase,
    State,
    Turn,
    advance,
    current_prompt,
    resume_state,
    start,
)
from survey_engine.model import Survey
from survey_engine.phrases import phrase
from survey_engine.ports import NewResponse, ResponseRecord, ResponseStore, SessionStore

__all__ = [
    "Closed",
    "InterviewSettings",
    "Interviews",
    "Live",
    "Notice",
    "Outcome",
    "Render",
    "Step",
    "session_key",
]

# What a channel keeps of what it showed, saved with the live record: JSON values only.
View = tuple[Any, ...]


class Outcome(enum.Enum):
    """What one delivery did, for the log line and the tests."""

    SHOWN = "shown"  # a first prompt
    ANSWERED = "answered"  # input accepted, next prompt shown
    REPROMPTED = "reprompted"  # input refused, the same prompt again with the error
    PAGED = "paged"  # the channel moved within one prompt (USSD "more"/"back")
    WENT_BACK = "went_back"  # back to the previous question
    DUPLICATE = "duplicate"  # the channel delivered the same turn again
    LATE = "late"  # a delivery of a turn the session has moved past: nothing stored
    RECOVERED = "recovered"  # the live record was lost; continued from SQL
    ENDED = "ended"
    REFUSED_ENTRY = "refused_entry"  # unknown address, not on roster, already completed


@dataclass(frozen=True, slots=True)
class InterviewSettings:
    session_ttl_seconds: int = 600
    resume_window: dt.timedelta = dt.timedelta(hours=72)
    # Records this process wrote, kept in memory to skip reading them back from a
    # shared session store when the channel can prove them current. 0 turns it off:
    # pointless in front of an in-process store.
    recent_records: int = 0


@dataclass(frozen=True, slots=True)
class Notice:
    """A system phrase said before the first prompt of a new response."""

    phrase: str  # a key of `survey_engine.phrases.PHRASES` (audio key `system.<phrase>`)
    language: str | None

    @property
    def text(self) -> str:
        return phrase(self.phrase, self.language)


@dataclass(frozen=True, slots=True)
class Closed:
    """The interview cannot go on: say the phrase and end the session."""

    phrase: str  # a key of `survey_engine.phrases.PHRASES` (audio key `system.<phrase>`)
    language: str | None
    outcome: Outcome = Outcome.REFUSED_ENTRY
    # The survey the address reached, when one did: a voice channel plays the phrase
    # from its audio, in its default language when `language` is None.
    survey: Survey | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        return phrase(self.phrase, self.language)


def session_key(channel: str, session_ref: str) -> str:
    """The session store's key of a live session."""
    return f"{channel}:{session_ref}"


@dataclass(frozen=True, slots=True)
class Live:
    """One live session: the response it fills, the engine state, the last turn
    applied and what the channel showed, as kept in the session store."""

    channel: str
    session_ref: str
    turn_ref: str
    response_id: int
    version_id: int
    state: State
    view: View = ()

    def to_bytes(self) -> bytes:
        # orjson: written on every turn, and a fifth of the stdlib's cost here.
        return orjson.dumps(
            [self.turn_ref, self.response_id, self.version_id, self.state.to_plain(), self.view]
        )

    @classmethod
    def read(cls, channel: str, session_ref: str, data: bytes) -> Live | None:
        """The record, or None when it cannot be read (written by another release, or
        damaged): the session then continues from SQL, as after a lost record."""
        try:
            turn_ref, rid, vid, state, view = orjson.loads(data)
            if not isinstance(turn_ref, str) or not isinstance(view, list):
                return None
            return cls(
                channel, session_ref, turn_ref, rid, vid, State.from_plain(state), tuple(view)
            )
        except (ValueError, TypeError, EngineError):
            return None


# The channel's renderer: a turn (and a notice to say first) into its own view.
Render = Callable[[Turn, Notice | None], View]


@dataclass(frozen=True, slots=True)
class Step:
    """What a delivery did: the live session as saved, the engine's turn, the outcome."""

    live: Live
    turn: Turn
    outcome: Outcome
    notice: Notice | None = None

    @property
    def answered(self) -> str:
        """The question this turn answered, if any (for the log line)."""
        for event in self.turn.events:
            if type(event) is AnswerGiven:
                return event.question
        return ""

    @property
    def failure(self) -> Failed | None:
        for event in self.turn.events:
            if type(event) is Failed:
                return event
        return None

    @property
    def status(self) -> ResponseStatus | None:
        """How the response ended in this turn, or None while it goes on."""
        if self.turn.prompt is not None:
            return None
        ended = self.turn.ended
        return ended.status if ended else None


class _RecentSessions:
    """The live records this process wrote last, bounded and expiring. A channel
    uses one only when it can prove that nobody moved the session on since."""

    def __init__(self, max_entries: int, ttl_seconds: float) -> None:
        self._max = max_entries
        self._ttl = ttl_seconds
        self._entries: OrderedDict[str, tuple[float, Live]] = OrderedDict()

    def get(self, key: str) -> Live | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, live = found
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        return live

    def keep(self, key: str, live: Live) -> None:
        self._entries[key] = (time.monotonic() + self._ttl, live)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


# What a graduate hears on a new dial after their latest response ended this way.
_NOTICE_AFTER = {ResponseStatus.REFUSED: "declined_before", ResponseStatus.FAILED: "failed_before"}
# What a delivery into a session whose response is over hears.
_CLOSING = {
    ResponseStatus.COMPLETE: "thank_you",
    ResponseStatus.REFUSED: "refused",
    ResponseStatus.FAILED: "failed",
    ResponseStatus.INTERRUPTED: "answers_kept",
}


class Interviews:
    """Runs interviews for every channel through the engine's ports."""

    def __init__(
        self,
        store: ResponseStore,
        sessions: SessionStore,
        settings: InterviewSettings | None = None,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._settings = settings = settings or InterviewSettings()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._recent = (
            _RecentSessions(settings.recent_records, settings.session_ttl_seconds)
            if settings.recent_records > 0
            else None
        )

    # -- the live record ------------------------------------------------------------

    async def live(
        self, channel: str, session_ref: str, trust_local: Callable[[str], bool] | None = None
    ) -> Live | None:
        """The session's live record, or None when there is none (a new session, or
        the record was lost: see `recover`). `trust_local(turn_ref)` says whether this
        process's own copy, last at `turn_ref`, is provably current; else the shared
        session store is read."""
        key = session_key(channel, session_ref)
        if self._recent is not None and trust_local is not None:
            local = self._recent.get(key)
            if local is not None and trust_local(local.turn_ref):
                return local
        raw = await self._sessions.get(key)
        return Live.read(channel, session_ref, raw) if raw is not None else None

    def forget_local_records(self) -> None:
        """Drop the records this process kept in memory, as a restart would: the next
        turns read the shared store, or SQL when the store lost them too."""
        if self._recent is not None:
            self._recent.clear()

    async def survey(self, live: Live) -> Survey:
        """The compiled survey version the session is on (cached by the store)."""
        return await self._store.load_survey(live.version_id)

    # -- a new session ---------------------------------------------------------------

    async def reach(self, channel: str, addresses: Sequence[str]) -> Survey | None:
        """The survey (its current version) that the first entry point among
        `addresses` reaches, without opening anything: what a channel needs to speak
        to a caller it cannot identify."""
        for address in addresses:
            entry = await self._store.entry_point(channel, address)
            if entry is not None:
                version = await self._store.current_version(entry.survey_id)
                return await self._store.load_survey(version.version_id)
        return None

    async def open(
        self,
        channel: str,
        addresses: Sequence[str],
        phone: str,
        session_ref: str,
        turn_ref: str,
        render: Render,
    ) -> Step | Closed:
        """A respondent reached the first of `addresses` that is an entry point."""
        store, now = self._store, self._clock()
        entry = None
        for address in addresses:
            entry = await store.entry_point(channel, address)
            if entry is not None:
                break
        if entry is None:
            return Closed("no_survey", None)
        # The version a new response starts on; both are cached, so this costs no I/O.
        version = await store.current_version(entry.survey_id)
        survey = await store.load_survey(version.version_id)
        if entry.closed:
            # Fieldwork is over: said in the caller's language when the roster knows it.
            known = await store.find_respondent(entry.organisation_id, phone)
            return Closed("survey_closed", known.language if known else None, survey=survey)
        if entry.roster_only:
            respondent = await store.find_respondent(entry.organisation_id, phone)
            if respondent is None:
                return Closed("not_on_roster", None, survey=survey)
        else:
            # A number reaching us for the first time starts the current version at
            # once: one statement for the whole first turn.
            fresh = start(survey, context=Context(now, phone, channel))
            respondent, started = await store.dial_in(
                entry.organisation_id,
                phone,
                NewResponse(
                    version_id=version.version_id,
                    channel=channel,
                    session_ref=session_ref,
                    language=fresh.state.language,
                    turn_ref=turn_ref,
                    now=now,
                ),
            )
            if started is not None:
                live = Live(
                    channel, session_ref, turn_ref, started, version.version_id, fresh.state
                )
                return await self._show(live, fresh, Outcome.SHOWN, render, recorded=True)
        latest = await store.latest_response(respondent.id, entry.survey_id)
        language = respondent.language
        notice = None
        if latest is not None:
            if latest.session_ref == session_ref and latest.channel == channel:
                # This very session's first turn, delivered again after the session moved
                # on and lost its live record: where it is, and nothing stored.
                if latest.status is ResponseStatus.IN_PROGRESS:
                    return await self._rebuild(latest, channel, session_ref, render)
                return Closed(_CLOSING[latest.status], latest.language, Outcome.LATE, survey=survey)
            if latest.status is ResponseStatus.COMPLETE:
                return Closed("already_completed", latest.language or language, survey=survey)
            if self._resumable(latest, now):
                return await self._attach(latest, channel, session_ref, turn_ref, render, phone)
            if latest.status in _NOTICE_AFTER:
                notice = Notice(_NOTICE_AFTER[latest.status], language or latest.language)
        turn = start(survey, language=language, context=Context(now, phone, channel))
        response = await store.start_response(
            respondent_id=respondent.id,
            version_id=version.version_id,
            channel=channel,
            session_ref=session_ref,
            language=turn.state.language,
            turn_ref=turn_ref,
            now=now,
        )
        live = Live(channel, session_ref, turn_ref, response.id, version.version_id, turn.state)
        return await self._show(live, turn, Outcome.SHOWN, render, notice=notice, recorded=True)

    def _resumable(self, response: ResponseRecord, now: dt.datetime) -> bool:
        return (
            response.status in (ResponseStatus.IN_PROGRESS, ResponseStatus.INTERRUPTED)
            and bool(response.answers)
            and now - response.updated_at <= self._settings.resume_window
        )

    async def _attach(
        self,
        latest: ResponseRecord,
        channel: str,
        session_ref: str,
        turn_ref: str,
        render: Render,
        phone: str,
    ) -> Step:
        """An unfinished response continues, on the version it started on, after the
        offer to continue or start again."""
        survey = await self._store.load_survey(latest.survey_version_id)
        now = self._clock()
        turn = start(
            survey,
            language=latest.language,
            answers=latest.answers,
            offer_resume=True,
            recorded=latest.recorded,
            context=Context(now, phone, channel),
        )
        await self._store.attach_session(
            latest.id,
            channel=channel,
            session_ref=session_ref,
            turn_ref=turn_ref,
            now=now,
        )
        # attach_session recorded this turn's reference and that the offer is on screen.
        live = Live(channel, session_ref, turn_ref, latest.id, latest.survey_version_id, turn.state)
        return await self._show(live, turn, Outcome.SHOWN, render, recorded=True)

    # -- turns -----------------------------------------------------------------------

    async def advance(
        self,
        live: Live,
        resume: Resume,
        turn_ref: str,
        render: Render,
        survey: Survey | None = None,
    ) -> Step | Closed:
        """Apply the respondent's input: SQL first, then the live record, then the
        channel may reply. `survey`: the session's survey, when the channel has it."""
        state = live.state
        if state.phase is Phase.ENDED:
            return Step(live, Turn(state, ()), Outcome.DUPLICATE)
        if survey is None:
            survey = await self._store.load_survey(live.version_id)
        try:
            turn = advance(survey, state, resume, Context(self._clock(), channel=live.channel))
        except EngineError:
            return Closed("system_error", state.language, Outcome.ENDED)
        data = turn.data_events
        if isinstance(resume, Back):
            outcome = Outcome.WENT_BACK
        elif not data:
            outcome = Outcome.REPROMPTED
        else:
            outcome = Outcome.ENDED if turn.prompt is None else Outcome.ANSWERED
        return await self._show(live, turn, outcome, render, turn_ref=turn_ref, data=data)

    async def keep(self, live: Live, turn_ref: str, view: View) -> Live:
        """The channel moved within the same prompt (another page of it): no answer
        changes, but SQL learns the turn reference, so recovery continues from here."""
        await self._commit(live.response_id, (), turn_ref, live.state)
        kept = Live(
            live.channel,
            live.session_ref,
            turn_ref,
            live.response_id,
            live.version_id,
            live.state,
            view,
        )
        await self._save(kept)
        return kept

    async def _show(
        self,
        live: Live,
        turn: Turn,
        outcome: Outcome,
        render: Render,
        *,
        turn_ref: str | None = None,
        data: tuple[DataEvent, ...] | None = None,
        notice: Notice | None = None,
        recorded: bool = False,
    ) -> Step:
        """Commit the turn, render it, save the live record. `turn_ref`: the turn's
        reference when it moves the session on; `recorded`: starting or attaching the
        response already stored this turn's reference."""
        ref = live.turn_ref if turn_ref is None else turn_ref
        if data is None:
            data = turn.data_events
        # SQL first: an answer is durable before the respondent sees the next prompt.
        if data or not recorded:
            await self._commit(live.response_id, data, ref, turn.state)
        shown = Live(
            live.channel,
            live.session_ref,
            ref,
            live.response_id,
            live.version_id,
            turn.state,
            render(turn, notice),
        )
        await self._save(shown)
        return Step(shown, turn, outcome, notice)

    async def _commit(
        self, response_id: int, data: Sequence[DataEvent], turn_ref: str, state: State
    ) -> None:
        await self._store.record_turn(
            response_id,
            data,
            turn_ref=turn_ref,
            now=self._clock(),
            # The offer to continue or start again is still on screen after this turn.
            resume_offered=state.phase is Phase.RESUME,
        )

    async def _save(self, live: Live) -> None:
        key = session_key(live.channel, live.session_ref)
        await self._sessions.set(key, live.to_bytes(), self._settings.session_ttl_seconds)
        if self._recent is not None:
            self._recent.keep(key, live)

    # -- the live record was lost ------------------------------------------------------

    async def recover(self, channel: str, session_ref: str, render: Render) -> Live | Closed | None:
        """The session rebuilt from SQL, showing where the respondent is; None when SQL
        knows no response filled by this session."""
        record = await self._store.response_by_session(channel, session_ref)
        if record is None:
            return None
        if record.status is not ResponseStatus.IN_PROGRESS:
            return Closed(_CLOSING[record.status], record.language, Outcome.DUPLICATE)
        rebuilt = await self._rebuild(record, channel, session_ref, render)
        return rebuilt if isinstance(rebuilt, Closed) else rebuilt.live

    async def _rebuild(
        self, record: ResponseRecord, channel: str, session_ref: str, render: Render
    ) -> Step | Closed:
        """The live session of an in-progress response, from what SQL holds, saved."""
        survey = await self._store.load_survey(record.survey_version_id)
        now = self._clock()
        if record.resume_offered and record.answers:
            # The offer to continue or start again is on screen: the next key answers it.
            turn = start(
                survey,
                language=record.language,
                answers=record.answers,
                offer_resume=True,
                recorded=record.recorded,
                context=Context(now, channel=channel),
            )
            state = turn.state
            if turn.data_events:  # calculations SQL did not hold yet: held from now on
                await self._commit(record.id, turn.data_events, record.turn_ref or "", state)
        else:
            state = resume_state(survey, record.answers, record.language, record.recorded, now)
        prompt = current_prompt(survey, state)
        if prompt is None:
            return Closed("thank_you", record.language, Outcome.DUPLICATE)
        turn = Turn(state, (prompt,))
        live = Live(
            channel,
            session_ref,
            record.turn_ref or "",
            record.id,
            record.survey_version_id,
            state,
            render(turn, None),
        )
        await self._save(live)
        return Step(live, turn, Outcome.LATE)

    # -- the end of a session ----------------------------------------------------------

    async def end(self, channel: str, session_ref: str) -> bool:
        """The channel says the session is over (hang-up, network timeout). An
        unfinished response is suspended by the engine and stays resumable; True when
        a response changed. Only the session still attached to the response can do
        this: a redial that took it over is not interrupted by the old session's end
        (the store applies the engine's events on that condition, in one write)."""
        key = session_key(channel, session_ref)
        live = await self.live(channel, session_ref)
        await self._sessions.delete(key)
        if self._recent is not None:
            self._recent.drop(key)
        if live is not None:
            version_id, state = live.version_id, live.state
        else:
            record = await self._store.response_by_session(channel, session_ref)
            if record is None or record.status is not ResponseStatus.IN_PROGRESS:
                return False
            # A hang-up does not depend on where the respondent was in the survey.
            version_id = record.survey_version_id
            state = State(Phase.QUESTION, record.language, answers=record.answers)
        if state.phase is Phase.ENDED:
            return False
        try:
            survey = await self._store.load_survey(version_id)
            events = advance(survey, state, HungUp()).data_events
        except (EngineError, SurveyLoadError):
            # The stored version no longer loads (an expression this release refuses):
            # the hang-up is still a suspension, as the engine would have said.
            events = (Suspended(),)
        return await self._store.end_session(channel, session_ref, events, now=self._clock())
