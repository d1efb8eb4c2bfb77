"""One USSD hop, from a parsed gateway request to the screen that goes back.

The conversation keeps a small record per gateway session in the session store
(last text seen, the reply sent, the engine state, the page shown). Every hop's
outcome is committed to SQL (`ResponseStore.record_turn`) before the reply is
returned, together with the gateway text it answered, so that

- a callback delivered twice returns the same screen and stores nothing new;
- a session whose record vanished from Redis continues from what SQL holds.
"""

from __future__ import annotations

import datetime as dt
import enum
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from survey_engine.errors import EngineError
from survey_engine.events import AnswerGiven, Failed, ResponseStatus
from survey_engine.inputs import Answer, Back, Resume
from survey_engine.machine import (
    Phase,
    State,
    Turn,
    advance,
    current_prompt,
    expected_input,
    resume_state,
    start,
)
from survey_engine.model import Survey
from survey_engine.phrases import phrase
from survey_engine.ports import NewResponse, ResponseRecord, ResponseStore, SessionStore
from ussd.gateways.africastalking import UssdRequest, con, end, latest_input
from ussd.keypad import canonical_input
from ussd.render import fit_end_screen, navigation_keys, paginate

CHANNEL = "ussd"


class Outcome(enum.Enum):
    """What a hop did, for the log line and the tests."""

    SHOWN = "shown"  # a first screen
    ANSWERED = "answered"  # input accepted, next prompt shown
    REPROMPTED = "reprompted"  # input refused, the same question again with the error
    PAGED = "paged"  # "more"/"back" within one question's screens
    WENT_BACK = "went_back"  # back to the previous question
    DUPLICATE = "duplicate"  # the gateway repeated a callback
    RECOVERED = "recovered"  # the session record was lost; continued from SQL
    ENDED = "ended"
    REFUSED_ENTRY = "refused_entry"  # unknown code, not on roster, already completed


@dataclass(frozen=True, slots=True)
class HopResult:
    reply: str  # "CON ..." or "END ..."
    outcome: Outcome
    question: str = ""  # the question answered, else the prompt key now shown
    status: ResponseStatus | None = None
    failure: Failed | None = None


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    session_ttl_seconds: int = 600
    resume_window: dt.timedelta = dt.timedelta(hours=72)
    gateway: str = "africastalking"
    # Records this process wrote, kept in memory to skip reading them back from a
    # shared session store when they are provably current (see `_RecentSessions`).
    # 0 turns it off: pointless in front of an in-process store.
    recent_records: int = 0


@dataclass(frozen=True, slots=True)
class _Session:
    """The live record of one gateway session, as kept in the session store."""

    last_text: str
    reply: str
    response_id: int
    version_id: int
    state: State
    page: int = 0
    pages: int = 1
    back: str = "0"
    more: str = "00"

    def to_bytes(self) -> bytes:
        # orjson: written on every hop, and a fifth of the stdlib's cost here.
        return orjson.dumps(
            [
                self.last_text,
                self.reply,
                self.response_id,
                self.version_id,
                self.state.to_plain(),
                self.page,
                self.pages,
                self.back,
                self.more,
            ]
        )

    @classmethod
    def read(cls, data: bytes) -> _Session | None:
        """The record, or None when it cannot be read (written by another release, or
        damaged): the hop then continues from SQL, as after a lost record."""
        try:
            text, reply, rid, vid, state, page, pages, back, more = orjson.loads(data)
            return cls(text, reply, rid, vid, State.from_plain(state), page, pages, back, more)
        except (ValueError, TypeError, EngineError):
            return None


class _RecentSessions:
    """The session records this process wrote last, bounded and expiring.

    A record read from here is used only when the gateway's text proves nobody moved
    the session on since: the text is the record's text plus exactly one input that
    holds no `*`. Had another worker answered a hop in between, the text would hold at
    least one more `*`-separated input; had it answered this very hop, re-applying the
    same input to the same state stores the same answer (upserts) and the same record.
    Anything else goes to the shared store, so many workers stay correct; one worker
    saves a Redis round trip on most hops."""

    def __init__(self, max_entries: int, ttl_seconds: float) -> None:
        self._max = max_entries
        self._ttl = ttl_seconds
        self._entries: OrderedDict[str, tuple[float, _Session]] = OrderedDict()

    def current(self, key: str, text: str) -> _Session | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, session = found
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        last = session.last_text
        if text == last:
            return session  # a repeated callback: answered from the record as it was
        if last:
            if not text.startswith(last + "*"):
                return None
            newest = text[len(last) + 1 :]
        else:
            newest = text
        return session if "*" not in newest else None

    def clear(self) -> None:
        self._entries.clear()

    def keep(self, key: str, session: _Session) -> None:
        self._entries[key] = (time.monotonic() + self._ttl, session)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


