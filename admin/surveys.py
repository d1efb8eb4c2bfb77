"""The Surveys pages of the admin site: the organisation's surveys, uploading an
XLSForm, one survey's versions, bindings and status, and a preview of every question
as a feature phone shows it (USSD screens) and as a caller hears it (the voice plan).

Every survey is read through the signed-in member of staff's organisation
(`survey_of`): another organisation's id is a 404, as for one that does not exist.
Uploads, bindings, publishing and closing are for admins, and each is audited in the
transaction that makes it.
"""

from __future__ import annotations

import dataclasses
from pathlib import PurePath
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from admin import audio
from admin.auth import audit, current_user, requires_admin
from admin.survey_access import audio_library, compiled_survey, survey_or_404
from audio.catalogue import catalogue
from audio.library import AudioLibrary, IndexEntry
from ivr.render import Collect, Record, voice_plan
from service_tracker.keys import DATABASE, RESPONSES, SETTINGS
from storage.surveys import (
    ImportedSurvey,
    SurveyStatus,
    SurveySummary,
    bind_address,
    bindings_of,
    import_survey,
    list_surveys,
    response_counts,
    set_status,
    unbind_address,
    versions_of,
)
from survey_engine.errors import SurveyLoadError
from survey_engine.events import Prompt, ResponseStatus
from survey_engine.machine import Phase, State, current_prompt
from survey_engine.model import Survey, base_name
from ussd.render import paginate

__all__ = ["add_routes", "preview_items"]

FORM_SUFFIXES = (".xlsx", ".xls")
_CHANNELS = {"ussd": "USSD code", "ivr": "IVR number"}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/surveys", surveys_page, name="surveys")
    app.router.add_post("/surveys", upload, name="survey_upload")
    app.router.add_get(r"/surveys/{survey_id:\d+}", survey_page, name="survey")
    app.router.add_post(r"/surveys/{survey_id:\d+}/bindings", bind, name="survey_bind")
    app.router.add_post(r"/surveys/{survey_id:\d+}/unbind", unbind, name="survey_unbind")
    app.router.add_post(r"/surveys/{survey_id:\d+}/status", change_status, name="survey_status")
    app.router.add_get(r"/surveys/{survey_id:\d+}/preview", preview, name="survey_preview")
    audio.add_routes(app)


# -- the list and the upload -------------------------------------------------------------


async def _list_context(request: web.Request) -> dict[str, Any]:
    engine = request.config_dict[DATABASE]
    found = await list_surveys(engine, current_user(request).organisation_id)
    counts = await response_counts(engine, [s.survey_id for s in found])
    return {
        "surveys": found,
        "counts": {s.survey_id: _count_summary(counts.get(s.survey_id, {})) for s in found},
    }


def _count_summary(counts: dict[str, int]) -> dict[str, int]:
    return {
        "total": sum(counts.values()),
        "complete": counts.get(ResponseStatus.COMPLETE.value, 0),
        "in_progress": counts.get(ResponseStatus.IN_PROGRESS.value, 0)
        + counts.get(ResponseStatus.INTERRUPTED.value, 0),
    }


@aiohttp_jinja2.template("surveys.html")
async def surveys_page(request: web.Request) -> dict[str, Any]:
    return await _list_context(request)


