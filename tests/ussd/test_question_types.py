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
    respondent = await service.store.find_respondent(service.organisation_id, phone.number)
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
    respondent = await service.store.find_respondent(service.organisation_id, phone.number)
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


# A time typed with each separator a handset has, refused, constrained, defaulted;
# then a date and time in one entry, and a rank.
SHOP = """
| survey |
| | type | name | label | constraint | default |
| | time | opens | When do you open? | | |
| | time | closes | You open at ${opens}. Close? | . > ${opens} | 17:00 |
| | time | lunch | Lunch at? | | |
| | dateTime | delivery | Next delivery? | | |
| | rank needs | needs | Order what matters | | |
| choices |
| | list_name | name | label | | |
| | needs | pay | Pay | | |
| | needs | hours | Hours | | |
| | needs | place | Place | | |
| settings |
| | form_id | version |
| | shop | 1 |
"""


async def test_times_a_date_and_time_and_a_rank_typed_as_handsets_allow(service):
    imported = await import_survey(
        service.engine,
        markdown_to_xlsx(SHOP),
        filename="shop.xlsx",
        ussd_code="*384*80#",
        roster_only=False,
    )
    phone = Handset(service, "+254712345650", code="*384*80#")
    assert "Time as HHMM, e.g. 1430" in await phone.dial()
    screen = await phone.send("7h5")
    assert "Please enter a time as 4 digits, e.g. 1430 for 2:30 pm." in screen
    assert "You open at 07:05. Close?" in await phone.send("7.05")
    screen = await phone.send("6*30")
    assert "That answer is not allowed." in screen and "Now: 17:00" in screen
    assert "Lunch at?" in await phone.send("")  # the default kept
    assert "Date and time as DDMMYYYY HHMM" in await phone.send("12:30")
    screen = await phone.send("15*06*2026")
    assert "Please enter the date then the time, e.g. 15062026 1430." in screen
    screen = await phone.send("15*06*2026*14*30")
    assert "1. Pay\n2. Hours\n3. Place" in screen
    assert "Order all, most important first: e.g. 312" in screen
    screen = await phone.send("3*1*3")
    assert "Enter all 3 numbers in order, each once, most important first." in screen
    assert await phone.send("312") == "END Thank you for your answers!"
    respondent = await service.store.find_respondent(service.organisation_id, phone.number)
    assert respondent is not None
    response = await service.store.latest_response(respondent.id, imported.survey_id)
    assert response is not None
    assert dict(response.answers) == {
        "opens": "07:05",
        "closes": "17:00",
        "lunch": "12:30",
        "delivery": "2026-06-15T14:30",
        "needs": "place pay hours",
    }
