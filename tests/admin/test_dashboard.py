"""The outcomes dashboard: figures counted on a small study known by hand, small cells
hidden with their reason, and each organisation's own."""

from __future__ import annotations

import html
import json
import re

import pytest

from storage.outcomes import IndicatorMap, indicator_map, outcomes
from storage.results import ResultFilter
from storage.surveys import load_stored_form
from tests.admin.conftest import Site
from tests.admin.tracer_data import SAMPLE, seed_tracer


@pytest.fixture
async def tracer(site: Site, engine):
    return await seed_tracer(engine, "Kenya TVET", "Lebanon VTC")


def _form():
    return load_stored_form(SAMPLE.read_bytes(), "graduate_tracer")


async def test_the_outcomes_of_a_known_study_by_programme(site: Site, engine, tracer) -> None:
    form = _form()
    found = await outcomes(
        engine, site.admin.organisation_id, form, tracer.survey_id, indicator_map(form)
    )
    welding = next(g for g in found.groups if g.name == "Welding")
    assert (welding.invited, welding.completed, welding.refused) == (8, 6, 1)
    assert welding.response_rate.percent == 75.0 and welding.refusal_rate.percent == 12.5
    assert welding.respondents == 6  # W1-W5 answered twice: counted once, from April
    assert (welding.employment_answered, welding.wage, welding.self_employed) == (6, 3, 2)
    assert welding.employment_rate.percent == 83.3
    assert welding.wage_rate.percent == 50.0 and welding.self_employment_rate.percent == 33.3
    assert welding.relevant_employment.count == 3  # W1, W3, W5 ("some" is not related)
    assert welding.relevant_employment.percent == 50.0
    assert welding.median_months == 3.0  # 1, 2, 3, 4, 7
    assert welding.within(3).percent == 60.0 and welding.within(6).percent == 80.0
    assert welding.further_education.count == 1

    tailoring = next(g for g in found.groups if g.name == "Tailoring")
    assert tailoring.respondents == 2
    assert tailoring.employment_rate.hidden and tailoring.employment_rate.percent is None
    assert tailoring.median_months is None

    everyone = found.overall
    assert (everyone.invited, everyone.completed) == (11, 8)  # D1 is not on the roster
    assert everyone.respondents == 9
    assert everyone.employment_rate.count == 7 and everyone.employment_rate.n == 9
    assert dict(found.distribution(everyone, "satisfied").counts) == {
        "strongly_disagree": 0, "disagree": 1, "neutral": 1, "agree": 6, "strongly_agree": 1,
    }  # fmt: skip


async def test_distance_travelled_pairs_each_graduates_first_and_latest_answers(
    site: Site, engine, tracer
) -> None:
    form = _form()
    found = await outcomes(
        engine, site.admin.organisation_id, form, tracer.survey_id, indicator_map(form)
    )
    change = found.skill_change(found.overall, "skill_confidence")
    assert (change.n, change.improved, change.unchanged, change.worse) == (5, 3, 1, 1)
    assert change.mean_change == 1.0  # (+2 + 0 + 1 - 1 + 3) / 5
    assert change.share("improved").percent == 60.0
    # Only W1 and W3 among the women of cohort 2025-A answered twice: hidden.
    filtered = await outcomes(
        engine, site.admin.organisation_id, form, tracer.survey_id, indicator_map(form),
        ResultFilter(cohort="2025-A"),
    )  # fmt: skip
    assert filtered.skill_change(filtered.overall, "skill_confidence").hidden


async def test_a_settings_sheet_mapping_renames_the_questions_and_reports_mistakes(
    xlsx_from_markdown,
) -> None:
    source = xlsx_from_markdown("""
| survey   |
|          | type                  | name       | label             |
|          | select_one work       | work_now   | Working?          |
|          | integer               | months     | Months?           |
|          | select_one scale      | confidence | Confidence?       |
| choices  |
|          | list_name | name     | label    |
|          | work      | employee | Employee |
|          | work      | own      | Own      |
|          | work      | none     | None     |
|          | scale     | 1        | Low      |
|          | scale     | 2        | High     |
| settings |
|          | form_id | tracer_indicators |
|          | mapped  | employment=work_now; wage=employee; self=own; months_to_job=months; skills=confidence nothing; colour=blue |
""")
    mapping = indicator_map(load_stored_form(source, "mapped"), source)
    assert mapping.employment == "work_now" and mapping.wage == ("employee",)
    assert mapping.self_employed == ("own",) and mapping.months_to_job == "months"
    assert mapping.skills == ("confidence",)
    assert mapping.related is None and mapping.scales == ()  # not in this survey
    assert len(mapping.problems) == 2
    assert "skills names nothing, but the survey has no such question" in mapping.problems[1]
    assert "'colour=blue' is not one of" in mapping.problems[0]
    assert IndicatorMap().employment == "employed"  # the sample survey's names


async def test_the_dashboard_shows_n_hides_small_cells_and_feeds_its_charts(
    site: Site, tracer
) -> None:
    await site.sign_in(site.analyst)
    response = await site.client.get(f"/admin/dashboard?survey={tracer.survey_id}")
    assert response.status == 200
    page = await response.text()
    assert "83.3 %" in page and "5 of n = 6" in page  # Welding's employment rate
    assert "fewer than 5" in page and "too few to mean much" in page  # Tailoring
    assert "survey version 2026.2" in page and "by programme" in page
    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', page, re.S).group(1))
    assert data["groups"] == ["All", "Tailoring", "Welding", "(not given)"]
    assert data["employment"]["wage"][1] is None  # hidden, never drawn as zero
    assert data["employment"]["wage"][2] == 50.0
    assert data["skills"][0]["improved"] == 60.0
    # The rows behind a chart: the results page, filtered.
    assert f"/admin/results/{tracer.survey_id}?question=employed&amp;status=complete" in page
    assert '<script src="/admin/static/vendor/chart-4.6.1.umd.min.js">' in page
    assert "<script>" not in page  # nothing inline: the CSP allows none


async def test_the_dashboard_groups_by_gender_and_filters_by_cohort(site: Site, tracer) -> None:
    await site.sign_in(site.admin)
    page = await (
        await site.client.get(f"/admin/dashboard?survey={tracer.survey_id}&by=gender&cohort=2025-B")
    ).text()
    assert "Outcomes by gender" in page and "cohort 2025-B" in page
    bad = await site.client.get(f"/admin/dashboard?survey={tracer.survey_id}&by=shoe&since=May")
    text = html.unescape(await bad.text())
    assert bad.status == 200
    assert "grouped by programme, cohort, gender" in text and "'May' is not a date" in text


async def test_another_organisations_survey_is_not_on_the_dashboard(site: Site, tracer) -> None:
    await site.sign_in(site.admin)
    response = await site.client.get(f"/admin/dashboard?survey={tracer.other_survey_id}")
    assert response.status == 404
    assert "belongs to another organisation" in await response.text()
    await site.sign_in(site.other)
    page = await (await site.client.get("/admin/dashboard")).text()
    assert "Outcomes" in page and "lebanon_tracer" in page and "Welding" not in page


async def test_the_dashboard_without_surveys_says_what_to_do(site: Site) -> None:
    await site.sign_in(site.admin)
    page = await (await site.client.get("/admin/dashboard")).text()
    assert "No survey yet" in page
