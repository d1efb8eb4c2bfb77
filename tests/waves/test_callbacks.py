"""Africa's Talking's SMS callbacks on the service: a delivery report lands on the
invitation its message id names, and STOP (in the service's languages) opts the
number out and cancels what was waiting. Guarded by the gateway token."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from service_tracker.app import create_app
from service_tracker.config import Settings
from storage.schema import invitations, respondents
from tests.waves.at_standin import AtStandin
from tests.waves.conftest import utc
from waves.sms import AfricasTalkingSms
from waves.worker import tick

TOKEN = "a-gateway-token-of-some-length"


@pytest.fixture
async def client(aiohttp_client, engine: AsyncEngine, database_url: str, study: None):
    settings = Settings(database_url=database_url, gateway_token=TOKEN)
    return await aiohttp_client(create_app(settings))


async def test_a_delivery_report_is_kept_on_its_invitation(client, engine: AsyncEngine) -> None:
    with AtStandin() as standin:
        sms = AfricasTalkingSms("sandbox", "test-key", base_url=standin.url)
        await tick(engine, sms, utc(2027, 3, 1, 6))
    async with engine.connect() as conn:
        refs = list(
            await conn.scalars(select(invitations.c.provider_ref).order_by(invitations.c.id))
        )
    answer = await client.post(
        f"/sms/africastalking/delivery?token={TOKEN}",
        data={"id": refs[0], "status": "Failed", "phoneNumber": "+254712300481",
              "networkCode": "63902", "failureReason": "AbsentSubscriber", "retryCount": "0"},
    )  # fmt: skip
    assert answer.status == 200
    await client.post(
        f"/sms/africastalking/delivery?token={TOKEN}",
        data={"id": refs[1], "status": "Success", "phoneNumber": "+254712300482"},
    )
    unknown = await client.post(
        f"/sms/africastalking/delivery?token={TOKEN}", data={"id": "ATXid_x", "status": "Success"}
    )
    assert unknown.status == 200  # answered, so the gateway does not retry it
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(invitations.c.delivery_status, invitations.c.error)
                .order_by(invitations.c.id)
                .limit(2)
            )
        ).all()
    assert [tuple(r) for r in rows] == [("Failed", "AbsentSubscriber"), ("Success", None)]


@pytest.mark.parametrize("text", ["STOP", "stop please", "Arrêt", "acha", "إلغاء"])
async def test_stop_opts_the_number_out_and_cancels_its_invitations(
    client, engine: AsyncEngine, text: str
) -> None:
    await tick(engine, None, utc(2027, 3, 1, 6))  # recorded, waiting (no SMS account)
    answer = await client.post(
        f"/sms/africastalking/incoming?token={TOKEN}",
        data={"from": "+254712300481", "to": "20880", "text": text, "id": "1",
              "date": "2027-03-01 09:00:00", "linkId": "", "networkCode": "63902"},
    )  # fmt: skip
    assert answer.status == 200
    async with engine.connect() as conn:
        out = dict(
            (await conn.execute(select(respondents.c.name, respondents.c.opted_out_at))).all()
        )
        statuses = dict(
            (
                await conn.execute(
                    select(respondents.c.name, invitations.c.status).join_from(
                        invitations, respondents, respondents.c.id == invitations.c.respondent_id
                    )
                )
            ).all()
        )
    assert out["Wanjiru Kamau"] is not None and out["Otieno"] is None
    assert statuses == {"Wanjiru Kamau": "cancelled", "Otieno": "pending", "Rami": "pending"}
    # Never contacted again: no new wave is recorded for her.
    later = await tick(engine, None, utc(2027, 6, 1, 6))
    assert later.enqueued == 2


async def test_other_messages_change_nothing_and_the_token_is_required(
    client, engine: AsyncEngine
) -> None:
    answer = await client.post(
        f"/sms/africastalking/incoming?token={TOKEN}",
        data={"from": "+254712300481", "text": "Stopping by tomorrow"},
    )
    assert answer.status == 200
    refused = await client.post(
        "/sms/africastalking/incoming", data={"from": "+254712300481", "text": "STOP"}
    )
    assert refused.status == 403
    async with engine.connect() as conn:
        assert (
            await conn.scalar(
                select(respondents.c.opted_out_at).where(respondents.c.name == "Wanjiru Kamau")
            )
            is None
        )
