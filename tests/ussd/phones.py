"""A simulated handset and a view of the running service, for the USSD session tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from interviews import session_key
from service_tracker.keys import INTERVIEWS
from storage.respondents import import_respondents
from storage.responses import SqlResponseStore
from storage.schema import answers, respondents, responses
from storage.surveys import import_survey
from survey_engine.events import ResponseStatus
from survey_engine.ports import SessionStore

TRACER_XLSX = Path(__file__).resolve().parents[2] / "examples" / "graduate_tracer.xlsx"
TRACER_CODE = "*384*123#"

# The English path of a graduate in wage work, after the language menu.
ENGLISH_WORKING_PATH = ["1", "1", "4", "1", "1", "2", "1", "4", "5", "x", "3", "4", "5", "4"]

_session_ids = itertools.count(1)


@dataclass
class Service:
    client: TestClient
    engine: AsyncEngine
    store: SqlResponseStore
    sessions: SessionStore
    survey_id: int
    redis_url: str | None
    organisation_id: int  # the survey's, and so its callers'

    async def answers_of(self, phone: str) -> dict[str, str]:
        response = await self._latest(phone)
        return dict(response.answers) if response else {}

    async def status_of(self, phone: str) -> ResponseStatus | None:
        response = await self._latest(phone)
        return response.status if response else None

    async def _latest(self, phone: str):
        respondent = await self.store.find_respondent(self.organisation_id, phone)
        if respondent is None:
            return None
        return await self.store.latest_response(respondent.id, self.survey_id)

    async def response_count(self, phone: str) -> int:
        stmt = (
            select(func.count())
            .select_from(responses.join(respondents))
            .where(respondents.c.phone == phone)
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(stmt)).scalar_one()

    async def answer_rows(self, phone: str) -> int:
        stmt = (
            select(func.count())
            .select_from(answers.join(responses).join(respondents))
            .where(respondents.c.phone == phone)
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(stmt)).scalar_one()

    async def forget_sessions(self, handset: Handset) -> None:
        """Lose the live session record: FLUSHDB on Redis, as a restart without
        persistence would, and the records the worker kept in memory (the next hop
        could reach another worker); the record itself in the in-process store."""
        self.client.server.app[INTERVIEWS].forget_local_records()
        if self.redis_url is None:
            await self.sessions.delete(session_key("ussd", handset.session_id))
            return
        client = Redis.from_url(self.redis_url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()

    async def add_respondent(self, phone: str, *, language: str) -> None:
        roster = f"phone,name,language\n{phone},Test Graduate,{language}\n".encode()
        report = await import_respondents(
            self.engine, roster, filename="roster.csv", default_region=None
        )
        assert not report.errors, report.errors

    async def bind(self, code: str, *, roster_only: bool) -> None:
        await import_survey(
            self.engine,
            TRACER_XLSX.read_bytes(),
            filename=TRACER_XLSX.name,
            ussd_code=code,
            roster_only=roster_only,
        )


class Handset:
    """One dial of the short code: keeps the `*`-joined history as the gateway does."""

    def __init__(self, service: Service, number: str, *, code: str = TRACER_CODE) -> None:
        self.service = service
        self.number = number
        self.code = code
        self.session_id = f"ATUid_test_{next(_session_ids)}"
        self.inputs: list[str] = []
        self.last_form: dict[str, str] | None = None

    def on(self, service: Service) -> Handset:
        """The same dial, its next callbacks reaching another worker."""
        other = Handset(service, self.number, code=self.code)
        other.session_id = self.session_id
        other.inputs = self.inputs  # one history, shared
        return other

    async def _post(self, text: str) -> str:
        form = {
            "sessionId": self.session_id,
            "serviceCode": self.code,
            "phoneNumber": self.number,
            "networkCode": "63902",
            "text": text,
        }
        self.last_form = form
        response = await self.service.client.post("/ussd/africastalking", data=form)
        body = await response.text()
        assert response.status == 200, body
        assert response.content_type == "text/plain"
        return body

    async def dial(self, first_text: str = "") -> str:
        if first_text:
            self.inputs.append(first_text)
        return await self._post(first_text)

    async def send(self, typed: str) -> str:
        self.inputs.append(typed)
        return await self._post("*".join(self.inputs))

    async def repeat(self) -> str:
        """The gateway delivers the last callback again."""
        return await self._post("*".join(self.inputs))

    async def hang_up(self) -> None:
        form = {
            "date": "2026-11-23 10:00:00",
            "sessionId": self.session_id,
            "serviceCode": self.code,
            "networkCode": "63902",
            "phoneNumber": self.number,
            "status": "Incomplete",
            "cost": "KES 0.00",
            "durationInMillis": "20000",
            "hopsCount": str(len(self.inputs) + 1),
            "input": self.inputs[-1] if self.inputs else "",
            "lastAppResponse": "CON ...",
            "errorMessage": "",
        }
        response = await self.service.client.post("/ussd/africastalking/events", data=form)
        assert response.status == 200, await response.text()


async def interrupted(service: Service, number: str, typed: list[str]) -> Handset:
    """A graduate who dialled, typed `typed` and dropped the session (the gateway's
    end notice included); a fresh handset on the same number, ready to redial."""
    phone = Handset(service, number)
    await phone.dial()
    for key in typed:
        await phone.send(key)
    await phone.hang_up()
    return Handset(service, number)
