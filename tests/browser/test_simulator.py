"""The phone simulator in a real browser: an officer completes the sample survey by
clicking the keypad, the answers are stored for their test number, and the officer
finds them in the results and on the dashboard (where test answers are left out
until asked for)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from admin.simulator import default_test_number
from audio.library import AudioLibrary, IndexEntry, PromptSource
from storage.db import create_engine
from storage.schema import answers, respondents, responses
from storage.surveys import import_survey
from tests.audio.sounds import silent_wav
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
    await page.set_viewport_size({"width": 1280, "height": 900})

    # The answer in the results: left out at first, with the way to show it.
    await page.get_by_role("link", name="Results", exact=True).click()
    await page.get_by_role("link", name="Graduate tracer survey").click()
    notice = page.locator("#tests-left-out")
    assert "1 response given in the phone simulator is left out" in await notice.inner_text()
    await notice.get_by_role("link", name="Show only the simulator's").click()
    await page.wait_for_load_state()
    assert "tests=only" in page.url
    table = page.locator("table.answers")
    assert "More tools" in await table.inner_text()
    await browsing.screenshot("results-simulator-tests")

    # ... and on the dashboard, which keeps the filter.
    await page.get_by_role("link", name="Outcomes dashboard").click()
    await page.wait_for_load_state()
    assert "tests=only" in page.url
    figures = await page.locator(".figures").inner_text()
    assert "in work related to the training (n = 1)" in figures
    assert await page.locator("select[name=tests]").input_value() == "only"
    await browsing.screenshot("dashboard-simulator-tests")
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


@pytest.fixture
def audio_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AudioLibrary:
    """AUDIO_DIR's default (var/audio) under a folder of the test's own, with the
    language menu and the consent question recorded in English."""
    monkeypatch.chdir(tmp_path)
    library = AudioLibrary(tmp_path / "var" / "audio")
    index = {}
    for key in ("system.choose_language", "consent.label"):
        path = library.recording_file("graduate_tracer", "en", key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(silent_wav())
        index[key] = IndexEntry(library.relative("en", path), PromptSource.RECORDED, key)
    library.save_index("graduate_tracer", "en", index)
    return library


async def test_an_officer_calls_the_survey_hears_its_prompts_and_answers_by_keypad(
    audio_here: AudioLibrary, browsing: Browsing, sqlite_database_url: str
) -> None:
    engine = create_engine(sqlite_database_url)
    await import_survey(
        engine, SAMPLE.read_bytes(), filename=SAMPLE.name, ussd_code=None,
        ivr_numbers=["4000"], roster_only=False, organisation="Kenya TVET",
    )  # fmt: skip
    page = browsing.page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    played: list[str] = []
    page.on(
        "response",
        lambda r: played.append(r.url) if "/admin/simulator/audio/" in r.url else None,
    )
    await browsing.sign_in()
    await page.get_by_role("link", name="Phone simulator").click()
    await page.get_by_role("link", name="Voice call").click()
    await page.get_by_role("button", name="Call").click()
    sounds = page.locator("#sounds")
    await sounds.filter(has_text="Choose your language").wait_for()
    assert "no audio: skipped" in await sounds.inner_text()  # not recorded: skipped
    # The prompts play in order once the officer presses Play (browsers refuse
    # sound before a click): the recorded one is fetched and played.
    await page.get_by_role("button", name="Play the prompt").click()
    await page.wait_for_function("() => document.getElementById('player').src !== ''")
    assert (await page.locator("#player").get_attribute("src")).endswith(
        "/audio/1/en/system.choose_language"
    )
    await browsing.screenshot("simulator-voice-start")

    # One key answers a menu: no Send needed, as on a call.
    keypad = page.locator("#keypad")
    await keypad.get_by_role("button", name="1", exact=True).click()
    await sounds.filter(has_text="Do you agree to answer").wait_for()
    assert "On the call" in await page.locator("#call-state").inner_text()
    await keypad.get_by_role("button", name="1", exact=True).click()
    await sounds.filter(has_not_text="Do you agree to answer").wait_for()
    await browsing.screenshot("simulator-voice-question")
    await page.get_by_role("button", name="Hang up").click()
    await page.locator("#call-state").filter(has_text="Call ended").wait_for()
    assert problems == []
    assert any(url.endswith("/system.choose_language") for url in played)

    async with engine.connect() as conn:
        response = (await conn.execute(select(responses))).one()
        stored = dict((await conn.execute(select(answers.c.question, answers.c.value))).all())
    await engine.dispose()
    assert response.channel == "ivr"
    assert stored["consent"] == "yes"
