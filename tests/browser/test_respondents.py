"""Importing a roster and finding a graduate in a real browser."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from storage.db import create_engine
from storage.responses import SqlResponseStore
from storage.schema import respondents
from storage.surveys import import_survey
from survey_engine.events import AnswerGiven
from tests.admin.test_respondents import TRACER
from tests.browser.conftest import Browsing
from tests.conftest import markdown_to_xlsx

ROSTER = Path(__file__).resolve().parents[2] / "examples" / "roster.csv"
T0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


async def _wanjiru_answers(database_url: str, organisation_id: int) -> None:
    """Wanjiru answered the tracer on USSD, in Kiswahili."""
    engine = create_engine(database_url)
    store = SqlResponseStore(engine)
    try:
        survey = await import_survey(
            engine, markdown_to_xlsx(TRACER), filename="tracer.xlsx", ussd_code="*384*9#",
            roster_only=False, organisation=organisation_id,
        )  # fmt: skip
        async with engine.connect() as conn:
            person = await conn.scalar(
                select(respondents.c.id).where(respondents.c.name == "Wanjiru Kamau")
            )
        response = await store.start_response(
            respondent_id=person, version_id=survey.version_id, channel="ussd",
            session_ref="S1", language="sw", turn_ref="", now=T0,
        )  # fmt: skip
        given = [AnswerGiven("employed", "yes"), AnswerGiven("job", "Fundi cherehani")]
        await store.record_turn(response.id, given, turn_ref="1", now=T0)
    finally:
        await store.close()
        await engine.dispose()


async def test_an_officer_imports_the_roster_finds_a_graduate_and_opens_their_page(
    browsing: Browsing, sqlite_database_url: str
) -> None:
    page = browsing.page
    await browsing.sign_in()
    await page.get_by_role("link", name="Respondents").click()
    await browsing.screenshot("respondents-empty")
    await page.get_by_role("link", name="Import a roster").first.click()
    await page.get_by_label("Roster file (.csv or .xlsx)").set_input_files(str(ROSTER))
    await page.get_by_role("button", name="Preview").click()
    await page.wait_for_load_state()
    preview = page.get_by_role("region", name="Preview of roster.csv")
    assert "new respondents" in await preview.inner_text()
    await browsing.screenshot("respondents-import-preview")
    await page.get_by_role("button", name="Import").click()
    await page.wait_for_load_state()
    assert "roster.csv is imported" in await page.get_by_role("status").inner_text()
    await _wanjiru_answers(sqlite_database_url, browsing.admin.organisation_id)
    await page.get_by_role("link", name="See the respondents").click()
    await browsing.screenshot("respondents-list")

    await page.get_by_label("Name or phone").fill("wanjiru")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_load_state()
    rows = page.locator("table.roster tbody tr")
    assert await rows.count() == 1
    assert "•••" in await rows.first.inner_text()  # the number is masked
    await page.get_by_role("link", name="Wanjiru Kamau").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", level=1).inner_text() == "Wanjiru Kamau"
    assert "Kisumu Central" in await page.get_by_role("region", name="Details").inner_text()
    await page.get_by_role("button", name="Show number").click()
    await page.wait_for_load_state()
    assert "+254 712 300481" in await page.get_by_role("region", name="Details").inner_text()
    assert "Je, unafanya kazi sasa?" in await page.locator("table.answers").inner_text()
    await browsing.screenshot("respondent")
    await page.get_by_label("Labels in").select_option("en")
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_load_state()
    assert "Are you working now?" in await page.locator("table.answers").inner_text()

    await page.set_viewport_size({"width": 390, "height": 844})
    await browsing.open("/admin/respondents")
    await browsing.screenshot("respondents-list-phone")
    await page.get_by_role("link", name="Brian Otieno").click()
    await page.wait_for_load_state()
    await browsing.screenshot("respondent-phone")
