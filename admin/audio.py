"""The Audio page of the admin site: a survey's voice prompts × its languages, each
recorded, synthetic, fallback or missing (`audio coverage`); any prompt played in the
browser; a recording uploaded for one prompt (`audio upload`, with its checks); and
"render what is missing" (`audio render`) in the background, its progress polled.

A render's progress is a small JSON file in the audio folder (`renders/`), not process
memory: with several workers, the page's poll may reach another worker than the one
rendering, and every worker sees the same audio folder (Asterisk reads it too).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import aiohttp_jinja2
from aiohttp import web

from admin.auth import audit, current_user, requires_admin
from admin.survey_access import audio_library, compiled_survey, survey_or_404
from audio.errors import AudioError
from audio.library import AudioLibrary, PromptSource, write_atomically
from audio.render import EngineChoice, coverage, render_survey, upload_recording
from audio.tts import EspeakEngine, GttsEngine
from service_tracker.keys import DATABASE
from storage.surveys import SurveySummary
from survey_engine.model import Survey

__all__ = ["RenderProgress", "add_routes"]

log = logging.getLogger("service_tracker.admin")

SOURCES = (
    PromptSource.RECORDED,
    PromptSource.SYNTHETIC,
    PromptSource.FALLBACK,
    PromptSource.MISSING,
)
ENGINES: dict[str, str] = {
    "auto": "gTTS (espeak-ng when offline)",
    "espeak": "espeak-ng (offline)",
    "gtts": "gTTS only",
}
# A render that has not reported for this long died with its worker.
STALE_SECONDS = 120.0
_TASKS = web.AppKey("admin_render_tasks", set)


def add_routes(app: web.Application) -> None:
    base = r"/surveys/{survey_id:\d+}/audio"
    app.router.add_get(base, audio_page, name="survey_audio")
    app.router.add_post(base, upload, name="audio_upload")
    app.router.add_get(base + "/{language}/{key}", audio_file, name="audio_file")
    app.router.add_post(base + "/render", render, name="audio_render")
    app.router.add_get(base + "/render", render_status, name="audio_render_status")
    app[_TASKS] = set()
    app.cleanup_ctx.append(_cancel_renders)


async def _cancel_renders(app: web.Application) -> AsyncIterator[None]:
    yield
    for task in list(app[_TASKS]):
        task.cancel()


# -- progress, shared by the workers through the audio folder ------------------------------


class RenderProgress:
    """One survey's render, as the status endpoint reports it."""

    def __init__(self, library: AudioLibrary, survey_id: int) -> None:
        self.path = library.root / "renders" / f"survey-{survey_id}.json"
        self._last_write = 0.0

    def read(self) -> dict[str, Any]:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {"state": "idle"}
        if (
            state.get("state") == "running"
            and time.time() - state.get("updated", 0) > STALE_SECONDS
        ):
            state["state"] = "stopped"
        return state

    def running(self) -> bool:
        return self.read().get("state") == "running"

    def write(self, state: dict[str, Any], *, every: float = 0.0) -> None:
        now = time.time()
        if every and now - self._last_write < every:
            return
        self._last_write = now
        write_atomically(self.path, json.dumps({**state, "updated": now}).encode())


# -- the grid --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    language: str
    source: str  # a PromptSource value
    text: str
    playable: bool
    stale: bool


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    system: bool
    cells: tuple[Cell | None, ...]  # one per language; None: no such prompt there


def grid(
    survey: Survey, library: AudioLibrary
) -> tuple[list[str], list[Row], dict[str, dict[str, int]]]:
    """The languages, one row per prompt key (survey order, system prompts last), and
    per language how many prompts are in each state."""
    reports = coverage(survey, library)
    languages = [r.language for r in reports]
    cells: dict[str, dict[str, Cell]] = {}
    for report in reports:
        for state in report.keys:
            cells.setdefault(state.entry.key, {})[report.language] = Cell(
                report.language,
                state.source.value,
                state.entry.text,
                bool(state.file),
                state.stale,
            )
    rows = [
        Row(key, key.startswith("system."), tuple(found.get(lang) for lang in languages))
        for key, found in cells.items()
    ]
    rows.sort(key=lambda row: row.system)  # stable: survey order within each group
    totals = {r.language: {s.value: r.count(s) for s in SOURCES} for r in reports}
    return languages, rows, totals


async def _context(request: web.Request, summary: SurveySummary) -> dict[str, Any]:
    survey = await compiled_survey(request, summary)
    library = audio_library(request)
    languages, rows, totals = await asyncio.to_thread(grid, survey, library)
    show = request.query.get("show", "all")
    if show == "missing":
        rows = [r for r in rows if any(c is not None and c.source == "missing" for c in r.cells)]
    return {
        "survey": summary,
        "compiled": survey,
        "languages": languages,
        "rows": rows,
        "totals": totals,
        "show": show,
        "sources": [s.value for s in SOURCES],
        "engines": ENGINES,
        "progress": RenderProgress(library, summary.survey_id).read(),
        "chosen_key": request.query.get("key", ""),
        "chosen_language": request.query.get("language", ""),
        "uploaded": request.query.get("uploaded", ""),
    }


@aiohttp_jinja2.template("survey_audio.html")
async def audio_page(request: web.Request) -> dict[str, Any]:
    return await _context(request, await survey_or_404(request))


