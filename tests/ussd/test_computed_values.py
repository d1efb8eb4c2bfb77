"""Calculations, hidden values, defaults and metadata over the real USSD endpoint, on
both backends: what the screens show, what is stored (and of which kind), what the
export says, and the same values after the live session is lost."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from storage.exports import export_answers
from storage.schema import answers, respondents, responses
from storage.surveys import import_survey
from tests.conftest import markdown_to_xlsx
from tests.ussd.phones import Handset, Service

FORM = """
| survey |
| | type | name | label | calculation | relevant | default | required |
| | start | started | | | | | |
| | today | day | | | | | |
| | phonenumber | phone | | | | | |
| | deviceid | device | | | | | |
| | username | user | | | | | |
| | hidden | cohort | | | | 2026-B | |
| | integer | days | Days worked last week? | | | | yes |
| | integer | rate | Pay per day (KES)? | | | 400 | yes |
| | calculate | weekly | | ${days} * ${rate} | | | |
| | calculate | band | | if(${weekly} >= 3000, 'high', 'low') | | | |
| | text | why_low | ${weekly} KES (${cohort}). Why under 3000? | | ${band} = 'low' | | |
| | select_one yn | more | Want more hours? | | | | yes |
| | end | ended | | | | | |
| choices |
| | list_name | name | label |
| | yn | yes | Yes |
| | yn | no | No |
| settings |
| | form_id | version |
| | pay_check | 1 |
"""
CODE = "*384*78#"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00")


async def _imported(service: Service) -> int:
    imported = await import_survey(
        service.engine,
        markdown_to_xlsx(FORM),
        filename="pay.xlsx",
        ussd_code=CODE,
        roster_only=False,
    )
    return imported.survey_id


async def _stored(service: Service, phone: str) -> dict[str, tuple[str, str]]:
    stmt = (
        select(answers.c.question, answers.c.value, answers.c.kind)
        .select_from(answers.join(responses).join(respondents))
        .where(respondents.c.phone == phone)
    )
    async with service.engine.connect() as conn:
        return {q: (v, k) for q, v, k in (await conn.execute(stmt)).all()}


async def test_calculations_reach_the_screens_and_are_stored_as_calculated(service):
    survey_id = await _imported(service)
    phone = Handset(service, "+254712345630", code=CODE)
    screen = await phone.dial()
    assert "Days worked last week?" in screen
    screen = await phone.send("5")
    assert "Pay per day (KES)?" in screen
    assert "Now: 400" in screen  # the default, kept by an empty send
    screen = await phone.send("")
    assert "2000 KES (2026-B). Why under 3000?" in screen  # piped, and relevant by ${band}
    assert "Want more hours?" in await phone.send("market fees")
    assert await phone.send("1") == "END Thank you for your answers!"

    stored = await _stored(service, phone.number)
    assert {q: v for q, (v, k) in stored.items() if k == "text"} == {
        "days": "5",
        "rate": "400",
        "why_low": "market fees",
        "more": "yes",
    }
    calculated = {q: v for q, (v, k) in stored.items() if k == "calculated"}
    assert TIMESTAMP.fullmatch(calculated.pop("started"))
    assert TIMESTAMP.fullmatch(calculated.pop("ended"))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", calculated.pop("day"))
    assert calculated == {
        "phone": "+254712345630",
        "device": "ussd",
        "user": "",
        "cohort": "2026-B",
        "weekly": "2000",
        "band": "low",
    }

    out = io.StringIO()
    await export_answers(service.engine, survey_id, out, organisation_id=service.organisation_id)
    rows = {row["question"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert (rows["weekly"]["value"], rows["weekly"]["kind"]) == ("2000", "calculated")
    assert (rows["rate"]["value"], rows["rate"]["kind"]) == ("400", "text")
    assert rows["device"]["channel"] == "ussd"


async def test_going_back_to_change_an_input_updates_the_stored_calculation(service):
    await _imported(service)
    phone = Handset(service, "+254712345631", code=CODE)
    await phone.dial()
    await phone.send("5")
    assert "2000 KES" in await phone.send("400")
    assert "Pay per day" in await phone.send("#")  # back
    screen = await phone.send("1000")  # 5000 a week: why_low no longer applies
    assert "Want more hours?" in screen
    stored = await _stored(service, phone.number)
    assert stored["weekly"] == ("5000", "calculated")
    assert stored["band"] == ("high", "calculated")
    assert "why_low" not in stored


async def test_a_lost_session_continues_with_the_values_sql_holds(service):
    await _imported(service)
    phone = Handset(service, "+254712345632", code=CODE)
    await phone.dial()
    await phone.send("5")
    await phone.send("400")
    before = await _stored(service, phone.number)
    await service.forget_sessions(phone)
    screen = await phone.send("market fees")  # recovered from SQL, then answered
    assert "Want more hours?" in screen
    after = await _stored(service, phone.number)
    assert {q: after[q] for q in before} == before  # start time included: nothing redone
