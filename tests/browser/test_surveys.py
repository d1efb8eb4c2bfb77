"""The Surveys pages in a real browser: upload the sample survey, bind a USSD code,
preview a question on USSD and by voice, render the voice prompts and play one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import conftest as browser_conftest
from tests.browser.conftest import Browsing

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "graduate_tracer.xlsx"


@pytest.fixture(autouse=True)
def _audio_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # AUDIO_DIR is var/audio under the working folder; the screenshots stay where they were.
    monkeypatch.setattr(browser_conftest, "SCREENSHOTS", browser_conftest.SCREENSHOTS.resolve())
    monkeypatch.chdir(tmp_path)


async def test_an_officer_uploads_binds_previews_and_plays_a_prompt(browsing: Browsing) -> None:
    page = browsing.page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await browsing.sign_in()
    await page.get_by_role("link", name="Surveys").click()
    await page.get_by_label("XLSForm (.xlsx or .xls)").set_input_files(str(SAMPLE))
    await page.get_by_role("button", name="Upload").click()
    await page.wait_for_load_state()
    assert "Version 2026.2 uploaded" in await page.get_by_role("status").inner_text()

    await page.get_by_label("Code or number").fill("*384*123#")
    await page.get_by_role("button", name="Bind").click()
    await page.wait_for_load_state()
    assert "*384*123#" in await page.locator(".bindings").inner_text()
    await browsing.screenshot("survey")

    await page.get_by_role("link", name="Preview questions").click()
    question = page.get_by_role("region", name="2 of 17 · employed")
    screen = await question.locator(".screen").first.inner_text()
    assert screen.startswith("Are you currently working, for pay or profit?")
    assert "1. " in screen
    assert await question.locator(".sounds li").count() > 5  # the question, then each choice
    await browsing.screenshot("survey-preview")

    await page.get_by_role("link", name="Surveys").first.click()
    await page.get_by_role("link", name="Graduate tracer", exact=False).first.click()
    await page.get_by_role("link", name="Voice prompts").click()
    await page.get_by_label("Voice").select_option("espeak")
    await page.get_by_role("button", name="Render what is missing").click()
    await page.wait_for_load_state()
    await browsing.screenshot("survey-audio-rendering")
    # The script follows the render and shows the grid again when it is done.
    await page.locator(".render-result").wait_for(timeout=120_000)
    assert "0 missing" in await page.locator(".render-result").inner_text()
    await browsing.screenshot("survey-audio")

    play = page.get_by_role("link", name="Play consent.label in sw")
    async with page.expect_response(lambda r: r.url.endswith("/audio/sw/consent.label")) as heard:
        await play.click()
    answer = await heard.value
    # The media element asks for a range of the file, as players do.
    assert answer.status in (200, 206) and answer.headers["content-type"] == "audio/wav"

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(page.url.split("/audio")[0] + "/preview?language=ar")
    await browsing.screenshot("survey-preview-phone")
    assert problems == []
