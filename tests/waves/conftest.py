"""What the worker's tests share: the sample survey with a USSD code, a three-graduate
roster (Nairobi and Beirut), a study of two waves, and the SMS API's stand-in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.respondents import import_respondents
from storage.schema import invitations, respondents, responses, survey_versions
from storage.studies import store_study
from storage.surveys import import_survey
from tests.admin.tracer_data import SAMPLE
from tests.waves.at_standin import AtStandin
from waves.sms import AfricasTalkingSms
from waves.study import read_study

CODE = "*384*123#"
STUDY = """
name = "tracer-2027"
survey = "graduate_tracer"
waves = [{ name = "completion", offset = "0d" }, { name = "3 months", offset = "3m" }]
contact_hours = "08:00-19:00"
retries = "10m 2h"
attempts = 3
"""
ROSTER = (
    "phone,name,language,completion_date\n"
    "+254712300481,Wanjiru Kamau,sw,2027-03-01\n"
    "+254712300482,Otieno,en,2027-03-01\n"
    "+9613123456,Rami,fr,2027-03-01\n"  # Beirut: an hour behind Nairobi in March
)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def standin() -> Iterator[AtStandin]:
    with AtStandin() as running:
        yield running


@pytest.fixture
async def study(engine: AsyncEngine) -> None:
    await import_survey(
        engine, SAMPLE.read_bytes(), filename=SAMPLE.name, ussd_code=CODE,
        roster_only=False, organisation="Kenya TVET",
    )  # fmt: skip
    await import_respondents(
        engine, ROSTER.encode(), filename="roster.csv", default_region="KE",
        organisation="Kenya TVET",
    )  # fmt: skip
    await store_study(engine, read_study(STUDY), STUDY, organisation="Kenya TVET")


def sms_for(standin: AtStandin) -> AfricasTalkingSms:
    return AfricasTalkingSms("sandbox", "test-key", base_url=standin.url)


async def invitations_of(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(respondents.c.name, invitations.c.attempt, invitations.c.status,
                   invitations.c.send_after, invitations.c.provider_ref)
            .join_from(invitations, respondents, respondents.c.id == invitations.c.respondent_id)
            .order_by(respondents.c.name, invitations.c.attempt)
        )  # fmt: skip
        return [tuple(row) for row in rows]


async def answer(engine: AsyncEngine, name: str, at: dt.datetime, status: str = "complete"):
    """`name` dials in and ends a response at `at`, on USSD."""
    async with engine.begin() as conn:
        who = await conn.scalar(select(respondents.c.id).where(respondents.c.name == name))
        survey, version = (
            await conn.execute(select(survey_versions.c.survey_id, survey_versions.c.id))
        ).first()
        await conn.execute(
            responses.insert().values(
                respondent_id=who, survey_id=survey, survey_version_id=version,
                channel="ussd", status=status, language="en", started_at=at,
                updated_at=at, ended_at=at,
            )
        )  # fmt: skip
