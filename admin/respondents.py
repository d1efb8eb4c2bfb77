"""The respondents pages: import a roster with a preview, search and filter the roster,
one respondent's responses on every channel (voice answers playable), deletion on
request, and phone numbers shown only when an admin asks.

Import is two steps. The file is parsed and checked (`storage.respondents.read_roster`)
and counted against the roster without writing (`store_roster(dry_run=True)`); the page
shows what would be created and updated and every bad row by line and column. The
upload is held server-side (`storage.uploads`, SQL: any worker can take the
confirmation, and the browser sends back only a random token), so what is imported is
exactly what was previewed; the confirmation parses it again and stores the good rows
in one transaction with its audit line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping

from admin.auth import audit, current_user, requires_admin
from admin.masking import install_phone_filter
from service_tracker.keys import DATABASE, RECORDINGS, RESPONSES, SETTINGS
from storage.accounts import User
from storage.invitations import invitations_for
from storage.recordings import RECORDING_FORMAT
from storage.respondents import RosterFileError, read_roster, store_roster
from storage.roster import (
    NO_RESPONSE,
    STATUSES,
    RespondentResponse,
    RosterFilter,
    delete_respondent,
    responses_of,
    roster_facets,
    search_roster,
)
from storage.scoped import StoredAnswer, StoredRespondent, recording_of, respondent_of
from storage.uploads import held_upload, hold_upload, take_upload
from survey_engine.events import AnswerKind
from survey_engine.machine import CONSENT_QUESTION
from survey_engine.model import QuestionType, Survey, base_name

__all__ = ["add_routes"]

log = logging.getLogger("service_tracker.admin")

ROSTER = "roster"  # the kind of upload held between preview and import
# Errors listed on the preview page; beyond them a count (a file of 100,000 bad rows
# must still give a page that loads).
ERRORS_SHOWN = 500
STATUS_NAMES = {
    NO_RESPONSE: "No response",
    "in_progress": "In progress",
    "complete": "Complete",
    "refused": "Refused",
    "interrupted": "Interrupted",
    "failed": "Failed",
}
CHANNEL_NAMES = {"ussd": "USSD", "ivr": "Voice", "sms": "SMS"}


def add_routes(app: web.Application) -> None:
    install_phone_filter(aiohttp_jinja2.get_env(app))
    env = aiohttp_jinja2.get_env(app)
    env.globals.setdefault("STATUS_NAMES", STATUS_NAMES)
    env.globals.setdefault("CHANNEL_NAMES", CHANNEL_NAMES)
    app.router.add_get("/respondents", roster, name="respondents")
    app.router.add_post("/respondents/numbers", roster_numbers, name="respondents_unmask")
    app.router.add_get("/respondents/import", import_form, name="respondents_import")
    app.router.add_post("/respondents/import", import_preview, name="respondents_preview")
    app.router.add_post(
        "/respondents/import/confirm", import_confirm, name="respondents_import_confirm"
    )
    app.router.add_get(r"/respondents/{id:\d{1,10}}", respondent, name="respondent")
    app.router.add_post(
        r"/respondents/{id:\d{1,10}}/number", respondent_number, name="respondent_unmask"
    )
    app.router.add_get(
        r"/respondents/{id:\d{1,10}}/delete", delete_form, name="respondent_delete_form"
    )
    app.router.add_post(r"/respondents/{id:\d{1,10}}/delete", delete, name="respondent_delete")
    app.router.add_get(
        r"/respondents/recordings/{answer:\d{1,10}}.wav", recording, name="respondent_recording"
    )


# -- the list -------------------------------------------------------------------------


def _wanted(params: MultiMapping[Any]) -> tuple[RosterFilter, int]:
    status = str(params.get("status", ""))
    try:
        page = max(1, min(int(str(params.get("page", "1"))), 100_000))
    except ValueError:
        page = 1
    wanted = RosterFilter(
        text=str(params.get("q", ""))[:100],
        programme=str(params.get("programme", ""))[:255],
        cohort=str(params.get("cohort", ""))[:255],
        status=status if status in STATUSES else "",
    )
    return wanted, page


async def _roster_page(
    request: web.Request, params: MultiMapping[Any], shown: bool
) -> web.Response:
    user = current_user(request)
    engine = request.config_dict[DATABASE]
    wanted, page = _wanted(params)
    region = request.config_dict[SETTINGS].default_phone_region
    found = await search_roster(
        engine, user.organisation_id, wanted, page=page, default_region=region
    )
    facets = await roster_facets(engine, user.organisation_id)
    if shown:
        async with engine.begin() as conn:
            await audit(
                request,
                conn,
                "phone.unmask",
                "respondents",
                "",
                detail={"respondents": [row.id for row in found.rows]},
            )
    query = {k: v for k, v in dataclasses.asdict(wanted).items() if v}
    if "text" in query:
        query["q"] = query.pop("text")
    return aiohttp_jinja2.render_template(
        "respondents.html",
        request,
        {
            "found": found,
            "wanted": wanted,
            "facets": facets,
            "statuses": STATUSES,
            "shown": shown,
            "query": query,
            "filtered": bool(query),
            "deleted": request.query.get("deleted") == "1",
        },
    )


async def roster(request: web.Request) -> web.Response:
    return await _roster_page(request, request.query, shown=False)


@requires_admin
async def roster_numbers(request: web.Request) -> web.Response:
    """The same list with full numbers: an admin asked, and the audit log keeps which
    respondents' numbers were shown (ids only)."""
    return await _roster_page(request, await request.post(), shown=True)


