"""What a respondent types on a USSD keypad, as the canonical text the engine reads.

The engine takes one spelling of each answer (`survey_engine.machine`): a decimal with
a point (or a comma), several choices separated by spaces, a date as DDMMYYYY or
DD-MM-YYYY / DD/MM/YYYY, a time as HHMM or HH:MM, a date and time as the two parted by
a space. Handsets differ in what they let
people type into a USSD input: many have no `.`, `-` or `/` there, only digits, `*`
and `#`, and people use the separator their phone has. Those habits belong to this
channel (a voice channel collects DTMF with other habits), so they are mapped here,
once, before the engine:

    decimal      7*5          -> 7.5
    choices      1*3, 1,3     -> 1 3          (and a rank: 3*1*2 -> 3 1 2)
    date         15*06*2026   -> 15-06-2026   (also 15.06.2026, 15 06 2026)
    time         14*30        -> 14:30        (also 14.30, 14h30, 14 30)
    date, time   15062026*1430        -> 15062026 1430
                 15*06*2026*14*30     -> 15-06-2026 14:30   (and with spaces)

Anything else, and every other kind of input, passes unchanged: the engine judges it
and re-prompts with the reason. The navigation keys (`0`/`00`, `#`/`##`) are read by
the conversation before this mapping.
"""

from __future__ import annotations

import re

from survey_engine.events import InputKind

__all__ = ["canonical_input"]

_CHOICE_SEPARATORS = re.compile(r"[\s,;.*#+]+")
_DATE_SEPARATORS = str.maketrans({"*": "-", ".": "-", " ": "-"})
_TIME_SEPARATOR = re.compile(r"\s*[*.hH\s]\s*")
_PARTS = re.compile(r"[\s*]+")


def canonical_input(kind: InputKind, typed: str) -> str:
    """`typed` as the engine reads it, for a prompt that takes input of `kind`."""
    if kind is InputKind.DECIMAL:
        return typed.replace("*", ".")
    if kind in (InputKind.CHOICES, InputKind.RANK):
        return " ".join(key for key in _CHOICE_SEPARATORS.split(typed) if key)
    if kind is InputKind.DATE:
        return typed.strip().translate(_DATE_SEPARATORS)
    if kind is InputKind.TIME:
        return _TIME_SEPARATOR.sub(":", typed.strip(), count=1)
    if kind is InputKind.DATETIME:
        return _date_and_time(typed)
    return typed


def _date_and_time(typed: str) -> str:
    """The date, a space, the time: what the separators a handset has part."""
    parts = [p for p in _PARTS.split(typed) if p]
    if len(parts) == 2:  # 15062026*1430, 15.06.2026 14.30
        date, time = parts
    elif len(parts) in (4, 5):  # 15*06*2026*1430, 15*06*2026*14*30
        date, time = "-".join(parts[:3]), ":".join(parts[3:])
    else:
        return typed
    return f"{canonical_input(InputKind.DATE, date)} {canonical_input(InputKind.TIME, time)}"
