"""Repeats over the real USSD endpoint on both backends: passes asked, going back into
an earlier pass, a lost session recovered from SQL in the same pass, and the export's
`question` column as `name[2]`."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from storage.exports import export_answers
from storage.schema import answers, respondents, responses
from storage.surveys import import_survey
from tests.conftest import markdown_to_xlsx
from tests.ussd.phones import Handset, Service

FORM = """
| survey |
| | type | name | label | repeat_count | calculation |
| | integer | trainings | How many trainings since you graduated? | | |
| | begin repeat | training | Trainings | ${trainings} | |
| | calculate | number | | | position(..) |
| | text | topic | Topic of training ${number}? | | |
| | integer | days | Days of ${topic}? | | |
| | end repeat | | | | |
| | begin repeat | job | Jobs | | |
| | text | employer | Employer? | | |
| | end repeat | | | | |
| settings |
| | form_id | version |
| | trainings | 1 |
"""
CODE = "*384*81#"


async def _imported(service: Service) -> int:
    imported = await import_survey(
        service.engine,
        markdown_to_xlsx(FORM),
        filename="trainings.xlsx",
        ussd_code=CODE,
        roster_only=False,
    )
    return imported.survey_id


async def _stored(service: Service, phone: str) -> dict[str, str]:
    stmt = (
        select(answers.c.question, answers.c.value)
        .select_from(answers.join(responses).join(respondents))
        .where(respondents.c.phone == phone)
    )
    async with service.engine.connect() as conn:
        return {q: v for q, v in (await conn.execute(stmt)).all()}


async def test_each_pass_is_asked_stored_and_exported_with_its_index(service):
    survey_id = await _imported(service)
    phone = Handset(service, "+254712345650", code=CODE)
    assert "How many trainings" in await phone.dial()
    assert "Topic of training 1?" in await phone.send("2")
    assert "Days of Welding?" in await phone.send("Welding")
    assert "Topic of training 2?" in await phone.send("5")
    assert "Days of Sales?" in await phone.send("Sales")
    assert "Employer?" in await phone.send("3")
    screen = await phone.send("Acme")
    assert "Add another?" in screen and "1. Yes\n2. No" in screen
    assert "Employer?" in await phone.send("1")
    assert "Add another?" in await phone.send("Bolt")
    assert await phone.send("2") == "END Thank you for your answers!"
    stored = await _stored(service, phone.number)
    # A pass that never happens stores nothing, its calculation included.
    assert {q: stored.pop(q) for q in ("number[1]", "number[2]")} == {
        "number[1]": "1",
        "number[2]": "2",
    }
    assert stored == {
        "trainings": "2",
        "topic[1]": "Welding",
        "days[1]": "5",
        "topic[2]": "Sales",
        "days[2]": "3",
        "employer[1]": "Acme",
        "job[1]": "yes",
        "employer[2]": "Bolt",
        "job[2]": "no",
    }
    out = io.StringIO()
    await export_answers(service.engine, survey_id, out, organisation_id=service.organisation_id)
    exported = {
        row["question"]: row["value"] for row in csv.DictReader(io.StringIO(out.getvalue()))
    }
    assert exported["days[2]"] == "3" and exported["employer[2]"] == "Bolt"


async def test_back_from_a_pass_reaches_the_one_before_and_a_lower_count_drops_passes(service):
    await _imported(service)
    phone = Handset(service, "+254712345651", code=CODE)
    await phone.dial()
    await phone.send("2")
    await phone.send("Welding")
    await phone.send("5")
    assert "Days of Sales?" in await phone.send("Sales")
    assert "Topic of training 2?" in await phone.send("#")  # back, from days[2]
    screen = await phone.send("#")  # back into pass 1
    assert "Days of Welding?" in screen and "Now: 5" in screen
    assert "Topic of training 1?" in await phone.send("#")
    assert "How many trainings" in await phone.send("#")
    assert "Employer?" in await phone.send("1")  # one training: pass 2 is dropped
    stored = await _stored(service, phone.number)
    asked = {q: v for q, v in stored.items() if "[" in q and not q.startswith("number[")}
    assert asked == {"topic[1]": "Welding", "days[1]": "5"}


async def test_a_lost_session_continues_in_the_same_pass(service):
    await _imported(service)
    phone = Handset(service, "+254712345652", code=CODE)
    await phone.dial()
    await phone.send("3")
    await phone.send("Welding")
    await phone.send("5")
    await phone.send("Sales")
    await service.forget_sessions(phone)
    screen = await phone.send("4")  # recovered from SQL: this answers days[2]
    assert "Topic of training 3?" in screen
    stored = await _stored(service, phone.number)
    assert stored["days[2]"] == "4"