# -- import ---------------------------------------------------------------------------


@requires_admin
@aiohttp_jinja2.template("respondents_import.html")
async def import_form(request: web.Request) -> dict[str, object]:
    return {}


@requires_admin
async def import_preview(request: web.Request) -> web.Response:
    user = current_user(request)
    form = await request.post()
    upload = form.get("roster")
    if not isinstance(upload, web.FileField):
        return _import_error(request, "Choose a roster file (.csv or .xlsx) to import.")
    content = upload.file.read()
    filename = upload.filename or "roster.csv"
    if not content:
        return _import_error(request, f"{filename} is empty.")
    region = request.config_dict[SETTINGS].default_phone_region
    try:
        parsed = await read_roster(content, filename=filename, default_region=region)
    except RosterFileError as error:
        return _import_error(request, f"{filename} cannot be read: {error}.")
    engine = request.config_dict[DATABASE]
    async with engine.connect() as conn:
        counted = await store_roster(conn, parsed, organisation=user.organisation_id, dry_run=True)
        await conn.rollback()
    token = ""
    if parsed.entries:
        token = await hold_upload(
            engine,
            user_id=user.id,
            organisation_id=user.organisation_id,
            kind=ROSTER,
            filename=filename,
            content=content,
        )
    return aiohttp_jinja2.render_template(
        "respondents_import.html",
        request,
        {
            "preview": counted,
            "filename": filename,
            "token": token,
            "errors": parsed.errors[:ERRORS_SHOWN],
            "errors_left_out": max(0, len(parsed.errors) - ERRORS_SHOWN),
            "bad_lines": parsed.lines_with_errors,
        },
    )


@requires_admin
async def import_confirm(request: web.Request) -> web.Response:
    user = current_user(request)
    token = str((await request.post()).get("upload", ""))[:100]
    engine = request.config_dict[DATABASE]
    mine = {"user_id": user.id, "organisation_id": user.organisation_id, "kind": ROSTER}
    held = await held_upload(engine, token, **mine) if token else None
    if held is None:
        return _import_error(request, _GONE, status=409)
    region = request.config_dict[SETTINGS].default_phone_region
    # Parsed again out of the transaction: a large workbook takes seconds of CPU, which
    # must not hold SQLite's write lock while respondents are answering.
    parsed = await read_roster(held.content, filename=held.filename, default_region=region)
    async with engine.begin() as conn:
        if not await take_upload(conn, token, **mine):
            return _import_error(request, _GONE, status=409)
        report = await store_roster(conn, parsed, organisation=user.organisation_id)
        await audit(
            request,
            conn,
            "respondents.import",
            "roster",
            held.sha256[:16],
            detail={
                "file": held.filename,
                "sha256": held.sha256,
                "created": report.created,
                "updated": report.updated,
                "rows_left_out": parsed.lines_with_errors,
            },
        )
    return aiohttp_jinja2.render_template(
        "respondents_import.html",
        request,
        {"imported": report, "filename": held.filename, "bad_lines": parsed.lines_with_errors},
    )


