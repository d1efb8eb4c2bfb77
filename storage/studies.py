"""Tracer studies in SQL: storing a study file's plan, and who is due for which wave.

Who is due is a question for SQL, never a loop over the roster in Python. A wave at
offset O is due for a graduate from `O.after(completion_date)` until `wave_window`
later; since `O.after` never decreases as the date grows, the graduates whose wave is
open on a day are those whose completion date lies in one range, computed here per
wave and day (`Offset.latest_start`), so each wave is a range scan of the index on
(organisation_id, completion_date) and an anti-join with `invitations`:

    due(conn, study, now)    the (respondent, wave) pairs open where they live, with no
                             invitation yet
    enqueue(conn, study, now)  a first invitation recorded for each, never twice
    study_status(bind, study, today)  per wave: due, missed, invited, reached,
                             completed, refused, opted out

    StudyError(ValueError)   the survey is not the organisation's, or a wave that has
                             invitations was left out of the file
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import connected, upsert_insert
from storage.organisations import organisation_for_import
from storage.schema import (
    UtcDateTime,
    invitations,
    organisations,
    respondents,
    responses,
    studies,
    study_waves,
    surveys,
)
from survey_engine.events import ResponseStatus
from waves.study import Offset, StudyPlan, Wave

__all__ = [
    "FINAL_STATUSES",
    "PENDING",
    "UTC_ZONE",
    "Due",
    "StoredStudy",
    "StudyError",
    "StudyWave",
    "WaveStatus",
    "all_studies",
    "answered",
    "due",
    "enqueue",
    "find_study",
    "match_waves",
    "store_study",
    "study_status",
    "zone_of",
]

UTC_ZONE = "UTC"  # where a graduate whose zone nobody knows is taken to live
PENDING = "pending"  # an invitation recorded, not yet sent
FINAL_STATUSES = (ResponseStatus.COMPLETE.value, ResponseStatus.REFUSED.value)


class StudyError(ValueError):
    """The study cannot be stored as its file says: the reason, for the operator."""


@dataclass(frozen=True, slots=True)
class StudyWave:
    id: int
    name: str
    offset: Offset


@dataclass(frozen=True, slots=True)
class StoredStudy:
    id: int
    name: str
    organisation_id: int
    organisation: str
    survey_id: int
    form_id: str
    cohorts: tuple[str, ...]
    waves: tuple[StudyWave, ...]
    wave_window: dt.timedelta
    channels: tuple[str, ...] = ("sms",)
    time_zones: tuple[tuple[str, str], ...] = ()  # programme -> zone
    contact_start: dt.time = dt.time(8)  # in the graduate's zone
    contact_end: dt.time = dt.time(19)
    retries: tuple[dt.timedelta, ...] = (dt.timedelta(minutes=10),)
    attempts: int = 3  # per channel and wave
    airtime: str | None = None  # "KES 20": a thank-you on completing a wave
    created: bool = False

    @property
    def window_days(self) -> int:
        """The days a wave stays open after its offset, whole days."""
        return math.ceil(self.wave_window / dt.timedelta(days=1))

    def open_on(self, wave: StudyWave, today: dt.date) -> tuple[dt.date, dt.date]:
        """The completion dates whose `wave` is open on `today`: after the first, up to
        and including the second (one range: an offset never runs backwards)."""
        closed = wave.offset.latest_start(today - dt.timedelta(days=self.window_days))
        return closed, wave.offset.latest_start(today)

    def zone_for(self, programme: str, own: str | None) -> str:
        """Where a graduate lives as the study sees it: their programme's zone in the
        study, else their own, else UTC (`zone_of` says the same in SQL)."""
        return dict(self.time_zones).get(programme) or own or UTC_ZONE


@dataclass(frozen=True, slots=True)
class Due:
    respondent_id: int
    wave_id: int


async def store_study(
    engine: AsyncEngine,
    plan: StudyPlan,
    source: str,
    *,
    organisation: int | str | None = None,
    now: dt.datetime | None = None,
) -> StoredStudy:
    """Create the study, or update the organisation's study of that name. Waves are
    kept by name (their invitations stay theirs); a wave left out of the file is
    deleted, unless it has invitations (`StudyError`)."""
    now = now or dt.datetime.now(dt.UTC)
    async with engine.begin() as conn:
        organisation_id, _ = await organisation_for_import(conn, organisation, now)
        survey_id = await _survey(conn, organisation_id, plan.survey)
        values = {
            "survey_id": survey_id,
            "cohorts": list(plan.cohorts),
            "channels": list(plan.channels),
            "fallback_after_s": int(plan.fallback_after.total_seconds()),
            "contact_start_min": plan.contact_start.hour * 60 + plan.contact_start.minute,
            "contact_end_min": plan.contact_end.hour * 60 + plan.contact_end.minute,
            "retries_s": [int(wait.total_seconds()) for wait in plan.retries],
            "attempts": plan.attempts,
            "wave_window_s": int(plan.wave_window.total_seconds()),
            "time_zones": dict(plan.time_zones),
            "airtime_currency": plan.airtime.currency if plan.airtime else None,
            "airtime_amount": str(plan.airtime.amount) if plan.airtime else None,
            "source": source,
            "updated_at": now,
        }
        study_id = await conn.scalar(
            select(studies.c.id).where(
                studies.c.organisation_id == organisation_id, studies.c.name == plan.name
            )
        )
        created = study_id is None
        if study_id is None:
            study_id = await conn.scalar(
                studies.insert()
                .values(organisation_id=organisation_id, name=plan.name, created_at=now, **values)
                .returning(studies.c.id)
            )
        else:
            await conn.execute(update(studies).where(studies.c.id == study_id).values(**values))
        await _store_waves(conn, study_id, plan.waves)
        return await _stored(conn, study_id, created=created)


async def all_studies(
    bind: AsyncEngine | AsyncConnection, organisation_id: int | None = None
) -> list[StoredStudy]:
    """The organisation's studies by name, or every organisation's (the worker's)."""
    stmt = select(studies.c.id).order_by(studies.c.name, studies.c.id)
    if organisation_id is not None:
        stmt = stmt.where(studies.c.organisation_id == organisation_id)
    async with connected(bind) as conn:
        ids = list(await conn.scalars(stmt))
        return [await _stored(conn, study_id) for study_id in ids]


async def find_study(
    bind: AsyncEngine | AsyncConnection, organisation_id: int, name: str
) -> StoredStudy | None:
    """The organisation's study of that name, or None."""
    async with connected(bind) as conn:
        row = (
            await conn.execute(
                select(studies.c.id, studies.c.organisation_id).where(
                    studies.c.organisation_id == organisation_id, studies.c.name == name
                )
            )
        ).first()
        if row is None:
            return None
        return await _stored(conn, row.id)


async def due(
    conn: AsyncConnection,
    study: StoredStudy,
    now: dt.datetime,
    *,
    since: dt.datetime | None = None,
    limit: int | None = None,
) -> list[Due]:
    """The graduates on the roster, in the study's cohorts and not opted out, whose
    wave is open on the day it is `now` where they live, and who have no invitation
    for it yet: one statement, per wave and local day a range of completion dates.

    With `since` (a pass that left none due then), only the waves opened since: the
    day's increment, a narrow range instead of the whole window."""
    query = await _due_query(conn, study, now, since)
    if query is None:
        return []
    if limit is not None:
        query = query.limit(limit)
    return [Due(row.respondent_id, row.wave_id) for row in await conn.execute(query)]


async def enqueue(
    conn: AsyncConnection,
    study: StoredStudy,
    now: dt.datetime,
    *,
    since: dt.datetime | None = None,
    limit: int | None = None,
) -> int:
    """Record a first invitation (on the study's first channel, pending, to be sent
    from `now`) for each graduate due: one INSERT ... SELECT, which skips a pair
    another worker has just recorded (ON CONFLICT DO NOTHING), so none is recorded
    twice. `since` as for `due`. How many were recorded."""
    query = await _due_query(conn, study, now, since)
    if query is None:
        return 0
    if limit is not None:
        query = query.limit(limit)
    chosen = query.subquery()
    rows = select(
        literal(study.id),
        chosen.c.wave_id,
        chosen.c.respondent_id,
        literal(1),
        literal(study.channels[0]),
        literal(PENDING),
        literal(now, UtcDateTime()),
        literal(now, UtcDateTime()),
    ).where(chosen.c.wave_id > 0)  # SQLite: INSERT ... SELECT ... WHERE ... ON CONFLICT
    stmt = upsert_insert(conn, invitations).from_select(
        ["study_id", "wave_id", "respondent_id", "attempt", "channel", "status",
         "created_at", "send_after"],
        rows,
    ).on_conflict_do_nothing(
        index_elements=[invitations.c.respondent_id, invitations.c.wave_id, invitations.c.attempt]
    )  # fmt: skip
    result = await conn.execute(stmt)
    return max(result.rowcount or 0, 0)


async def _due_query(
    conn: AsyncConnection, study: StoredStudy, now: dt.datetime, since: dt.datetime | None = None
) -> Any:
    """The due pairs as a SELECT (respondent_id, wave_id), in a stable order; None when
    the study has no wave or nobody lives anywhere."""
    zone = zone_of(study)
    parts = []
    for today, zones in (await _days(conn, study, now)).items():
        # The earliest day it was, at `since`, in any of these zones.
        before = None if since is None else min(_local_day(since, z) for z in zones)
        for wave in study.waves:
            closed, last = study.open_on(wave, today)
            if before is not None:
                closed = max(closed, wave.offset.latest_start(before))
            conditions = [
                respondents.c.organisation_id == study.organisation_id,
                respondents.c.completion_date > closed,
                respondents.c.completion_date <= last,
                respondents.c.on_roster,
                respondents.c.opted_out_at.is_(None),
                zone.in_(zones),
                ~exists().where(
                    invitations.c.respondent_id == respondents.c.id,
                    invitations.c.wave_id == wave.id,
                ),
                # Answered already (by dialling in before any invitation): never invited.
                ~answered(wave.id, respondents.c.id),
            ]
            if study.cohorts:
                conditions.append(respondents.c.cohort.in_(study.cohorts))
            parts.append(
                select(
                    respondents.c.id.label("respondent_id"), literal(wave.id).label("wave_id")
                ).where(*conditions)
            )
    if not parts:
        return None
    stmt = union_all(*parts).subquery()
    return select(stmt.c.respondent_id, stmt.c.wave_id).order_by(
        stmt.c.wave_id, stmt.c.respondent_id
    )


def zone_of(study: StoredStudy) -> Any:
    """Where each graduate lives, in SQL: their programme's zone in the study, else
    their own (from the roster or the number), else UTC."""
    own = func.coalesce(respondents.c.time_zone, literal(UTC_ZONE))
    if not study.time_zones:
        return own
    return case(
        *((respondents.c.programme == programme, literal(z)) for programme, z in study.time_zones),
        else_=own,
    )


async def _days(
    conn: AsyncConnection, study: StoredStudy, now: dt.datetime
) -> dict[dt.date, list[str]]:
    """The zones the study's graduates live in, by the day it is there at `now` (two
    days at most, around midnight UTC)."""
    names = set(await _zones_in_use(conn, study.organisation_id))
    names |= {zone for _, zone in study.time_zones}
    days: dict[dt.date, list[str]] = {}
    for name in sorted(names):
        try:
            local = now.astimezone(zoneinfo.ZoneInfo(name)).date()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue  # never stored: the import checks zones
        days.setdefault(local, []).append(name)
    return days


def _local_day(moment: dt.datetime, zone: str) -> dt.date:
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).date()


