"""Results and exports: a survey's response counts by status and channel, its answers
a page at a time with filters, and its exports in CSV and XLSX.

Exports come in the long shape `service-tracker export answers` writes (one row per
answer) and a wide one (one row per response, one column per question, choices as
labels in a chosen language). Both stream in constant memory: rows come from a
server-side cursor a batch at a time; CSV goes to the client as it is made, XLSX is
written by openpyxl's write-only workbook to a temporary file (inline strings, so
nothing accumulates) and then streamed. Phone numbers are masked unless an admin asks
for them by the export form's POST (audited `export.unmasked`); every export is
audited (`export`). Analysts may export masked.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import IO, Any

import aiohttp_jinja2
from aiohttp import web
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select

from admin import dashboard
from admin.auth import audit, current_user
from admin.selection import (
    CHANNELS,
    STATUSES,
    load_form,
    parse_filters,
    survey_or_404,
    tests_left_out,
)
from service_tracker.keys import DATABASE
from storage.exports import EXPORT_COLUMNS, WideLayout, answer_rows, wide_layout
from storage.results import (
    ResultFilter,
    answered_questions,
    answers_page,
    filter_choices,
    response_counts,
    wide_responses,
)
from storage.schema import survey_versions
from storage.scoped import SurveySummary, list_surveys
from survey_engine.model import Survey
from survey_engine.phones import mask_phone

__all__ = ["add_routes"]

PAGE = 50
SHAPES = ("long", "wide")
FORMATS = ("csv", "xlsx")
_CHUNK = 64 * 1024
_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/results", results_index, name="results")
    app.router.add_get("/results/{survey_id:\\d+}", survey_results, name="survey_results")
    app.router.add_get("/results/{survey_id:\\d+}/export", export, name="survey_export")
    app.router.add_post("/results/{survey_id:\\d+}/export", export, name="survey_export_post")
    dashboard.add_routes(app)


# -- pages -------------------------------------------------------------------------------


@aiohttp_jinja2.template("results_index.html")
async def results_index(request: web.Request) -> dict[str, object]:
    user = current_user(request)
    return {"surveys": await list_surveys(request.config_dict[DATABASE], user.organisation_id)}


@aiohttp_jinja2.template("results.html")
async def survey_results(request: web.Request) -> dict[str, object]:
    user = current_user(request)
    survey = await survey_or_404(request, request.match_info["survey_id"])
    engine = request.config_dict[DATABASE]
    filters, problems = parse_filters(request.query)
    before = _int(request.query.get("before"))
    form = await load_form(request, survey.version_id)
    language = _language(form, request.query.get("lang"))
    counts = await response_counts(engine, user.organisation_id, survey.survey_id, filters)
    lines, more = await answers_page(
        engine, user.organisation_id, survey.survey_id, filters, before=before, limit=PAGE
    )
    labels = _choice_labels(form, language)
    questions = [q for q in form.questions if q.type.value != "note"]
    return {
        "survey": survey,
        "form": form,
        "language": language,
        "filters": filters,
        "query": filters.query(),
        "problems": problems,
        "counts": counts,
        "lines": lines,
        "more": more,
        "older": lines[-1].answer_id if more and lines else None,
        "before": before,
        "labels": labels,
        "questions": questions,
        "question_labels": {q.name: _label(q.labels, language) for q in form.questions},
        "choices": await filter_choices(engine, user.organisation_id),
        "channels": CHANNELS,
        "statuses": STATUSES,
        "mask": mask_phone,
        "tests_left_out": await tests_left_out(
            engine, user.organisation_id, survey.survey_id, filters
        ),
    }


def _language(form: Survey, asked: str | None) -> str:
    codes = [lang.code for lang in form.languages]
    return asked if asked in codes else form.default_language


def _label(labels: Mapping[str, Any], language: str) -> str:
    text = labels.get(language) or next(iter(labels.values()), None)
    return text.source if text is not None else ""


def _choice_labels(form: Survey, language: str) -> dict[str, dict[str, str]]:
    return {
        q.name: {c.name: c.labels.get(language) or c.name for c in q.choices}
        for q in form.questions
        if q.type.has_choices
    }


def _int(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    return None


# -- exports -----------------------------------------------------------------------------


async def export(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    survey = await survey_or_404(request, request.match_info["survey_id"])
    asked: Mapping[str, str] = request.query
    if request.method == "POST":
        form = await request.post()
        asked = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    shape, fmt = asked.get("shape", "long"), asked.get("format", "csv")
    if shape not in SHAPES or fmt not in FORMATS:
        raise web.HTTPBadRequest(text="shape is long or wide; format is csv or xlsx")
    # Full numbers only through the form's POST (its CSRF token checked), by an admin.
    unmasked = request.method == "POST" and asked.get("phones") == "full"
    if unmasked and not user.is_admin:
        raise web.HTTPForbidden(reason="role")
    filters, problems = parse_filters(asked)
    if problems:
        raise web.HTTPBadRequest(text=" ".join(problems))
    engine = request.config_dict[DATABASE]
    language = asked.get("lang") or None
    detail = {
        "shape": shape,
        "format": fmt,
        "phones": "full" if unmasked else "masked",
        "filters": filters.query(),
        **({"language": language} if shape == "wide" and language else {}),
    }
    async with engine.begin() as conn:
        await audit(request, conn, "export", "survey", survey.survey_id, detail=detail)
        if unmasked:
            await audit(request, conn, "export.unmasked", "survey", survey.survey_id, detail=detail)

    phone: Callable[[str], str] = (lambda p: p) if unmasked else mask_phone
    header: tuple[str, ...]
    rows: AsyncIterator[list[tuple[object, ...]]]
    if shape == "long":
        header = EXPORT_COLUMNS
        rows = _masked_long(
            answer_rows(
                engine, survey.survey_id, organisation_id=user.organisation_id, filters=filters
            ),
            phone,
        )
    else:
        layout = await _wide_layout(request, survey, language)
        header = layout.header
        rows = _wide_rows(request, survey, filters, layout, phone)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    name = f"{_safe_name(survey.form_id)}-{shape}-{stamp}.{fmt}"
    if fmt == "csv":
        return await _stream_csv(request, name, header, rows)
    return await _stream_xlsx(request, name, header, rows)


async def _masked_long(
    batches: AsyncIterator[list[tuple[object, ...]]], phone: Callable[[str], str]
) -> AsyncIterator[list[tuple[object, ...]]]:
    async for batch in batches:
        yield [(phone(str(row[0])), *row[1:]) for row in batch]


async def _wide_layout(
    request: web.Request, survey: SurveySummary, language: str | None
) -> WideLayout:
    engine = request.config_dict[DATABASE]
    user = current_user(request)
    async with engine.connect() as conn:
        version_ids = list(
            await conn.scalars(
                select(survey_versions.c.id).where(survey_versions.c.survey_id == survey.survey_id)
            )
        )
    forms = {version_id: await load_form(request, version_id) for version_id in version_ids}
    answered = await answered_questions(engine, user.organisation_id, survey.survey_id)
    return wide_layout(forms, answered, language)


async def _wide_rows(
    request: web.Request,
    survey: SurveySummary,
    filters: ResultFilter,
    layout: WideLayout,
    phone: Callable[[str], str],
) -> AsyncIterator[list[tuple[object, ...]]]:
    user = current_user(request)
    async for batch in wide_responses(
        request.config_dict[DATABASE], user.organisation_id, survey.survey_id, filters
    ):
        yield [layout.row(response, phone(response.phone)) for response in batch]


def _safe_name(form_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", form_id)[:80] or "survey"


def _attachment(name: str, fmt: str) -> dict[str, str]:
    return {
        "Content-Type": _CONTENT_TYPES[fmt],
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    }


async def _stream_csv(
    request: web.Request,
    name: str,
    header: Iterable[str],
    rows: AsyncIterator[list[tuple[object, ...]]],
) -> web.StreamResponse:
    response = web.StreamResponse(headers=_attachment(name, "csv"))
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # A byte-order mark: Excel then reads the file as UTF-8 (Arabic, Swahili, French).
    buffer.write("\ufeff")
    writer.writerow(header)
    async for batch in rows:
        writer.writerows(batch)
        if buffer.tell() >= _CHUNK:
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


async def _stream_xlsx(
    request: web.Request,
    name: str,
    header: Iterable[str],
    rows: AsyncIterator[list[tuple[object, ...]]],
) -> web.StreamResponse:
    with tempfile.TemporaryFile(prefix="export-", suffix=".xlsx") as spool:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("answers")
        sheet.append(list(header))
        # openpyxl is synchronous: each batch is written in a thread, so the server
        # keeps answering phones while a large export is made.
        async for batch in rows:
            await asyncio.to_thread(_append, sheet, batch)
        await asyncio.to_thread(book.save, spool)
        size = spool.tell()
        spool.seek(0)
        response = web.StreamResponse(headers=_attachment(name, "xlsx"))
        response.content_length = size
        await response.prepare(request)
        while chunk := await asyncio.to_thread(_read, spool):
            await response.write(chunk)
        await response.write_eof()
    return response


def _append(sheet: Any, batch: list[tuple[object, ...]]) -> None:
    for row in batch:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])


def _read(spool: IO[bytes]) -> bytes:
    return spool.read(_CHUNK)
