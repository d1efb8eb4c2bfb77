"""The results page and the exports: counts by status and channel, the answers table and
its filters, exports that parse back, masked phone numbers and audited unmasking."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from storage.schema import audit_log, respondents
from tests.admin.conftest import Site
from tests.admin.tracer_data import GRADUATES, seed_tracer


@pytest.fixture
async def tracer(site: Site, engine):
    return await seed_tracer(engine, "Kenya TVET", "Lebanon VTC")


async def _csv(response) -> list[dict[str, str]]:
    assert response.status == 200, await response.text()
    body = (await response.read()).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


async def _audit(engine) -> list[tuple[str, str, dict]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.action, audit_log.c.actor, audit_log.c.detail)
            .where(audit_log.c.action.like("export%"))
            .order_by(audit_log.c.id)
        )
        return [(row.action, row.actor, row.detail) for row in rows]


async def test_the_results_page_counts_responses_by_status_and_channel(site: Site, tracer) -> None:
    await site.sign_in(site.analyst)
    response = await site.client.get(f"/admin/results/{tracer.survey_id}?question=employed")
    assert response.status == 200
    page = html.unescape(await response.text())
    assert '<span class="big">16</span><span>responses</span>' in page  # the question: answers only
    assert "87.5 %</span><span>complete (n = 14)" in page
    assert "6.2 %</span><span>refused (n = 1)" in page
    # ivr: W1-W3's April responses, all complete.
    assert '<th scope="row">ivr</th><td>3</td>' in page
    # Phone numbers are masked in the table; choice names shown as labels.
    assert "+2547•••••001" in page and "+254700000001" not in page
    assert "Yes, for an employer" in page


async def test_the_answers_table_filters_and_pages(site: Site, tracer) -> None:
    await site.sign_in(site.admin)
    base = f"/admin/results/{tracer.survey_id}"
    page = await (await site.client.get(f"{base}?question=employed&channel=ivr")).text()
    assert page.count("<td>employed</td>") + page.count('">employed</td>') == 3
    page = await (await site.client.get(f"{base}?programme=Tailoring&status=in_progress")).text()
    assert '<span class="big">1</span><span>responses</span>' in page
    assert "+2547•••••013" in page
    page = await (await site.client.get(f"{base}?since=2026-04-01&until=2026-04-30")).text()
    assert '<span class="big">11</span><span>responses</span>' in page  # not January's 5
    page = await (await site.client.get(base)).text()
    assert "Older »" in page  # 77 answers, 50 a page
    older = page.split('href="?before=')[1].split("&")[0]
    second = await (await site.client.get(f"{base}?before={older}")).text()
    answers = second.split('class="answers"')[1].split("</table>")[0]
    assert answers.count("<tr>") - 1 == 77 - 50 and "« Newest" in second


async def test_bad_filters_are_named_and_left_out(site: Site, tracer) -> None:
    await site.sign_in(site.admin)
    response = await site.client.get(
        f"/admin/results/{tracer.survey_id}?since=yesterday&status=lost&channel=fax&before=x"
    )
    page = html.unescape(await response.text())
    assert response.status == 200
    assert "The from date 'yesterday' is not a date like 2026-03-31." in page
    assert "There is no status 'lost'." in page and "There is no channel 'fax'." in page
    assert '<span class="big">16</span>' in page  # the rest still shown


async def test_another_organisations_results_and_exports_are_not_found(site: Site, tracer) -> None:
    await site.sign_in(site.admin)
    theirs = tracer.other_survey_id
    for path in (
        f"/admin/results/{theirs}",
        f"/admin/results/{theirs}/export?format=csv",
        f"/admin/results/{theirs}/export?format=xlsx&shape=wide",
        "/admin/results/99999999999",
    ):
        response = await site.client.get(path)
        assert response.status == 404, path
        assert "belongs to another organisation" in await response.text()
    token = await site.csrf(f"/admin/results/{tracer.survey_id}")
    response = await site.client.post(
        f"/admin/results/{theirs}/export", data={"_csrf": token, "phones": "full"}
    )
    assert response.status == 404
    index = await (await site.client.get("/admin/results")).text()
    assert "graduate_tracer" in index and "lebanon_tracer" not in index


async def test_the_long_csv_export_is_the_commands_with_masked_numbers(
    site: Site, engine, tracer
) -> None:
    await site.sign_in(site.analyst)
    rows = await _csv(await site.client.get(f"/admin/results/{tracer.survey_id}/export"))
    assert len(rows) == tracer.total_answers
    assert list(rows[0]) == [
        "respondent", "question", "value", "channel", "response_status", "answered_at",
        "response_id", "survey_version", "language", "programme", "cohort", "kind",
    ]  # fmt: skip
    assert {row["respondent"] for row in rows} >= {"+2547•••••001", "+2547•••••021"}
    assert not any(row["respondent"].startswith("+25470000") for row in rows)
    formula = next(row for row in rows if row["question"] == "suggestion")
    assert formula["value"].startswith("'=")  # never run by a spreadsheet
    assert "Tripoli" not in str(rows)
    assert await _audit(engine) == [
        ("export", "analyst@tvet.ke",
         {"shape": "long", "format": "csv", "phones": "masked", "filters": {}}),
    ]  # fmt: skip


async def test_the_wide_xlsx_export_has_a_row_per_response_and_labels(
    site: Site, engine, tracer
) -> None:
    await site.sign_in(site.admin)
    response = await site.client.get(
        f"/admin/results/{tracer.survey_id}/export?shape=wide&format=xlsx&lang=fr&programme=Welding"
    )
    assert response.status == 200
    disposition = response.headers["Content-Disposition"]
    assert "graduate_tracer-wide-" in disposition and disposition.endswith('.xlsx"')
    book = load_workbook(io.BytesIO(await response.read()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[:4] == ("response_id", "respondent", "programme", "cohort")
    assert header[10:12] == ("ended_at", "opted_out_at")
    assert header[12:15] == ("consent", "employed", "months_to_job")
    assert "skills_intro" not in header  # a note has no answer
    assert len(body) == 5 + 6 + 1  # Welding: baselines, April's, W7's refusal
    w1 = next(r for r in body if r[1] == "+2547•••••001" and r[13] == "Oui, pour un employeur")
    assert w1[header.index("opted_out_at")] is None  # never asked to stop
    assert w1[header.index("satisfied")] == "D'accord"
    assert w1[header.index("months_to_job")] == "1"
    assert w1[header.index("suggestion")].startswith("'=")


async def test_an_admin_asks_for_full_numbers_and_it_is_audited(site: Site, engine, tracer) -> None:
    await site.sign_in(site.admin)
    path = f"/admin/results/{tracer.survey_id}/export"
    token = await site.csrf(f"/admin/results/{tracer.survey_id}")
    # A link cannot unmask: only the form's POST, with its token.
    rows = await _csv(await site.client.get(f"{path}?phones=full"))
    assert rows[0]["respondent"].count("•") == 5
    response = await site.client.post(
        path, data={"_csrf": token, "phones": "full", "shape": "wide", "format": "csv"}
    )
    rows = await _csv(response)
    assert {row["respondent"] for row in rows} >= {GRADUATES["W1"][0], GRADUATES["D1"][0]}
    assert len(rows) == tracer.total_responses
    actions = [(action, detail["phones"]) for action, _, detail in await _audit(engine)]
    assert actions == [("export", "masked"), ("export", "full"), ("export.unmasked", "full")]


async def test_an_analyst_cannot_unmask_and_a_post_needs_its_token(
    site: Site, engine, tracer
) -> None:
    await site.sign_in(site.analyst)
    path = f"/admin/results/{tracer.survey_id}/export"
    token = await site.csrf(f"/admin/results/{tracer.survey_id}")
    response = await site.client.post(path, data={"_csrf": token, "phones": "full"})
    assert response.status == 403
    response = await site.client.post(path, data={"phones": "full"})
    assert response.status == 403 and "expired" in await response.text()
    assert await _audit(engine) == []
    page = await (await site.client.get(f"/admin/results/{tracer.survey_id}")).text()
    assert 'name="phones"' not in page  # not offered


async def test_a_bad_export_request_is_refused_with_the_reason(site: Site, tracer) -> None:
    await site.sign_in(site.admin)
    response = await site.client.get(f"/admin/results/{tracer.survey_id}/export?format=pdf")
    assert response.status == 400 and "format is csv or xlsx" in await response.text()
    response = await site.client.get(f"/admin/results/{tracer.survey_id}/export?until=soon")
    assert response.status == 400 and "'soon' is not a date" in await response.text()


async def test_an_empty_survey_exports_a_header_only(
    site: Site, engine, xlsx_from_markdown
) -> None:
    from storage.surveys import import_survey

    empty = await import_survey(
        engine, xlsx_from_markdown("""
