"""A study file as staff write it: read into a plan, or refused with every problem
named by its key, so a file is fixed in one pass."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from waves.study import Airtime, Offset, StudyFileError, read_study

DESIGN_EXAMPLE = """
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
wave_window = "30d"                   # how long after its offset a wave may still be sent
airtime = { amount = "KES 20" }       # optional thank-you on completion
"""


def test_the_designs_example_reads_as_written() -> None:
    plan = read_study(DESIGN_EXAMPLE)
    assert plan.name == "tracer-2026" and plan.survey == "graduate_tracer"
    assert plan.cohorts == ("2026-A", "2026-B")
    assert [(w.name, w.offset) for w in plan.waves] == [
        ("completion", Offset()), ("3 months", Offset(months=3)), ("6 months", Offset(months=6)),
    ]  # fmt: skip
    assert plan.channels == ("sms", "ivr")
    assert plan.fallback_after == dt.timedelta(days=2)
    assert (plan.contact_start, plan.contact_end) == (dt.time(8), dt.time(19))
    assert plan.retries == (
        dt.timedelta(minutes=10), dt.timedelta(hours=2), dt.timedelta(days=1),
    )  # fmt: skip
    assert plan.attempts == 3 and plan.wave_window == dt.timedelta(days=30)
    assert plan.airtime == Airtime("KES", Decimal("20"))
    assert plan.time_zones == ()


def test_a_short_file_takes_the_defaults() -> None:
    plan = read_study('name = "t"\nsurvey = 3\nwaves = [{ name = "now", offset = "0d" }]\n')
    assert plan.survey == "3" and plan.cohorts == () and plan.channels == ("sms",)
    assert plan.attempts == 3 and plan.airtime is None


def test_every_problem_is_named_by_its_key() -> None:
    with pytest.raises(StudyFileError) as refused:
        read_study(
            """
name = ""
colour = "blue"
waves = [
  { name = "6 months", offset = "6m" },
  { name = "3 months", offset = "3 months" },
  { name = "6 months", offset = "7m" },
]
channels = ["sms", "whatsapp"]
contact_hours = "19:00-08:00"
retries = "10m soon"
attempts = 0
wave_window = "30"
airtime = { amount = "20 shillings" }
time_zones = { Welding = "Nairobi" }
"""
        )
    problems = refused.value.problems
    assert problems[0].startswith("colour: not a setting of a study")
    expected = [
        "name: a text is required",
        "survey: the survey's form_id or id is required",
        "waves[2].offset: a length such as 0d, 2w, 3m (months) or 1y, not '3 months'",
        "waves[3].name: '6 months' is also waves[1]'s name",
        "channels: one or more of sms, ivr",
        'contact_hours: from and to on one day, such as "08:00-19:00"',
        'retries: waits between attempts such as "10m 2h 1d"',
        "attempts: from 1 to 10, not 0",
        "wave_window: a length such as 30s, 10m (minutes), 2h, 1d or 2w, not '30'",
        'airtime: { amount = "KES 20" }',
        "time_zones.Welding: 'Nairobi' is not a time zone: use its IANA name",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)


def test_waves_must_come_in_the_order_of_their_offsets() -> None:
    with pytest.raises(StudyFileError, match="in the order of their offsets"):
        read_study(
            'name = "t"\nsurvey = "s"\nwaves = [{ name = "b", offset = "3m" }, '
            '{ name = "a", offset = "2w" }]\n'
        )


def test_not_toml_says_where() -> None:
    with pytest.raises(StudyFileError, match=r"not a TOML file: .*line 1"):
        read_study("name = tracer\n")


@pytest.mark.parametrize(
    ("offset", "completed", "wave"),
    [
        (Offset(months=1), dt.date(2026, 1, 31), dt.date(2026, 2, 28)),  # end of month
        (Offset(months=1), dt.date(2028, 1, 31), dt.date(2028, 2, 29)),  # leap year
        (Offset(months=12), dt.date(2028, 2, 29), dt.date(2029, 2, 28)),  # 29 Feb + 1y
        (Offset(months=3), dt.date(2026, 11, 30), dt.date(2027, 2, 28)),  # over a new year
        (Offset(months=6), dt.date(2026, 8, 31), dt.date(2027, 2, 28)),
        (Offset(days=14), dt.date(2026, 12, 25), dt.date(2027, 1, 8)),
    ],
)
def test_offsets_add_months_as_a_calendar_does(
    offset: Offset, completed: dt.date, wave: dt.date
) -> None:
    assert offset.after(completed) == wave
    # The last completion date whose wave has come by that day is that date or later.
    last = offset.latest_start(wave)
    assert last >= completed and offset.after(last) <= wave
    assert offset.after(last + dt.timedelta(days=1)) > wave
