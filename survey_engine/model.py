"""The survey as the engine sees it: immutable values compiled once from an XLSForm.

Nothing here reads files or knows a channel. `survey_engine.xlsform` builds these
values; `survey_engine.machine` walks them.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from survey_engine.errors import FormWarning
    from survey_engine.expressions import Expression


# Wrong or missing answers in a row before a session ends politely (resumable later);
# a survey sets its own in the settings sheet's `max_attempts` column.
MAX_ATTEMPTS = 3
# Passes of a repeat at most: a fixed repeat_count above it is a load error, a computed
# one is asked this many times at most, and "Add another?" is not asked after the last.
MAX_REPEAT_PASSES = 20


def base_name(name: str) -> str:
    """A question's name without its repeat pass: `child_age` for `child_age[2]`. Every
    pass of a repeat is the same question to the audio catalogue."""
    return name.partition("[")[0]


_TIME_DIGITS = re.compile(r"(\d{1,2})(\d{2})")  # 1430, 930
# 14:30, and the seconds and zone of ODK's own spelling (14:30:00.000+03:00), dropped.
_TIME_WRITTEN = re.compile(r"(\d{1,2}):(\d{2})(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?")


def canonical_time(text: str) -> str | None:
    """A time of day as a `time` answer stores it, `HH:MM` on the 24-hour clock (so
    that times order as text and exports read alike), or None when `text` is none."""
    found = _TIME_DIGITS.fullmatch(text) or _TIME_WRITTEN.fullmatch(text)
    if found is None:
        return None
    hour, minute = int(found.group(1)), int(found.group(2))
    return f"{hour:02d}:{minute:02d}" if hour < 24 and minute < 60 else None


_DATE_AND_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](.+)")


def canonical_datetime(text: str) -> str | None:
    """A date and time written as ISO does (`2026-06-15T14:30`, ODK's
    `2026-06-15T14:30:00.000+03:00`) as a `datetime` answer stores it,
    `YYYY-MM-DDTHH:MM` (the time as written, its zone dropped), or None."""
    found = _DATE_AND_TIME.fullmatch(text.strip())
    if found is None:
        return None
    try:
        day = dt.date.fromisoformat(found.group(1))
    except ValueError:
        return None
    time = canonical_time(found.group(2))
    return f"{day.isoformat()}T{time}" if time else None


# The code of a language no registry knows starts so (BCP 47's private use): `x-local`.
PRIVATE_USE_PREFIX = "x-"


class QuestionType(enum.Enum):
    SELECT_ONE = "select_one"
    SELECT_MULTIPLE = "select_multiple"
    INTEGER = "integer"
    DECIMAL = "decimal"
    TEXT = "text"
    DATE = "date"
    TIME = "time"  # a time of day, stored HH:MM (24-hour)
    DATETIME = "datetime"  # stored YYYY-MM-DDTHH:MM
    RANK = "rank"  # every choice's name, most important first, separated by spaces
    NOTE = "note"

    @property
    def has_choices(self) -> bool:
        return self in (QuestionType.SELECT_ONE, QuestionType.SELECT_MULTIPLE, QuestionType.RANK)


@dataclass(frozen=True, slots=True)
class Language:
    """A survey language: `code` is what respondents and files are keyed by (`en`),
    `name` is how the form's columns spell it (`English`)."""

    code: str
    name: str

    @property
    def has_code(self) -> bool:
        """False for a language no registry knows: its code was made from its name
        (`x-local`), which names folders and keys but no voice can speak."""
        return not self.code.startswith(PRIVATE_USE_PREFIX)


@dataclass(frozen=True, slots=True)
class Pipe:
    """`${name}` inside a label: replaced by the earlier answer when shown."""

    name: str


@dataclass(frozen=True, slots=True)
class Text:
    """A label, hint or message in one language, split into fixed text and pipes."""

    parts: tuple[str | Pipe, ...]

    @classmethod
    def plain(cls, text: str) -> Text:
        return cls((text,)) if text else cls(())

    @property
    def pipes(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts if isinstance(p, Pipe))

    @property
    def source(self) -> str:
        return "".join(p if isinstance(p, str) else "${" + p.name + "}" for p in self.parts)


