"""The phone simulator: an officer tries a survey through the real USSD channel and the
IVR's interviews, answering as a test number that results can tell apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from admin.simulator import default_test_number
from audio.library import AudioLibrary, IndexEntry, PromptSource
from service_tracker.app import create_app
from service_tracker.config import Settings
from storage.accounts import create_user
from storage.schema import answers, audit_log, respondents, responses
from storage.simulated import not_simulated
from storage.surveys import import_survey
from tests.admin.conftest import PASSWORD, Site
from tests.audio.sounds import silent_wav
from tests.conftest import markdown_to_xlsx

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "graduate_tracer.xlsx"
CODE = "*384*123#"
IVR_NUMBER = "4000"
JSON = {"Accept": "application/json"}
# The sample survey answered in English, working for a wage (as the USSD transcript
# `graduate_tracer.ussd.english_working` answers it).
ENGLISH_WORKING = ["1", "1", "1", "4", "1", "1", "2", "1", "4", "5", "x", "3", "4", "5", "4"]
LEBANON_FORM = """
| survey   |             |          |              |
|          | type        | name     | label        |
|          | integer     | age      | Your age?    |
| settings |             |          |              |
|          | form_id     | version  |              |
|          | vtc_tracer  | 1        |              |
"""


@pytest.fixture
async def sample(site: Site, engine: AsyncEngine) -> int:
    imported = await import_survey(
        engine,
        SAMPLE.read_bytes(),
        filename=SAMPLE.name,
        ussd_code=CODE,
        ivr_numbers=[IVR_NUMBER],
        roster_only=False,
        organisation="Kenya TVET",
    )
    return imported.survey_id


async def _signed_in(site: Site, user=None) -> str:
    await site.sign_in(user or site.admin)
    return await site.csrf("/admin/")


async def _dial(site: Site, csrf: str, **fields: str):
    return await site.client.post(
        "/admin/simulator/ussd/dial", data={"_csrf": csrf, "code": CODE, **fields}, headers=JSON
    )


async def _send(site: Site, csrf: str, typed: str):
    return await site.client.post(
        "/admin/simulator/ussd/send", data={"_csrf": csrf, "input": typed}, headers=JSON
    )


async def test_an_officer_completes_the_sample_survey_by_ussd_and_the_answers_are_stored_as_a_test(
    site: Site, sample: int, engine: AsyncEngine
) -> None:
    csrf = await _signed_in(site)
    page = await (await site.client.get("/admin/simulator")).text()
    assert CODE in page and default_test_number(site.admin.id) in page

    first = await (await _dial(site, csrf)).json()
    assert first["screen"].startswith("Choose your language\n1. English")
    # The language menu names Arabic in Arabic: UCS-2, so a screen holds 80 characters.
    assert first["final"] is False and first["length"] <= first["limit"] == 80
    for typed in ENGLISH_WORKING:
        screen = await (await _send(site, csrf, typed)).json()
        assert screen["final"] is False, screen
    assert screen["screen"].startswith("What one thing would improve the training?")
    last = await (await _send(site, csrf, "More tools")).json()
    assert last == {
        "screen": "Thank you for your answers!",
        "final": True,
        "length": 27,
        "limit": 182,
    }

    async with engine.connect() as conn:
        respondent = (await conn.execute(select(respondents))).one()
        response = (await conn.execute(select(responses))).one()
        stored = dict((await conn.execute(select(answers.c.question, answers.c.value))).all())
        kept = (await conn.execute(select(respondents.c.id).where(not_simulated()))).all()
        audit = (
            await conn.execute(select(audit_log).where(audit_log.c.action == "simulator.start"))
        ).one()
    assert respondent.phone == default_test_number(site.admin.id)
    assert respondent.name == "Simulator test" and respondent.on_roster is False
    assert respondent.attributes["simulator"] is True
    assert kept == []  # results that leave tests out find nothing
    assert (response.channel, response.status, response.survey_id) == ("ussd", "complete", sample)
    assert stored["employed"] == "wage" and stored["suggestion"] == "More tools"
    assert stored["months_to_job"] == "4" and len(stored) >= 14
    assert audit.user_id == site.admin.id and audit.object_id == str(sample)
    assert audit.detail["mode"] == "ussd" and audit.detail["address"] == CODE
    assert "999000" not in audit.detail["phone"]  # masked


async def test_screens_page_with_00_and_back_with_0_as_on_a_handset(
    site: Site, sample: int
) -> None:
    csrf = await _signed_in(site)
    await _dial(site, csrf)
    arabic = await (await _send(site, csrf, "3")).json()
    assert arabic["screen"].endswith("00. المزيد") and arabic["limit"] == 80
    more = await (await _send(site, csrf, "00")).json()
    assert more["screen"].endswith("0. رجوع") and more["length"] <= 80
    back = await (await _send(site, csrf, "0")).json()
    assert back["screen"] == arabic["screen"]


async def test_without_javascript_the_forms_post_and_the_page_shows_the_screen(
    site: Site, sample: int
) -> None:
    csrf = await _signed_in(site)
    dialled = await site.client.post(
        "/admin/simulator/ussd/dial",
        data={"_csrf": csrf, "code": CODE, "phone": "+254 999 000 777"},
        allow_redirects=False,
    )
    assert dialled.status == 303 and dialled.headers["Location"] == "/admin/simulator"
    page = await (await site.client.get("/admin/simulator")).text()
    assert "Choose your language" in page and 'value="+254999000777"' in page
    hung_up = await site.client.post(
        "/admin/simulator/ussd/hang-up", data={"_csrf": csrf}, allow_redirects=False
    )
    assert hung_up.status == 303
    assert (
        "Dial a survey’s code to begin." in await (await site.client.get("/admin/simulator")).text()
    )


async def test_a_completed_test_number_hears_so_until_its_answers_are_forgotten(
    site: Site, sample: int, engine: AsyncEngine
) -> None:
    csrf = await _signed_in(site)
    await _dial(site, csrf)
    for typed in ["1", "2"]:  # English, then declines: the response ends
        refused = await (await _send(site, csrf, typed)).json()
    assert refused["final"] is True
    again = await (await _dial(site, csrf)).json()
    assert again["final"] is False  # declining is not completing: a new response begins
    for typed in [*ENGLISH_WORKING, "More tools"]:
        await _send(site, csrf, typed)
    completed = await (await _dial(site, csrf)).json()
    assert completed["final"] is True and "already" in completed["screen"]
    afresh = await (await _dial(site, csrf, forget="1")).json()
    assert afresh["screen"].startswith("Choose your language")
    async with engine.connect() as conn:
        forgotten = (
            await conn.execute(
                select(audit_log.c.detail)
                .where(audit_log.c.action == "simulator.start")
                .order_by(audit_log.c.id.desc())
            )
        ).first()
        left = (await conn.execute(select(responses.c.status))).scalars().all()
    assert forgotten.detail["forgotten"] == 2  # the declined response and the completed one
    assert left == ["in_progress"]


async def test_an_analyst_may_not_use_the_simulator(site: Site, sample: int) -> None:
    # The simulator writes respondents and responses (tests, but in the organisation's
    # data) and forgets them on request: an analyst reads and exports only.
    csrf = await _signed_in(site, site.analyst)
    assert (await site.client.get("/admin/simulator")).status == 403
    assert (await _dial(site, csrf)).status == 403
    assert (await site.client.get("/admin/simulator/voice")).status == 403
    home = await (await site.client.get("/admin/")).text()
    assert "Phone simulator" not in home


async def test_another_organisations_code_number_and_audio_are_refused(
    site: Site, sample: int, engine: AsyncEngine
) -> None:
    theirs = await import_survey(
        engine,
        markdown_to_xlsx(LEBANON_FORM),
        filename="vtc.xlsx",
        ussd_code="*384*999#",
        ivr_numbers=["4999"],
        roster_only=False,
        organisation="Lebanon VTC",
    )
    csrf = await _signed_in(site)
    page = await (await site.client.get("/admin/simulator")).text()
    assert "*384*999#" not in page
    refused = await site.client.post(
        "/admin/simulator/ussd/dial", data={"_csrf": csrf, "code": "*384*999#"}
    )
    assert refused.status == 404
    assert "belongs to another organisation" in await refused.text()
    called = await site.client.post(
        "/admin/simulator/voice/call", data={"_csrf": csrf, "number": "4999"}
    )
    assert called.status == 404
    played = await site.client.get(f"/admin/simulator/audio/{theirs.survey_id}/en/age.label")
    assert played.status == 404
    async with engine.connect() as conn:
        assert (await conn.execute(select(responses))).all() == []


async def test_a_graduates_number_and_bad_input_are_refused(
    site: Site, sample: int, engine: AsyncEngine
) -> None:
    csrf = await _signed_in(site)
    # A graduate who dialled in for real: the simulator must not answer for them.
    await _dial(site, csrf, phone="+254712345678")
    async with engine.begin() as conn:
        await conn.execute(
            respondents.update()
            .where(respondents.c.phone == "+254712345678")
            .values(attributes={}, name="Amina")
        )
    taken = await _dial(site, csrf, phone="+254712345678")
    assert taken.status == 409
    assert "graduate's number" in (await taken.json())["error"]

    not_a_number = await _dial(site, csrf, phone="call me")
    assert not_a_number.status == 400
    assert "not a phone number" in (await not_a_number.json())["error"]
    await site.client.post("/admin/simulator/ussd/hang-up", data={"_csrf": csrf})
    no_session = await _send(site, csrf, "1")
    assert no_session.status == 400 and "dial" in (await no_session.json())["error"]
    await _dial(site, csrf)
    too_long = await _send(site, csrf, "x" * 183)
    assert too_long.status == 400
    unknown = await site.client.post(
        "/admin/simulator/ussd/dial", data={"_csrf": csrf, "code": "*1*2#"}
    )
    assert unknown.status == 404
    no_token = await site.client.post(
        "/admin/simulator/ussd/send", data={"input": "1"}, headers=JSON
    )
    assert no_token.status == 403


# -- voice --------------------------------------------------------------------------------


@pytest.fixture
async def voice_site(
    aiohttp_client, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Site, AudioLibrary]]:
    """The service with an audio folder holding a few of the sample survey's prompts."""
    admin = await create_user(
        engine, email="officer@tvet.ke", organisation="Kenya TVET", role="admin", password=PASSWORD
    )
    await import_survey(
        engine,
        SAMPLE.read_bytes(),
        filename=SAMPLE.name,
        ussd_code=CODE,
        ivr_numbers=[IVR_NUMBER],
        roster_only=False,
        organisation="Kenya TVET",
    )
    library = AudioLibrary(tmp_path)
    index = {}
    for key in ("system.choose_language", "consent.label", "consent.choice.yes"):
        path = library.recording_file("graduate_tracer", "en", key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(silent_wav())
        index[key] = IndexEntry(library.relative("en", path), PromptSource.RECORDED, key)
    library.save_index("graduate_tracer", "en", index)
    settings = Settings(database_url=database_url, audio_dir=str(tmp_path))
    client = await aiohttp_client(create_app(settings))
    yield Site(client, admin, admin, admin), library


async def _keys(site: Site, csrf: str, keys: str = "", **extra: str) -> dict:
    sent = await site.client.post(
        "/admin/simulator/voice/keys", data={"_csrf": csrf, "keys": keys, **extra}, headers=JSON
    )
    assert sent.status == 200, await sent.text()
    return await sent.json()


async def test_a_voice_call_plays_the_prompts_in_order_and_takes_keys_as_the_ivr(
    voice_site: tuple[Site, AudioLibrary], engine: AsyncEngine
) -> None:
    site, _ = voice_site
    csrf = await _signed_in(site)
    called = await site.client.post(
        "/admin/simulator/voice/call",
        data={"_csrf": csrf, "number": IVR_NUMBER},
        headers=JSON,
    )
    menu = await called.json()
    assert menu["sounds"][0] == {
        "key": "system.choose_language",
        "language": "en",
        "text": "Choose your language",
        "url": "/admin/simulator/audio/1/en/system.choose_language",
    }
    assert [s["language"] for s in menu["sounds"]][:3] == ["en", "en", "en"]
    assert menu["input"]["type"] == "keys" and menu["input"]["max_digits"] == 1
    # The IVR skips a sound without a file, with a warning: so does the simulator.
    assert menu["sounds"][1]["url"] is None
    assert "the IVR skips them" in menu["warnings"][0]
    played = await site.client.get(menu["sounds"][0]["url"])
    assert played.status == 200 and played.content_type == "audio/wav"

    consent = await _keys(site, csrf, "1")
    assert [s["key"] for s in consent["sounds"][:2]] == ["consent.label", "consent.hint"]
    repeated = await _keys(site, csrf, "*")  # the repeat key: the same prompt again
    assert repeated["sounds"] == consent["sounds"]
    silent = await _keys(site, csrf, silence="1")  # no key: the IVR's re-prompt
    assert silent["sounds"][0]["key"] != "consent.label"
    for keys in ["1", "1", "4#", "1", "1", "2", "1", "4", "5"]:
        turn = await _keys(site, csrf, keys)
        assert turn["final"] is False, (keys, turn)
    turn = await _keys(site, csrf, "1")  # "Now rate yourself": any key
    for keys in ["3", "4", "5", "4"]:
        turn = await _keys(site, csrf, keys)
    assert turn["input"]["type"] == "record"
    ended = await _keys(site, csrf, "", text="More tools")
    assert ended["final"] is True and ended["input"] == {"type": "none"}
    assert ended["sounds"][0]["text"].startswith("Thank you")

    async with engine.connect() as conn:
        response = (await conn.execute(select(responses))).one()
        stored = dict((await conn.execute(select(answers.c.question, answers.c.value))).all())
        audit = (
            await conn.execute(select(audit_log).where(audit_log.c.action == "simulator.start"))
        ).one()
    assert (response.channel, response.status) == ("ivr", "complete")
    assert stored["months_to_job"] == "4" and stored["suggestion"] == "More tools"
    assert audit.detail["mode"] == "voice" and audit.detail["address"] == IVR_NUMBER


async def test_the_voice_page_without_javascript_lists_what_the_caller_hears(
    voice_site: tuple[Site, AudioLibrary],
) -> None:
    site, _ = voice_site
    csrf = await _signed_in(site)
    await site.client.post(
        "/admin/simulator/voice/call", data={"_csrf": csrf, "number": IVR_NUMBER}
    )
    page = await (await site.client.get("/admin/simulator/voice")).text()
    assert "Choose your language" in page
    assert 'src="/admin/simulator/audio/1/en/system.choose_language"' in page
    assert "no audio: skipped" in page
    hung_up = await site.client.post(
        "/admin/simulator/voice/hang-up", data={"_csrf": csrf}, headers=JSON
    )
    assert (await hung_up.json())["final"] is True
    missing = await site.client.get("/admin/simulator/audio/1/en/consent.hint")
    assert missing.status == 404
    escape = await site.client.get("/admin/simulator/audio/1/../system.choose_language")
    assert escape.status == 404


async def test_the_simulators_answers_are_left_out_of_results_and_dashboard_until_asked_for(
    site: Site, sample: int
) -> None:
    csrf = await _signed_in(site)
    await _dial(site, csrf)
    for typed in [*ENGLISH_WORKING, "More tools"]:
        await _send(site, csrf, typed)

    results = await (await site.client.get(f"/admin/results/{sample}")).text()
    assert "1 response given in the phone simulator is left out" in results
    assert "More tools" not in results
    only = await (await site.client.get(f"/admin/results/{sample}?tests=only")).text()
    assert "More tools" in only and "left out" not in only

    dashboard = await (await site.client.get(f"/admin/dashboard?survey={sample}")).text()
    assert "1 response given in the phone simulator is left out" in dashboard
    assert "in work related to the training (n = 0)" in dashboard
    tested = await (await site.client.get(f"/admin/dashboard?survey={sample}&tests=only")).text()
    assert "in work related to the training (n = 1)" in tested
    bad = await (await site.client.get(f"/admin/dashboard?survey={sample}&tests=all")).text()
    assert "Simulator test answers can be include or only, not &#39;all&#39;." in bad
