"""Every question type answered over the real USSD endpoint, on both backends."""

from __future__ import annotations

from storage.surveys import import_survey
from tests.conftest import markdown_to_xlsx
from tests.ussd.phones import Handset

FORM = """
| survey |
| | type | name | label | hint | constraint | required |
| | select_multiple tools | tools | Which tools do you use? | | | yes |
| | date | started | When did you start this work? | | | yes |
| | decimal | hours | Hours worked per day? | | . > 0 and . <= 24 | yes |
| | text | note | Anything else? | | | no |
| choices |
| | list_name | name | label |
| | tools | phone | Mobile phone |
| | tools | drill | Drill |
| | tools | sewing | Sewing machine |
| settings |
| | form_id | version |
| | tools_check | 1 |
"""
CODE = "*384*77#"


async def test_several_choices_a_date_a_decimal_and_text_with_a_star(service):
    await import_survey(
        service.engine,
        markdown_to_xlsx(FORM),
        filename="tools.xlsx",
        ussd_code=CODE,
        roster_only=False,
    )
    phone = Handset(service, "+254712345620", code=CODE)
    screen = await phone.dial()
    assert "Several: e.g. 1 3" in screen
    screen = await phone.send("1 4")
    assert screen.startswith("CON Invalid choice. Enter numbers from the list")
    screen = await phone.send("3 1")
    assert "Date as DDMMYYYY" in screen
    screen = await phone.send("31022026")
    assert screen.startswith("CON Please enter a real date as DDMMYYYY.")
    screen = await phone.send("01032026")
    assert "Enter a number, e.g. 2.5" in screen
    screen = await phone.send("7*5")  # the handset's star as the decimal point
    assert "Anything else?" in screen
    screen = await phone.send("solar*wiring")  # an answer that itself contains '*'
    assert screen == "END Thank you for your answers!"
    respondent = await service.store.find_respondent(phone.number)
    assert respondent is not None
    binding = await service.store.entry_point("ussd", CODE)
    assert binding is not None
    response = await service.store.latest_response(respondent.id, binding.survey_id)
    assert response is not None
    assert dict(response.answers) == {
        "tools": "phone sewing",
        "started": "2026-03-01",
        "hours": "7.5",
        "note": "solar*wiring",
    }


async def test_the_keypads_separators_still_work_over_ussd(service):
    # The README's "Keys on the phone": `1*3`, `15*06*2026` and `7*5` are USSD habits,
    # mapped by the channel before the engine, which reads canonical text.
    await import_survey(
        service.engine,
        markdown_to_xlsx(FORM),
        filename="tools.xlsx",
        ussd_code=CODE,
        roster_only=False,
    )
    phone = Handset(service, "+254712345621", code=CODE)
    await phone.dial()
    assert "Date as DDMMYYYY" in await phone.send("1*3")
    assert "Enter a number, e.g. 2.5" in await phone.send("15*06*2026")
    assert "Anything else?" in await phone.send("7*5")
    assert await phone.send("") == "END Thank you for your answers!"
    respondent = await service.store.find_respondent(phone.number)
    assert respondent is not None
    binding = await service.store.entry_point("ussd", CODE)
    assert binding is not None
    response = await service.store.latest_response(respondent.id, binding.survey_id)
    assert response is not None
    assert dict(response.answers) == {
        "tools": "phone sewing",
        "started": "2026-06-15",
        "hours": "7.5",
        "note": "",
    }