_LOOSE_SCAN = text(
    """
    WITH RECURSIVE zones(zone) AS (
        SELECT min(time_zone) FROM respondents WHERE organisation_id = :organisation
        UNION ALL
        SELECT (SELECT min(time_zone) FROM respondents
                WHERE organisation_id = :organisation AND time_zone > zones.zone)
        FROM zones WHERE zones.zone IS NOT NULL
    )
    SELECT zone FROM zones WHERE zone IS NOT NULL
    """
)


async def _zones_in_use(conn: AsyncConnection, organisation_id: int) -> list[str]:
    """The distinct zones of the organisation's respondents (UTC for those without).
    On PostgreSQL a loose scan of the index by (organisation, zone): one probe per
    zone, not one row per graduate."""
    theirs = respondents.c.organisation_id == organisation_id
    if conn.dialect.name == "postgresql":
        found = list(await conn.scalars(_LOOSE_SCAN, {"organisation": organisation_id}))
    else:
        found = list(
            await conn.scalars(
                select(respondents.c.time_zone)
                .where(theirs, respondents.c.time_zone.is_not(None))
                .distinct()
            )
        )
    unknown = await conn.scalar(select(exists().where(theirs, respondents.c.time_zone.is_(None))))
    return [*found, UTC_ZONE] if unknown else found