| survey   |
|          | type | name | label |
|          | text | town | Town? |
| settings |
|          | form_id |
|          | empty_one |
"""), filename="e.xlsx", ussd_code=None, roster_only=False, organisation="Kenya TVET",
    )  # fmt: skip
    await site.sign_in(site.admin)
    for shape in ("long", "wide"):
        response = await site.client.get(
            f"/admin/results/{empty.survey_id}/export?shape={shape}&format=xlsx"
        )
        rows = list(load_workbook(io.BytesIO(await response.read())).active.values)
        assert len(rows) == 1
    page = await (await site.client.get(f"/admin/results/{empty.survey_id}")).text()
    assert "No answers." in page


async def test_the_wide_export_says_who_asked_never_to_be_contacted(
    site: Site, engine, tracer
) -> None:
    stopped = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
    async with engine.begin() as conn:
        await conn.execute(
            update(respondents)
            .where(respondents.c.id == tracer.respondent_ids["W2"])
            .values(opted_out_at=stopped)
        )
    await site.sign_in(site.admin)
    rows = await _csv(
        await site.client.get(f"/admin/results/{tracer.survey_id}/export?shape=wide&format=csv")
    )
    out = {row["respondent"]: row["opted_out_at"] for row in rows}
    assert out["+2547•••••002"] == "2026-05-01T08:00:00Z"
    assert out["+2547•••••001"] == ""
