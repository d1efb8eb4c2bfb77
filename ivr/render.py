"""An engine `Prompt` as a voice plan: what to play, in order, and how to collect the
answer. Pure functions, no I/O, no AGI: the IVR channel turns a `VoicePlan` into AGI
commands and saves it (`to_plain`) as the live record's view.

What a caller hears, in order::

    notice                      before the first prompt of a new response (`system.<phrase>`)
    error                       when the last input was refused
    question                    its speech, piped values said as digits or choice labels
    hint                        the survey's hint, else a system hint for numbers
    For <choice>, press <n>     per choice (`system.for`, the label, `system.press`, digits)
    input instructions          numbers, dates, times: "... then press the hash key"; several
                                choices: one at a time (below); open text: speak after
                                the tone; notes: press any key
    To go back, press <key>     when the engine allows going back
    To hear this again, ...     after a refused input

Keys (`VoiceKeys`). `*` pressed as the first key repeats the prompt, on every prompt.
Back mirrors USSD so a respondent meets the same keys on both channels: `0` on menus
(choices, the language menu, the resume offer, notes) where choice numbers start at 1,
and `#` pressed alone on number and date prompts, where 0 is a real answer. `#` ends a
multi-digit entry; in a decimal, `*` after the first digit is the point (`7*5`), and
in a time it parts the hour from the minutes (`9*30`) for who keys it so. The
end key never cuts a prompt's sounds short: pressed after a menu choice out of habit,
it would otherwise answer the next prompt. On an
open text question, `0` pressed during the instructions (before the tone) goes back;
the recording ends with `#` or silence.

Several choices (`select_multiple`) are collected one at a time: the caller presses a
choice's number and `#`, again for each choice, and `#` alone when done; a rank is
collected the same way, most important first, and the entries keep their order. That works for
any number of choices (`13` is unambiguous only with fewer than ten) and lets the
channel confirm each one. The plan says so with `Collect(one_at_a_time=True)`.

Values inside speech: a number is said digit by digit (`minus`, `point` where needed),
a date as its day, month and year in digits, a time as its hour and minutes in digits,
a choice as its label's prompt. Typed text has no prompt to say it: it is skipped, and
`VoicePlan.skipped` counts it so the channel logs a warning rather than going silent
without trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from interviews import Closed, Notice
from survey_engine.events import InputKind, Prompt
from survey_engine.inputs import Answer, Back, NoInput, Repeat, Resume
from survey_engine.machine import Turn
from survey_engine.model import Survey
from survey_engine.phrases import FALLBACK_LANGUAGE, phrase
from survey_engine.speech import (
    PromptKey,
    Speech,
    SpokenValue,
    ValueKind,
    keyed_text,
    system_key,
    template_parts,
)

__all__ = [
    "Collect",
    "Record",
    "Sound",
    "VoiceKeys",
    "VoicePlan",
    "closed_plan",
    "closing_plan",
    "phrase_speech",
    "read_entries",
    "read_entry",
    "turn_plan",
    "voice_plan",
]

KEYPAD = "0123456789*#"
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{2}):(\d{2})")


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_key(value: object) -> bool:
    return isinstance(value, str) and len(value) == 1 and value in KEYPAD


@dataclass(frozen=True, slots=True)
class VoiceKeys:
    """The keys a caller presses besides answers, and how long the channel waits."""

    repeat: str = "*"  # as the first key of any prompt
    menu_back: str = "0"  # on menus and notes: choice numbers start at 1
    open_back: str = "#"  # pressed alone on number and date prompts, where 0 is an answer
    record_back: str = "0"  # during an open question's instructions, before the tone
    end: str = "#"  # ends a multi-digit entry and a recording
    decimal_point: str = "*"  # in a decimal, after the first digit
    timeout_ms: int = 6000  # silence after the prompt before NoInput
    record_silence_seconds: int = 4
    record_max_seconds: int = 120

    def __post_init__(self) -> None:
        for name in ("repeat", "menu_back", "open_back", "record_back", "end", "decimal_point"):
            _require(_is_key(getattr(self, name)), f"VoiceKeys.{name}: one of {KEYPAD!r}")
        # Answers are digits: only the menu's back key (answers from 1) and the
        # recording's (no keypad answer) may be a digit, and never 1-9 on a menu.
        for name in ("repeat", "open_back", "end", "decimal_point"):
            _require(not getattr(self, name).isdigit(), f"VoiceKeys.{name}: * or #, not a digit")
        _require(self.menu_back in "0*#", "VoiceKeys.menu_back: 0, * or # (choices use 1-9)")
        _require(
            len({self.repeat, self.menu_back}) == 2 and self.repeat != self.open_back,
            "VoiceKeys: the repeat key must differ from the back keys",
        )
        _require(self.repeat != self.record_back, "VoiceKeys: repeat and record_back differ")
        _require(self.decimal_point != self.end, "VoiceKeys: decimal_point differs from end")
        for name in ("timeout_ms", "record_silence_seconds", "record_max_seconds"):
            value = getattr(self, name)
            _require(_positive(value), f"VoiceKeys.{name}: a positive whole number")


@dataclass(frozen=True, slots=True)
class Sound:
    """A catalogue entry to play; `language` None means the plan's language."""

    key: str
    language: str | None = None

    def __post_init__(self) -> None:
        _require(isinstance(self.key, str) and bool(self.key), "Sound.key: a catalogue key")
        _require(
            self.language is None or (isinstance(self.language, str) and bool(self.language)),
            "Sound.language: a language code or None",
        )