class Conversation:
    """Answers USSD hops for every survey bound to a service code."""

    def __init__(
        self,
        store: ResponseStore,
        sessions: SessionStore,
        settings: ConversationSettings | None = None,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._settings = settings or ConversationSettings()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        settings = self._settings
        self._recent = (
            _RecentSessions(settings.recent_records, settings.session_ttl_seconds)
            if settings.recent_records > 0
            else None
        )

    def _key(self, session_id: str) -> str:
        return f"ussd:{self._settings.gateway}:{session_id}"

    async def handle(self, request: UssdRequest) -> HopResult:
        key = self._key(request.session_id)
        session = self._recent.current(key, request.text) if self._recent else None
        if session is None:
            raw = await self._sessions.get(key)
            session = _Session.read(raw) if raw is not None else None
        if session is not None:
            if request.text == session.last_text:
                return HopResult(session.reply, Outcome.DUPLICATE)
            new_input = latest_input(request.text, session.last_text)
            survey = await self._store.load_survey(session.version_id)
            return await self._step(request, session, survey, new_input or "")

        if request.text:
            # Input without a session record: a dial whose record was lost mid-survey.
            record = await self._store.response_by_session(CHANNEL, request.session_id)
            if record is not None:
                return await self._recover(request, record)
        return await self._dial(request)

    def forget_local_records(self) -> None:
        """Drop the records this process kept in memory, as a restart would: the next
        hops read the shared store, or SQL when the store lost them too."""
        if self._recent is not None:
            self._recent.clear()

    async def session_ended(self, session_id: str) -> bool:
        """The gateway's end-of-session notice: an unfinished response is interrupted."""
        return await self._store.mark_interrupted(CHANNEL, session_id, self._clock())

    # -- a new dial ----------------------------------------------------------

    async def _dial(self, request: UssdRequest) -> HopResult:
        store, now = self._store, self._clock()
        binding = None
        if request.text:  # *384*123*2# arrives as serviceCode *384*123# with text "2"
            binding = await store.binding_for_ussd(request.service_code, request.text)
        if binding is None:
            binding = await store.binding_for_ussd(request.service_code, "")
        if binding is None:
            return _closed(phrase("no_survey", None))
        # The version a new response starts on; both are cached, so this costs no I/O.
        version = await store.current_version(binding.survey_id)
        survey = await store.load_survey(version.version_id)
        if binding.roster_only:
            respondent = await store.find_respondent(request.phone)
            if respondent is None:
                return _closed(phrase("not_on_roster", None))
        else:
            # A number dialling for the first time starts the current version at once,
            # in its language menu: one statement for the whole first hop.
            fresh = start(survey)
            respondent, started = await store.dial_in(
                request.phone,
                NewResponse(
                    version_id=version.version_id,
                    channel=CHANNEL,
                    session_ref=request.session_id,
                    language=fresh.state.language,
                    input_ref=request.text,
                    now=now,
                ),
            )
            if started is not None:
                return await self._reply(
                    request, started, version.version_id, fresh, Outcome.SHOWN, recorded=True
                )
        known_language = respondent.language
        latest = await store.latest_response(respondent.id, binding.survey_id)
        if latest is not None and latest.status is ResponseStatus.COMPLETE:
            return _closed(phrase("already_completed", latest.language or known_language))

        if latest is not None and self._resumable(latest, now):
            # An unfinished response continues on the version it started on.
            resumed = await store.load_survey(latest.survey_version_id)
            turn = start(
                resumed, language=latest.language, answers=latest.answers, offer_resume=True
            )
            await store.attach_session(
                latest.id,
                channel=CHANNEL,
                session_ref=request.session_id,
                input_ref=request.text,
                now=now,
            )
            # attach_session recorded this hop's input and that the offer is on screen.
            return await self._reply(
                request, latest.id, latest.survey_version_id, turn, Outcome.SHOWN, recorded=True
            )

        turn = start(survey, language=known_language)
        response = await store.start_response(
            respondent_id=respondent.id,
            version_id=version.version_id,
            channel=CHANNEL,
            session_ref=request.session_id,
            language=turn.state.language,
            input_ref=request.text,
            now=now,
        )
        return await self._reply(
            request, response.id, version.version_id, turn, Outcome.SHOWN, recorded=True
        )

    def _resumable(self, response: ResponseRecord, now: dt.datetime) -> bool:
        return (
            response.status in (ResponseStatus.IN_PROGRESS, ResponseStatus.INTERRUPTED)
            and bool(response.answers)
            and now - response.updated_at <= self._settings.resume_window
        )

    # -- the session record was lost ------------------------------------------

    async def _recover(self, request: UssdRequest, record: ResponseRecord) -> HopResult:
        survey = await self._store.load_survey(record.survey_version_id)
        if record.status is not ResponseStatus.IN_PROGRESS:
            closing = "thank_you" if record.status is ResponseStatus.COMPLETE else "refused"
            return _closed(phrase(closing, record.language), Outcome.DUPLICATE)
        if record.resume_offered and record.answers:
            # The offer to continue or start again is on screen: the key answers it.
            language, answers = record.language, record.answers
            state = start(survey, language=language, answers=answers, offer_resume=True).state
        else:
            state = resume_state(survey, record.answers, record.language)
        prompt = current_prompt(survey, state)
        if prompt is None:
            return _closed(phrase("thank_you", record.language), Outcome.DUPLICATE)
        if request.text == record.last_input_ref:
            # The hop SQL already holds, delivered again: show where the respondent is.
            turn = Turn(state, (prompt,))
            return await self._reply(
                request, record.id, record.survey_version_id, turn, Outcome.RECOVERED
            )
        keys = navigation_keys(prompt)
        session = _Session(
            record.last_input_ref or "", "", record.id, record.survey_version_id,
            state, 0, len(paginate(prompt)), keys.back, keys.more,
        )  # fmt: skip
        new_input = latest_input(request.text, record.last_input_ref)
        result = await self._step(request, session, survey, new_input or "")
        return HopResult(result.reply, Outcome.RECOVERED, result.question, result.status)

    # -- a hop inside a known session -----------------------------------------

    async def _step(
        self, request: UssdRequest, session: _Session, survey: Survey, new_input: str
    ) -> HopResult:
        state = session.state
        if state.phase is Phase.ENDED:
            return HopResult(session.reply, Outcome.DUPLICATE)

        paging = new_input == session.more or (new_input == session.back and session.page > 0)
        if paging:
            page = session.page + (1 if new_input == session.more else -1)
            if 0 <= page < session.pages:
                return await self._show_page(request, session, survey, state, page)

        typed = canonical_input(expected_input(survey, state), new_input)  # keypad habits
        resume: Resume = Back() if new_input == session.back else Answer(typed)
        try:
            turn = advance(survey, state, resume)
        except EngineError:
            return _closed(phrase("system_error", state.language), Outcome.ENDED)
        outcome = Outcome.ANSWERED if turn.data_events else Outcome.REPROMPTED
        if isinstance(resume, Back):
            outcome = Outcome.WENT_BACK
        return await self._reply(request, session.response_id, session.version_id, turn, outcome)

    async def _show_page(
        self, request: UssdRequest, session: _Session, survey: Survey, state: State, page: int
    ) -> HopResult:
        prompt = current_prompt(survey, state)
        if prompt is None:
            return HopResult(session.reply, Outcome.DUPLICATE)
        pages = paginate(prompt)
        page = min(page, len(pages) - 1)
        reply = con(pages[page])
        await self._store.record_turn(
            session.response_id,
            (),
            input_ref=request.text,
            now=self._clock(),
            resume_offered=state.phase is Phase.RESUME,
        )
        updated = _Session(
            request.text, reply, session.response_id, session.version_id,
            session.state, page, len(pages), session.back, session.more,
        )  # fmt: skip
        await self._save(request, updated)
        return HopResult(reply, Outcome.PAGED, prompt.key)

    async def _reply(
        self,
        request: UssdRequest,
        response_id: int,
        version_id: int,
        turn: Turn,
        outcome: Outcome,
        *,
        recorded: bool = False,
    ) -> HopResult:
        # SQL first: an answer is durable before the respondent sees the next screen.
        # `recorded`: a new response row already holds this hop's input reference.
        data = turn.data_events
        if data or not recorded:
            await self._store.record_turn(
                response_id,
                data,
                input_ref=request.text,
                now=self._clock(),
                resume_offered=turn.state.phase is Phase.RESUME,
            )
        prompt = turn.prompt
        failure: Failed | None = None
        answered = ""  # the log names the question answered, else the one now on screen
        for event in data:
            if isinstance(event, AnswerGiven) and not answered:
                answered = event.question
            elif isinstance(event, Failed):
                failure = event
        if prompt is None:
            ended = turn.ended
            message = ended.message if ended else phrase("system_error", turn.state.language)
            reply = end(fit_end_screen(message))
            session = _Session(request.text, reply, response_id, version_id, turn.state)
            await self._save(request, session)
            status = ended.status if ended else None
            return HopResult(reply, Outcome.ENDED, "", status, failure)
        pages = paginate(prompt)
        keys = navigation_keys(prompt)
        reply = con(pages[0])
        session = _Session(
            request.text, reply, response_id, version_id, turn.state,
            0, len(pages), keys.back, keys.more,
        )  # fmt: skip
        await self._save(request, session)
        return HopResult(reply, outcome, answered or prompt.key, failure=failure)

    async def _save(self, request: UssdRequest, session: _Session) -> None:
        key = self._key(request.session_id)
        await self._sessions.set(key, session.to_bytes(), self._settings.session_ttl_seconds)
        if self._recent is not None:
            self._recent.keep(key, session)


def _closed(message: str, outcome: Outcome = Outcome.REFUSED_ENTRY) -> HopResult:
    return HopResult(end(fit_end_screen(message)), outcome)
