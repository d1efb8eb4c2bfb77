"""Contact hours on the graduate's own clock."""

from __future__ import annotations

import datetime as dt

import pytest

from waves.schedule import next_contact

EIGHT, SEVEN_PM = dt.time(8), dt.time(19)


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # 06:00 UTC is 09:00 in Nairobi (UTC+3): now.
        (_utc(2027, 3, 1, 6), "Africa/Nairobi", _utc(2027, 3, 1, 6)),
        # 04:00 UTC is 07:00 there: at 08:00 Nairobi, 05:00 UTC.
        (_utc(2027, 3, 1, 4), "Africa/Nairobi", _utc(2027, 3, 1, 5)),
        # 16:30 UTC is 19:30 there: tomorrow at 08:00.
        (_utc(2027, 3, 1, 16, 30), "Africa/Nairobi", _utc(2027, 3, 2, 5)),
        # Beirut keeps summer time: 08:00 there is 05:00 UTC in July, 06:00 in January.
        (_utc(2027, 7, 1, 3), "Asia/Beirut", _utc(2027, 7, 1, 5)),
        (_utc(2027, 1, 15, 3), "Asia/Beirut", _utc(2027, 1, 15, 6)),
        (_utc(2027, 3, 1, 4), "Nowhere/Atlantis", _utc(2027, 3, 1, 8)),  # taken as UTC
    ],
)
def test_the_next_moment_within_contact_hours(
    now: dt.datetime, zone: str, expected: dt.datetime
) -> None:
    assert next_contact(now, zone, EIGHT, SEVEN_PM) == expected
