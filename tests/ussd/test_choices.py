"""Choices as the field writes them, over the real USSD endpoint on both backends:
`or_other` and its "please specify", and a name repeated in a cascading list."""

from __future__ import annotations

from storage.surveys import import_survey
from tests.conftest import markdown_to_xlsx
from tests.survey_engine.test_xlsform_choices import CASCADE
from tests.ussd.phones import Handset

TRADES = """
| survey |
| | type | name | label |
| | select_one trades or_other | trade | Your trade? |
| | integer | years | Years as ${trade}? |
| choices |
| | list_name | name | label |
| | trades | tailor | Tailoring |
| | trades | weld | Welding |
| settings |
| | form_id | version |
| | trades | 1 |
"""


async def _answers(service, phone: Handset, survey_id: int) -> dict[str, str]:
    respondent = await service.store.find_respondent(service.organisation_id, phone.number)
    assert respondent is not None
    response = await service.store.latest_response(respondent.id, survey_id)
    assert response is not None
    return dict(response.answers)


async def test_other_then_please_specify(service):
    imported = await import_survey(
        service.engine,
        markdown_to_xlsx(TRADES),
        filename="trades.xlsx",
        ussd_code="*384*79#",
        roster_only=False,
    )
    phone = Handset(service, "+254712345640", code="*384*79#")
    assert "1. Tailoring\n2. Welding\n3. Other" in await phone.dial()
    assert "Please specify." in await phone.send("3")
    assert "Years as Other?" in await phone.send("boda boda")
    assert await phone.send("2") == "END Thank you for your answers!"
    assert await _answers(service, phone, imported.survey_id) == {
        "trade": "other",
        "trade_other": "boda boda",
        "years": "2",
    }


async def test_a_repeated_name_in_a_cascading_list(service):
    imported = await import_survey(
        service.engine,
        markdown_to_xlsx(CASCADE),
        filename="cascade.xlsx",
        ussd_code="*384*80#",
        roster_only=False,
    )
    phone = Handset(service, "+254712345641", code="*384*80#")
    await phone.dial()
    assert "1. King (TX)\n2. Cameron" in await phone.send("1")
    assert "1. Seattle" in await phone.send("1")
    assert "You live in King (TX)." in await phone.send("1")
    assert await phone.send("1") == "END Thank you for your answers!"
    assert await _answers(service, phone, imported.survey_id) == {
        "state": "texas",
        "county": "king",
        "city": "seattle",
    }
