"""The Audio page of a survey: the prompts × languages grid, playing a prompt, uploading
a recording for one prompt, and rendering what is missing in the background."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from aiohttp import FormData

from tests.admin.conftest import Site
from tests.admin.test_surveys import post, upload
from tests.audio.sounds import speechlike, wav_bytes
from tests.conftest import markdown_to_xlsx

FORM = """
| survey |
|        | type          | name    | label::English (en) | label::Kiswahili (sw) |
|        | select_one yn | consent | Do you agree?       | Je, unakubali?        |
| choices |
|         | list_name | name | label::English (en) | label::Kiswahili (sw) |
|         | yn        | yes  | Yes                 | Ndiyo                 |
|         | yn        | no   | No                  | Hapana                |
| settings |
|          | form_id | version | default_language |
|          | consent | 1       | English (en)     |
"""


@pytest.fixture(autouse=True)
def _audio_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # AUDIO_DIR is var/audio under the working folder


async def survey_path(site: Site) -> str:
    await site.sign_in(site.admin)
    answer = await upload(site, markdown_to_xlsx(FORM), "consent.xlsx")
    assert answer.status == 303
    return answer.headers["Location"].split("?")[0]


async def send_recording(site: Site, path: str, key: str, language: str, data: bytes, name: str):
    form = FormData()
    form.add_field("_csrf", await site.csrf(path + "/audio"))
    form.add_field("key", key)
    form.add_field("language", language)
    form.add_field("file", data, filename=name, content_type="audio/wav")
    return await site.client.post(path + "/audio", data=form, allow_redirects=False)


def cell(page: str, key: str, column: int) -> str:
    """The state shown for `key` in the grid's `column`-th language (from 1)."""
    row = re.search(rf"<code>{re.escape(key)}</code></th>(.*?)</tr>", page, re.S)
    assert row, key
    return re.findall(r'<span class="state">([^<]+)</span>', row.group(1))[column - 1]


async def test_a_recording_uploaded_for_one_prompt_is_shown_recorded_and_plays(site: Site) -> None:
    path = await survey_path(site)
    page = await (await site.client.get(path + "/audio")).text()
    assert (
        cell(page, "consent.label", 1) == "missing" and cell(page, "consent.label", 2) == "missing"
    )
    assert "system.thank_you" in page  # the system prompts every survey says

    voice = wav_bytes(speechlike(1.5), 44100)
    stored = await send_recording(site, path, "consent.label", "sw", voice, "swahili take.wav")
    assert stored.status == 303, await stored.text()
    page = await (await site.client.get(stored.headers["Location"])).text()
    assert "Recording stored: consent.label (sw) now plays it." in page
    assert cell(page, "consent.label", 2) == "recorded"
    assert cell(page, "consent.label", 1) == "missing"

    played = await site.client.get(path + "/audio/sw/consent.label")
    assert played.status == 200
    assert played.headers["Content-Type"] == "audio/wav"
    body = await played.read()
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
    assert (await site.client.get(path + "/audio/en/consent.label")).status == 404  # none yet
    assert (await site.client.get(path + "/audio/xx/consent.label")).status == 404
    assert "audio.upload" in await (await site.client.get("/admin/audit")).text()


async def test_a_recording_that_is_not_usable_is_refused_in_plain_words(site: Site) -> None:
    path = await survey_path(site)
    text = await send_recording(site, path, "consent.label", "en", b"hello, not audio", "a.wav")
    assert text.status == 422
    assert "Not stored: a.wav is not a sound file we can read" in await text.text()
    typed = await send_recording(site, path, "consent.label", "en", b"x", "notes.txt")
    assert "files ending in .txt are not accepted" in await typed.text()
    voice = wav_bytes(speechlike(1.0), 44100)
    unknown = await send_recording(site, path, "nothing.label", "en", voice, "a.wav")
    assert "Not stored: the survey has no prompt &#39;nothing.label&#39;." in await unknown.text()
    french = await send_recording(site, path, "consent.label", "fr", voice, "a.wav")
    assert "has no language &#39;fr&#39;" in await french.text()


async def test_rendering_what_is_missing_runs_in_the_background_and_reports_progress(
    site: Site,
) -> None:
    path = await survey_path(site)
    started = await post(site, path + "/audio/render", path + "/audio", engine="espeak")
    assert started.status == 303
    for _ in range(600):
        state = json.loads(await (await site.client.get(path + "/audio/render")).text())
        if state["state"] != "running":
            break
        assert 0 <= state["done"] <= state["total"] or state["total"] == 0
        await asyncio.sleep(0.1)
    assert state["state"] == "done", state
    assert state["missing_count"] == 0 and state["written"] > 0
    page = await (await site.client.get(path + "/audio")).text()
    assert cell(page, "consent.label", 1) == "synthetic"
    assert cell(page, "system.survey_closed", 2) == "synthetic"
    assert (
        "Every prompt has audio"
        in await (await site.client.get(path + "/audio?show=missing")).text()
    )
    preview = await (await site.client.get(path + "/preview")).text()
    assert "Play in order" in preview and "no audio yet" not in preview
    assert "audio.render" in await (await site.client.get("/admin/audit")).text()


async def test_an_analyst_hears_prompts_but_cannot_upload_or_render(site: Site) -> None:
    path = await survey_path(site)
    voice = wav_bytes(speechlike(1.0), 44100)
    assert (await send_recording(site, path, "consent.label", "en", voice, "a.wav")).status == 303
    await site.client.post("/admin/logout", data={"_csrf": await site.csrf("/admin/")})
    await site.sign_in(site.analyst)
    page = await (await site.client.get(path + "/audio")).text()
    assert "Play consent.label in en" in page and "Upload a recording" not in page
    assert (await site.client.get(path + "/audio/en/consent.label")).status == 200
    assert (await send_recording(site, path, "consent.label", "en", voice, "a.wav")).status == 403
    assert (
        await post(site, path + "/audio/render", path + "/audio", engine="espeak")
    ).status == 403
