"""The USSD keypad's habits, mapped to the canonical text the engine reads."""

from __future__ import annotations

import pytest

from survey_engine.events import InputKind
from ussd.keypad import canonical_input

TABLE = [
    # (label, input kind, typed, what the engine receives)
    ("star as decimal point", InputKind.DECIMAL, "7*5", "7.5"),
    ("point kept", InputKind.DECIMAL, "7.5", "7.5"),
    ("comma kept: the engine reads it", InputKind.DECIMAL, "7,5", "7,5"),
    ("whole number", InputKind.DECIMAL, "8", "8"),
    ("choices by space", InputKind.CHOICES, "1 3", "1 3"),
    ("choices by star", InputKind.CHOICES, "1*3", "1 3"),
    ("choices by comma", InputKind.CHOICES, "3,1", "3 1"),
    ("choices by mixed runs", InputKind.CHOICES, " 1 ,* 2;3+4#5.6 ", "1 2 3 4 5 6"),
    ("one choice", InputKind.CHOICES, "2", "2"),
    ("nothing typed", InputKind.CHOICES, "", ""),
    ("date by stars", InputKind.DATE, "15*06*2026", "15-06-2026"),
    ("date by points", InputKind.DATE, "15.06.2026", "15-06-2026"),
    ("date by spaces", InputKind.DATE, " 1 6 2026 ", "1-6-2026"),
    ("date digits", InputKind.DATE, "15062026", "15062026"),
    ("date slashes kept", InputKind.DATE, "15/06/2026", "15/06/2026"),
    ("time digits", InputKind.TIME, "1430", "1430"),
    ("time by star", InputKind.TIME, "14*30", "14:30"),
    ("time by point", InputKind.TIME, "14.30", "14:30"),
    ("time by h", InputKind.TIME, "14h30", "14:30"),
    ("time by space", InputKind.TIME, " 9 30 ", "9:30"),
    ("time colon kept", InputKind.TIME, "14:30", "14:30"),
    ("a time's second star is the engine's to refuse", InputKind.TIME, "1*2*3", "1:2*3"),
    ("date and time by one star", InputKind.DATETIME, "15062026*1430", "15062026 1430"),
    ("date and time by stars", InputKind.DATETIME, "15*06*2026*14*30", "15-06-2026 14:30"),
    ("date and time by points", InputKind.DATETIME, "15.06.2026 14.30", "15-06-2026 14:30"),
    ("date and time as digits", InputKind.DATETIME, "150620261430", "150620261430"),
    ("date and time, three parts", InputKind.DATETIME, "15*06*2026", "15*06*2026"),
    ("rank by stars", InputKind.RANK, "3*1*2", "3 1 2"),
    ("rank as digits", InputKind.RANK, "312", "312"),
    ("a text keeps its star", InputKind.TEXT, "solar*wiring", "solar*wiring"),
    ("an integer is not a decimal", InputKind.INTEGER, "7*5", "7*5"),
    ("one choice is a key", InputKind.CHOICE, "1*3", "1*3"),
    ("a note takes anything", InputKind.ANY, "x*y", "x*y"),
]


@pytest.mark.parametrize(
    ("kind", "typed", "canonical"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_keypad_input_becomes_canonical_text(kind, typed, canonical):
    assert canonical_input(kind, typed) == canonical
