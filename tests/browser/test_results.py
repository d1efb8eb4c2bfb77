"""Results, the dashboard and an export in a real browser, on a laptop and a phone."""

from __future__ import annotations

import csv
import io

from storage.accounts import create_user
from storage.db import create_engine
from tests.admin.tracer_data import seed_tracer
from tests.browser.conftest import PASSWORD, Browsing


async def test_an_officer_reads_results_opens_the_dashboard_and_downloads_an_export(
    browsing: Browsing, sqlite_database_url: str
) -> None:
    engine = create_engine(sqlite_database_url)
    await create_user(
        engine, email="head@vtc.lb", organisation="Lebanon VTC", role="admin", password=PASSWORD
    )
    tracer = await seed_tracer(engine, "Kenya TVET", "Lebanon VTC")
    await engine.dispose()
    page = browsing.page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    await browsing.sign_in()
    await page.get_by_role("link", name="Results", exact=True).click()
    await page.get_by_role("link", name="Graduate tracer survey").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", level=1).inner_text() == "Graduate tracer survey"
    assert "responses" in await page.locator(".figures").inner_text()
    await browsing.screenshot("results")
    await page.locator("select[name=question]").select_option("employed")
    await page.get_by_role("button", name="Apply").click()
    await page.wait_for_load_state()
    assert "question=employed" in page.url
    assert await page.locator("table.answers tbody tr").count() == 14  # 5 baselines, 9 later

    async with page.expect_download() as waiting:
        await page.get_by_label("Wide: one row per response, one column per question").check()
        await page.get_by_role("button", name="Download").click()
    download = await waiting.value
    body = (await download.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 16  # one per response: the question filter is for answers
    assert all("•" in row["respondent"] for row in rows)

    await page.get_by_role("link", name="Outcomes dashboard").click()
    await page.wait_for_load_state()
    await page.wait_for_function(
        "() => [...document.querySelectorAll('canvas[data-chart]')]"
        ".every(c => Chart.getChart(c) !== undefined)"
    )
    assert "83.3 %" in await page.locator("table.outcomes").inner_text()
    await browsing.screenshot("dashboard")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await page.wait_for_function(
        "() => Chart.getChart(document.querySelector('canvas')) !== undefined"
    )
    await browsing.screenshot("dashboard-phone")
    await page.goto(f"{browsing.base}/admin/results/{tracer.survey_id}")
    await browsing.screenshot("results-phone")
    assert problems == []