_GONE = (
    "This preview has expired or was imported already (a preview is kept for an hour). "
    "Choose the file again to see a new preview."
)


def _import_error(request: web.Request, message: str, status: int = 400) -> web.Response:
    return aiohttp_jinja2.render_template(
        "respondents_import.html", request, {"error": message}, status=status
    )


# -- one respondent -------------------------------------------------------------------


async def _respondent_or_404(request: web.Request, user: User) -> StoredRespondent:
    found = await respondent_of(
        request.config_dict[DATABASE], user.organisation_id, int(request.match_info["id"])
    )
    if found is None:
        raise web.HTTPNotFound()
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class AnswerView:
    id: int
    label: str  # the question's label in the chosen language, or its name
    name: str
    value: str  # choice labels for choices; the value as stored otherwise
    kind: str
    channel: str
    answered_at: Any


@dataclasses.dataclass(frozen=True, slots=True)
class ResponseView:
    entry: RespondentResponse
    language: str  # the language the labels are in
    answers: tuple[AnswerView, ...]


def _label(survey: Survey | None, answer: StoredAnswer, language: str) -> tuple[str, str]:
    """(question label, value shown) in `language`; names and values as stored when the
    survey cannot say (a computed value, a form that no longer loads)."""
    name = base_name(answer.question)
    if survey is None or not survey.has_question(name):
        return answer.question, answer.value
    question = survey.question(name)
    text = question.labels.get(language) or question.labels.get(survey.default_language)
    label = text.source if text is not None and text.source else answer.question
    if name != answer.question:  # a pass of a repeat: child_age[2]
        label = f"{label} ({answer.question.partition('[')[2].rstrip(']')})"
    value = answer.value
    if question.type.has_choices:
        names = value.split() if question.type != QuestionType.SELECT_ONE else [value]
        shown = []
        for choice_name in names:
            choice = question.choice(choice_name)
            labels = choice.labels if choice is not None else {}
            shown.append(labels.get(language) or labels.get(survey.default_language) or choice_name)
        value = ", ".join(shown)
    return label, value


async def _response_views(
    request: web.Request, entries: Sequence[RespondentResponse], language: str
) -> tuple[list[ResponseView], list[tuple[str, str]]]:
    """The responses with labels in `language` (or each survey's default), and every
    language their surveys have, for the chooser."""
    store = request.config_dict[RESPONSES]
    views: list[ResponseView] = []
    languages: dict[str, str] = {}
    for entry in entries:
        try:
            survey: Survey | None = await store.load_survey(entry.response.survey_version_id)
        except Exception:  # a version that no longer compiles still shows its answers
            log.warning("survey version %s does not load", entry.response.survey_version_id)
            survey = None
        chosen = language
        if survey is not None:
            languages.update({lang.code: lang.name for lang in survey.languages})
            if chosen not in survey.language_codes:
                chosen = entry.response.language or survey.default_language
                if chosen not in survey.language_codes:
                    chosen = survey.default_language
        answers = []
        for answer in entry.response.answers:
            label, value = _label(survey, answer, chosen)
            answers.append(
                AnswerView(
                    id=answer.id,
                    label=label,
                    name=answer.question,
                    value=value,
                    kind=answer.kind.value,
                    channel=answer.channel,
                    answered_at=answer.answered_at,
                )
            )
        views.append(ResponseView(entry, chosen, tuple(answers)))
    return views, sorted(languages.items(), key=lambda item: item[1])


def _consent(entries: Sequence[RespondentResponse]) -> StoredAnswer | None:
    """The latest answer to the survey's consent question, if any was asked."""
    for entry in entries:  # newest first
        for answer in entry.response.answers:
            if answer.question == CONSENT_QUESTION:
                return answer
    return None


