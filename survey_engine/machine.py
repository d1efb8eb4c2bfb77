"""The survey state machine: one call advances a response by one turn.

    start(survey, language=..., answers=..., offer_resume=..., context=...) -> Turn
    advance(survey, state, resume, context=...) -> Turn
    current_prompt(survey, state) -> Prompt | None

No I/O: the caller loads the survey, keeps `State` (as bytes, in Redis or memory),
stores the data events of each `Turn` and renders its prompt. Every channel shares
this code, so skip logic, validation, languages, going back and resuming behave the
same over USSD and voice.

Calculations (`Survey.calculations`) are values among the answers, stored with
`AnswerKind.CALCULATED`: each is computed when it has no value yet, and again on every
turn where something it refers to changed (an answer given, or cleared after going
back). A stored value whose inputs did not change is kept, so `now()` or `today()` in a
calculation keeps the time it was first computed, and a response resumed or recovered
from SQL holds the same values as one that went on. The clock, the respondent's number
and the channel come in as a `Context`; the time of the last turn is kept in the state,
so showing its prompt again (another page) gives the same prompt.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import cast

from survey_engine.errors import EngineError
from survey_engine.events import (
    AnswerGiven,
    AnswerKind,
    AnswersCleared,
    DataEvent,
    Ended,
    Event,
    Failed,
    InputHint,
    InputKind,
    LanguageChosen,
    Prompt,
    PromptChoice,
    PromptKind,
    ResponseStatus,
    Restarted,
    Suspended,
)
from survey_engine.expressions import Environment
from survey_engine.inputs import (
    Answer,
    Back,
    Context,
    Expired,
    HungUp,
    NoInput,
    Recording,
    Repeat,
    Resume,
)
from survey_engine.model import MAX_ATTEMPTS as MAX_ATTEMPTS  # the default, for callers
from survey_engine.model import (
    Calculation,
    Choice,
    Metadata,
    Pipe,
    Question,
    QuestionType,
    Survey,
    Text,
    canonical_datetime,
    canonical_time,
)
from survey_engine.phrases import native_name, phrase
from survey_engine.speech import (
    LANGUAGE_NAME_KEY,
    PromptKey,
    Speech,
    SpeechPart,
    SpokenValue,
    ValueKind,
    choice_key,
    keyed_text,
    system_key,
    template_parts,
    text_key,
)

# By convention the question named `consent` gates the survey: the choice `no` ends it.
CONSENT_QUESTION = "consent"
CONSENT_REFUSAL = "no"
TEXT_ANSWER_LIMIT = 500
LANGUAGE_KEY = "system.language"
RESUME_KEY = "system.resume"
# What a label and "Now: ..." show (and a voice says) for an answer that is a recording:
# its reference is a file path, for storage and export only.
RECORDED_ANSWER = "recorded_answer"
_NO_RECORDINGS: frozenset[str] = frozenset()

# Canonical text only: what a keypad lets people type instead (`7*5`, `1*3`,
# `15*06*2026`) is mapped by the channel (`ussd/keypad.py`), see `expected_input`.
_INTEGER = re.compile(r"-?\d{1,9}")
_DECIMAL = re.compile(r"-?\d{1,12}(?:[.,]\d{1,9})?")  # a comma too: people type it
_DATE_DIGITS = re.compile(r"(\d{2})(\d{2})(\d{4})")
_DATE_SEPARATED = re.compile(r"(\d{1,2})([-/])(\d{1,2})\2(\d{4})")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HH_MM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")  # a stored time of day
_DATETIME_DIGITS = re.compile(r"(\d{8})(\d{4})")
_NO_CONTEXT = Context()


class Phase(enum.Enum):
    LANGUAGE = "language"
    RESUME = "resume"
    QUESTION = "question"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class State:
    """Everything needed to continue a response: small, and serialisable as bytes."""

    phase: Phase
    language: str | None
    position: int = -1  # index of the question being asked
    answers: Mapping[str, str] = field(default_factory=dict)
    status: ResponseStatus = ResponseStatus.IN_PROGRESS
    attempts: int = 0  # wrong or missing answers in a row at the current prompt
    # Names of the answers that are voice recordings (their value is a file reference):
    # never checked against a text constraint, never shown or said as their value.
    recorded: frozenset[str] = _NO_RECORDINGS
    # The time of the turn that made this state (the caller's clock), for `today()` and
    # `now()`: its prompt shown again is the same prompt. None: no clock was given.
    now: dt.datetime | None = None

    def to_plain(self) -> dict[str, object]:
        """The state as JSON-ready values, for a caller that nests it in its own record."""
        plain: dict[str, object] = {
            "p": self.phase.value,
            "l": self.language,
            "i": self.position,
            "a": dict(self.answers),
            "s": self.status.value,
            "t": self.attempts,
        }
        if self.recorded:  # absent: none, so a typed-only state stays as small as before
            plain["r"] = sorted(self.recorded)
        if self.now is not None:
            # Microseconds since the epoch: written on every turn, where isoformat()
            # was a visible share of a turn's CPU.
            plain["n"] = _microseconds(self.now)
        return plain

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_plain(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_plain(cls, raw: object) -> State:
        """The state from `to_plain`'s values, checked: they came from outside."""
        try:
            if not isinstance(raw, dict):
                raise TypeError("a state is a JSON object")
            answers = raw["a"]
            if not isinstance(answers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in answers.items()
            ):
                raise TypeError("answers must map names to strings")
            language = raw["l"]
            if language is not None and not isinstance(language, str):
                raise TypeError("language must be a string")
            position = raw["i"]
            if not isinstance(position, int):
                raise TypeError("position must be an integer")
            attempts = raw.get("t", 0)  # records written before attempts were counted
            if not isinstance(attempts, int) or attempts < 0:
                raise TypeError("attempts must be a non-negative integer")
            recorded = _NO_RECORDINGS
            if "r" in raw:  # absent: no answer is a recording
                names = raw["r"]
                if not isinstance(names, list) or not all(
                    isinstance(n, str) and n in answers for n in names
                ):
                    raise TypeError("recorded must list names of answers")
                recorded = frozenset(names)
            now = None
            if "n" in raw:  # absent: no clock was given
                now = _from_microseconds(raw["n"])
                if now.tzinfo is None:
                    raise TypeError("the turn's time must have a time zone")
            return cls(
                phase=Phase(raw["p"]),
                language=language,
                position=position,
                answers=answers,
                status=ResponseStatus(raw["s"]),
                attempts=attempts,
                recorded=recorded,
                now=now,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineError("bad_state", f"state bytes are not a survey state: {exc}") from exc

    @classmethod
    def from_bytes(cls, data: bytes) -> State:
        try:
            raw = json.loads(data)
        except ValueError as exc:
            raise EngineError("bad_state", f"state bytes are not JSON: {exc}") from exc
        return cls.from_plain(raw)


@dataclass(frozen=True, slots=True)
class Turn:
    state: State
    events: tuple[Event, ...]

    @property
    def prompt(self) -> Prompt | None:
        last = self.events[-1] if self.events else None
        return last if isinstance(last, Prompt) else None

    @property
    def ended(self) -> Ended | None:
        for event in self.events:
            if isinstance(event, Ended):
                return event
        return None

    @property
    def data_events(self) -> tuple[DataEvent, ...]:
        return tuple(e for e in self.events if not isinstance(e, Prompt))


class _SurveyBroken(Exception):
    """An expression failed on real answers: the response ends as failed, politely."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# ---------------------------------------------------------------------------
# Public entry points


def start(
    survey: Survey,
    *,
    language: str | None = None,
    answers: Mapping[str, str] | None = None,
    offer_resume: bool = False,
    recorded: Collection[str] = (),
    context: Context | None = None,
) -> Turn:
    """Begin (or resume) a response.

    `language` is the respondent's known language, if any; without one a survey in
    several languages first asks. `answers` are those already stored (resume after
    a dropped session), `recorded` the names of those that are voice recordings; with
    `offer_resume` the respondent first chooses between continuing and starting again.
    `context`: the clock, number and channel; the metadata a form asks for is filled
    from it, and calculations without a value are computed, as this turn's events."""
    context = context or _NO_CONTEXT
    answers = _known_answers(survey, answers or {})
    voice = _known_recordings(recorded, answers)
    if language is not None and language not in survey.language_codes:
        language = None
    if offer_resume and answers:
        phase, language = Phase.RESUME, language or survey.default_language
    elif language is None and len(survey.languages) > 1:
        phase = Phase.LANGUAGE
    else:
        phase, language = Phase.QUESTION, language or survey.default_language
    state = State(phase, language, answers=answers, recorded=voice, now=context.now)
    return _guarded(survey, state, lambda: _begin(survey, state, context))


def _begin(survey: Survey, state: State, context: Context) -> Turn:
    state, values = _with_values(survey, state, context)
    if state.phase is Phase.RESUME:
        turn = Turn(state, (_resume_prompt(state),))
    elif state.phase is Phase.LANGUAGE:
        turn = Turn(state, (_language_prompt(survey),))
    else:
        turn = _go_to(survey, state, _frontier(survey, state, -1))
    return Turn(turn.state, (*values, *turn.events)) if values else turn


def advance(survey: Survey, state: State, resume: Resume, context: Context | None = None) -> Turn:
    """One turn: apply the respondent's input and say what comes next. `context`: the
    time of this turn (without one, the state keeps the time of the last)."""
    if context is not None and context.now is not None and context.now != state.now:
        # Built directly: `dataclasses.replace` costs several times more on every turn.
        state = State(
            state.phase,
            state.language,
            state.position,
            state.answers,
            state.status,
            state.attempts,
            state.recorded,
            context.now,
        )
    context = context or _NO_CONTEXT
    if state.phase is Phase.ENDED:
        raise EngineError("ended", "the response has ended; start a new one")
    if isinstance(resume, HungUp | Expired):
        return Turn(replace(state, status=ResponseStatus.INTERRUPTED), (Suspended(),))
    if isinstance(resume, Recording) and state.phase is not Phase.QUESTION:
        menu = "language menu" if state.phase is Phase.LANGUAGE else "resume offer"
        raise EngineError("recording_not_expected", f"a recording cannot answer the {menu}")
    if state.phase is Phase.LANGUAGE:
        return _guarded(survey, state, lambda: _choose_language(survey, state, resume))
    if state.phase is Phase.RESUME:
        return _guarded(survey, state, lambda: _choose_resume(survey, state, resume, context))
    if not 0 <= state.position < len(survey.questions):
        raise EngineError("bad_state", f"position {state.position} is outside the survey")
    return _guarded(survey, state, lambda: _answer_question(survey, state, resume))


_INPUT_KINDS = {
    QuestionType.SELECT_ONE: InputKind.CHOICE,
    QuestionType.SELECT_MULTIPLE: InputKind.CHOICES,
    QuestionType.RANK: InputKind.RANK,
    QuestionType.INTEGER: InputKind.INTEGER,
    QuestionType.DECIMAL: InputKind.DECIMAL,
    QuestionType.DATE: InputKind.DATE,
    QuestionType.TIME: InputKind.TIME,
    QuestionType.DATETIME: InputKind.DATETIME,
    QuestionType.TEXT: InputKind.TEXT,
    QuestionType.NOTE: InputKind.ANY,
}


def expected_input(survey: Survey, state: State) -> InputKind:
    """The kind of input the prompt now shown takes (its `input.kind`), without building
    the prompt: a channel maps its keypad's habits to canonical text with it. ANY when
    nothing is asked (an ended response, a position `advance` refuses)."""
    if state.phase is Phase.QUESTION:
        if 0 <= state.position < len(survey.questions):
            return _INPUT_KINDS[survey.questions[state.position].type]
        return InputKind.ANY
    return InputKind.ANY if state.phase is Phase.ENDED else InputKind.CHOICE


def current_prompt(survey: Survey, state: State) -> Prompt | None:
    """The prompt the respondent is looking at, to show it again (no events)."""
    if state.phase is Phase.ENDED:
        return None
    if state.phase is Phase.LANGUAGE:
        return _language_prompt(survey)
    if state.phase is Phase.RESUME:
        return _resume_prompt(state)
    try:
        return _question_prompt(survey, state)
    except _SurveyBroken:
        return None


def display_value(
    question: Question, value: str, language: str, answers: Mapping[str, str] | None = None
) -> str:
    """An answer as the respondent would recognise it: choice labels, not names."""
    if question.type.has_choices:
        labels = []
        for name in value.split():
            choice = _named_choice(question, name, answers)
            labels.append(_choice_label(choice, language) if choice else name)
        return ", ".join(labels)
    if question.type is QuestionType.DATE and len(value) == 10:
        return f"{value[8:10]}/{value[5:7]}/{value[0:4]}"
    if question.type is QuestionType.DATETIME and len(value) == 16:
        return f"{value[8:10]}/{value[5:7]}/{value[0:4]} {value[11:]}"
    return value


# ---------------------------------------------------------------------------
# Phases


def _choose_language(survey: Survey, state: State, resume: Resume) -> Turn:
    if isinstance(resume, Repeat):
        return Turn(state, (_language_prompt(survey),))
    if isinstance(resume, NoInput):
        error = _said("no_input", survey.default_language)
        return _retry(survey, state, lambda: _language_prompt(survey, error=error))
    if not isinstance(resume, Answer):
        return Turn(replace(state, attempts=0), (_language_prompt(survey),))
    key = resume.text.strip()
    codes = survey.language_codes
    if not key.isdigit() or not 1 <= int(key) <= len(codes):
        error = _said("invalid_choice", survey.default_language)
        return _retry(survey, state, lambda: _language_prompt(survey, error=error))
    language = codes[int(key) - 1]
    chosen = replace(state, phase=Phase.QUESTION, language=language)
    turn = _go_to(survey, chosen, _frontier(survey, chosen, -1))
    return Turn(turn.state, (LanguageChosen(language), *turn.events))


def _choose_resume(survey: Survey, state: State, resume: Resume, context: Context) -> Turn:
    if isinstance(resume, Repeat):
        return Turn(state, (_resume_prompt(state),))
    if isinstance(resume, Back):
        return Turn(replace(state, attempts=0), (_resume_prompt(state),))
    key = resume.text.strip() if isinstance(resume, Answer) else ""
    if key == "1":
        continued = replace(state, phase=Phase.QUESTION)
        return _go_to(survey, continued, _frontier(survey, continued, -1))
    if key == "2":
        fresh = replace(state, phase=Phase.QUESTION, answers={}, recorded=_NO_RECORDINGS)
        # Who and where stay known: the number and channel the response began with.
        fresh, values = _with_values(survey, fresh, context, previous=state.answers)
        turn = _go_to(survey, fresh, _frontier(survey, fresh, -1))
        return Turn(turn.state, (Restarted(), *values, *turn.events))
    error = _said("no_input" if isinstance(resume, NoInput) else "invalid_choice", state.language)
    return _retry(survey, state, lambda: _resume_prompt(state, error=error))


def _answer_question(survey: Survey, state: State, resume: Resume) -> Turn:
    question = survey.questions[state.position]
    language = state.language or survey.default_language
    if isinstance(resume, Repeat):
        return Turn(state, (_question_prompt(survey, state),))
    if isinstance(resume, Back):
        previous = _previous(survey, state)
        if previous is None:
            return Turn(replace(state, attempts=0), (_question_prompt(survey, state),))
        return _go_to(survey, state, previous)
    if isinstance(resume, NoInput):
        error = _said("no_input", language)
        return _retry(survey, state, lambda: _question_prompt(survey, state, error=error))
    if isinstance(resume, Recording):
        return _accept(survey, state, _recording_ref(question, resume), AnswerKind.RECORDING)
    assert isinstance(resume, Answer)

    if question.type is QuestionType.NOTE:
        return _go_to(survey, state, _frontier(survey, state, state.position))

    value, error = _parse(survey, state, question, resume.text, language)
    if value is None:
        assert error is not None
        return _retry(survey, state, lambda: _question_prompt(survey, state, error=error))
    return _accept(survey, state, value, AnswerKind.TEXT)


def _recording_ref(question: Question, recording: Recording) -> str:
    """The reference a voice answer is stored under. Only an open (`text`) question takes
    one, and the channel must have made the file first: anything else is a channel bug."""
    if question.type is not QuestionType.TEXT:
        raise EngineError(
            "recording_not_expected",
            f"{question.name} is a {question.type.value} question; only text takes a recording",
        )
    ref = recording.ref
    if not ref.strip():
        raise EngineError("empty_recording", f"{question.name}: a recording needs a reference")
    # The reference is stored and exported as it is: it must stay relative to the folder.
    if ref.startswith("/") or "\\" in ref or "\x00" in ref or ".." in ref.split("/"):
        raise EngineError(
            "bad_recording_ref",
            f"{question.name}: {ref!r} is not a reference relative to the recordings folder",
        )
    return ref


def _accept(survey: Survey, state: State, value: str, kind: AnswerKind) -> Turn:
    """Store the answer to the current question and move on."""
    question = survey.questions[state.position]
    language = state.language or survey.default_language
    answers = dict(state.answers)
    answers[question.name] = value
    recorded = state.recorded
    if kind is AnswerKind.RECORDING:
        recorded = recorded | {question.name}
    elif question.name in recorded:  # typed over a recording: text again
        recorded = recorded - {question.name}
    events: list[DataEvent] = [AnswerGiven(question.name, value, kind)]
    environment = _environment(survey, state)
    changed = {question.name}
    # Calculations follow the answer; a later answer that no longer holds is cleared,
    # which may change calculations again (a few rounds at most: each clears answers).
    for _ in range(len(survey.questions) + 1):
        if survey.calculations:
            events.extend(_recalculate(survey, answers, changed, environment))
        cleared = _invalidated_after(survey, answers, state.position, recorded, environment)
        if not cleared:
            break
        for name in cleared:
            del answers[name]
        if recorded:
            recorded = recorded.difference(cleared)
        events.append(AnswersCleared(cleared))
        if not survey.calculations:
            break
        changed = set(cleared)
    # Built directly: `dataclasses.replace` costs several times more on every answer.
    # Attempts are not carried over: a valid answer counts them afresh.
    answered = State(
        state.phase, state.language, state.position, answers, state.status, 0, recorded, state.now
    )

    if question.name == CONSENT_QUESTION and value == CONSENT_REFUSAL:
        return _end(answered, events, ResponseStatus.REFUSED, _said("refused", language))
    turn = _go_to(survey, answered, _frontier(survey, answered, state.position))
    return Turn(turn.state, (*events, *turn.events))


def _go_to(survey: Survey, state: State, position: int | None) -> Turn:
    language = state.language or survey.default_language
    if position is None:
        finished, values = _finish(survey, state)
        return _end(finished, values, ResponseStatus.COMPLETE, _said("thank_you", language))
    moved = State(
        Phase.QUESTION,
        state.language,
        position,
        state.answers,
        state.status,
        0,
        state.recorded,
        state.now,
    )
    return Turn(moved, (_question_prompt(survey, moved),))


def _retry(survey: Survey, state: State, prompt: Callable[[], Prompt]) -> Turn:
    """An input refused or missing: the prompt again with its error, or, at the survey's
    `max_attempts` in a row, a polite end of the session that keeps the response
    resumable (the next dial offers to continue)."""
    attempts = state.attempts + 1
    if attempts < survey.max_attempts:
        return Turn(replace(state, attempts=attempts), (prompt(),))
    language = state.language or survey.default_language
    status = ResponseStatus.INTERRUPTED
    stopped = replace(state, phase=Phase.ENDED, status=status, attempts=attempts)
    text, speech = _said("too_many_attempts", language)
    return Turn(stopped, (Suspended(), Ended(status, text, speech)))


def _end(state: State, events: list[DataEvent], status: ResponseStatus, message: _Message) -> Turn:
    ended = replace(state, phase=Phase.ENDED, status=status)
    return Turn(ended, (*events, Ended(status, *message)))


def _guarded(survey: Survey, state: State, step: Callable[[], Turn]) -> Turn:
    """Run one step; a survey that breaks on real answers ends the response as failed."""
    try:
        return step()
    except _SurveyBroken as broken:
        language = state.language or survey.default_language
        ended = replace(state, phase=Phase.ENDED, status=ResponseStatus.FAILED)
        return Turn(
            ended,
            (
                Failed(broken.code, broken.detail),
                Ended(ResponseStatus.FAILED, *_said("failed", language)),
            ),
        )


# ---------------------------------------------------------------------------
# Walking the questions


def _relevant(question: Question, answers: Mapping[str, str], environment: Environment) -> bool:
    if question.relevant is not None:
        try:
            if not question.relevant.is_true(answers, environment=environment):
                return False
        except Exception as exc:  # a broken expression must not crash the channel
            raise _SurveyBroken("relevant_failed", f"{question.name}: {exc}") from exc
    if question.choice_filter is not None and question.type.has_choices:
        # A filter that leaves no choice leaves nothing to answer: asked, it would hold
        # the respondent until their attempts ran out. It is skipped as not relevant.
        return bool(_visible_choices(question, answers, environment))
    return True


def _previous(survey: Survey, state: State) -> int | None:
    environment = _environment(survey, state)
    for index in range(state.position - 1, -1, -1):
        if _relevant(survey.questions[index], state.answers, environment):
            return index
    return None


def _last_answered(survey: Survey, answers: Mapping[str, str]) -> int:
    last = -1
    for index, question in enumerate(survey.questions):
        if question.name in answers:
            last = index
    return last


def _frontier(survey: Survey, state: State, after: int) -> int | None:
    """Where to continue: the first relevant question after `after` that still needs an
    answer, or, past everything answered so far, the next relevant one (notes included).
    Going back to change one answer therefore returns the respondent to where they were,
    visiting only questions that the change made newly relevant."""
    last = _last_answered(survey, state.answers)
    environment = _environment(survey, state)
    for index in range(after + 1, len(survey.questions)):
        question = survey.questions[index]
        if not _relevant(question, state.answers, environment):
            continue
        if index > last:
            return index
        if question.type is not QuestionType.NOTE and question.name not in state.answers:
            return index
    return None


def _invalidated_after(
    survey: Survey,
    answers: Mapping[str, str],
    position: int,
    recorded: frozenset[str],
    environment: Environment,
) -> tuple[str, ...]:
    """Later answers that no longer hold after an earlier one changed: questions that are
    no longer relevant, and answers whose constraint or choice filter now fails (a
    recording was never held to its text constraint, so it is not held to it now)."""
    current = dict(answers)
    cleared: list[str] = []
    for question in survey.questions[position + 1 :]:
        value = current.get(question.name)
        if value is None:
            continue
        keep = _relevant(question, current, environment)
        if keep and value and question.constraint is not None and question.name not in recorded:
            keep = _holds(question, current, value, environment)
        if keep and value and question.type.has_choices and question.choice_filter is not None:
            allowed = {c.name for c in _visible_choices(question, current, environment)}
            keep = all(name in allowed for name in value.split())
            if question.type is QuestionType.RANK:  # a rank orders every choice shown
                keep = keep and set(value.split()) == allowed
        if not keep:
            del current[question.name]
            cleared.append(question.name)
    return tuple(cleared)


def _holds(
    question: Question, answers: Mapping[str, str], value: str, environment: Environment
) -> bool:
    assert question.constraint is not None
    if question.name in question.constraint.references and answers.get(question.name) != value:
        # `${age} > 0` in age's own constraint means the answer being checked, as `.`
        # does (ODK reads it so; forms written for KoBo use it).
        answers = {**answers, question.name: value}
    try:
        return question.constraint.is_true(answers, current=value, environment=environment)
    except Exception as exc:
        raise _SurveyBroken("constraint_failed", f"{question.name}: {exc}") from exc


def _known_answers(survey: Survey, answers: Mapping[str, str]) -> dict[str, str]:
    # Answers of questions a newer version dropped are ignored, not fatal.
    return {k: v for k, v in answers.items() if survey.holds(k)}


# ---------------------------------------------------------------------------
# Computed values: calculations, hidden values, metadata


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _microseconds(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def _from_microseconds(value: object) -> dt.datetime:
    if isinstance(value, str):  # written as ISO 8601 by an earlier release
        return dt.datetime.fromisoformat(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("the turn's time must be microseconds since the epoch")
    return _EPOCH + dt.timedelta(microseconds=value)


# The environment of the last state asked for: a turn asks for it several times.
_LAST_ENVIRONMENT: list[object] = [None, None, None, None]


def _environment(survey: Survey, state: State) -> Environment:
    """What expressions know besides the answers: the turn's time, and choice labels
    in the respondent's language (jr:choice-name, jr:itext)."""
    language = state.language or survey.default_language
    last = _LAST_ENVIRONMENT
    if last[0] is survey and last[1] == language and last[2] == state.now:
        return last[3]  # type: ignore[return-value]
    key = ("choice_label", language)
    choice_label = survey.memo.get(key)
    if choice_label is None:
        # Once per survey and language: every turn asks for an environment.

        def choice_label(question: str, name: str) -> str:
            if survey.has_question(question):
                choice = survey.question(question).choice(name)
                if choice is not None:
                    return _choice_label(choice, language)
            return name

        survey.memo[key] = choice_label
    environment = Environment(
        now=state.now,
        choice_label=choice_label,  # type: ignore[arg-type]
        language=language,
    )
    last[:] = [survey, language, state.now, environment]
    return environment


def _timestamp(now: dt.datetime) -> str:
    """A time as ODK writes `start` and `now()`: '2026-06-15T12:30:05.250+00:00'."""
    return now.isoformat(timespec="milliseconds")


def _metadata_value(metadata: Metadata, context: Context, previous: str) -> str | None:
    """What the system fills for a metadata row when a response begins; None: not
    known (no clock given), left to be filled later."""
    if metadata is Metadata.START:
        return _timestamp(context.now) if context.now else None
    if metadata is Metadata.TODAY:
        return context.now.date().isoformat() if context.now else None
    if metadata is Metadata.PHONENUMBER:
        return context.phone or previous or None
    if metadata is Metadata.DEVICEID:
        return context.channel or previous or None
    if metadata is Metadata.END:
        return None  # at completion: `_finish`
    return ""  # username, email, simserial, subscriberid, audit: nothing on a phone call


def _with_values(
    survey: Survey, state: State, context: Context, previous: Mapping[str, str] | None = None
) -> tuple[State, list[DataEvent]]:
    """The state with the metadata the system fills and every calculation that has no
    value yet, and those values as events. `previous`: the answers before a restart."""
    if not survey.calculations:
        return state, []
    answers = dict(state.answers)
    events: list[DataEvent] = []
    for calculation in survey.calculations:
        metadata = calculation.metadata
        if metadata is None or calculation.name in answers:
            continue
        value = _metadata_value(metadata, context, (previous or {}).get(calculation.name, ""))
        if value is not None:
            answers[calculation.name] = value
            events.append(AnswerGiven(calculation.name, value, AnswerKind.CALCULATED))
    changed = {e.question for e in events if isinstance(e, AnswerGiven)}
    events.extend(_recalculate(survey, answers, changed, _environment(survey, state)))
    if not events:
        return state, []
    return replace(state, answers=answers), events


def _finish(survey: Survey, state: State) -> tuple[State, list[DataEvent]]:
    """At completion: `end` metadata is the time of this turn (and what depends on it)."""
    ends = [c.name for c in survey.calculations if c.metadata is Metadata.END]
    if not ends or state.now is None:
        return state, []
    answers = dict(state.answers)
    stamp = _timestamp(state.now)
    events: list[DataEvent] = []
    for name in ends:
        answers[name] = stamp
        events.append(AnswerGiven(name, stamp, AnswerKind.CALCULATED))
    events.extend(_recalculate(survey, answers, set(ends), _environment(survey, state)))
    return replace(state, answers=answers), events


def _recalculate(
    survey: Survey, answers: dict[str, str], changed: set[str], environment: Environment
) -> list[AnswerGiven | AnswersCleared]:
    """Compute, in dependency order, each calculation that has no value or refers to a
    name in `changed`; update `answers` and `changed`; the values that changed. A
    calculation that is not relevant has no value: nothing is stored for it (a pass of
    a repeat that never happens leaves no row), and a value it had is cleared."""
    events: list[AnswerGiven | AnswersCleared] = []
    for calculation in survey.calculations:
        if calculation.metadata is not None:
            continue
        stored = answers.get(calculation.name)
        if stored is not None and calculation.references.isdisjoint(changed):
            continue
        value = _calculate(calculation, answers, stored or "", environment)
        if value is None:
            if stored is not None:
                del answers[calculation.name]
                changed.add(calculation.name)
                events.append(AnswersCleared((calculation.name,)))
            continue
        if value != stored:
            answers[calculation.name] = value
            changed.add(calculation.name)
            events.append(AnswerGiven(calculation.name, value, AnswerKind.CALCULATED))
    return events


def _calculate(
    calculation: Calculation, answers: Mapping[str, str], stored: str, environment: Environment
) -> str | None:
    """The calculation's value; None when it is not relevant."""
    try:
        if calculation.relevant is not None and not calculation.relevant.is_true(
            answers, environment=environment
        ):
            return None
        if calculation.expression is None:
            return calculation.value
        value = calculation.expression.text(answers, current=stored, environment=environment)
    except Exception as exc:  # a broken expression must not crash the channel
        raise _SurveyBroken("calculation_failed", f"{calculation.name}: {exc}") from exc
    # Stored like a typed answer: printable, and no longer than one.
    return "".join(ch for ch in value if ch.isprintable())[:TEXT_ANSWER_LIMIT]


def _offered_default(survey: Survey, state: State, question: Question) -> str:
    """The question's default as its canonical answer, when it has one and was never
    answered: shown as "Now: ...", and an empty send keeps it. A computed default
    that is no answer of the question's type (an empty reference) offers nothing."""
    if question.name in state.answers or question.type is QuestionType.NOTE:
        return ""
    value = question.default
    environment = None
    if question.default_expression is not None:
        environment = _environment(survey, state)
        try:
            value = question.default_expression.text(state.answers, environment=environment)
        except Exception as exc:
            raise _SurveyBroken("default_failed", f"{question.name}: {exc}") from exc
    value = value.strip()
    if not value or environment is None:
        return value  # a plain default was checked when the form was loaded
    kind = question.type
    if kind.has_choices:
        names = {c.name for c in _visible_choices(question, state.answers, environment)}
        picked = value.split()
        if kind is QuestionType.RANK:
            ok = len(picked) == len(names) and set(picked) == names
        else:
            ok = set(picked) <= names and (kind is QuestionType.SELECT_MULTIPLE or len(picked) == 1)
        return value if ok else ""
    if kind is QuestionType.INTEGER:
        number = _decimal(value)
        return number if number is not None and _INTEGER.fullmatch(number) else ""
    if kind is QuestionType.DECIMAL:
        return _decimal(value) or ""
    if kind is QuestionType.DATE:
        return value[:10] if _ISO_DATE.fullmatch(value[:10]) and _real_date(value[:10]) else ""
    if kind is QuestionType.TIME:
        # A computed time may be a date and time (`now()`): its time of day.
        return canonical_time(value.partition("T")[2] or value) or ""
    if kind is QuestionType.DATETIME:
        return canonical_datetime(value) or ""
    return value[:TEXT_ANSWER_LIMIT]


def _real_date(iso: str) -> bool:
    try:
        dt.date.fromisoformat(iso)
    except ValueError:
        return False
    return True


def _known_recordings(recorded: Collection[str], answers: Mapping[str, str]) -> frozenset[str]:
    return frozenset(n for n in recorded if n in answers) if recorded else _NO_RECORDINGS


# ---------------------------------------------------------------------------
# Reading input


def _parse(
    survey: Survey, state: State, question: Question, raw: str, language: str
) -> tuple[str | None, _Message | None]:
    """(canonical value, None) or (None, the error to show, in the respondent's language)."""
    text = raw.strip()
    offered = "" if text else _offered_default(survey, state, question)
    if not text and not offered:
        if question.required:
            custom = _custom_message(survey, question, "required_message", language, state)
            return None, custom or _said("required", language)
        return "", None  # an optional question skipped: recorded as an empty answer

    value: str | None
    kind = question.type
    environment = _environment(survey, state)
    if offered:
        value = offered  # an empty send keeps the default shown as "Now: ..."
    elif kind is QuestionType.SELECT_ONE:
        choices = _visible_choices(question, state.answers, environment)
        value = choices[int(text) - 1].name if _is_key(text, len(choices)) else None
        if value is None:
            return None, _said("invalid_choice", language)
    elif kind is QuestionType.SELECT_MULTIPLE:
        choices = _visible_choices(question, state.answers, environment)
        keys = text.split()
        if not keys or not all(_is_key(k, len(choices)) for k in keys):
            return None, _said("invalid_choices", language)
        picked = {int(k) - 1 for k in keys}
        # Two choices of one name (allow_choice_duplicates) are one answer.
        value = " ".join(dict.fromkeys(choices[i].name for i in sorted(picked)))
    elif kind is QuestionType.RANK:
        choices = _visible_choices(question, state.answers, environment)
        value = _ranked(text, choices)
        if value is None:
            count = SpokenValue(ValueKind.NUMBER, str(len(choices)))
            return None, _said("invalid_rank", language, count=count)
    elif kind in _TYPED:
        read, invalid = _TYPED[kind]
        value = read(text)
        if value is None:
            return None, _said(invalid, language)
    else:
        value = "".join(ch for ch in text if ch.isprintable())
        if len(value) > TEXT_ANSWER_LIMIT:
            limit = SpokenValue(ValueKind.NUMBER, str(TEXT_ANSWER_LIMIT))
            return None, _said("text_too_long", language, limit=limit)

    if question.constraint is not None and not _holds(question, state.answers, value, environment):
        custom = _custom_message(survey, question, "constraint_message", language, state)
        return None, custom or _said("constraint", language)
    return value, None


def _integer(text: str) -> str | None:
    return str(int(text)) if _INTEGER.fullmatch(text) else None


def _is_key(text: str, count: int) -> bool:
    # Keys are "1".."n" as shown; "01" is not a key, so nothing collides with "00"/"0".
    return text.isdigit() and not text.startswith("0") and int(text) <= count


def _ranked(text: str, choices: tuple[Choice, ...]) -> str | None:
    """The choices' names in the order their keys were typed, each key once: `3 1 2`,
    or `312` when every key is one digit."""
    keys = text.split()
    if len(keys) == 1 and len(choices) < 10 and len(text) == len(choices) > 1:
        keys = list(text)
    if sorted(keys, key=lambda k: (len(k), k)) != [str(i) for i in range(1, len(choices) + 1)]:
        return None
    # Two choices of one name (allow_choice_duplicates) are one answer, ranked once.
    return " ".join(dict.fromkeys(choices[int(k) - 1].name for k in keys))


def _decimal(text: str) -> str | None:
    if not _DECIMAL.fullmatch(text):
        return None
    number = float(text.replace(",", "."))
    if not math.isfinite(number):
        return None
    return str(int(number)) if number.is_integer() else repr(number)


def _date(text: str) -> str | None:
    digits = _DATE_DIGITS.fullmatch(text)
    separated = None if digits else _DATE_SEPARATED.fullmatch(text)
    if digits:
        day, month, year = (int(g) for g in digits.groups())
    elif separated:
        day, month, year = (int(separated.group(i)) for i in (1, 3, 4))
    else:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _datetime(text: str) -> str | None:
    """The date as a date question takes it, then the time: `150620261430`, or the two
    parted by a space (`15062026 930`, `15-06-2026 14:30`)."""
    digits = _DATETIME_DIGITS.fullmatch(text)
    day, _, time = (digits.group(1), " ", digits.group(2)) if digits else text.partition(" ")
    date, clock = _date(day), canonical_time(time.strip())
    return f"{date}T{clock}" if date and clock else None


# Typed answers: how each is read into its stored form, and the phrase when it is not one.
_TYPED: dict[QuestionType, tuple[Callable[[str], str | None], str]] = {
    QuestionType.INTEGER: (_integer, "invalid_integer"),
    QuestionType.DECIMAL: (_decimal, "invalid_decimal"),
    QuestionType.DATE: (_date, "invalid_date"),
    QuestionType.TIME: (canonical_time, "invalid_time"),
    QuestionType.DATETIME: (_datetime, "invalid_datetime"),
}


# ---------------------------------------------------------------------------
# Building prompts


def _visible_choices(
    question: Question, answers: Mapping[str, str], environment: Environment
) -> tuple[Choice, ...]:
    if question.choice_filter is None:
        return question.choices
    try:
        return tuple(
            c
            for c in question.choices
            if question.choice_filter.is_true(
                answers, columns={"name": c.name, **c.extra}, environment=environment
            )
        )
    except Exception as exc:
        raise _SurveyBroken("choice_filter_failed", f"{question.name}: {exc}") from exc


def _named_choice(
    question: Question, name: str, answers: Mapping[str, str] | None
) -> Choice | None:
    """The choice a stored answer names. A name is repeated in a list only with
    allow_choice_duplicates, and an answer stores the name alone (as ODK does): then it
    is the first choice of that name the question's choice_filter shows for `answers`."""
    named = [c for c in question.choices if c.name == name]
    if len(named) > 1 and answers is not None and question.choice_filter is not None:
        try:
            shown = [
                c for c in _visible_choices(question, answers, Environment()) if c.name == name
            ]
        except _SurveyBroken:  # e.g. a filter on now(): the label of the first is as good
            shown = []
        return shown[0] if shown else named[0]
    return named[0] if named else None


def _choice_label(choice: Choice, language: str) -> str:
    return choice.labels.get(language) or next(iter(choice.labels.values()), choice.name)


def _render_text(
    text: Text | None,
    language: str,
    answers: Mapping[str, str],
    recorded: frozenset[str],
    survey: Survey,
) -> str:
    if text is None:
        return ""
    out = []
    for part in text.parts:
        if isinstance(part, Pipe):
            value = answers.get(part.name, "")
            if value and part.name in recorded:
                value = phrase(RECORDED_ANSWER, language)
            elif value and survey.has_question(part.name):
                value = display_value(survey.question(part.name), value, language, answers)
            out.append(value)
        else:
            out.append(part)
    return "".join(out)


# ---------------------------------------------------------------------------
# Speech: what the IVR plays for a text, named by the catalogue's own rule

_Message = tuple[str, Speech]  # the text a screen shows, and the same words as speech
_SILENT = Speech()
_NO_MESSAGE: _Message = ("", _SILENT)
_VALUE_KINDS = {
    QuestionType.INTEGER: ValueKind.NUMBER,
    QuestionType.DECIMAL: ValueKind.NUMBER,
    QuestionType.DATE: ValueKind.DATE,
    QuestionType.TIME: ValueKind.TIME,
}


def _said(key: str, language: str | None, **values: SpokenValue) -> _Message:
    """A system phrase as text and as speech; `values` fill its placeholders."""
    if not values:
        found = _PHRASES_SAID.get((key, language))
        if found is None:
            found = _PHRASES_SAID[key, language] = _build_said(key, language, {})
        return found
    return _build_said(key, language, values)


def _build_said(key: str, language: str | None, values: Mapping[str, SpokenValue]) -> _Message:
    template = phrase(key, language)
    text = template.format(**{n: v.value for n, v in values.items()}) if values else template
    return text, _speech(system_key(key), template_parts(template), lambda n: (values[n],))


# Phrases without values, built once: the endings and system prompts of every response.
_PHRASES_SAID: dict[tuple[str, str | None], _Message] = {}


def _speech(
    key: str, parts: tuple[str | Pipe, ...], values: Callable[[str], tuple[SpeechPart, ...]]
) -> Speech:
    spoken: list[SpeechPart] = []
    for piece in keyed_text(key, parts):
        if isinstance(piece, Pipe):
            spoken.extend(values(piece.name))
        else:
            spoken.append(PromptKey(piece[0]))
    return Speech(tuple(spoken))


def _text_speech(
    key: str,
    text: Text | None,
    answers: Mapping[str, str],
    recorded: frozenset[str],
    survey: Survey,
) -> Speech:
    if text is None:
        return _SILENT
    return _speech(key, text.parts, lambda name: _piped(survey, name, answers, recorded))


_SAID_RECORDED = (PromptKey(system_key(RECORDED_ANSWER)),)


def _piped(
    survey: Survey, name: str, answers: Mapping[str, str], recorded: frozenset[str]
) -> tuple[SpeechPart, ...]:
    """An earlier answer, typed so the IVR can say it (an unanswered one says nothing;
    a recording is named by its phrase, never read out as its file reference)."""
    value = answers.get(name, "")
    if not value:
        return ()
    if name in recorded:
        return _SAID_RECORDED
    question = survey.question(name) if survey.has_question(name) else None
    if question is None:  # a calculation: said as what its value looks like
        if _PLAIN_NUMBER.fullmatch(value):
            return (SpokenValue(ValueKind.NUMBER, value),)
        if _ISO_DATE.fullmatch(value):
            return (SpokenValue(ValueKind.DATE, value),)
        if _HH_MM.fullmatch(value):
            return (SpokenValue(ValueKind.TIME, value),)
        if canonical_datetime(value) == value:
            return _said_datetime(value)
        return (SpokenValue(ValueKind.TEXT, value),)
    if question.type.has_choices:
        parts: list[SpeechPart] = []
        for choice_name in value.split():
            choice = _named_choice(question, choice_name, answers)
            parts.append(
                SpokenValue(ValueKind.CHOICE, choice_name, choice_key(name, choice.catalogue_name))
                if choice is not None
                else SpokenValue(ValueKind.TEXT, choice_name)
            )
        return tuple(parts)
    if question.type is QuestionType.DATETIME and canonical_datetime(value) == value:
        return _said_datetime(value)
    return (SpokenValue(_VALUE_KINDS.get(question.type, ValueKind.TEXT), value),)


def _said_datetime(value: str) -> tuple[SpeechPart, ...]:
    """A stored date and time, said as the date and then the time."""
    day, _, time = value.partition("T")
    return (SpokenValue(ValueKind.DATE, day), SpokenValue(ValueKind.TIME, time))


def _custom_message(
    survey: Survey, question: Question, which: str, language: str, state: State
) -> _Message | None:
    """The form's own constraint or required message in `language`, if it has one."""
    texts = (
        question.constraint_messages
        if which == "constraint_message"
        else (question.required_messages)
    )
    text = texts.get(language)
    answers, recorded = state.answers, state.recorded
    shown = _render_text(text, language, answers, recorded, survey)
    if not shown:
        return None
    key = text_key(question.name, which)
    return shown, _text_speech(key, text, answers, recorded, survey)


def _input_hint(question: Question, choice_count: int) -> InputHint:
    kind = question.type
    if kind is QuestionType.SELECT_ONE:
        return InputHint(InputKind.CHOICE, len(str(choice_count)), "#", choice_count)
    if kind is QuestionType.SELECT_MULTIPLE:
        return InputHint(InputKind.CHOICES, None, "#", choice_count)
    if kind is QuestionType.RANK:
        return InputHint(InputKind.RANK, None, "#", choice_count)
    if kind is QuestionType.INTEGER:
        return InputHint(InputKind.INTEGER, 9)
    if kind is QuestionType.DECIMAL:
        return InputHint(InputKind.DECIMAL, 12)
    if kind is QuestionType.DATE:
        return InputHint(InputKind.DATE, 8)
    if kind is QuestionType.TIME:
        return InputHint(InputKind.TIME, 5)  # 14*30 on a voice keypad
    if kind is QuestionType.DATETIME:
        return InputHint(InputKind.DATETIME, 13)  # 15062026*1430 on a voice keypad
    if kind is QuestionType.NOTE:
        return InputHint(InputKind.ANY, 1, None)
    return InputHint(InputKind.TEXT, None)


def _question_prompt(survey: Survey, state: State, *, error: _Message = _NO_MESSAGE) -> Prompt:
    question = survey.questions[state.position]
    language = state.language or survey.default_language
    answers = state.answers
    parts = _fixed_parts(survey, state.position, language)
    if parts is None:  # piped answers or filtered choices: they depend on the answers
        parts = _parts(survey, question, language, answers, state.recorded, state)
    text, hint, choices, input_hint, speech, hint_speech = parts
    current = answers.get(question.name, "")
    if question.name not in answers and (question.default or question.default_expression):
        current = _offered_default(survey, state, question)
    if current:
        current = (
            phrase(RECORDED_ANSWER, language)
            if question.name in state.recorded
            else display_value(question, current, language, answers)
        )
    return Prompt(
        kind=PromptKind.NOTE if question.type is QuestionType.NOTE else PromptKind.QUESTION,
        key=question.name,
        language=language,
        text=text,
        input=input_hint,
        hint=hint,
        choices=choices,
        error=error[0],
        question_type=question.type,
        can_go_back=_previous(survey, state) is not None,
        current_value=current,
        number=state.position + 1,
        total=len(survey.questions),
        speech=speech,
        hint_speech=hint_speech,
        error_speech=error[1],
    )


# text, hint, choices, input hint, and the text and hint as speech
_PromptParts = tuple[str, str, tuple[PromptChoice, ...], InputHint, Speech, Speech]


def _parts(
    survey: Survey,
    question: Question,
    language: str,
    answers: Mapping[str, str],
    recorded: frozenset[str],
    state: State | None = None,
) -> _PromptParts:
    choices: tuple[PromptChoice, ...] = ()
    if question.type.has_choices:
        environment = _environment(survey, state) if state else Environment()
        visible = _visible_choices(question, answers, environment)
        choices = tuple(
            PromptChoice(
                str(i),
                c.name,
                _choice_label(c, language),
                Speech((PromptKey(choice_key(question.name, c.catalogue_name)),)),
            )
            for i, c in enumerate(visible, start=1)
        )
    label, hint = question.labels.get(language), question.hints.get(language)
    return (
        _render_text(label, language, answers, recorded, survey),
        _render_text(hint, language, answers, recorded, survey),
        choices,
        _input_hint(question, len(choices)),
        _text_speech(text_key(question.name, "label"), label, answers, recorded, survey),
        _text_speech(text_key(question.name, "hint"), hint, answers, recorded, survey),
    )


def _fixed_parts(survey: Survey, position: int, language: str) -> _PromptParts | None:
    """A question's text, hint, choices, input hint and speech in `language`, built once and
    remembered on the survey, or None when they depend on the answers (pipes, a choice
    filter) and must be built on every hop."""
    key = (position, language)
    found = survey.memo.get(key, _NOT_YET)
    if found is not _NOT_YET:
        return cast("_PromptParts | None", found)
    question = survey.questions[position]
    label, hint = question.labels.get(language), question.hints.get(language)
    varies = question.choice_filter is not None or any(
        t is not None and t.pipes for t in (label, hint)
    )
    parts = None if varies else _parts(survey, question, language, {}, _NO_RECORDINGS)
    survey.memo[key] = parts
    return parts


_NOT_YET = object()


def _language_prompt(survey: Survey, *, error: _Message = _NO_MESSAGE) -> Prompt:
    # Each language names itself, in its own voice: the key from that language's folder.
    choices = tuple(
        PromptChoice(
            str(i),
            lang.code,
            native_name(lang.code, lang.name),
            Speech((PromptKey(LANGUAGE_NAME_KEY, lang.code),)),
        )
        for i, lang in enumerate(survey.languages, start=1)
    )
    text, speech = _said("choose_language", survey.default_language)
    return Prompt(
        kind=PromptKind.LANGUAGE_MENU,
        key=LANGUAGE_KEY,
        language=survey.default_language,
        text=text,
        input=InputHint(InputKind.CHOICE, len(str(len(choices))), "#", len(choices)),
        choices=choices,
        error=error[0],
        speech=speech,
        error_speech=error[1],
    )


def _resume_prompt(state: State, *, error: _Message = _NO_MESSAGE) -> Prompt:
    language = state.language
    assert language is not None
    choices = tuple(
        PromptChoice(key, name, *_said(phrase_key, language))
        for key, name, phrase_key in (
            ("1", "continue", "continue"),
            ("2", "restart", "start_again"),
        )
    )
    text, speech = _said("resume_offer", language)
    return Prompt(
        kind=PromptKind.RESUME_OFFER,
        key=RESUME_KEY,
        language=language,
        text=text,
        input=InputHint(InputKind.CHOICE, 1, "#", 2),
        choices=choices,
        error=error[0],
        speech=speech,
        error_speech=error[1],
    )


def resume_state(
    survey: Survey,
    answers: Mapping[str, str],
    language: str | None,
    recorded: Collection[str] = (),
    now: dt.datetime | None = None,
) -> State:
    """The state a response is in, rebuilt from what SQL holds (when Redis lost it):
    its answers (calculations included, as stored), and which of them are voice
    recordings. `now`: the time of this turn, for `today()` in skip logic."""
    known = _known_answers(survey, answers)
    voice = _known_recordings(recorded, known)
    if language is None and len(survey.languages) > 1:
        return State(Phase.LANGUAGE, None, answers=known, recorded=voice, now=now)
    language = language or survey.default_language
    state = State(Phase.QUESTION, language, answers=known, recorded=voice, now=now)
    position = _frontier(survey, state, -1)
    if position is None:
        return replace(state, phase=Phase.ENDED, status=ResponseStatus.COMPLETE)
    return replace(state, position=position)
