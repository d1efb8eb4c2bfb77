"""A tracer study as its file says it (`service-tracker study import STUDY.toml`): which
survey, which cohorts, the waves at offsets from each graduate's `completion_date`, the
channels in order, when people may be contacted and how often.

    name = "tracer-2026"                  # unique within the organisation
    survey = "graduate_tracer"            # form_id or id
    cohorts = ["2026-A", "2026-B"]        # empty or absent: every cohort
    waves = [                             # offsets from each graduate's completion_date
      { name = "completion", offset = "0d" },
      { name = "3 months", offset = "3m" },
      { name = "6 months", offset = "6m" },
    ]
    channels = ["sms", "ivr"]             # in order: SMS invitation, then a call
    fallback_after = "2d"                 # try the next channel when no answer by then
    contact_hours = "08:00-19:00"         # in the respondent's time zone
    retries = "10m 2h 1d"                 # waits between attempts on one channel
    attempts = 3                          # per channel and wave
    wave_window = "30d"                   # how long after its offset a wave may be sent
    airtime = { amount = "KES 20" }       # optional thank-you on completion
    time_zones = { Welding = "Africa/Nairobi" }  # by programme; else the number's zone

Two kinds of length, as people write them: a wave's *offset* is calendar time (`0d`,
`2w`, `3m` months, `1y`), added as a calendar adds it (31 January + 1 month is the last
day of February); a *wait* (`fallback_after`, `retries`, `wave_window`) is clock time
(`30s`, `10m` minutes, `2h`, `1d`, `2w`).

`read_study` returns a `StudyPlan` or raises `StudyFileError` with every problem found,
each naming its key (`waves[2].offset: ...`), so a file is fixed in one pass.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "CHANNELS",
    "Airtime",
    "Offset",
    "StudyFileError",
    "StudyPlan",
    "Wave",
    "read_study",
]

CHANNELS = ("sms", "ivr")
MAX_WAVES = 24
MAX_ATTEMPTS = 10
_OFFSET = re.compile(r"^\s*(\d{1,4})\s*([dwmy])\s*$")
_WAIT = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_WAIT_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_AMOUNT = re.compile(r"^\s*([A-Z]{3})\s+(\d+(?:\.\d{1,2})?)\s*$")
_KEYS = {
    "name", "survey", "cohorts", "waves", "channels", "fallback_after", "contact_hours",
    "retries", "attempts", "wave_window", "airtime", "time_zones",
}  # fmt: skip


class StudyFileError(ValueError):
    """The study file cannot be used; `problems` lists every reason, each with its key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True, slots=True)
class Offset:
    """Calendar time after a graduate's completion date."""

    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        if self.months < 0 or self.days < 0:
            raise ValueError("an offset is never negative")

    def after(self, day: dt.date) -> dt.date:
        """`day` plus this offset: months first, clamped to the month's last day (31
        January + 1 month is 28 or 29 February), then days."""
        month_index = day.year * 12 + day.month - 1 + self.months
        year, month = divmod(month_index, 12)
        last = _last_day(year, month + 1)
        return dt.date(year, month + 1, min(day.day, last)) + dt.timedelta(days=self.days)

    def latest_start(self, day: dt.date) -> dt.date:
        """The last completion date whose wave at this offset falls on or before `day`
        (`after` never decreases as the date grows, so these dates are all before it)."""
        guess = Offset(self.months).before(day - dt.timedelta(days=self.days))
        while self.after(guess + dt.timedelta(days=1)) <= day:
            guess += dt.timedelta(days=1)
        while self.after(guess) > day:
            guess -= dt.timedelta(days=1)
        return guess

    def before(self, day: dt.date) -> dt.date:
        """`day` less the months (clamped) and days of this offset."""
        shifted = day - dt.timedelta(days=self.days)
        month_index = shifted.year * 12 + shifted.month - 1 - self.months
        year, month = divmod(month_index, 12)
        return dt.date(year, month + 1, min(shifted.day, _last_day(year, month + 1)))

    def __str__(self) -> str:
        if self.months:
            return f"{self.months // 12}y" if self.months % 12 == 0 else f"{self.months}m"
        return f"{self.days // 7}w" if self.days and self.days % 7 == 0 else f"{self.days}d"


