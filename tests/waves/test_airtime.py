"""The airtime thank-you: on completing a wave, a set amount through the SDK's Airtime
service, at most once per graduate and wave, recorded with its status."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.schema import airtime, respondents
from storage.studies import store_study
from tests.waves.at_standin import AtStandin
from tests.waves.conftest import STUDY, answer, utc
from waves.airtime import AfricasTalkingAirtime
from waves.study import read_study
from waves.worker import tick

WITH_AIRTIME = STUDY + 'airtime = { amount = "KES 20" }\n'


async def test_a_completed_wave_is_thanked_once_with_airtime(
    engine: AsyncEngine, study: None, standin: AtStandin
) -> None:
    await store_study(engine, read_study(WITH_AIRTIME), WITH_AIRTIME, organisation="Kenya TVET")
    thanks = AfricasTalkingAirtime("sandbox", "test-key", base_url=standin.url)
    await answer(engine, "Otieno", utc(2027, 3, 1, 7))  # completes the first wave
    await answer(engine, "Rami", utc(2027, 3, 1, 7), status="refused")  # no thanks
    first = await tick(engine, None, utc(2027, 3, 1, 8), airtime=thanks)
    assert (first.airtime_sent, first.airtime_failed) == (1, 0)
    assert [(a.phone, a.amount) for a in standin.airtime] == [("+254712300482", "KES 20")]
    assert standin.airtime[0].key and standin.airtime[0].key.startswith("st-airtime-")

    # A second answer to the same wave, and later passes: nothing paid again.
    await answer(engine, "Otieno", utc(2027, 3, 2, 7))
    again = await tick(engine, None, utc(2027, 3, 2, 8), airtime=thanks)
    assert again.airtime_sent == 0 and len(standin.airtime) == 1
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    respondents.c.name, airtime.c.status, airtime.c.amount, airtime.c.request_id
                ).join_from(airtime, respondents, respondents.c.id == airtime.c.respondent_id)
            )
        ).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [("Otieno", "sent", "KES 20")]
    assert rows[0][3].startswith("ATQid_")


async def test_the_api_pays_a_repeated_request_once(standin: AtStandin) -> None:
    thanks = AfricasTalkingAirtime("sandbox", "test-key", base_url=standin.url)
    first = await thanks.send("+254712300481", "KES 20", "st-airtime-1-1")
    repeated = await thanks.send("+254712300481", "KES 20", "st-airtime-1-1")
    assert first.sent and not repeated.sent
    assert "duplicate request" in repeated.error
    assert len(standin.airtime) == 1
