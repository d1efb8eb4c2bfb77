"""The respondents pages (issue 16): a roster imported through a preview, the list with
search and filters, one respondent's responses with playable voice answers, deletion on
request, and phone numbers shown only when an admin asks (audited)."""

from __future__ import annotations

import datetime as dt
import re
import wave
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.respondents import import_respondents
from storage.responses import SqlResponseStore
from storage.schema import admin_uploads, answers, audit_log, respondents, responses
from storage.studies import store_study
from storage.surveys import import_survey
from survey_engine.events import AnswerGiven, AnswerKind
from tests.admin.conftest import Site
from tests.waves.at_standin import AtStandin
from waves.sms import AfricasTalkingSms
from waves.study import read_study
from waves.worker import tick

T0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
HEADER = "phone,name,language,programme,cohort,completion_date,gender,district\n"
ROSTER = (
    HEADER
    + "+254712300481,Wanjiru Kamau,sw,Tailoring,2025-B,2026-01-30,F,Kisumu Central\n"
    + "+254722845016,Brian Otieno,en,Solar PV installation,2025-B,2026-01-30,M,Nakuru\n"
    + "+255754218733,Neema Mushi,sw,ICT support,2025-C,2026-02-27,F,Arusha City\n"
)
TRACER = """
| survey |
| | type | name | label::English (en) | label::Kiswahili (sw) |
| | select_one yn | employed | Are you working now? | Je, unafanya kazi sasa? |
| | text | job | What is your job? | Kazi yako ni nini? |

| choices |
| | list_name | name | label::English (en) | label::Kiswahili (sw) |
| | yn | yes | Yes | Ndiyo |
| | yn | no | No | Hapana |

| settings |
| | form_id | version |
| | tracer | 1 |
"""
_TOKEN = re.compile(r'name="upload" value="([^"]+)"')


async def _import(site: Site, engine: AsyncEngine, csv: str = ROSTER) -> None:
    await import_respondents(
        engine, csv.encode(), filename="roster.csv", default_region="KE",
        organisation=site.admin.organisation_id,
    )  # fmt: skip


async def _preview(site: Site, content: bytes, filename: str = "roster.csv"):
    from aiohttp import FormData

    form = FormData()
    form.add_field("_csrf", await site.csrf("/admin/respondents/import"))
    form.add_field("roster", content, filename=filename, content_type="text/csv")
    return await site.client.post("/admin/respondents/import", data=form)


async def _id_of(engine: AsyncEngine, phone: str) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(respondents.c.id).where(respondents.c.phone == phone))


async def _audit(engine: AsyncEngine, action: str) -> list:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
            )
        ).all()


async def _answered(
    site: Site, engine: AsyncEngine, xlsx_from_markdown, recordings_dir: str
) -> tuple[int, int, int]:
    """Wanjiru answered the tracer on USSD (completed) and again by voice (a recording
    on disk): (respondent id, typed answer id, recorded answer id)."""
    await _import(site, engine)
    survey = await import_survey(
        engine, xlsx_from_markdown(TRACER), filename="tracer.xlsx", ussd_code="*384*9#",
        roster_only=False, organisation=site.admin.organisation_id,
    )  # fmt: skip
    person = await _id_of(engine, "+254712300481")
    store = SqlResponseStore(engine)
    try:
        first = await store.start_response(
            respondent_id=person, version_id=survey.version_id, channel="ussd",
            session_ref="S1", language="sw", turn_ref="", now=T0,
        )  # fmt: skip
        await store.record_turn(first.id, [AnswerGiven("employed", "yes")], turn_ref="1", now=T0)
        later = T0 + dt.timedelta(days=90)
        second = await store.start_response(
            respondent_id=person, version_id=survey.version_id, channel="ivr",
            session_ref="C1", language="en", turn_ref="", now=later,
        )  # fmt: skip
        ref = f"tracer/{second.id}/job-0a1b2c3d"
        await store.record_turn(
            second.id, [AnswerGiven("job", ref, AnswerKind.RECORDING)], turn_ref="1", now=later
        )
    finally:
        await store.close()
    async with engine.begin() as conn:
        await conn.execute(
            update(responses).where(responses.c.id == first.id).values(status="complete")
        )
        ids = dict(
            (await conn.execute(select(answers.c.question, answers.c.id))).all()  # type: ignore[arg-type]
        )
    _write_take(Path(recordings_dir, *ref.split("/")).with_suffix(".wav"))
    return person, ids["employed"], ids["job"]


