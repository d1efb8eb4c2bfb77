"""When a graduate may be contacted: within the study's contact hours, on the clock
where they live."""

from __future__ import annotations

import datetime as dt
import zoneinfo

__all__ = ["next_contact"]


def next_contact(now: dt.datetime, zone: str, start: dt.time, end: dt.time) -> dt.datetime:
    """`now` when it is between `start` and `end` in `zone`; else the next `start`
    there (later today, or tomorrow), in UTC. An unknown zone is taken as UTC."""
    try:
        where = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        where = zoneinfo.ZoneInfo("UTC")
    local = now.astimezone(where)
    if start <= local.time() < end:
        return now
    day = local.date() if local.time() < start else local.date() + dt.timedelta(days=1)
    # A start that a clock change skips (02:30 on a spring-forward night) is read as
    # the zone's rules read it: the same wall time after the change.
    return dt.datetime.combine(day, start, where).astimezone(dt.UTC)