async def _respondent_page(request: web.Request, shown: bool) -> web.Response:
    user = current_user(request)
    person = await _respondent_or_404(request, user)
    engine = request.config_dict[DATABASE]
    entries = await responses_of(engine, user.organisation_id, person.id)
    language = str(request.query.get("lang", ""))[:16] or (person.language or "")
    views, languages = await _response_views(request, entries, language)
    if shown:
        async with engine.begin() as conn:
            await audit(request, conn, "phone.unmask", "respondent", person.id)
    async with engine.connect() as conn:
        sent = await invitations_for(conn, user.organisation_id, person.id)
    return aiohttp_jinja2.render_template(
        "respondent.html",
        request,
        {
            "person": person,
            "responses": views,
            "languages": languages,
            "language": language,
            "consent": _consent(entries),
            "invitations": sent,
            "shown": shown,
        },
    )


async def respondent(request: web.Request) -> web.Response:
    return await _respondent_page(request, shown=False)


@requires_admin
async def respondent_number(request: web.Request) -> web.Response:
    return await _respondent_page(request, shown=True)


async def recording(request: web.Request) -> web.StreamResponse:
    """A voice answer's audio, for the player on the respondent's page: only an answer
    of the organisation's own surveys, and only a file inside RECORDINGS_DIR."""
    user = current_user(request)
    found = await recording_of(
        request.config_dict[DATABASE], user.organisation_id, int(request.match_info["answer"])
    )
    if found is None:
        raise web.HTTPNotFound()
    try:
        base = await request.config_dict[RECORDINGS].path_of(found.ref)
    except ValueError:
        log.warning("answer %s holds a reference the recordings folder refuses", found.answer_id)
        raise web.HTTPNotFound() from None
    path = Path(f"{base}.{RECORDING_FORMAT}")
    if not await asyncio.to_thread(path.is_file):  # the call dropped before Asterisk wrote it
        raise web.HTTPNotFound()
    return web.FileResponse(
        path, headers={"Content-Type": "audio/wav", "Cache-Control": "private, no-store"}
    )


# -- deletion on request --------------------------------------------------------------


@requires_admin
async def delete_form(request: web.Request) -> web.Response:
    user = current_user(request)
    person = await _respondent_or_404(request, user)
    entries = await responses_of(request.config_dict[DATABASE], user.organisation_id, person.id)
    recordings = sum(
        answer.kind is AnswerKind.RECORDING for e in entries for answer in e.response.answers
    )
    return aiohttp_jinja2.render_template(
        "respondent_delete.html",
        request,
        {"person": person, "responses": len(entries), "recordings": recordings},
    )


@requires_admin
async def delete(request: web.Request) -> web.StreamResponse:
    """Delete the respondent, their answers and recordings, on request (data
    protection). The audit line names the respondent by id only: it outlives them."""
    user = current_user(request)
    respondent_id = int(request.match_info["id"])
    form = await request.post()
    if form.get("confirm") != "delete":
        raise web.HTTPSeeOther(
            str(request.app.router["respondent_delete_form"].url_for(id=str(respondent_id)))
        )
    async with request.config_dict[DATABASE].begin() as conn:
        deleted = await delete_respondent(conn, user.organisation_id, respondent_id)
        if deleted is None:
            raise web.HTTPNotFound()
        await audit(
 request, conn, "respondent.delete", "respondent", respondent_id,
            detail={
                "responses": deleted.responses, "answers": deleted.answers,
                "calls": deleted.calls, "recordings": len(deleted.recordings),
            },
        )  # fmt: skip
    # The files go once the rows are gone for good; a file that cannot be deleted is
    # logged (by answer count, no name), the rows no longer point at it.
    folder = request.config_dict[RECORDINGS]
    left = 0
    for ref in deleted.recordings:
        try:
            await folder.discard(ref)
        except (ValueError, OSError):
            left += 1
    if left:
        log.error("respondent %s deleted; %s recording files could not be", respondent_id, left)
    location = request.app.router["respondents"].url_for().with_query(deleted="1")
    raise web.HTTPSeeOther(str(location))
