"""The Surveys pages: the list, uploading an XLSForm, one survey's bindings and status,
and the preview, as staff use them (the whole service, SQL or Redis sessions)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import FormData
from sqlalchemy import update

from storage.schema import survey_versions
from tests.admin.conftest import Site
from tests.conftest import markdown_to_xlsx

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "graduate_tracer.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

BROKEN = """
| survey |
|        | type           | name    | label::English (en) | relevant     |
|        | select_one yn  | consent | Do you agree?       |              |
|        | integer        | months  | How many months?    | ${employed} = 'yes' |
|        | select_one nope| sector  | Which sector?       |              |
| choices |
|         | list_name | name | label::English (en) |
|         | yn        | yes  | Yes                 |
| settings |
|          | form_id | version |
|          | broken  | 1       |
"""

LONG = """
| survey |
|        | type            | name    | label::English (en) | label::Kiswahili (sw) |
|        | select_one trade| trade   | Which trade did you train in at the centre? | Ulisomea fani gani chuoni? |
|        | integer         | months  | How many months did it take to find work?   | Ilichukua miezi mingapi kupata kazi? |
| choices |
|         | list_name | name | label::English (en) | label::Kiswahili (sw) |
|         | trade     | t1   | Electrical installation and maintenance of buildings | Umeme wa majengo |
|         | trade     | t2   | Plumbing, pipe fitting and water systems technology | Mabomba |
|         | trade     | t3   | Motor vehicle mechanics and automotive electrics | Ufundi magari |
|         | trade     | t4   | Welding and metal fabrication for construction sites | Uchomeleaji |
|         | trade     | t5   | Hairdressing, beauty therapy and salon management | Urembo |
| settings |
|          | form_id | version | default_language |
|          | trades  | 1       | English (en)     |
"""


@pytest.fixture(autouse=True)
def _audio_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # AUDIO_DIR defaults to var/audio under the working folder: keep it out of the tree.
    monkeypatch.chdir(tmp_path)


async def upload(site: Site, data: bytes, filename: str = "form.xlsx", **fields: str):
    form = FormData()
    form.add_field("_csrf", await site.csrf("/admin/surveys"))
    form.add_field("form", data, filename=filename, content_type=XLSX)
    for name, value in fields.items():
        form.add_field(name, value)
    return await site.client.post("/admin/surveys", data=form, allow_redirects=False)


async def sample_survey(site: Site) -> str:
    """The sample survey uploaded by Kenya TVET's admin; its page's path."""
    await site.sign_in(site.admin)
    answer = await upload(site, SAMPLE.read_bytes(), "graduate_tracer.xlsx")
    assert answer.status == 303, await answer.text()
    return answer.headers["Location"].split("?")[0]


async def post(site: Site, path: str, page: str | None = None, **fields: str):
    token = await site.csrf(page or path.rsplit("/", 1)[0])
    return await site.client.post(path, data={"_csrf": token, **fields}, allow_redirects=False)


async def test_an_admin_uploads_the_sample_survey_sees_it_listed_and_the_upload_audited(
    site: Site,
) -> None:
    path = await sample_survey(site)
    page = await (await site.client.get(path + "?uploaded=new")).text()
    assert "Version 2026.2 uploaded" in page
    assert "English, Français, العربية, Kiswahili" in page
    listed = await (await site.client.get("/admin/surveys")).text()
    assert "graduate_tracer" in listed and "2026.2" in listed and "published" in listed
    # The same file again changes nothing, and says so.
    again = await upload(site, SAMPLE.read_bytes(), "graduate_tracer.xlsx")
    assert again.headers["Location"].endswith("?uploaded=same")
    audit = await (await site.client.get("/admin/audit")).text()
    assert audit.count("survey.upload") == 2


async def test_a_broken_xlsform_lists_every_error_by_sheet_row_and_column(site: Site) -> None:
    await site.sign_in(site.admin)
    answer = await upload(site, markdown_to_xlsx(BROKEN), "broken.xlsx")
    assert answer.status == 422
    page = await answer.text()
    assert "broken.xlsx was not imported: the form has 2 errors" in page
    rows = re.findall(r"<tr><td>(\w+)</td><td>(\d*)</td><td>([^<]*)</td><td>", page)
    assert ("survey", "3", "relevant") in rows  # ${employed} names no question
    assert ("survey", "4", "type") in rows  # the list 'nope' does not exist
    assert "No survey yet" in page  # nothing was stored


async def test_a_file_that_is_not_an_xlsform_and_a_version_conflict_are_refused_politely(
    site: Site,
) -> None:
    await site.sign_in(site.admin)
    answer = await upload(site, b"name,phone\n", "roster.csv")
    assert answer.status == 422
    assert "roster.csv is not an XLSForm: send a .xlsx or .xls file." in await answer.text()
    assert (await upload(site, markdown_to_xlsx(LONG), "trades.xlsx")).status == 303
    changed = markdown_to_xlsx(LONG.replace("Which trade", "What trade"))
    conflict = await upload(site, changed, "trades.xlsx")
    assert conflict.status == 422
    assert "version &#39;1&#39; is already imported from a different file" in await conflict.text()


async def test_an_oversized_upload_gets_the_file_too_large_page(site: Site) -> None:
    await site.sign_in(site.admin)
    answer = await upload(site, b"\0" * (20 * 1024 * 1024 + 1), "huge.xlsx")
    assert answer.status == 413
    assert "The file is larger than the service accepts." in await answer.text()


async def test_binding_a_ussd_code_reaches_the_survey_and_closing_it_refuses_new_callers(
    site: Site,
) -> None:
    path = await sample_survey(site)
    bound = await post(site, path + "/bindings", path, channel="ussd", address=" *384*77# ")
    assert bound.headers["Location"].endswith("?done=bound")
    page = await (await site.client.get(path)).text()
    assert "*384*77#" in page and "any number" in page

    async def dial(session: str) -> str:
        answer = await site.client.post(
            "/ussd/africastalking",
            data={
                "sessionId": session,
                "serviceCode": "*384*77#",
                "phoneNumber": "+254711000001",
                "text": "",
            },
        )
        return await answer.text()

    assert (await dial("S1")).startswith("CON")
    closed = await post(site, path + "/status", path, action="close")
    assert closed.headers["Location"].endswith("?done=closed")
    assert await dial("S2") == "END Sorry, this survey is closed. Thank you for your interest."
    listed = await (await site.client.get("/admin/surveys")).text()
    assert "status-closed" in listed
    await post(site, path + "/status", path, action="publish")
    assert (await dial("S3")).startswith("CON")
    removed = await post(site, path + "/unbind", path, channel="ussd", address="*384*77#")
    assert removed.headers["Location"].endswith("?done=unbound")
    assert (await dial("S4")).startswith("END Sorry, this code is not in use.")
    audit = await (await site.client.get("/admin/audit")).text()
    for action in ("survey.bind", "survey.close", "survey.publish", "survey.unbind"):
        assert action in audit


async def test_codes_and_numbers_are_checked_as_the_command_line_checks_them(site: Site) -> None:
    path = await sample_survey(site)
    bad_code = await post(site, path + "/bindings", path, channel="ussd", address="384*77")
    assert bad_code.status == 422
    assert "USSD code &#39;384*77&#39; is not valid" in await bad_code.text()
    bad_number = await post(site, path + "/bindings", path, channel="ivr", address="call me")
    assert bad_number.status == 422
    ivr = await post(
        site, path + "/bindings", path, channel="ivr", address="4000", roster_only="on"
    )
    assert ivr.status == 303
    assert "roster only" in await (await site.client.get(path)).text()
    # Lebanon VTC cannot take Kenya TVET's number for a survey of its own.
    await site.client.post("/admin/logout", data={"_csrf": await site.csrf("/admin/")})
    await site.sign_in(site.other)
    theirs = await upload(site, markdown_to_xlsx(LONG), "trades.xlsx")
    other_path = theirs.headers["Location"].split("?")[0]
    taken = await post(site, other_path + "/bindings", other_path, channel="ivr", address="4000")
    assert taken.status == 422
    assert "reaches a survey of another organisation" in await taken.text()


async def test_an_analyst_reads_the_surveys_but_cannot_upload_bind_publish_or_close(
    site: Site,
) -> None:
    path = await sample_survey(site)
    await site.client.post("/admin/logout", data={"_csrf": await site.csrf("/admin/")})
    await site.sign_in(site.analyst)
    listed = await (await site.client.get("/admin/surveys")).text()
    assert "graduate_tracer" in listed and "Upload an XLSForm" not in listed
    assert (await site.client.get(path)).status == 200
    assert (await site.client.get(path + "/preview")).status == 200
    assert (await upload(site, markdown_to_xlsx(LONG), "trades.xlsx")).status == 403
    for action, fields in (
        ("/bindings", {"channel": "ussd", "address": "*384*9#"}),
        ("/unbind", {"channel": "ussd", "address": "*384*9#"}),
        ("/status", {"action": "close"}),
    ):
        assert (await post(site, path + action, path, **fields)).status == 403


async def test_another_organisations_survey_is_not_found_whatever_the_id(site: Site) -> None:
    path = await sample_survey(site)
    await site.client.post("/admin/logout", data={"_csrf": await site.csrf("/admin/")})
    await site.sign_in(site.other)
    assert "graduate_tracer" not in await (await site.client.get("/admin/surveys")).text()
    for page in ("", "/preview", "/audio", "/audio/render", "/audio/en/consent.label"):
        answer = await site.client.get(path + page)
        assert answer.status == 404, page
        assert "belongs to another organisation" in await answer.text()
    token = await site.csrf("/admin/surveys")
    for action, fields in (
        ("/bindings", {"channel": "ussd", "address": "*384*9#"}),
        ("/status", {"action": "close"}),
        ("/audio/render", {"engine": "espeak"}),
    ):
        answer = await site.client.post(path + action, data={"_csrf": token, **fields})
        assert answer.status == 404, action
    assert (await site.client.get("/admin/surveys/99999999999999")).status == 404


async def test_the_preview_pages_each_question_as_ussd_screens_and_lists_its_voice_prompts(
    site: Site,
) -> None:
    await site.sign_in(site.admin)
    answer = await upload(site, markdown_to_xlsx(LONG), "trades.xlsx")
    path = answer.headers["Location"].split("?")[0]
    page = await (await site.client.get(path + "/preview")).text()
    screens = re.findall(r'<pre class="screen" dir="auto">(.*?)</pre>', page, re.S)
    # The language menu, the five long trades over two screens, then the months.
    assert screens[0].startswith("Choose your language")
    assert screens[1].startswith("Which trade did you train in at the centre?\n1. Electrical")
    assert screens[1].endswith("00. More") and screens[2].endswith("0. Back")
    assert "5. Hairdressing, beauty therapy and salon management" in screens[2]
    assert all(len(s) <= 182 for s in screens)
    assert "Screen 1 of 2" in page
    # The voice plan: the question, then "For <choice>, press <n>" for each choice.
    assert re.search(
        r"Which trade did you train in at the centre\?</span></li>\s*<li><span[^>]*>For", page
    )
    assert "no audio yet" in page and "Play in order" not in page  # nothing rendered
    swahili = await (await site.client.get(path + "/preview?language=sw")).text()
    assert "Ulisomea fani gani chuoni?" in swahili


async def test_a_stored_version_that_no_longer_compiles_gets_a_page_saying_so(
    site: Site, engine
) -> None:
    path = await sample_survey(site)
    survey_id = int(path.rstrip("/").rsplit("/", 1)[1])
    # As if a later release read the stored form differently: its source is unreadable.
    async with engine.begin() as conn:
        await conn.execute(update(survey_versions).values(source=b"not a workbook any more"))
    for page in (path, f"/admin/results/{survey_id}", f"/admin/dashboard?survey={survey_id}"):
        response = await site.client.get(page)
        text = await response.text()
        assert response.status == 409, page
        assert "This survey version does not load" in text
        assert "Upload a corrected version on the Surveys page" in text