async def audio_file(request: web.Request) -> web.StreamResponse:
    """The file the IVR plays for one prompt, for the browser's player."""
    summary = await survey_or_404(request)
    survey = await compiled_survey(request, summary)
    language, key = request.match_info["language"], request.match_info["key"]
    if language not in survey.language_codes:
        raise web.HTTPNotFound()
    library = audio_library(request)
    path = await asyncio.to_thread(library.playable, survey.form_id, language, key)
    if path is None:
        raise web.HTTPNotFound()
    # The index names files inside the language's folder; never serve one outside it.
    if not path.resolve().is_relative_to(library.language_dir(language).resolve()):
        raise web.HTTPNotFound()
    return web.FileResponse(
        path, headers={"Content-Type": "audio/wav", "Cache-Control": "private, no-cache"}
    )


# -- a recording for one prompt -----------------------------------------------------------


@requires_admin
async def upload(request: web.Request) -> web.StreamResponse:
    summary = await survey_or_404(request)
    form = await request.post()
    key, language = str(form.get("key", "")).strip(), str(form.get("language", "")).strip()
    field = form.get("file")
    if not isinstance(field, web.FileField) or not field.filename:
        return await _refused(request, summary, "Choose a sound file to upload.", key, language)
    survey = await compiled_survey(request, summary)
    library = audio_library(request)
    data = field.file.read()
    try:
        await asyncio.to_thread(
            upload_recording,
            survey,
            library,
            key=key,
            language=language,
            data=data,
            filename=field.filename,
        )
    except AudioError as error:
        message = error.message
        if error.code == "unknown_key":  # the CLI's message points to the CLI
            message = f"the survey has no prompt '{key}'"
        return await _refused(request, summary, f"Not stored: {message}.", key, language)
    except (OSError, ValueError) as error:
        log.warning("a recording for %s %s could not be stored: %s", key, language, error)
        return await _refused(request, summary, "The recording could not be stored.", key, language)
    async with request.config_dict[DATABASE].begin() as conn:
        await audit(
            request,
            conn,
            "audio.upload",
            "survey",
            summary.survey_id,
            detail={
                "form_id": summary.form_id,
                "key": key,
                "language": language,
                "file": field.filename,
            },
        )
    target = request.app.router["survey_audio"].url_for(survey_id=str(summary.survey_id))
    raise web.HTTPSeeOther(str(target.with_query(uploaded=f"{key} ({language})")))


async def _refused(
    request: web.Request, summary: SurveySummary, message: str, key: str, language: str
) -> web.Response:
    context = await _context(request, summary)
    context.update(error=message, chosen_key=key, chosen_language=language)
    return aiohttp_jinja2.render_template("survey_audio.html", request, context, status=422)


# -- render what is missing ---------------------------------------------------------------


@requires_admin
async def render(request: web.Request) -> web.StreamResponse:
    summary = await survey_or_404(request)
    user = current_user(request)
    form = await request.post()
    engine = str(form.get("engine", "auto"))
    if engine not in ENGINES:
        raise web.HTTPBadRequest(text="engine: auto, espeak or gtts")
    survey = await compiled_survey(request, summary)
    # A language no registry knows has no ISO code: no voice can speak it.
    languages = [lang.code for lang in survey.languages if lang.has_code]
    library = audio_library(request)
    progress = RenderProgress(library, summary.survey_id)
    target = request.app.router["survey_audio"].url_for(survey_id=str(summary.survey_id))
    if progress.running():
        raise web.HTTPSeeOther(str(target))
    started = _now()
    progress.write(
        {"state": "running", "done": 0, "total": 0, "started": started, "by": user.email}
    )
    async with request.config_dict[DATABASE].begin() as conn:
        await audit(
            request,
            conn,
            "audio.render",
            "survey",
            summary.survey_id,
            detail={"form_id": summary.form_id, "engine": engine, "languages": languages},
        )
    choice = cast(EngineChoice, engine)
    task = asyncio.create_task(_render(survey, library, choice, languages, progress, started))
    tasks = request.app[_TASKS]
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    raise web.HTTPSeeOther(str(target))


async def _render(
    survey: Survey,
    library: AudioLibrary,
    engine: EngineChoice,
    languages: list[str],
    progress: RenderProgress,
    started: str,
) -> None:
    base = {"started": started}

    def report(done: int, total: int) -> None:
        progress.write({**base, "state": "running", "done": done, "total": total}, every=0.5)

    try:
        result = await asyncio.to_thread(
            render_survey,
            survey,
            library,
            engine=engine,
            gtts=GttsEngine(),
            espeak=EspeakEngine(),
            languages=languages,
            progress=report,
        )
    except Exception as error:  # a full disk, a folder that went away: said on the page
        log.exception("rendering the prompts of %s failed", survey.form_id)
        why = getattr(error, "strerror", None) or str(error) or type(error).__name__
        progress.write({**base, "state": "failed", "error": why})
        return
    total = result.written + result.reused
    progress.write(
        {
            **base,
            "state": "done",
            "done": total,
            "total": total,
            "written": result.written,
            "reused": result.reused,
            "recorded": result.recorded,
            "fallback": result.fallback,
            "gtts_down": result.gtts_down,
            "missing": [
                {"key": entry.key, "language": entry.language, "why": why}
                for entry, why in result.missing[:50]
            ],
            "missing_count": len(result.missing),
            "finished": _now(),
        }
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


async def render_status(request: web.Request) -> web.Response:
    summary = await survey_or_404(request)
    state = RenderProgress(audio_library(request), summary.survey_id).read()
    state.pop("by", None)
    return web.json_response(state, headers={"Cache-Control": "no-store"})