async def _survey(conn: AsyncConnection, organisation_id: int, wanted: str) -> int:
    by = (
        surveys.c.id == int(wanted)
        if wanted.isdigit() and len(wanted) < 10
        else surveys.c.form_id == wanted
    )
    found = await conn.scalar(
        select(surveys.c.id).where(by, surveys.c.organisation_id == organisation_id)
    )
    if found is None:
        raise StudyError(
            f"survey: the organisation has no survey '{wanted}' (import it first with "
            "`service-tracker survey import`)"
        )
    return found


async def _store_waves(conn: AsyncConnection, study_id: int, waves: Sequence[Wave]) -> None:
    existing = {
        row.name: row.id
        for row in await conn.execute(
            select(study_waves.c.id, study_waves.c.name).where(study_waves.c.study_id == study_id)
        )
    }
    gone = [wave_id for name, wave_id in existing.items() if name not in {w.name for w in waves}]
    if gone:
        used = (
            await conn.execute(
                select(study_waves.c.name, func.count())
                .join_from(study_waves, invitations, invitations.c.wave_id == study_waves.c.id)
                .where(study_waves.c.id.in_(gone))
                .group_by(study_waves.c.name)
            )
        ).all()
        if used:
            names = ", ".join(f"'{name}' ({n} invitations)" for name, n in used)
            raise StudyError(f"waves: {names} cannot be left out: keep it in the file")
        await conn.execute(delete(study_waves).where(study_waves.c.id.in_(gone)))
    for position, wave in enumerate(waves):
        values = {
            "position": position,
            "offset_months": wave.offset.months,
            "offset_days": wave.offset.days,
        }
        if wave.name in existing:
            await conn.execute(
                update(study_waves).where(study_waves.c.id == existing[wave.name]).values(**values)
            )
        else:
            await conn.execute(
                study_waves.insert().values(study_id=study_id, name=wave.name, **values)
            )