@dataclass(frozen=True, slots=True)
class Collect:
    """Keypad input: up to `max_digits` keys (None: until the terminator), ended by
    `terminator`; `escape_digits` interrupt the prompts. `one_at_a_time`: several
    choices, one entry each, an empty entry ends."""

    kind: InputKind
    max_digits: int | None
    terminator: str | None = "#"
    escape_digits: str = KEYPAD
    timeout_ms: int = 6000
    one_at_a_time: bool = False

    def __post_init__(self) -> None:
        _require(isinstance(self.kind, InputKind), "Collect.kind: an InputKind")
        _require(
            self.max_digits is None or _positive(self.max_digits),
            "Collect.max_digits: a positive whole number or None",
        )
        _require(self.terminator is None or _is_key(self.terminator), "Collect.terminator")
        _require(
            isinstance(self.escape_digits, str) and set(self.escape_digits) <= set(KEYPAD),
            f"Collect.escape_digits: keys from {KEYPAD!r}",
        )
        _require(_positive(self.timeout_ms), "Collect.timeout_ms: a positive whole number")
        _require(isinstance(self.one_at_a_time, bool), "Collect.one_at_a_time: a bool")


@dataclass(frozen=True, slots=True)
class Record:
    """A spoken answer: recorded after a beep until `end_key`, `silence_seconds` of
    silence, or `max_seconds`."""

    silence_seconds: int = 4
    max_seconds: int = 120
    beep: bool = True
    end_key: str = "#"
    escape_digits: str = KEYPAD  # keys that interrupt the instructions before the tone

    def __post_init__(self) -> None:
        for name in ("silence_seconds", "max_seconds"):
            value = getattr(self, name)
            _require(_positive(value), f"Record.{name}: a positive whole number")
        _require(isinstance(self.beep, bool), "Record.beep: a bool")
        _require(_is_key(self.end_key), f"Record.end_key: one of {KEYPAD!r}")
        _require(
            isinstance(self.escape_digits, str) and set(self.escape_digits) <= set(KEYPAD),
            f"Record.escape_digits: keys from {KEYPAD!r}",
        )