def _write_take(path: Path) -> None:
    """A tenth of a second of sound where Asterisk would have recorded the answer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as take:
        take.setnchannels(1)
        take.setsampwidth(2)
        take.setframerate(8000)
        take.writeframes(b"\x00\x10" * 800)


def _takes(recordings_dir: str) -> list[Path]:
    return list(Path(recordings_dir).rglob("*.wav"))


# -- import ---------------------------------------------------------------------------


async def test_a_roster_with_bad_numbers_is_previewed_and_its_good_rows_imported(
    site: Site, engine: AsyncEngine
) -> None:
    await _import(site, engine, HEADER + "+254712300481,Wanjiru,sw,Tailoring,2025-B,,F,\n")
    await site.sign_in(site.admin)
    roster = (
        HEADER
        + "+254712300481,Wanjiru Kamau,sw,Tailoring,2025-B,2026-01-30,F,Kisumu Central\n"
        + "12345,Bad Number,en,ICT support,2025-C,2026-02-27,F,Arusha\n"
        + "+255754218733,Neema Mushi,sw,ICT support,2025-C,2026-02-27,F,Arusha City\n"
        + "+2547123,Short Number,sw,ICT support,2025-C,2026-02-31,M,Mbeya\n"
    )
    preview = await _preview(site, roster.encode())
    page = await preview.text()
    assert preview.status == 200
    assert "<strong>1</strong> new respondent" in page
    assert "<strong>1</strong> already on the roster, to update" in page
    assert "<strong>2</strong> rows with problems, left out" in page
    # Every bad row by line and column: the header is line 1.
    problems = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert [(line, column) for line, column, _ in problems] == [
        ("3", "phone"),
        ("5", "phone"),
        ("5", "completion_date"),
    ]
    assert "&#39;12345&#39; is not a phone number" in page or "is not a valid phone number" in page
    assert "Import 2 rows, leave out 2" in page
    async with engine.connect() as conn:  # nothing stored before the officer confirms
        assert await conn.scalar(select(respondents.c.name)) == "Wanjiru"
        assert len((await conn.execute(select(respondents))).all()) == 1

    token = _TOKEN.search(page).group(1)
    csrf = await site.csrf("/admin/respondents/import")
    done = await site.client.post(
        "/admin/respondents/import/confirm", data={"_csrf": csrf, "upload": token}
    )
    text = await done.text()
    assert done.status == 200
    assert "roster.csv is imported: 1 new respondent, 1 updated; 2 rows with problems" in text
    async with engine.connect() as conn:
        names = set((await conn.scalars(select(respondents.c.name))).all())
        assert names == {"Wanjiru Kamau", "Neema Mushi"}
        assert (await conn.execute(select(admin_uploads))).first() is None  # taken
    [entry] = await _audit(engine, "respondents.import")
    assert entry.user_id == site.admin.id and entry.organisation_id == site.admin.organisation_id
    assert entry.detail["created"] == 1 and entry.detail["updated"] == 1
    assert entry.detail["rows_left_out"] == 2 and entry.detail["file"] == "roster.csv"

    # A second click on Import imports nothing more.
    again = await site.client.post(
        "/admin/respondents/import/confirm", data={"_csrf": csrf, "upload": token}
    )
    assert again.status == 409 and "expired or was imported already" in await again.text()
    assert len(await _audit(engine, "respondents.import")) == 1


async def test_an_excel_roster_is_previewed_too(site: Site, engine: AsyncEngine) -> None:
    import io

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Phone", "Name", "Programme"])
    book.active.append(["+254712300481", "Wanjiru", "Tailoring"])
    book.active.append(["not a number", "Nobody", "Tailoring"])
    out = io.BytesIO()
    book.save(out)
    await site.sign_in(site.admin)
    page = await (await _preview(site, out.getvalue(), "roster.xlsx")).text()
    assert "<strong>1</strong> new respondent" in page
    assert "<tr><td>3</td><td>Phone</td>" in page  # the column as the file names it


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"", "roster.csv", "roster.csv is empty."),
        (b"\xd0\xcf\x11\xe0old excel", "roster.xls", "old Excel (.xls) file"),
        (b"PK\x03\x04 not really", "roster.xlsx", "not an Excel workbook"),
        (b"name,district\nWanjiru,Kisumu\n", "roster.csv", "no &#39;phone&#39; column"),
    ],
)
async def test_a_file_that_is_no_roster_is_refused_politely(
    site: Site, content: bytes, filename: str, message: str
) -> None:
    await site.sign_in(site.admin)
    response = await _preview(site, content, filename)
    page = await response.text()
    assert message in page
    assert 'name="upload"' not in page  # nothing to confirm


async def test_a_preview_opens_only_for_the_officer_who_sent_it(
    site: Site, engine: AsyncEngine
) -> None:
    await site.sign_in(site.admin)
    page = await (await _preview(site, ROSTER.encode())).text()
    token = _TOKEN.search(page).group(1)
    await site.client.post("/admin/logout", data={"_csrf": await site.csrf("/admin/")})
    await site.sign_in(site.other)  # an admin of another organisation
    refused = await site.client.post(
        "/admin/respondents/import/confirm",
        data={"_csrf": await site.csrf("/admin/"), "upload": token},
    )
    assert refused.status == 409
    forged = await site.client.post(
        "/admin/respondents/import/confirm",
        data={"_csrf": await site.csrf("/admin/"), "upload": "made-up"},
    )
    assert forged.status == 409
    async with engine.connect() as conn:
        assert (await conn.execute(select(respondents))).first() is None


async def test_an_analyst_cannot_import_unmask_or_delete(site: Site, engine: AsyncEngine) -> None:
    await _import(site, engine)
    person = await _id_of(engine, "+254712300481")
    await site.sign_in(site.analyst)
    csrf = await site.csrf("/admin/respondents")
    assert (await site.client.get("/admin/respondents/import")).status == 403
    assert (await _preview(site, ROSTER.encode())).status == 403
    for path in (
        "/admin/respondents/import/confirm",
        "/admin/respondents/numbers",
        f"/admin/respondents/{person}/number",
        f"/admin/respondents/{person}/delete",
    ):
        response = await site.client.post(path, data={"_csrf": csrf, "confirm": "delete"})
        assert response.status == 403, path
    assert (await site.client.get(f"/admin/respondents/{person}/delete")).status == 403
    assert await _id_of(engine, "+254712300481") == person  # still there
    # Reading is theirs: the list and the page, numbers masked, no admin buttons.
    page = await (await site.client.get("/admin/respondents")).text()
    assert "Wanjiru Kamau" in page and "+254 7•• ••• 481" in page
    assert "Show phone numbers" not in page and "Import a roster" not in page
    detail = await (await site.client.get(f"/admin/respondents/{person}")).text()
    assert "Show number" not in detail and "Delete…" not in detail


# -- the list -------------------------------------------------------------------------


async def test_the_list_searches_and_filters_with_numbers_masked(
    site: Site, engine: AsyncEngine, xlsx_from_markdown, recordings_dir
) -> None:
    await _answered(site, engine, xlsx_from_markdown, recordings_dir)  # Wanjiru: in progress
    await import_respondents(  # another organisation's graduate never shows
        engine, (HEADER + "+254733111222,Other Agency Person,,Tailoring,2025-B,,,\n").encode(),
        filename="r.csv", default_region="KE", organisation=site.other.organisation_id,
    )  # fmt: skip
    await site.sign_in(site.admin)

    async def names(query: str) -> list[str]:
        page = await (await site.client.get(f"/admin/respondents{query}")).text()
        return re.findall(r'<a href="/admin/respondents/\d+">([^<]+)</a>', page)

    assert await names("") == ["Brian Otieno", "Neema Mushi", "Wanjiru Kamau"]
    assert await names("?q=wanj") == ["Wanjiru Kamau"]
    assert await names("?q=0722+845+016") == []  # no default region: a national number is no number
    assert await names("?q=845016") == ["Brian Otieno"]  # digits of the number
    assert await names("?q=%2B255754218733") == ["Neema Mushi"]  # the whole number
    assert await names("?programme=ICT+support") == ["Neema Mushi"]
    assert await names("?cohort=2025-B") == ["Brian Otieno", "Wanjiru Kamau"]
    assert await names("?status=in_progress") == ["Wanjiru Kamau"]  # her latest response
    assert await names("?status=complete") == []  # an earlier one was, not the latest
    assert await names("?status=none") == ["Brian Otieno", "Neema Mushi"]
    assert await names("?status=nonsense&q=%25") == []  # % is a character, not a wildcard

    page = await (await site.client.get("/admin/respondents")).text()
    assert "+254 7•• ••• 481" in page and "712300481" not in page and "712 300481" not in page
    assert '<span class="status status-in_progress">In progress</span>' in page
    assert "3 respondents" in page
    assert "<option>Tailoring</option>" in page
    assert "<option>2025-C</option>" in page


async def test_an_admin_asks_to_see_the_numbers_and_it_is_audited(
    site: Site, engine: AsyncEngine
) -> None:
    await _import(site, engine)
    await site.sign_in(site.admin)
    csrf = await site.csrf("/admin/respondents")
    response = await site.client.post(
        "/admin/respondents/numbers", data={"_csrf": csrf, "programme": "Tailoring"}
    )
    page = await response.text()
    assert response.status == 200
    assert "+254 712 300481" in page and "Brian" not in page  # the filter is kept
    [entry] = await _audit(engine, "phone.unmask")
    person = await _id_of(engine, "+254712300481")
    assert entry.detail == {"respondents": [person]} and entry.user_id == site.admin.id

    detail = await site.client.post(f"/admin/respondents/{person}/number", data={"_csrf": csrf})
    assert "+254 712 300481" in await detail.text()
    entries = await _audit(engine, "phone.unmask")
    assert (entries[-1].object_kind, entries[-1].object_id) == ("respondent", str(person))


async def test_a_long_roster_is_paged(site: Site, engine: AsyncEngine) -> None:
    rows = "".join(f"+2547123{n:05d},Graduate {n:03d},,Tailoring,2025-B,,,\n" for n in range(120))
    await _import(site, engine, HEADER + rows)
    await site.sign_in(site.admin)
    first = await (await site.client.get("/admin/respondents")).text()
    assert "120 respondents · page 1 of 3" in first and "Graduate 049" in first
    assert "Graduate 050" not in first
    assert 'href="/admin/respondents?page=2" rel="next"' in first
    third = await (await site.client.get("/admin/respondents?page=3")).text()
    assert "Graduate 119" in third and 'rel="next"' not in third
    beyond = await (await site.client.get("/admin/respondents?page=99")).text()
    assert "page 3 of 3" in beyond  # the last page, not an empty one
    assert (await site.client.get("/admin/respondents?page=x")).status == 200


# -- one respondent -------------------------------------------------------------------


async def test_a_respondents_page_shows_each_response_in_the_chosen_language(
    site: Site, engine: AsyncEngine, xlsx_from_markdown, recordings_dir
) -> None:
    person, employed, job = await _answered(site, engine, xlsx_from_markdown, recordings_dir)
    await site.sign_in(site.analyst)  # reading is an analyst's too
    page = await (await site.client.get(f"/admin/respondents/{person}")).text()
    assert "Wanjiru Kamau" in page and "+254 7•• ••• 481" in page and "Kisumu Central" in page
    # Her language (sw) first; the USSD response complete, the voice one in progress.
    assert "Je, unafanya kazi sasa?" in page and "Ndiyo" in page
    assert page.index("In progress") < page.index("Complete")  # newest first
    assert f'<audio controls preload="none" src="/admin/respondents/recordings/{job}.wav">' in page
    english = await (await site.client.get(f"/admin/respondents/{person}?lang=en")).text()
    assert "Are you working now?" in english and "<td>Yes</td>" in english
    assert "Consent" in english and "Not asked yet" in english

    audio = await site.client.get(f"/admin/respondents/recordings/{job}.wav")
    assert audio.status == 200 and audio.headers["Content-Type"] == "audio/wav"
    assert (await audio.read()).startswith(b"RIFF")
    # A typed answer is no file, and a missing file is no page.
    assert (await site.client.get(f"/admin/respondents/recordings/{employed}.wav")).status == 404
    for wav in _takes(recordings_dir):
        wav.unlink()
    assert (await site.client.get(f"/admin/respondents/recordings/{job}.wav")).status == 404


async def test_another_organisations_respondent_and_recording_are_not_found(
    site: Site, engine: AsyncEngine, xlsx_from_markdown, recordings_dir
) -> None:
    person, _, job = await _answered(site, engine, xlsx_from_markdown, recordings_dir)
    await site.sign_in(site.other)
    csrf = await site.csrf("/admin/respondents")
    for path in (
        f"/admin/respondents/{person}",
        f"/admin/respondents/{person}/delete",
        f"/admin/respondents/recordings/{job}.wav",
        "/admin/respondents/9999999999",  # beyond any id
    ):
        response = await site.client.get(path)
        assert response.status == 404, path
        assert "belongs to another organisation" in await response.text()
    for path in (f"/admin/respondents/{person}/delete", f"/admin/respondents/{person}/number"):
        response = await site.client.post(path, data={"_csrf": csrf, "confirm": "delete"})
        assert response.status == 404, path
    assert await _id_of(engine, "+254712300481") == person
    assert "Wanjiru" not in await (await site.client.get("/admin/respondents")).text()
    assert await _audit(engine, "phone.unmask") == []


# -- deletion on request --------------------------------------------------------------


async def test_an_admin_deletes_a_respondent_with_answers_and_recordings(
    site: Site, engine: AsyncEngine, xlsx_from_markdown, recordings_dir
) -> None:
    person, _, _ = await _answered(site, engine, xlsx_from_markdown, recordings_dir)
    [recording] = _takes(recordings_dir)
    await site.sign_in(site.admin)
    confirm = await (await site.client.get(f"/admin/respondents/{person}/delete")).text()
    assert "2 responses with every answer" in confirm and "1 voice recording," in confirm
    csrf = await site.csrf("/admin/respondents")
    unticked = await site.client.post(
        f"/admin/respondents/{person}/delete", data={"_csrf": csrf}, allow_redirects=False
    )
    assert unticked.status == 303 and unticked.headers["Location"].endswith("/delete")
    assert await _id_of(engine, "+254712300481") == person

    done = await site.client.post(
        f"/admin/respondents/{person}/delete",
        data={"_csrf": csrf, "confirm": "delete"},
        allow_redirects=False,
    )
    assert done.status == 303 and done.headers["Location"] == "/admin/respondents?deleted=1"
    listed = await (await site.client.get(done.headers["Location"])).text()
    assert "The respondent was deleted" in listed and "Wanjiru" not in listed
    async with engine.connect() as conn:
        assert await _id_of(engine, "+254712300481") is None
        assert (await conn.execute(select(responses))).first() is None
        assert (await conn.execute(select(answers))).first() is None
        assert len((await conn.execute(select(respondents))).all()) == 2  # the others stay
    assert _takes(recordings_dir) == [] and recording.name.startswith("job-")
    [entry] = await _audit(engine, "respondent.delete")
    assert (entry.object_kind, entry.object_id) == ("respondent", str(person))
    assert entry.detail == {"responses": 2, "answers": 2, "calls": 0, "recordings": 1}
    assert "+254" not in str(entry.detail) and "Wanjiru" not in str(entry.detail)
    gone = await site.client.get(f"/admin/respondents/{person}")
    assert gone.status == 404


async def test_a_respondents_page_shows_their_invitations_opt_out_and_zone(
    site: Site, engine: AsyncEngine, xlsx_from_markdown
) -> None:
    await _import(site, engine)
    await import_survey(
        engine, xlsx_from_markdown(TRACER), filename="tracer.xlsx", ussd_code="*384*55#",
        roster_only=False, organisation=site.admin.organisation_id,
    )  # fmt: skip
    study = (
        'name = "tracer-2026"\nsurvey = "tracer"\nwaves = [{ name = "3 months", offset = "3m" }]\n'
    )
    await store_study(engine, read_study(study), study, organisation=site.admin.organisation_id)
    with AtStandin() as standin:
        sms = AfricasTalkingSms("sandbox", "test-key", base_url=standin.url)
        # 30 April, 09:00 in Nairobi: Wanjiru's 3-month wave (finished 30 January).
        await tick(engine, sms, dt.datetime(2026, 4, 30, 6, tzinfo=dt.UTC))
    wanjiru = await _id_of(engine, "+254712300481")
    async with engine.begin() as conn:
        await conn.execute(
            respondents.update().where(respondents.c.id == wanjiru).values(opted_out_at=T0)
        )
    await site.sign_in(site.analyst)
    page = await (await site.client.get(f"/admin/respondents/{wanjiru}")).text()
    assert "Opted out</strong> on 2026-03-02: never invited or called again" in page
    assert "Africa/Nairobi" in page
    assert "Invitations (1)" in page and "tracer-2026" in page and "3 months" in page
    assert "<td>sent</td>" in page
    # Another organisation's staff never see them.
    await site.sign_in(site.other)
    assert (await site.client.get(f"/admin/respondents/{wanjiru}")).status == 404
