"""What a prompt says, as a voice speaks it: prompt-catalogue keys and typed values.

USSD shows a prompt's text; the IVR plays the same prompt from audio files named by
catalogue key (`audio/catalogue.py`): `consent.label`, `related.label.part2`,
`system.invalid_choice`, `system.digit.3`. A `Speech` is that prompt as a tuple of
parts, each a `PromptKey` (a file to play) or a `SpokenValue` (an earlier answer or a
number, typed so the IVR can say it with digit or choice prompts).

`keyed_text` is the one rule that names a text's pieces. The catalogue names its
entries with it and the engine builds every `Speech` with it, so a key the engine
hands the IVR is a key the catalogue rendered: they agree by construction.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from survey_engine.model import Pipe, base_name

__all__ = [
    "LANGUAGE_NAME_KEY",
    "PromptKey",
    "Speech",
    "SpeechPart",
    "SpokenValue",
    "ValueKind",
    "choice_key",
    "keyed_text",
    "spoken_pieces",
    "system_key",
    "template_parts",
    "text_key",
]

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

# The language naming itself, in each language's folder: the language menu's choices.
LANGUAGE_NAME_KEY = "system.language_name"


def text_key(question: str, text: str) -> str:
    """A question's own text: `label`, `hint`, `constraint_message`, `required_message`;
    one key for every pass of a repeat (`child_age[2]` says `child_age.label`)."""
    return f"{base_name(question)}.{text}"


def choice_key(question: str, choice: str) -> str:
    return f"{base_name(question)}.choice.{choice}"


def system_key(phrase: str) -> str:
    """A system phrase (`survey_engine.phrases`)."""
    return f"system.{phrase}"


class ValueKind(enum.Enum):
    """How the IVR says a value that no prompt file holds."""

    NUMBER = "number"  # a plain number ("12", "7.5"): digit prompts
    DATE = "date"  # an ISO date ("2026-06-15")
    TIME = "time"  # a time of day ("14:30")
    CHOICE = "choice"  # a choice's name; `SpokenValue.key` names its label's prompt
    TEXT = "text"  # typed text: no prompt can say it


@dataclass(frozen=True, slots=True)
class PromptKey:
    """A catalogue entry to play. `language` is None for the prompt's own language; the
    language menu names each language in that language (`system.language_name`)."""

    key: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class SpokenValue:
    kind: ValueKind
    value: str  # canonical: a plain number, an ISO date, HH:MM, a choice name
    key: str = ""  # CHOICE: the catalogue key of the choice's label


SpeechPart = PromptKey | SpokenValue


@dataclass(frozen=True, slots=True)
class Speech:
    """What one text of a prompt says, in order."""

    parts: tuple[SpeechPart, ...] = ()

    def catalogue_keys(self) -> tuple[PromptKey, ...]:
        """Every catalogue entry this speech plays, choice values' labels included."""
        found: list[PromptKey] = []
        for part in self.parts:
            if isinstance(part, PromptKey):
                found.append(part)
            elif part.key:
                found.append(PromptKey(part.key))
        return tuple(found)


def says_something(piece: str) -> bool:
    """A fixed piece worth a prompt file: not a lone comma or colon between two values."""
    return any(c.isalnum() for c in piece)


def spoken_pieces(parts: Iterable[str | Pipe]) -> list[str]:
    """The fixed pieces of a text that say something, stripped."""
    return [p.strip() for p in parts if isinstance(p, str) and says_something(p)]


def template_parts(template: str) -> tuple[str | Pipe, ...]:
    """A system phrase (`Keep it under {limit} characters.`) as fixed text and
    placeholders, the placeholders as `Pipe`s, so phrases are keyed like labels."""
    pieces = _PLACEHOLDER.split(template)
    # re.split alternates text and captured names: even indices text, odd names.
    return tuple(Pipe(p) if i % 2 else p for i, p in enumerate(pieces) if i % 2 or p)


def keyed_text(key: str, parts: Sequence[str | Pipe]) -> Iterator[tuple[str, str] | Pipe]:
    """A text's pieces under their catalogue keys, in order: `(key, what is said)` for
    fixed text, and each `Pipe` where a value is said at call time.

    A text without values is one entry, `key` (none when it is blank); a text with
    values is its fixed pieces that say something, `key.part1`, `key.part2`, ..."""
    if not any(isinstance(p, Pipe) for p in parts):
        spoken = "".join(p for p in parts if isinstance(p, str)).strip()
        if spoken:
            yield key, spoken
        return
    number = 0
    for part in parts:
        if isinstance(part, Pipe):
            yield part
        elif says_something(part):
            number += 1
            yield f"{key}.part{number}", part.strip()
