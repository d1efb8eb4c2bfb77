"""The outcomes dashboard (`/admin/dashboard`): what a tracer study reports, by
programme, cohort or gender, with n beside every figure and cells under 5 respondents
hidden with the reason. The figures are counted in SQL (`storage.outcomes`); the
charts (Chart.js, served by the service) read them from a JSON element of the page,
which the Content-Security-Policy allows as it is never executed.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from admin.auth import current_user
from admin.selection import load_form, parse_filters, survey_or_404, tests_left_out
from service_tracker.keys import DATABASE
from storage.outcomes import (
    DIMENSIONS,
    HIDDEN_REASON,
    MIN_CELL,
    GroupOutcomes,
    IndicatorMap,
    Outcomes,
    OutcomesCache,
    Share,
    indicator_map,
    outcomes,
)
from storage.schema import survey_versions
from storage.scoped import list_surveys
from survey_engine.model import Survey

__all__ = ["add_routes"]

# Version id -> its indicator map: a stored version never changes.
_MAPS = web.AppKey("dashboard_indicator_maps", dict)
_FIGURES = web.AppKey("dashboard_figures", OutcomesCache)


def add_routes(app: web.Application) -> None:
    app[_MAPS] = {}
    app[_FIGURES] = OutcomesCache()
    app.router.add_get("/dashboard", dashboard, name="dashboard")


@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict[str, object]:
    user = current_user(request)
    engine = request.config_dict[DATABASE]
    surveys = await list_surveys(engine, user.organisation_id)
    if not surveys:
        return {"surveys": [], "survey": None}
    asked = request.query.get("survey")
    survey = await survey_or_404(request, asked) if asked else surveys[0]
    filters, problems = parse_filters(request.query)
    dimension = request.query.get("by", "programme")
    if dimension not in DIMENSIONS:
        problems.append(f"Figures can be grouped by {', '.join(DIMENSIONS)}.")
        dimension = "programme"
    form = await load_form(request, survey.version_id)
    mapping = await _mapping(request, survey.version_id, form)
    found = await outcomes(
        engine, user.organisation_id, form, survey.survey_id, mapping, filters,
        dimension=dimension, cache=request.app[_FIGURES],
    )  # fmt: skip
    query = filters.query()
    query.pop("status", None)
    query.pop("question", None)
    labels = {q.name: _text(q.labels, form.default_language) for q in form.questions}
    choice_labels = {
        q.name: {c.name: c.labels.get(form.default_language) or c.name for c in q.choices}
        for q in form.questions
        if q.choices
    }
    return {
        "surveys": surveys,
        "survey": survey,
        "form": form,
        "mapping": mapping,
        "outcomes": found,
        "filters": filters,
        "query": query,
        "problems": problems,
        "dimension": dimension,
        "dimensions": DIMENSIONS,
        "labels": labels,
        "choice_labels": choice_labels,
        "min_cell": MIN_CELL,
        "hidden_reason": HIDDEN_REASON,
        "scope": _scope(survey.version, survey.versions, query, dimension),
        "chart_data": _chart_data(found, mapping, labels, choice_labels),
        "tests_left_out": await tests_left_out(
            engine, user.organisation_id, survey.survey_id, filters
        ),
    }


async def _mapping(request: web.Request, version_id: int, form: Survey) -> IndicatorMap:
    maps: dict[int, IndicatorMap] = request.app[_MAPS]
    if version_id not in maps:
        async with request.config_dict[DATABASE].connect() as conn:
            source = await conn.scalar(
                select(survey_versions.c.source).where(survey_versions.c.id == version_id)
            )
        maps[version_id] = indicator_map(form, source)
    return maps[version_id]


def _text(labels: Any, language: str) -> str:
    text = labels.get(language) or next(iter(labels.values()), None)
    return text.source if text is not None else ""


def _scope(version: str, versions: int, query: dict[str, str], dimension: str) -> str:
    parts = [f"survey version {version}" + (f" and {versions - 1} earlier" if versions > 1 else "")]
    since, until = query.get("since"), query.get("until")
    if since or until:
        parts.append(f"responses started {since or 'at any time'} to {until or 'today'}")
    else:
        parts.append("all dates")
    chosen = [f"{k} {v}" for k, v in query.items() if k not in ("since", "until")]
    parts.append(", ".join(chosen) if chosen else "no other filter")
    parts.append(f"by {dimension}")
    return " · ".join(parts)


def _pct(share: Share) -> float | None:
    return share.percent


def _chart_data(
    found: Outcomes,
    mapping: IndicatorMap,
    labels: dict[str, str],
    choice_labels: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """What the charts draw: hidden cells are left out (None), never drawn as zero."""
    groups: list[GroupOutcomes] = [found.overall, *found.groups]
    return {
        "groups": [g.name for g in groups],
        "employment": {
            "wage": [_pct(g.wage_rate) for g in groups],
            "self": [_pct(g.self_employment_rate) for g in groups],
            "n": [g.employment_answered for g in groups],
        },
        "relevant": {
            "values": [_pct(g.relevant_employment) for g in groups],
            "n": [g.respondents for g in groups],
        },
        "first_job": {
            "within3": [_pct(g.within(3)) for g in groups],
            "within6": [_pct(g.within(6)) for g in groups],
            "n": [g.months_n for g in groups],
        },
        "scales": [
            {
                "question": q,
                "label": labels.get(q, q),
                "n": found.distribution(found.overall, q).n,
                "choices": [
                    {"label": choice_labels.get(q, {}).get(name, name), "percent": share.percent}
                    for name, share in found.distribution(found.overall, q).shares()
                ],
            }
            for q in mapping.scales
        ],
        "skills": [
            {
                "question": q,
                "label": labels.get(q, q),
                "n": change.n,
                "improved": change.share("improved").percent,
                "unchanged": change.share("unchanged").percent,
                "worse": change.share("worse").percent,
            }
            for q in mapping.skills
            for change in [found.skill_change(found.overall, q)]
        ],
    }
