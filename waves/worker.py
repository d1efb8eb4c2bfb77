"""One pass of the worker: record the invitations that are due, then send the SMS ones
whose time has come, within contact hours, and record what came of each.

    report = await tick(engine, sms, now)

- Ended responses are matched to the wave they answer (`storage.studies.match_waves`):
  a graduate who answered a wave, on any channel, is not invited to it, and what was
  waiting for them (a retry) is cancelled.
- Every study's due graduates get a first invitation (`storage.studies.enqueue`,
  never twice).
- Ready SMS invitations are read oldest first. One outside the graduate's contact
  hours waits for the next window on their clock; one whose graduate opted out meanwhile
  is cancelled; one for a survey without a USSD code to dial fails, saying so.
- The rest go in chunks as large as the requests the SMS client sends at once: each
  chunk is claimed (committed) just before its requests leave and its results recorded
  (committed) as they come back, so a worker killed mid-batch leaves at most one chunk
  claimed and unrecorded (in flight: never sent again) and every other invitation
  pending for the next pass. A refusal the gateway may lift (its server failing, no
  answer) is retried after the study's next wait, within contact hours, while attempts
  remain.
- With an airtime client, a study that gives a thank-you sends it for each wave a
  graduate completed, at most once (storage.airtime), recorded with its status.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.airtime import claim_airtime, owe_airtime, record_airtime, waiting_airtime
from storage.invitations import (
    Outgoing,
    cancel,
    cancel_answered,
    claim,
    postpone,
    ready,
    record_failed,
    record_sent,
    retry,
    ussd_codes,
)
from storage.studies import StoredStudy, all_studies, enqueue, match_waves
from waves.airtime import AfricasTalkingAirtime
from waves.schedule import next_contact
from waves.sms import AfricasTalkingSms, SmsError
from waves.texts import sms_text

__all__ = ["Tick", "tick"]

_log = logging.getLogger("service_tracker.worker")


@dataclass(slots=True)
class Tick:
    """What one pass did."""

    enqueued: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    postponed: int = 0
    cancelled: int = 0
    airtime_sent: int = 0
    airtime_failed: int = 0
    full: bool = True  # every due invitation was recorded (none left for a next batch)


async def tick(
    engine: AsyncEngine,
    sms: AfricasTalkingSms | None,
    now: dt.datetime,
    *,
    airtime: AfricasTalkingAirtime | None = None,
    since: dt.datetime | None = None,
    batch: int = 10_000,
) -> Tick:
    """One pass at `now` (injected: tests move it across months). With `since`, the
    time of a pass that left nothing due, only the waves opened since are looked for
    (`storage.studies.due`): the loop makes such passes between full ones."""
    report = Tick()
    studies = {study.id: study for study in await all_studies(engine)}
    await _invite(engine, studies, sms, now, since, batch, report)
    if airtime is not None:
        await _thank(engine, studies, airtime, now, report, batch)
    return report


async def _invite(
    engine: AsyncEngine,
    studies: dict[int, StoredStudy],
    sms: AfricasTalkingSms | None,
    now: dt.datetime,
    since: dt.datetime | None,
    batch: int,
    report: Tick,
) -> None:
    async with engine.begin() as conn:
        # Who answered which wave first: they are not invited to it, nor reminded.
        await match_waves(conn, list(studies.values()))
        report.cancelled += await cancel_answered(conn)
    for study in studies.values():
        async with engine.begin() as conn:
            recorded = await enqueue(conn, study, now, since=since, limit=batch)
            report.enqueued += recorded
            report.full = report.full and recorded < batch
    if sms is None:
        return  # SMS invitations wait until an account is configured
    async with engine.begin() as conn:
        waiting = await ready(conn, now, channel="sms", limit=batch)
        codes = await ussd_codes(conn, list({s.survey_id for s in studies.values()}))
        moves, stopped, goes, no_code = [], [], [], []
        for item in waiting:
            study = studies[item.study_id]
            when = next_contact(
                now,
                study.zone_for(item.programme, item.time_zone),
                study.contact_start,
                study.contact_end,
            )
            if item.opted_out:
                stopped.append(item.id)
            elif when > now:
                moves.append((item.id, when))
            elif study.survey_id not in codes:
                no_code.append(item)
            else:
                goes.append(item)
        await postpone(conn, moves)
        await cancel(conn, stopped, "opted out")
        await record_failed(
            conn, [(i.id, "the survey has no USSD code for the SMS to name") for i in no_code]
        )
    report.postponed, report.failed = len(moves), len(no_code)
    report.cancelled += len(stopped)
    # As many as go out at once: a worker killed mid-pass leaves at most these claimed
    # and unrecorded, and they were on their way (never sent again).
    chunk = sms.max_in_flight
    for start in range(0, len(goes), chunk):
        await _send_chunk(engine, sms, goes[start : start + chunk], studies, codes, now, report)


async def _send_chunk(
    engine: AsyncEngine,
    sms: AfricasTalkingSms,
    chunk: list[Outgoing],
    studies: dict[int, StoredStudy],
    codes: dict[int, str],
    now: dt.datetime,
    report: Tick,
) -> None:
    async with engine.begin() as conn:
        mine = await claim(conn, [item.id for item in chunk], now)
    chunk = [item for item in chunk if item.id in mine]  # another worker took the rest
    if not chunk:
        return
    texts = []
    for item in chunk:
        kind = "invitation" if item.attempt == 1 else "reminder"
        code = codes[studies[item.study_id].survey_id]
        texts.append((item.phone, sms_text(kind, item.language, name=item.name, code=code).text))
    results = await sms.send_each(texts)
    sent, failed = [], []
    async with engine.begin() as conn:
        for item, result in zip(chunk, results, strict=True):
            if not isinstance(result, SmsError) and result.accepted:
                sent.append((item.id, result.message_id))
                continue
            why = str(result) if isinstance(result, SmsError) else result.status
            failed.append((item.id, why))
            if result.retryable and item.attempt < studies[item.study_id].attempts:
                study = studies[item.study_id]
                wait = study.retries[min(item.attempt - 1, len(study.retries) - 1)]
                at = _contact(study, item, now + wait)
                await retry(conn, item, at, now)
                report.retrying += 1
        await record_sent(conn, sent)
        await record_failed(conn, failed)
    report.sent += len(sent)
    report.failed += len(failed)
    if failed:
        _log.warning("%d SMS invitations were not sent: %s", len(failed), failed[0][1])


async def _thank(
    engine: AsyncEngine,
    studies: dict[int, StoredStudy],
    airtime: AfricasTalkingAirtime,
    now: dt.datetime,
    report: Tick,
    batch: int,
) -> None:
    """Airtime owed for a completed wave, for the studies that give it: recorded once per
    graduate and wave, claimed, then sent with an idempotency key of its own."""
    async with engine.begin() as conn:
        for study in studies.values():
            await owe_airtime(conn, study, now)
        owed = await waiting_airtime(conn, batch)
        mine = await claim_airtime(conn, [o.id for o in owed], now)
    for item in (o for o in owed if o.id in mine):
        result = await airtime.send(item.phone, item.amount, item.key)
        async with engine.begin() as conn:
            status = "sent" if result.sent else "failed"
            await record_airtime(conn, [(item.id, status, result.request_id, result.error)])
        if result.sent:
            report.airtime_sent += 1
        else:
            report.airtime_failed += 1
            _log.warning("airtime to a graduate was not sent: %s", result.error)


def _contact(study: StoredStudy, item: Outgoing, moment: dt.datetime) -> dt.datetime:
    """`moment`, or the start of the next contact hours where the graduate lives."""
    zone = study.zone_for(item.programme, item.time_zone)
    return next_contact(moment, zone, study.contact_start, study.contact_end)