@dataclass(frozen=True, slots=True)
class Wave:
    name: str
    offset: Offset


@dataclass(frozen=True, slots=True)
class Airtime:
    currency: str  # ISO 4217, as Africa's Talking's Airtime API takes it: "KES"
    amount: Decimal

    def __str__(self) -> str:
        return f"{self.currency} {self.amount}"


@dataclass(frozen=True, slots=True)
class StudyPlan:
    name: str
    survey: str  # a form_id, or a survey id written as digits
    cohorts: tuple[str, ...]  # empty: every cohort
    waves: tuple[Wave, ...]
    channels: tuple[str, ...]
    fallback_after: dt.timedelta
    contact_start: dt.time
    contact_end: dt.time
    retries: tuple[dt.timedelta, ...]
    attempts: int
    wave_window: dt.timedelta
    airtime: Airtime | None = None
    # programme -> IANA zone, where a programme's graduates live; else the number's.
    time_zones: tuple[tuple[str, str], ...] = ()


def read_study(text: str) -> StudyPlan:
    """The plan a study file describes; `StudyFileError` with every problem otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StudyFileError([f"not a TOML file: {error}"]) from None
    problems: list[str] = []
    for key in sorted(set(data) - _KEYS):
        problems.append(f"{key}: not a setting of a study (known: {', '.join(sorted(_KEYS))})")
    name = _text(data, "name", problems, required=True)
    survey = data.get("survey")
    if isinstance(survey, int) and not isinstance(survey, bool):
        survey = str(survey)
    elif not isinstance(survey, str) or not survey.strip():
        problems.append("survey: the survey's form_id or id is required")
        survey = ""
    cohorts = _strings(data, "cohorts", problems)
    waves = _waves(data.get("waves"), problems)
    channels = _channels(data.get("channels", ["sms"]), problems)
    fallback_after = _wait(data, "fallback_after", "2d", problems)
    contact_start, contact_end = _contact_hours(data.get("contact_hours", "08:00-19:00"), problems)
    retries = _retries(data.get("retries", "10m 2h 1d"), problems)
    attempts = data.get("attempts", 3)
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        problems.append(f"attempts: a whole number from 1 to {MAX_ATTEMPTS}, not {attempts!r}")
        attempts = 1
    elif not 1 <= attempts <= MAX_ATTEMPTS:
        problems.append(f"attempts: from 1 to {MAX_ATTEMPTS}, not {attempts}")
    wave_window = _wait(data, "wave_window", "30d", problems)
    if wave_window <= dt.timedelta(0):
        problems.append("wave_window: must be longer than nothing")
    airtime = _airtime(data.get("airtime"), problems)
    time_zones = _time_zones(data.get("time_zones", {}), problems)
    if problems:
        raise StudyFileError(problems)
    return StudyPlan(
        name=name,
        survey=str(survey).strip(),
        cohorts=cohorts,
        waves=waves,
        channels=channels,
        fallback_after=fallback_after,
        contact_start=contact_start,
        contact_end=contact_end,
        retries=retries,
        attempts=attempts,
        wave_window=wave_window,
        airtime=airtime,
        time_zones=time_zones,
    )


def _last_day(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def _text(data: Mapping[str, Any], key: str, problems: list[str], *, required: bool) -> str:
    value = data.get(key)
    if isinstance(value, str) and value.strip():
        if len(value.strip()) > 255:
            problems.append(f"{key}: at most 255 characters")
        return " ".join(value.split())
    if value is not None or required:
        problems.append(f"{key}: a text is required, not {value!r}")
    return ""


def _strings(data: Mapping[str, Any], key: str, problems: list[str]) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f'{key}: a list of names, such as ["2026-A", "2026-B"]')
        return ()
    return tuple(dict.fromkeys(v.strip() for v in value))


def _waves(value: Any, problems: list[str]) -> tuple[Wave, ...]:
    if not isinstance(value, list) or not value:
        problems.append(
            'waves: a list such as [{ name = "completion", offset = "0d" }, '
            '{ name = "3 months", offset = "3m" }]'
        )
        return ()
    if len(value) > MAX_WAVES:
        problems.append(f"waves: at most {MAX_WAVES}")
    found: list[Wave] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(value, start=1):
        where = f"waves[{number}]"
        if not isinstance(entry, dict):
            problems.append(f'{where}: a table such as {{ name = "3 months", offset = "3m" }}')
            continue
        for key in sorted(set(entry) - {"name", "offset"}):
            problems.append(f"{where}.{key}: a wave has a name and an offset only")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}.name: a name is required")
            continue
        name = " ".join(name.split())
        if name in seen:
            problems.append(f"{where}.name: '{name}' is also waves[{seen[name]}]'s name")
            continue
        seen[name] = number
        offset = _offset(entry.get("offset"), f"{where}.offset", problems)
        if offset is not None:
            found.append(Wave(name, offset))
    offsets = [(wave.offset.months, wave.offset.days) for wave in found]
    if offsets != sorted(offsets):
        problems.append("waves: list them in the order of their offsets")
    return tuple(found)


def _offset(value: Any, where: str, problems: list[str]) -> Offset | None:
    match = _OFFSET.match(value) if isinstance(value, str) else None
    if match is None:
        problems.append(f"{where}: a length such as 0d, 2w, 3m (months) or 1y, not {value!r}")
        return None
    number, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return Offset(days=number)
    if unit == "w":
        return Offset(days=7 * number)
    return Offset(months=number * (12 if unit == "y" else 1))


def _wait(data: Mapping[str, Any], key: str, default: str, problems: list[str]) -> dt.timedelta:
    value = data.get(key, default)
    found = _duration(value)
    if found is None:
        problems.append(f"{key}: a length such as 30s, 10m (minutes), 2h, 1d or 2w, not {value!r}")
        return dt.timedelta(0)
    return found


def _duration(value: Any) -> dt.timedelta | None:
    match = _WAIT.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    return dt.timedelta(seconds=int(match.group(1)) * _WAIT_UNITS[match.group(2)])


def _retries(value: Any, problems: list[str]) -> tuple[dt.timedelta, ...]:
    parts = value.split() if isinstance(value, str) else None
    waits = [_duration(part) for part in parts or []]
    if not parts or any(wait is None or wait <= dt.timedelta(0) for wait in waits):
        problems.append(f'retries: waits between attempts such as "10m 2h 1d", not {value!r}')
        return ()
    return tuple(wait for wait in waits if wait is not None)


def _channels(value: Any, problems: list[str]) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v in CHANNELS for v in value)
        or len(set(value)) != len(value)
    ):
        problems.append(
            f"channels: one or more of {', '.join(CHANNELS)} in the order to try them, "
            f'such as ["sms", "ivr"], not {value!r}'
        )
        return ()
    return tuple(value)


def _contact_hours(value: Any, problems: list[str]) -> tuple[dt.time, dt.time]:
    match = _HOURS.match(value) if isinstance(value, str) else None
    if match is not None:
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60 and (h1, m1) < (h2, m2):
            end = dt.time(23, 59, 59) if h2 == 24 else dt.time(h2, m2)
            return dt.time(h1, m1), end
    problems.append(f'contact_hours: from and to on one day, such as "08:00-19:00", not {value!r}')
    return dt.time(0), dt.time(0)


def _time_zones(value: Any, problems: list[str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        problems.append(
            'time_zones: a table of programme = zone, such as { Welding = "Africa/Nairobi" }'
        )
        return ()
    found = []
    for programme, zone in value.items():
        try:
            found.append((programme, zoneinfo.ZoneInfo(str(zone)).key))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(
                f"time_zones.{programme}: {zone!r} is not a time zone: use its IANA name, "
                "such as Africa/Nairobi"
            )
    return tuple(found)


def _airtime(value: Any, problems: list[str]) -> Airtime | None:
    if value is None:
        return None
    amount = value.get("amount") if isinstance(value, dict) else None
    match = _AMOUNT.match(amount) if isinstance(amount, str) else None
    if isinstance(value, dict):
        for key in sorted(set(value) - {"amount"}):
            problems.append(f"airtime.{key}: airtime has an amount only")
    if match is None:
        problems.append(
            f'airtime: {{ amount = "KES 20" }} (a currency code and a number), not {value!r}'
        )
        return None
    number = Decimal(match.group(2))  # the pattern admits plain decimals only
    if number <= 0:
        problems.append("airtime.amount: more than nothing")
        return None
    return Airtime(match.group(1), number)