@dataclass(frozen=True, slots=True)
class Choice:
    name: str
    labels: Mapping[str, str]
    # Other columns of the choices sheet, which `choice_filter` may refer to.
    extra: Mapping[str, str] = field(default_factory=dict)
    # 2, 3... for a later choice of the same name in its list (allow_choice_duplicates):
    # the same answer, with its own label and its own prompt in the audio catalogue.
    occurrence: int = 1

    @property
    def catalogue_name(self) -> str:
        """How the audio catalogue names it: `name`, or `name~2` for a second `name`."""
        return self.name if self.occurrence == 1 else f"{self.name}~{self.occurrence}"


@dataclass(frozen=True, slots=True)
class Question:
    name: str
    type: QuestionType
    labels: Mapping[str, Text]  # language code -> label
    row: int  # row on the survey sheet, for messages to the form's author
    hints: Mapping[str, Text] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    list_name: str | None = None
    relevant: Expression | None = None
    constraint: Expression | None = None
    constraint_messages: Mapping[str, Text] = field(default_factory=dict)
    required: bool = False
    required_messages: Mapping[str, Text] = field(default_factory=dict)
    choice_filter: Expression | None = None
    appearance: str = ""
    # The `default` column: a value offered as the answer ("Now: ..."; an empty send
    # keeps it), as written, or an expression (`${x}`, `today()`) computed when asked.
    default: str = ""
    default_expression: Expression | None = None

    def choice(self, name: str) -> Choice | None:
        for c in self.choices:
            if c.name == name:
                return c
        return None


class Metadata(enum.Enum):
    """What the system fills for a metadata row: nobody is asked."""

    START = "start"  # when the response began (the engine's clock)
    END = "end"  # when it was completed
    TODAY = "today"  # the date it began
    PHONENUMBER = "phonenumber"  # the respondent's number (E.164)
    DEVICEID = "deviceid"  # the channel it began on: ussd, ivr
    # Known to ODK, meaningless on a phone call: kept empty.
    USERNAME = "username"
    EMAIL = "email"
    SIMSERIAL = "simserial"
    SUBSCRIBERID = "subscriberid"
    AUDIT = "audit"


@dataclass(frozen=True, slots=True)
class Calculation:
    """A value the engine works out and stores, never asks: a `calculate` row (or any
    row with a `calculation`), a `hidden` row (its `default`), or a metadata row."""

    name: str
    row: int
    expression: Expression | None = None  # None: `value`, or metadata
    value: str = ""  # a hidden row's default, as written
    metadata: Metadata | None = None
    relevant: Expression | None = None  # not relevant: no value (nothing stored)
    # Every name it depends on, through its expression and relevant.
    references: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Survey:
    form_id: str
    version: str
    title: str
    languages: tuple[Language, ...]
    default_language: str  # a code from `languages`
    questions: tuple[Question, ...]
    max_attempts: int = MAX_ATTEMPTS
    # Computed values, in an order where each comes after those it depends on.
    calculations: tuple[Calculation, ...] = ()
    # What the loader wants the author to know (questions left out...); not compared.
    warnings: tuple[FormWarning, ...] = field(default=(), compare=False)
    # The files imported beside the form that it reads (choice lists, pulldata()).
    media_files: frozenset[str] = field(default=frozenset(), compare=False)
    _index: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)
    _computed: Mapping[str, Calculation] = field(default_factory=dict, repr=False, compare=False)
    # What the engine derives once per (question, language) and reuses on every hop.
    memo: dict[object, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {q.name: i for i, q in enumerate(self.questions)})
        object.__setattr__(self, "_computed", {c.name: c for c in self.calculations})

    def index_of(self, name: str) -> int:
        return self._index[name]

    def question(self, name: str) -> Question:
        return self.questions[self._index[name]]

    def has_question(self, name: str) -> bool:
        return name in self._index

    def calculation(self, name: str) -> Calculation | None:
        return self._computed.get(name)

    def holds(self, name: str) -> bool:
        """Whether `name` is a value of this survey: a question or a calculation."""
        return name in self._index or name in self._computed

    @property
    def language_codes(self) -> tuple[str, ...]:
        return tuple(lang.code for lang in self.languages)

    def language_name(self, code: str) -> str:
        for lang in self.languages:
            if lang.code == code:
                return lang.name
        return code