async def _stored(conn: AsyncConnection, study_id: int, *, created: bool = False) -> StoredStudy:
    row = (
        await conn.execute(
            select(studies, surveys.c.form_id, organisations.c.name.label("organisation"))
            .join_from(studies, surveys, surveys.c.id == studies.c.survey_id)
            .join(organisations, organisations.c.id == studies.c.organisation_id)
            .where(studies.c.id == study_id)
        )
    ).one()
    waves = tuple(
        StudyWave(w.id, w.name, Offset(w.offset_months, w.offset_days))
        for w in await conn.execute(
            select(study_waves)
            .where(study_waves.c.study_id == study_id)
            .order_by(study_waves.c.position)
        )
    )
    return StoredStudy(
        id=row.id,
        name=row.name,
        organisation_id=row.organisation_id,
        organisation=row.organisation,
        survey_id=row.survey_id,
        form_id=row.form_id,
        cohorts=tuple(row.cohorts),
        waves=waves,
        wave_window=dt.timedelta(seconds=row.wave_window_s),
        channels=tuple(row.channels),
        time_zones=tuple(sorted((row.time_zones or {}).items())),
        contact_start=_time(row.contact_start_min),
        contact_end=_time(row.contact_end_min),
        retries=tuple(dt.timedelta(seconds=s) for s in row.retries_s),
        attempts=row.attempts,
        airtime=f"{row.airtime_currency} {row.airtime_amount}" if row.airtime_currency else None,
        created=created,
    )


@dataclass(frozen=True, slots=True)
class WaveStatus:
    """Where a wave stands on a day, in graduates of the study's roster and cohorts."""

    name: str
    offset: Offset
    graduates: int  # with a completion date
    opened: int  # the wave's day has come
    due: int  # open today and not yet invited
    missed: int  # the window closed before any invitation
    invited: int
    reached: int  # an invitation was delivered (or a call answered)
    completed: int  # a complete response in the wave's window, on any channel
    refused: int  # refused in the window, and never completed
    opted_out: int