@requires_admin
async def upload(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    form = await request.post()
    field = form.get("form")
    if not isinstance(field, web.FileField) or not field.filename:
        return await _upload_refused(request, "Choose an XLSForm file (.xlsx or .xls).")
    filename = PurePath(field.filename.replace("\\", "/")).name
    if PurePath(filename).suffix.lower() not in FORM_SUFFIXES:
        return await _upload_refused(
            request, f"{filename} is not an XLSForm: send a .xlsx or .xls file."
        )
    source = field.file.read()
    media, problem = _media(form)
    if problem:
        return await _upload_refused(request, problem)

    async def audited(conn: Any, imported: ImportedSurvey) -> None:
        await audit(
            request,
            conn,
            "survey.upload",
            "survey",
            imported.survey_id,
            detail={
                "form_id": imported.form_id,
                "version": imported.version,
                "file": filename,
                "new_version": imported.created,
            },
        )

    try:
        imported = await import_survey(
            request.config_dict[DATABASE],
            source,
            filename=filename,
            ussd_code=None,
            roster_only=False,
            skip_unaskable=form.get("skip_unaskable") == "on",
            media=media,
            organisation=user.organisation_id,
            audit=audited,
        )
    except SurveyLoadError as error:
        return await _upload_refused(
            request,
            f"{filename} was not imported: the form has {len(error.errors)} "
            f"error{'s' * (len(error.errors) != 1)}. Correct them and upload it again.",
            errors=error.errors,
        )
    except ValueError as error:  # a version conflict, another organisation's form_id
        return await _upload_refused(request, f"{filename} was not imported: {error}.")
    request.config_dict[RESPONSES].forget_surveys()  # a new current version
    target = request.app.router["survey"].url_for(survey_id=str(imported.survey_id))
    outcome = "new" if imported.created else "same"
    raise web.HTTPSeeOther(str(target.with_query(uploaded=outcome)))


def _media(form: MultiDictProxy[Any]) -> tuple[dict[str, bytes], str]:
    """The CSV lists sent beside the form (select_one_from_file), by name."""
    files: dict[str, bytes] = {}
    for item in form.getall("media", []):
        if not isinstance(item, web.FileField) or not item.filename:
            continue
        name = PurePath(item.filename.replace("\\", "/")).name
        if not name.lower().endswith(".csv"):
            return {}, f"{name}: the files beside a form are CSV lists (.csv)."
        files[name] = item.file.read()
    return files, ""


async def _upload_refused(
    request: web.Request, message: str, errors: list[Any] | None = None
) -> web.Response:
    context = await _list_context(request)
    context.update(upload_error=message, form_errors=errors or [])
    return aiohttp_jinja2.render_template("surveys.html", request, context, status=422)


# -- one survey ----------------------------------------------------------------------------


async def _survey_context(request: web.Request, summary: SurveySummary) -> dict[str, Any]:
    engine = request.config_dict[DATABASE]
    survey = await compiled_survey(request, summary)
    counts = (await response_counts(engine, [summary.survey_id])).get(summary.survey_id, {})
    return {
        "survey": summary,
        "compiled": survey,
        "versions": await versions_of(engine, summary.survey_id),
        "bindings": await bindings_of(engine, summary.survey_id),
        "counts": {status.value: counts.get(status.value, 0) for status in ResponseStatus},
        "total": sum(counts.values()),
        "uploaded": request.query.get("uploaded", ""),
        "done": request.query.get("done", ""),
        "channels": _CHANNELS,
    }


@aiohttp_jinja2.template("survey.html")
async def survey_page(request: web.Request) -> dict[str, Any]:
    return await _survey_context(request, await survey_or_404(request))


@requires_admin
async def bind(request: web.Request) -> web.StreamResponse:
    summary = await survey_or_404(request)
    user = current_user(request)
    form = await request.post()
    channel = str(form.get("channel", ""))
    address = str(form.get("address", ""))[:64].strip()
    roster_only = form.get("roster_only") == "on"
    if channel not in _CHANNELS:
        raise web.HTTPBadRequest(text="channel: 'ussd' or 'ivr'")
    if not address:
        return await _survey_refused(request, summary, f"Type the {_CHANNELS[channel]} to bind.")
    engine = request.config_dict[DATABASE]
    try:
        async with engine.begin() as conn:
            stored = await bind_address(
                conn,
                survey_id=summary.survey_id,
                organisation_id=user.organisation_id,
                channel=channel,
                address=address,
                roster_only=roster_only,
                default_region=request.config_dict[SETTINGS].default_phone_region,
            )
            await _audit(request, conn, "survey.bind", summary, channel, stored, roster_only)
    except ValueError as error:  # not a code or number, or another organisation's
        return await _survey_refused(request, summary, _sentence(str(error)))
    request.config_dict[RESPONSES].forget_surveys()
    raise _back_to(request, summary, "bound")


@requires_admin
async def unbind(request: web.Request) -> web.StreamResponse:
    summary = await survey_or_404(request)
    form = await request.post()
    channel, address = str(form.get("channel", "")), str(form.get("address", ""))
    async with request.config_dict[DATABASE].begin() as conn:
        if await unbind_address(conn, summary.survey_id, channel, address):
            await _audit(request, conn, "survey.unbind", summary, channel, address)
    request.config_dict[RESPONSES].forget_surveys()
    raise _back_to(request, summary, "unbound")


@requires_admin
async def change_status(request: web.Request) -> web.StreamResponse:
    summary = await survey_or_404(request)
    action = str((await request.post()).get("action", ""))
    statuses = {"publish": SurveyStatus.PUBLISHED, "close": SurveyStatus.CLOSED}
    if action not in statuses:
        raise web.HTTPBadRequest(text="action: 'publish' or 'close'")
    async with request.config_dict[DATABASE].begin() as conn:
        if await set_status(conn, summary.survey_id, statuses[action]):
            await audit(
                request,
                conn,
                f"survey.{action}",
                "survey",
                summary.survey_id,
                detail={"form_id": summary.form_id},
            )
    request.config_dict[RESPONSES].forget_surveys()
    raise _back_to(request, summary, statuses[action].value)


async def _audit(
    request: web.Request,
    conn: Any,
    action: str,
    summary: SurveySummary,
    channel: str,
    address: str,
    roster_only: bool | None = None,
) -> None:
    detail: dict[str, Any] = {"form_id": summary.form_id, "channel": channel, "address": address}
    if roster_only is not None:
        detail["roster_only"] = roster_only
    await audit(request, conn, action, "survey", summary.survey_id, detail=detail)


def _back_to(request: web.Request, summary: SurveySummary, done: str) -> web.HTTPSeeOther:
    target = request.app.router["survey"].url_for(survey_id=str(summary.survey_id))
    return web.HTTPSeeOther(str(target.with_query(done=done)))


async def _survey_refused(
    request: web.Request, summary: SurveySummary, message: str
) -> web.Response:
    context = await _survey_context(request, summary)
    context["error"] = message
    return aiohttp_jinja2.render_template("survey.html", request, context, status=422)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# -- the preview -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class PreviewSound:
    key: str
    language: str
    text: str
    playable: bool


@dataclasses.dataclass(frozen=True, slots=True)
class PreviewItem:
    title: str  # "3 of 17 · months_to_job"
    kind: str  # the question's type, or "language menu"
    screens: tuple[str, ...]
    sounds: tuple[PreviewSound, ...]
    collect: str  # how the IVR takes the answer, in words


@aiohttp_jinja2.template("survey_preview.html")
async def preview(request: web.Request) -> dict[str, Any]:
    summary = await survey_or_404(request)
    survey = await compiled_survey(request, summary)
    language = request.query.get("language", survey.default_language)
    if language not in survey.language_codes:
        language = survey.default_language
    return {
        "survey": summary,
        "compiled": survey,
        "language": language,
        "items": preview_items(survey, language, audio_library(request)),
    }


def preview_items(survey: Survey, language: str, library: AudioLibrary) -> list[PreviewItem]:
    """Every question of `survey` in `language` as the USSD renderer pages it and as the
    IVR's voice plan says it; the language menu first when there are several languages.

    A question is shown as a respondent meets it after answering those before it: with
    its back line (and nothing piped in from the earlier answers)."""
    texts = {(e.language, e.key): e.text for e in catalogue(survey)}
    indexes: dict[str, dict[str, IndexEntry]] = {}

    def sound(key: str, lang: str) -> PreviewSound:
        if lang not in indexes:
            indexes[lang] = library.index(survey.form_id, lang)
        found = indexes[lang].get(key)
        playable = found is not None and library.file_of(lang, found) is not None
        return PreviewSound(key, lang, texts.get((lang, key), ""), playable)

    prompts: list[tuple[str, str, Prompt]] = []
    if len(survey.languages) > 1:
        menu = current_prompt(survey, State(Phase.LANGUAGE, None))
        if menu is not None:
            prompts.append(("Language menu", "language menu", menu))
    seen: set[str] = set()
    total = len({base_name(q.name) for q in survey.questions})
    for position, question in enumerate(survey.questions):
        if base_name(question.name) in seen:  # a repeat's later passes ask the same
            continue
        seen.add(base_name(question.name))
        shown = current_prompt(survey, State(Phase.QUESTION, language, position))
        if shown is None:
            continue
        shown = dataclasses.replace(shown, can_go_back=position > 0)
        title = f"{len(seen)} of {total} · {base_name(question.name)}"
        prompts.append((title, question.type.value, shown))
    items = []
    for title, kind, shown in prompts:
        plan = voice_plan(shown)
        items.append(
            PreviewItem(
                title=title,
                kind=kind,
                screens=paginate(shown),
                sounds=tuple(sound(s.key, s.language or plan.language) for s in plan.sounds),
                collect=_collect_words(plan.collect),
            )
        )
    return items


def _collect_words(collect: Collect | Record | None) -> str:
    if isinstance(collect, Record):
        return f"records the answer after a beep (up to {collect.max_seconds} s)"
    if isinstance(collect, Collect):
        if collect.one_at_a_time:
            return "one choice at a time, each ended by #; # alone when done"
        if collect.max_digits == 1 and collect.terminator is None:
            return "any key"
        if collect.max_digits is None:
            return "keys until #"
        return f"up to {collect.max_digits} key{'s' * (collect.max_digits != 1)}, or # to end"
    return "hangs up"
