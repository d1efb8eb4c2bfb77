"""The studies page: each of the organisation's studies, and where its waves stand."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.respondents import import_respondents
from storage.studies import store_study
from storage.surveys import import_survey
from tests.admin.conftest import Site
from tests.admin.tracer_data import SAMPLE
from waves.study import read_study
from waves.worker import tick

STUDY = """
name = "tracer-2026"
survey = "graduate_tracer"
waves = [{ name = "completion", offset = "0d" }, { name = "1 week", offset = "1w" }]
contact_hours = "07:00-20:00"
airtime = { amount = "KES 20" }
"""


async def test_the_studies_page_shows_each_wave_as_the_worker_left_it(
    site: Site, engine: AsyncEngine
) -> None:
    organisation = site.admin.organisation_id
    today = dt.datetime.now(dt.UTC).date()
    await import_survey(
        engine, SAMPLE.read_bytes(), filename=SAMPLE.name, ussd_code=None,
        roster_only=False, organisation=organisation,
    )  # fmt: skip
    roster = "phone,name,completion_date,time_zone\n" + "".join(
        f"+25471230{n:04d},G{n},{today - dt.timedelta(days=7 * (n % 2))},UTC\n" for n in range(6)
    )
    await import_respondents(
        engine, roster.encode(), filename="r.csv", default_region="KE", organisation=organisation
    )
    await store_study(engine, read_study(STUDY), STUDY, organisation=organisation)
    await tick(engine, None, dt.datetime.now(dt.UTC))  # invitations recorded (no SMS)

    await site.sign_in(site.analyst)
    page = await (await site.client.get("/admin/studies")).text()
    assert "tracer-2026" in page and "airtime thank-you KES 20" in page
    assert "contact 07:00–20:00" in page
    rows = {
        name: [int(n) for n in cells]
        for name, cells in re.findall(
            r'<th scope="row">([^<]+)</th><td>\+\w+</td>((?:<td>\d+</td>)+)', page
        )
        for cells in [re.findall(r"<td>(\d+)</td>", cells)]
    }
    # graduates, opened, due, missed, invited, reached, completed, refused, opted out
    # Half finished today, half a week ago: their completion wave is still open (30
    # days), so all six were invited; the 1-week wave opened today for the earlier half.
    assert rows["completion"] == [6, 6, 0, 0, 6, 0, 0, 0, 0]
    assert rows["1 week"] == [6, 3, 0, 0, 3, 0, 0, 0, 0]

    await site.sign_in(site.other)
    other = await (await site.client.get("/admin/studies")).text()
    assert "tracer-2026" not in other and "No study yet" in other
