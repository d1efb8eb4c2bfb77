"""Forms as the field writes them, answered over the real USSD endpoint on both backends:
old headers and type aliases, a language no registry knows, and an old Excel .xls."""

from __future__ import annotations

from pathlib import Path

from storage.surveys import import_survey
from tests.conftest import markdown_to_xlsx
from tests.ussd.phones import Handset

CORPUS = Path(__file__).resolve().parents[1] / "xlsform_corpus"

# Single-colon headers, pyxform's type aliases and a language only its name says.
OLD_STYLE = """
| survey |
| | type | name | label:English | label:Local language | bind:constraint | bind:jr:constraintMsg:English |
| | select one from yn | working | Are you working? | Una kazi? | | |
| | int | months | Months in the job? | Miezi kazini? | . <= 600 | At most 600 |
| | string | employer | Employer? | Mwajiri? | | |
| choices |
| | list name | value | label:English | label:Local language |
| | yn | yes | Yes | Ndio |
| | yn | no | No | La |
| settings |
| | form_id | version |
| | old_style | 1 |
"""


async def answers_of(service, phone: Handset, code: str) -> dict[str, str]:
    respondent = await service.store.find_respondent(service.organisation_id, phone.number)
    binding = await service.store.entry_point("ussd", code)
    assert respondent is not None and binding is not None
    response = await service.store.latest_response(respondent.id, binding.survey_id)
    assert response is not None
    return dict(response.answers)


async def test_an_old_style_form_in_a_language_no_registry_knows(service):
    imported = await import_survey(
        service.engine,
        markdown_to_xlsx(OLD_STYLE),
        filename="old_style.xlsx",
        ussd_code="*384*81#",
        roster_only=False,
    )
    assert [w.code for w in imported.warnings] == ["unregistered_language"]
    phone = Handset(service, "+254712345681", code="*384*81#")
    menu = await phone.dial()
    assert "1. English" in menu and "2. Local language" in menu
    assert "Una kazi?" in await phone.send("2")
    assert "Miezi kazini?" in await phone.send("1")
    assert "At most 600" in await phone.send("601")
    assert "Mwajiri?" in await phone.send("24")
    assert (await phone.send("Duka")).startswith("END")
    assert await answers_of(service, phone, "*384*81#") == {
        "working": "yes",
        "months": "24",
        "employer": "Duka",
    }


async def test_an_old_excel_xls_form_imports_and_is_answered(service):
    source = (CORPUS / "kobocat" / "kobocat__dhisform.xls").read_bytes()
    imported = await import_survey(
        service.engine, source, filename="dhisform.xls", ussd_code="*384*82#", roster_only=False
    )
    assert imported.form_id == "dhis2form" and imported.warnings == ()
    phone = Handset(service, "+254712345682", code="*384*82#")
    await phone.dial()
    await phone.send("1")
    await phone.send("12")
    assert "DDMMYYYY" in await phone.send("Kisumu")
    assert (await phone.send("01032026")).startswith("END")
    assert await answers_of(service, phone, "*384*82#") == {
        "population_under_5": "1",
        "total_population": "12",
        "location": "Kisumu",
        "period": "2026-03-01",
    }
