"""What one turn of the engine produces: events for storage and a prompt for the channel.

USSD renders a `Prompt` as screens from its text; the IVR will render the same prompt
as audio and AGI commands from its `Speech` (catalogue keys and typed values, see
`survey_engine.speech`). Storage applies the data events (`LanguageChosen`, `AnswerGiven`,
`AnswersCleared`, `Restarted`, `Ended`) in one transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from survey_engine.model import QuestionType
from survey_engine.speech import Speech

# Speech fields stay out of the hash: a prompt is hashed on every USSD hop (the page
# cache), and its speech follows from the fields that are hashed.
_SILENT = Speech()


class PromptKind(enum.Enum):
    LANGUAGE_MENU = "language_menu"  # pick a language; choices are languages
    RESUME_OFFER = "resume_offer"  # continue an unfinished response or start again
    QUESTION = "question"  # a survey question that takes an answer
    NOTE = "note"  # text to read; any input continues


class InputKind(enum.Enum):
    CHOICE = "choice"  # one number from the choices
    CHOICES = "choices"  # several numbers, separated by spaces
    RANK = "rank"  # every choice's number once, in order: `3 1 2` (or `312` under ten)
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"  # DDMMYYYY digits (or DD-MM-YYYY)
    TIME = "time"  # HHMM or HMM digits (or HH:MM)
    DATETIME = "datetime"  # a date then a time: DDMMYYYYHHMM, or the two with a space
    TEXT = "text"
    ANY = "any"  # a note: anything continues


class AnswerKind(enum.Enum):
    """What an answer's value holds: typed text, a reference to a voice recording
    (a path relative to RECORDINGS_DIR that the server chose, never the caller), or a
    value the engine computed (a calculation, a hidden value, metadata): nobody said it."""

    TEXT = "text"
    RECORDING = "recording"
    CALCULATED = "calculated"


class ResponseStatus(enum.Enum):
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    REFUSED = "refused"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PromptChoice:
    key: str  # what the respondent types or presses: "1", "2", ...
    name: str  # the choice's name in the form (stored as the answer)
    label: str  # in the prompt's language
    speech: Speech = field(default=_SILENT, hash=False)  # the label's catalogue key


@dataclass(frozen=True, slots=True)
class InputHint:
    """How the channel should collect input. The IVR turns it into AGI arguments
    (digits to collect, the key that ends input); USSD ignores most of it."""

    kind: InputKind
    max_digits: int | None = None
    terminator: str | None = "#"
    choice_count: int = 0


@dataclass(frozen=True, slots=True)
class Prompt:
    kind: PromptKind
    key: str  # question name, or "system.language" / "system.resume"
    language: str
    text: str  # the label with earlier answers piped in
    input: InputHint
    hint: str = ""
    choices: tuple[PromptChoice, ...] = ()
    error: str = ""  # why the last input was refused, in `language`
    question_type: QuestionType | None = None
    can_go_back: bool = False
    current_value: str = ""  # the stored answer, shown when the respondent came back
    number: int = 0  # position among the survey's questions, from 1
    total: int = 0
    speech: Speech = field(default=_SILENT, hash=False)  # `text` as the IVR says it
    hint_speech: Speech = field(default=_SILENT, hash=False)
    error_speech: Speech = field(default=_SILENT, hash=False)


@dataclass(frozen=True, slots=True)
class LanguageChosen:
    language: str


@dataclass(frozen=True, slots=True)
class AnswerGiven:
    question: str
    value: str  # canonical: choice name(s) space-separated, ISO date, HH:MM, plain number
    kind: AnswerKind = AnswerKind.TEXT


@dataclass(frozen=True, slots=True)
class AnswersCleared:
    """Answers that no longer apply (skip logic changed after going back)."""

    questions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Restarted:
    """The respondent chose to start again: every earlier answer is dropped."""


@dataclass(frozen=True, slots=True)
class Ended:
    status: ResponseStatus
    message: str  # the closing words, in the response's language
    # The same words for the IVR; an ending is its status and message, as stored.
    speech: Speech = field(default=_SILENT, compare=False)


@dataclass(frozen=True, slots=True)
class Suspended:
    """The respondent left (hang-up, expiry); the response stays resumable."""


@dataclass(frozen=True, slots=True)
class Failed:
    """The survey itself is broken at run time (a skip loop, an expression error)."""

    code: str
    detail: str


DataEvent = LanguageChosen | AnswerGiven | AnswersCleared | Restarted | Ended | Suspended | Failed
Event = DataEvent | Prompt