@dataclass(frozen=True, slots=True)
class VoicePlan:
    """One prompt as the IVR plays it. `collect` None: a closing, hang up after it.
    `back`/`repeat`: the keys that mean back and repeat on this prompt (None: no back).
    `skipped`: values in the speech no prompt can say (typed text), for a warning."""

    language: str
    sounds: tuple[Sound, ...]
    collect: Collect | Record | None
    back: str | None = None
    repeat: str | None = None
    skipped: int = 0

    def __post_init__(self) -> None:
        _require(isinstance(self.language, str) and bool(self.language), "VoicePlan.language")
        _require(
            isinstance(self.sounds, tuple) and all(isinstance(s, Sound) for s in self.sounds),
            "VoicePlan.sounds: a tuple of Sound",
        )
        _require(
            self.collect is None or isinstance(self.collect, Collect | Record),
            "VoicePlan.collect: a Collect, a Record or None",
        )
        for name in ("back", "repeat"):
            value = getattr(self, name)
            _require(value is None or _is_key(value), f"VoicePlan.{name}: a key or None")
        _require(isinstance(self.skipped, int) and self.skipped >= 0, "VoicePlan.skipped: >= 0")

    def to_plain(self) -> dict[str, Any]:
        """JSON-able: the live record stores it as the view."""
        collect: dict[str, Any] | None = None
        if isinstance(self.collect, Collect):
            c = self.collect
            collect = {
                "type": "collect",
                "kind": c.kind.value,
                "max_digits": c.max_digits,
                "terminator": c.terminator,
                "escape_digits": c.escape_digits,
                "timeout_ms": c.timeout_ms,
                "one_at_a_time": c.one_at_a_time,
            }
        elif isinstance(self.collect, Record):
            r = self.collect
            collect = {
                "type": "record",
                "silence_seconds": r.silence_seconds,
                "max_seconds": r.max_seconds,
                "beep": r.beep,
                "end_key": r.end_key,
                "escape_digits": r.escape_digits,
            }
        return {
            "language": self.language,
            "sounds": [[s.key, s.language] for s in self.sounds],
            "collect": collect,
            "back": self.back,
            "repeat": self.repeat,
            "skipped": self.skipped,
        }

    @classmethod
    def from_plain(cls, plain: object) -> VoicePlan:
        """A plan read back from the live record; ValueError says what was expected."""
        _require(isinstance(plain, Mapping), "voice plan: a mapping")
        assert isinstance(plain, Mapping)
        expected = {"language", "sounds", "collect", "back", "repeat", "skipped"}
        _require(set(plain) == expected, f"voice plan: exactly the fields {sorted(expected)}")
        sounds = plain["sounds"]
        _require(
            isinstance(sounds, list)
            and all(isinstance(s, list | tuple) and len(s) == 2 for s in sounds),
            "voice plan 'sounds': a list of [key, language]",
        )
        return cls(
            language=plain["language"],
            sounds=tuple(Sound(key, language) for key, language in sounds),
            collect=_collect_from_plain(plain["collect"]),
            back=plain["back"],
            repeat=plain["repeat"],
            skipped=plain["skipped"],
        )


def _collect_from_plain(plain: object) -> Collect | Record | None:
    if plain is None:
        return None
    _require(isinstance(plain, Mapping), "voice plan 'collect': a mapping or null")
    assert isinstance(plain, Mapping)
    fields = dict(plain)
    kind = fields.pop("type", None)
    try:
        if kind == "collect":
            names = {"kind", "max_digits", "terminator", "escape_digits", "timeout_ms"}
            _require(set(fields) == names | {"one_at_a_time"}, "voice plan 'collect' fields")
            return Collect(**{**fields, "kind": InputKind(fields["kind"])})
        if kind == "record":
            names = {"silence_seconds", "max_seconds", "beep", "end_key", "escape_digits"}
            _require(set(fields) == names, "voice plan 'collect' fields (record)")
            return Record(**fields)
    except TypeError as error:  # unknown or missing fields
        raise ValueError(f"voice plan 'collect': {error}") from None
    raise ValueError("voice plan 'collect.type': 'collect' or 'record'")


# ---------------------------------------------------------------------------


def _system(phrase_key: str) -> Sound:
    return Sound(system_key(phrase_key))


def _digits(text: str) -> list[Sound]:
    return [Sound(f"system.digit.{d}") for d in text]


def _key_sounds(key: str) -> list[Sound]:
    if key == "*":
        return [_system("key_star")]
    if key == "#":
        return [_system("key_hash")]
    return _digits(key)


def _number(value: str) -> list[Sound] | None:
    if not _NUMBER.fullmatch(value):
        return None
    sounds: list[Sound] = []
    if value.startswith("-"):
        sounds.append(_system("minus"))
        value = value[1:]
    whole, _, fraction = value.partition(".")
    sounds.extend(_digits(whole.lstrip("0") or "0"))
    if fraction:
        sounds.append(_system("point"))
        sounds.extend(_digits(fraction))
    return sounds


def _date(value: str) -> list[Sound] | None:
    match = _ISO_DATE.fullmatch(value)
    if match is None:
        return None
    year, month, day = match.groups()
    return [*_digits(day.lstrip("0")), *_digits(month.lstrip("0")), *_digits(year)]


