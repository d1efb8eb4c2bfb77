"""The phone simulator in a real browser: an officer completes the sample survey by
clicking the keypad, and the answers are stored for their test number."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from admin.simulator import default_test_number
from storage.db import create_engine
from storage.schema import answers, respondents, responses
from storage.surveys import import_survey
from tests.browser.conftest import Browsing

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "graduate_tracer.xlsx"
# English, working for a wage (the USSD transcript `english_working`), by keypad.
KEYS = ["1", "1", "1", "4", "1", "1", "2", "1", "4", "5", "1", "3", "4", "5", "4"]


async def test_an_officer_completes_the_sample_survey_on_the_simulators_keypad(
    browsing: Browsing, sqlite_database_url: str
) -> None:
    engine = create_engine(sqlite_database_url)
    await import_survey(
        engine,
        SAMPLE.read_bytes(),
        filename=SAMPLE.name,
        ussd_code="*384*123#",
        roster_only=False,
        organisation="Kenya TVET",
    )
    page = browsing.page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await browsing.sign_in()
    await page.get_by_role("link", name="Phone simulator").click()
    await page.get_by_role("button", name="Dial").click()
    screen = page.locator("#screen-text")
    await screen.filter(has_text="Choose your language").wait_for()
    await browsing.screenshot("simulator-ussd-start")

    keypad = page.locator("#keypad")
    send = page.get_by_role("button", name="Send")
    for key in KEYS:
        before = await screen.text_content()  # what the wait below compares
        await keypad.get_by_role("button", name=key, exact=True).click()
        await send.click()
        await page.wait_for_function(
            "before => document.getElementById('screen-text').textContent !== before", arg=before
        )
        if key == "4" and "months" in before:
            await browsing.screenshot("simulator-ussd-question")
    assert (await screen.inner_text()).startswith("What one thing would improve the training?")
    await page.get_by_label("Reply").fill("More tools")  # typing works too
    await send.click()
    await screen.filter(has_text="Thank you for your answers!").wait_for()
    assert "session ended" in await page.locator("#screen-meta").inner_text()
    assert await page.get_by_label("Reply").is_disabled()
    await browsing.screenshot("simulator-ussd-done")

    await page.set_viewport_size({"width": 390, "height": 844})
    await browsing.screenshot("simulator-ussd-phone")
    assert problems == []

    async with engine.connect() as conn:
        respondent = (await conn.execute(select(respondents))).one()
        response = (await conn.execute(select(responses))).one()
        stored = dict((await conn.execute(select(answers.c.question, answers.c.value))).all())
    await engine.dispose()
    assert respondent.phone == default_test_number(browsing.admin.id)
    assert respondent.attributes["simulator"] is True
    assert response.status == "complete"
    assert stored["employed"] == "wage" and stored["months_to_job"] == "4"
    assert stored["suggestion"] == "More tools"