async def study_status(
    bind: AsyncEngine | AsyncConnection, study: StoredStudy, today: dt.date
) -> list[WaveStatus]:
    """Per wave: who was invited, reached, completed, refused or opted out, and who
    is due or was missed. One statement per wave, over ranges of completion dates."""
    found = []
    async with connected(bind) as conn:
        for wave in study.waves:
            closed, last = study.open_on(wave, today)
            first = (
                select(
                    invitations.c.respondent_id,
                    func.max(case((_reached(), 1), else_=0)).label("reached"),
                )
                .where(invitations.c.wave_id == wave.id)
                .group_by(invitations.c.respondent_id)
                .subquery()
            )

            def gave(status: str, wave_id: int = wave.id) -> Any:
                return exists().where(
                    responses.c.respondent_id == respondents.c.id,
                    responses.c.wave_id == wave_id,
                    responses.c.status == status,
                )

            opened = respondents.c.completion_date <= last
            invited = first.c.respondent_id.is_not(None)
            free = respondents.c.opted_out_at.is_(None)
            done = answered(wave.id, respondents.c.id)
            completed = gave(ResponseStatus.COMPLETE.value)
            scope = [
                respondents.c.organisation_id == study.organisation_id,
                respondents.c.on_roster,
                respondents.c.completion_date.is_not(None),
            ]
            if study.cohorts:
                scope.append(respondents.c.cohort.in_(study.cohorts))
            open_now = opened & (respondents.c.completion_date > closed)
            row = (
                await conn.execute(
                    select(
                        func.count(),
                        _count(opened),
                        _count(open_now & ~invited & free & ~done),
                        _count((respondents.c.completion_date <= closed) & ~invited & ~done),
                        _count(invited),
                        _count(invited & (first.c.reached == 1)),
                        _count(completed),
                        _count(gave(ResponseStatus.REFUSED.value) & ~completed),
                        _count(~free),
                    )
                    .select_from(respondents)
                    .outerjoin(first, first.c.respondent_id == respondents.c.id)
                    .where(*scope)
                )
            ).one()
            found.append(WaveStatus(wave.name, wave.offset, *(int(n or 0) for n in row)))
    return found


def _reached() -> Any:
    """An invitation that reached the graduate: an SMS the network delivered (the
    gateway's report), or a call answered."""
    return (invitations.c.delivery_status == "Success") | (invitations.c.status == "answered")


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _time(minutes: int) -> dt.time:
    return dt.time(23, 59, 59) if minutes >= 24 * 60 - 1 else dt.time(minutes // 60, minutes % 60)


async def match_waves(
    conn: AsyncConnection, studies_: Sequence[StoredStudy], *, limit: int = 5_000
) -> int:
    """Match the complete and refused responses not yet looked at to the wave they
    answer: the wave of a study of their survey whose window held the day they
    started, where the graduate lives. A response outside every window answers no
    wave. How many were looked at."""
    by_survey: dict[int, list[StoredStudy]] = {}
    for study in studies_:
        by_survey.setdefault(study.survey_id, []).append(study)
    if not by_survey:
        return 0
    rows = (
        await conn.execute(
            select(
                responses.c.id,
                responses.c.survey_id,
                responses.c.started_at,
                respondents.c.completion_date,
                respondents.c.programme,
                respondents.c.time_zone,
            )
            .join_from(responses, respondents, respondents.c.id == responses.c.respondent_id)
            .where(
                ~responses.c.wave_checked,
                responses.c.status.in_(FINAL_STATUSES),
                responses.c.survey_id.in_(list(by_survey)),
            )
            .order_by(responses.c.id)
            .limit(limit)
        )
    ).all()
    matched = []
    for row in rows:
        found = None
        for study in by_survey[row.survey_id]:
            if row.completion_date is None:
                break
            zone = study.zone_for(row.programme, row.time_zone)
            try:
                day = _local_day(row.started_at, zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                day = row.started_at.date()
            window = dt.timedelta(days=study.window_days)
            for wave in study.waves:
                opened = wave.offset.after(row.completion_date)
                if opened <= day < opened + window:
                    found = wave.id  # the latest wave open that day
        matched.append({"b_id": row.id, "b_wave": found})
    if matched:
        await conn.execute(
            update(responses)
            .where(responses.c.id == bindparam("b_id"))
            .values(wave_id=bindparam("b_wave"), wave_checked=True),
            matched,
        )
    return len(matched)


def answered(wave_id: Any, respondent_id: Any) -> Any:
    """SQL: the respondent gave a complete or refused response to that wave."""
    return exists().where(
        responses.c.respondent_id == respondent_id,
        responses.c.wave_id == wave_id,
        responses.c.status.in_(FINAL_STATUSES),
    )
