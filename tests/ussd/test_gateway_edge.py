"""What the gateway edge lets through, as a new user meets it over the real endpoint: a
number in a range the phone metadata does not list yet, a long history of open
answers, an over-large body, and what a rejected or odd callback leaves in the log."""

from __future__ import annotations

import itertools
import logging

from storage.respondents import import_respondents
from storage.surveys import import_survey
from tests.conftest import markdown_to_xlsx
from tests.ussd.phones import ENGLISH_WORKING_PATH, Handset
from ussd.gateways.africastalking import MAX_BODY_BYTES

# Kenya's +254 8xx blocks (but 800) have the right length but are not in phonenumbers'
# metadata: what a graduate on a newly opened range looks like to us. A fresh block per
# test, since each range is reported once per process.
UNLISTED = "+254810345678"
_fresh_blocks = itertools.count(850)

OPEN_QUESTIONS = """
| survey |
| | type | name | label | required |
| | text | duties | What are your duties? | yes |
| | text | tools | Which tools do you use? | yes |
| | text | skills | Which skills from the course do you use? | yes |
| | text | missing | What did the course not teach you? | yes |
| | text | employer | What does your employer say of you? | yes |
| | text | advice | Advice for next year's trainees? | yes |
| settings |
| | form_id | version |
| | open_answers | 1 |
"""
OPEN_CODE = "*384*55#"


async def test_a_caller_in_a_range_the_metadata_does_not_list_answers_the_survey(service, caplog):
    caplog.set_level(logging.INFO, logger="service_tracker.ussd")
    block = next(_fresh_blocks)
    number = f"+254{block}345678"
    phone = Handset(service, number)
    screen = await phone.dial()
    assert screen.startswith("CON ")
    for typed in ["1", *ENGLISH_WORKING_PATH, "More practical work"]:
        screen = await phone.send(typed)
    assert screen == "END Thank you for your answers!"
    answers = await service.answers_of(number)
    assert answers["consent"] == "yes" and answers["employed"] == "wage"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # Once per range, not once per hop; and never the number itself.
    assert warnings == [
        f"accepted a caller in the range +254 {block}..., which the phonenumbers package "
        "does not list: consider upgrading it"
    ]
    assert "345678" not in caplog.text


async def test_a_roster_still_refuses_a_typed_number_outside_the_metadata(service):
    roster = f"phone,name\n{UNLISTED},Typed By Staff\n+254712345611,Valid Graduate\n"
    report = await import_respondents(
        service.engine, roster.encode(), filename="roster.csv", default_region=None
    )
    assert report.created == 1
    assert [(e.line, e.column) for e in report.errors] == [(2, "phone")]
    assert "not a valid phone number" in report.errors[0].message


async def test_several_long_open_answers_are_stored_not_refused(service):
    await import_survey(
        service.engine,
        markdown_to_xlsx(OPEN_QUESTIONS),
        filename="open.xlsx",
        ussd_code=OPEN_CODE,
        roster_only=False,
    )
    phone = Handset(service, "+254712345631", code=OPEN_CODE)
    screen = await phone.dial()
    assert "What are your duties?" in screen
    typed = {
        name: (f"{name}: " + "I repair and install solar home systems. " * 11).strip()
        for name in ("duties", "tools", "skills", "missing", "employer")
    }
    for answer in typed.values():
        assert 450 < len(answer) <= 500
        screen = await phone.send(answer)
        assert screen.startswith("CON "), screen
    # One answer over the engine's limit is re-prompted in words, not refused with 400.
    screen = await phone.send("x" * 501)
    assert screen.startswith("CON Answer too long. Keep it under 500 characters.")
    screen = await phone.send("Practise every day.")
    assert screen == "END Thank you for your answers!"
    assert len("*".join(phone.inputs)) > 2500  # the old cap on the whole history was 2000
    respondent = await service.store.find_respondent(service.organisation_id, phone.number)
    binding = await service.store.entry_point("ussd", OPEN_CODE)
    assert respondent is not None and binding is not None
    response = await service.store.latest_response(respondent.id, binding.survey_id)
    assert response is not None
    assert dict(response.answers) == {**typed, "advice": "Practise every day."}


async def test_a_body_over_the_limit_is_413_with_or_without_a_length(sqlite_service, caplog):
    caplog.set_level(logging.WARNING, logger="service_tracker.ussd")
    client = sqlite_service.client
    form = {
        "sessionId": "ATUid_big",
        "serviceCode": "*384*123#",
        "phoneNumber": "+254712345632",
        "text": "1" * MAX_BODY_BYTES,
    }
    response = await client.post("/ussd/africastalking", data=form)
    assert response.status == 413
    assert await response.text() == f"the body is larger than {MAX_BODY_BYTES} bytes"

    async def chunks():  # a chunked body declares no length
        yield b"sessionId=ATUid_big&text="
        for _ in range(MAX_BODY_BYTES // 65536 + 1):
            yield b"1" * 65536

    response = await client.post(
        "/ussd/africastalking/events",
        data=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 413
    assert "111111" not in caplog.text


async def test_a_rejected_callback_logs_field_names_and_sizes_never_the_answers(
    sqlite_service, caplog
):
    caplog.set_level(logging.WARNING, logger="service_tracker.ussd")
    form = {
        "serviceCode": "*384*123#",
        "phoneNumber": "+254712345633",
        "networkCode": "63902",
        "text": "1*I earn 30000 a month at Juja Motors",
    }
    response = await sqlite_service.client.post("/ussd/africastalking", data=form)
    assert response.status == 400
    assert await response.text() == "field 'sessionId' required"
    assert caplog.messages == [
        "rejected callback: field 'sessionId' required; "
        "fields networkCode:5 phoneNumber:13 serviceCode:9 text:37"
    ]
    response = await sqlite_service.client.post(
        "/ussd/africastalking/events",
        data={"sessionId": "ATUid_x", "status": "Gone", "input": "1*Juja Motors"},
    )
    assert response.status == 400
    assert caplog.messages[-1] == (
        "rejected session-end notice: field 'status' must be one of Failed, Incomplete, "
        "Success; fields input:13 sessionId:7 status:4"
    )
    assert "Juja" not in caplog.text and "30000" not in caplog.text


async def test_a_session_id_with_a_newline_cannot_forge_a_log_line(sqlite_service, caplog):
    caplog.set_level(logging.INFO, logger="service_tracker.ussd")
    forged = "ATUid_1\n2026-11-23 10:00:00,000 INFO service_tracker.ussd hop session=x"
    form = {
        "sessionId": forged,
        "serviceCode": "*384*123#",
        "phoneNumber": "+254712345634",
        "networkCode": "63902",
        "text": "",
    }
    response = await sqlite_service.client.post("/ussd/africastalking", data=form)
    assert response.status == 200
    (hop,) = [line for line in caplog.messages if line.startswith("hop ")]
    assert "\n" not in hop
    assert hop.startswith("hop session=ATUid_1\\n2026-11-23 10:00:00,000 INFO ")
    assert "phone=+2547•••••634 " in hop