def _time(value: str) -> list[Sound] | None:
    match = _TIME.fullmatch(value)
    if match is None:
        return None
    hour, minute = match.groups()
    return [*_digits(hour.lstrip("0") or "0"), *_digits(minute)]


def _value(value: SpokenValue) -> list[Sound] | None:
    """A typed value as sounds, or None when no prompt can say it."""
    if value.kind is ValueKind.NUMBER:
        return _number(value.value)
    if value.kind is ValueKind.DATE:
        return _date(value.value)
    if value.kind is ValueKind.TIME:
        return _time(value.value)
    if value.kind is ValueKind.CHOICE and value.key:
        return [Sound(value.key)]
    return None


class _Builder:
    def __init__(self) -> None:
        self.sounds: list[Sound] = []
        self.skipped = 0

    def add(self, *sounds: Sound) -> None:
        self.sounds.extend(sounds)

    def say(self, speech: Speech) -> None:
        for part in speech.parts:
            if isinstance(part, PromptKey):
                self.sounds.append(Sound(part.key, part.language))
                continue
            said = _value(part)
            if said is None:
                self.skipped += 1
            else:
                self.sounds.extend(said)


def _phrase_sounds(phrase_key: str, language: str | None) -> list[Sound]:
    """A system phrase by its catalogue keys; a placeholder in it says nothing (notices
    and closings have none)."""
    template = phrase(phrase_key, language)
    pieces = keyed_text(system_key(phrase_key), template_parts(template))
    return [Sound(piece[0]) for piece in pieces if isinstance(piece, tuple)]


# The system hint said when the survey gives none: numbers only. A date's hint
# (DDMMYYYY) reads badly aloud; its instructions say the same in words.
_SPOKEN_HINTS = {InputKind.INTEGER: "hint_integer", InputKind.DECIMAL: "hint_integer"}
_MENUS = frozenset({InputKind.CHOICE, InputKind.ANY})
_OPEN = frozenset(
    {InputKind.INTEGER, InputKind.DECIMAL, InputKind.DATE, InputKind.TIME, InputKind.DATETIME}
)


def voice_plan(
    prompt: Prompt, notice: Notice | None = None, *, keys: VoiceKeys = VoiceKeys()
) -> VoicePlan:
    """What the caller hears for `prompt`, in order, and how the answer is collected."""
    kind = prompt.input.kind
    said = _Builder()
    if notice is not None:
        # In its own language when it names one other than the prompt's.
        own = notice.language if notice.language != prompt.language else None
        said.add(*(Sound(s.key, own) for s in _phrase_sounds(notice.phrase, notice.language)))
    said.say(prompt.error_speech)
    said.say(prompt.speech)
    if prompt.hint_speech.parts:
        said.say(prompt.hint_speech)
    elif kind in _SPOKEN_HINTS:
        said.add(_system(_SPOKEN_HINTS[kind]))
    for choice in prompt.choices:
        said.add(_system("for"))
        said.say(choice.speech)
        said.add(_system("press"), *_digits(choice.key))

    collect: Collect | Record
    back: str
    if kind is InputKind.TEXT:
        said.add(_system("record_after_tone"))
        back = keys.record_back
        collect = Record(
            silence_seconds=keys.record_silence_seconds,
            max_seconds=keys.record_max_seconds,
            end_key=keys.end,
            escape_digits=_interrupting(keys),
        )
    else:
        if kind is InputKind.RANK:
            said.add(_system("rank_order"), _system("one_at_a_time"))
        elif kind is InputKind.CHOICES:
            said.add(_system("one_at_a_time"))
        elif kind is InputKind.DATE:
            said.add(_system("date_digits"), _system("then_hash"))
        elif kind is InputKind.TIME:
            said.add(_system("time_digits"), _system("then_hash"))
        elif kind is InputKind.DATETIME:
            said.add(_system("date_digits"), _system("then_time_digits"), _system("then_hash"))
        elif kind in _OPEN:
            said.add(_system("then_hash"))
        elif kind is InputKind.ANY:
            said.add(_system("any_key"))
        if kind is InputKind.DECIMAL:
            said.add(_system("decimal_point"), *_key_sounds(keys.decimal_point))
        back = keys.open_back if kind in _OPEN else keys.menu_back
        collect = _collect(prompt, keys)
    if prompt.can_go_back:
        said.add(_system("go_back"), *_key_sounds(back))
    if prompt.error_speech.parts:
        said.add(_system("repeat"), *_key_sounds(keys.repeat))
    return VoicePlan(
        language=prompt.language,
        sounds=tuple(said.sounds),
        collect=collect,
        back=back if prompt.can_go_back else None,
        repeat=keys.repeat,
        skipped=said.skipped,
    )


