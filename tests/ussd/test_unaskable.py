"""A form imported with `--skip-unaskable` runs over the real USSD endpoint: the
questions left out are never asked and read as empty, also after the worker compiles
the stored version again."""

from __future__ import annotations

from storage.surveys import import_survey
from tests.conftest import markdown_to_xlsx
from tests.ussd.phones import Handset

SHOP_VISIT = """
| survey |
| | type | name | label | relevant |
| | text | shop | Name of your shop? | |
| | geopoint | where | Where is it? | |
| | image | front | Photo of the front | |
| | integer | staff | Staff at ${shop}? | |
| | text | why | Why no location? | ${where} = '' |
| settings |
| | form_id | version |
| | shop_visit | 1 |
"""
CODE = "*384*78#"


async def test_a_form_imported_skipping_the_unaskable_is_asked_without_them(service):
    imported = await import_survey(
        service.engine,
        markdown_to_xlsx(SHOP_VISIT),
        filename="shop_visit.xlsx",
        ussd_code=CODE,
        roster_only=False,
        skip_unaskable=True,
    )
    assert [w.code for w in imported.warnings] == [
        "unaskable_skipped",
        "unaskable_skipped",
        "unaskable_reference",
    ]
    phone = Handset(service, "+254712345630", code=CODE)
    assert "Name of your shop?" in await phone.dial()
    assert "Staff at Duka?" in await phone.send("Duka")
    assert "Why no location?" in await phone.send("2")
    assert await phone.send("no signal") == "END Thank you for your answers!"
    respondent = await service.store.find_respondent(service.organisation_id, phone.number)
    assert respondent is not None
    response = await service.store.latest_response(respondent.id, imported.survey_id)
    assert response is not None
    assert dict(response.answers) == {
        "shop": "Duka",
        "staff": "2",
        "why": "no signal",
    }
