"""The studies page in a real browser, on a laptop and a phone."""

from __future__ import annotations

import datetime as dt

from storage.db import create_engine
from storage.respondents import import_respondents
from storage.studies import store_study
from storage.surveys import import_survey
from tests.admin.tracer_data import SAMPLE
from tests.browser.conftest import Browsing
from waves.study import read_study
from waves.worker import tick

STUDY = """
name = "tracer-2026"
survey = "graduate_tracer"
waves = [
  { name = "completion", offset = "0d" },
  { name = "3 months", offset = "3m" },
  { name = "6 months", offset = "6m" },
]
airtime = { amount = "KES 20" }
"""


async def test_an_officer_reads_where_each_wave_stands(
    browsing: Browsing, sqlite_database_url: str
) -> None:
    engine = create_engine(sqlite_database_url)
    today = dt.datetime.now(dt.UTC).date()
    await import_survey(
        engine, SAMPLE.read_bytes(), filename=SAMPLE.name, ussd_code="*384*123#",
        roster_only=False, organisation="Kenya TVET",
    )  # fmt: skip
    roster = "phone,name,completion_date,time_zone\n" + "".join(
        f"+25471230{n:04d},G{n},{today - dt.timedelta(days=45 * (n % 5))},UTC\n" for n in range(40)
    )
    await import_respondents(
        engine, roster.encode(), filename="r.csv", default_region="KE", organisation="Kenya TVET"
    )
    await store_study(engine, read_study(STUDY), STUDY, organisation="Kenya TVET")
    await tick(engine, None, dt.datetime.now(dt.UTC))
    await engine.dispose()

    page = browsing.page
    await browsing.sign_in()
    await page.get_by_role("link", name="Studies").click()
    await page.wait_for_load_state()
    table = page.locator("table.study-status")
    assert "completion" in await table.inner_text()
    assert await table.locator("tbody tr").count() == 3
    await browsing.screenshot("studies")
    await page.set_viewport_size({"width": 390, "height": 844})
    await browsing.screenshot("studies-phone")