def _interrupting(keys: VoiceKeys) -> str:
    """The keys that cut a prompt's sounds short: all but the end key. People press
    `#` after a menu choice out of habit; arriving during the next prompt, it must
    not be read as that prompt's answer (or its back key)."""
    return KEYPAD.replace(keys.end, "")


def _collect(prompt: Prompt, keys: VoiceKeys) -> Collect:
    hint = prompt.input
    kind = hint.kind
    escape, timeout = _interrupting(keys), keys.timeout_ms
    if kind in (InputKind.CHOICES, InputKind.RANK):
        # One choice per entry, each ended by `end`: an entry that ended on its own
        # after one digit would leave the caller's `#` to be read as "done".
        return Collect(kind, None, keys.end, escape, timeout, one_at_a_time=True)
    if kind is InputKind.ANY:
        return Collect(kind, 1, None, escape, timeout)
    # A single-digit menu answers on the first key; longer entries end with `end`.
    return Collect(kind, hint.max_digits, keys.end, escape, timeout)


def closing_plan(message_speech: Speech, language: str) -> VoicePlan:
    """The end of a call (`Ended.speech`, or a closed interview's phrase): said, then
    the channel hangs up."""
    said = _Builder()
    said.say(message_speech)
    return VoicePlan(language, tuple(said.sounds), None, skipped=said.skipped)


def phrase_speech(phrase_key: str, language: str | None) -> Speech:
    """A system phrase without placeholders as speech: the closing of an interview the
    interviews layer names by phrase (`Closed`)."""
    return Speech(tuple(PromptKey(s.key) for s in _phrase_sounds(phrase_key, language)))


def turn_plan(turn: Turn, notice: Notice | None, *, keys: VoiceKeys = VoiceKeys()) -> VoicePlan:
    """What the caller hears after a turn: its prompt, or the closing when it ended."""
    prompt = turn.prompt
    if prompt is not None:
        return voice_plan(prompt, notice, keys=keys)
    ended = turn.ended
    language = turn.state.language or FALLBACK_LANGUAGE
    speech = ended.speech if ended else phrase_speech("system_error", language)
    return closing_plan(speech, language)


def closed_plan(closed: Closed, survey: Survey) -> VoicePlan:
    """What a caller hears when the interview cannot go on (`Closed`): its phrase, in
    the survey's default language when the interview names none."""
    language = closed.language or survey.default_language
    return closing_plan(phrase_speech(closed.phrase, language), language)


def read_entry(
    plan: VoicePlan, collect: Collect, pressed: str, keys: VoiceKeys, *, timed_out: bool = False
) -> Resume:
    """What the keys of one entry mean. Empty and timed out: nothing was pressed;
    empty otherwise: the end key alone."""
    if not pressed:
        if timed_out:
            return NoInput()
        ended_alone = plan.back is not None and plan.back == collect.terminator
        return Back() if ended_alone else Answer("")
    if pressed[0] == plan.repeat:
        return Repeat()
    if pressed == plan.back:
        return Back()
    if collect.kind is InputKind.DECIMAL:
        pressed = pressed.replace(keys.decimal_point, ".")
    elif collect.kind is InputKind.TIME:  # 9*30: the same key parts hour and minutes
        pressed = pressed.replace(keys.decimal_point, ":", 1)
    elif collect.kind is InputKind.DATETIME:  # 15062026*930: it parts date and time
        pressed = pressed.replace(keys.decimal_point, " ", 1)
    return Answer(pressed)


def read_entries(plan: VoicePlan, entries: list[str], *, timed_out: bool = False) -> Resume:
    """What the entries of a "several choices" answer mean (one choice each, `#` alone
    ending them): the first entry may instead be the repeat or the back key."""
    if not entries:
        return NoInput() if timed_out else Answer("")
    first = entries[0]
    if first[:1] == plan.repeat:
        return Repeat()
    if first == plan.back:
        return Back()
    return Answer(" ".join(entries))
