"""How the Surveys and Audio pages reach a survey: always through the signed-in member
of staff's organisation, so another organisation's id is a 404, as for one that does
not exist."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from admin.auth import current_user
from audio.library import AudioLibrary
from service_tracker.keys import DATABASE, RESPONSES, SETTINGS
from storage.surveys import SurveySummary, survey_of
from survey_engine.model import Survey

__all__ = ["audio_library", "compiled_survey", "survey_or_404"]


async def survey_or_404(request: web.Request) -> SurveySummary:
    """The survey the URL names, when it is the signed-in organisation's; 404 otherwise."""
    user = current_user(request)
    found = await survey_of(
        request.config_dict[DATABASE], user.organisation_id, int(request.match_info["survey_id"])
    )
    if found is None:
        raise web.HTTPNotFound()
    return found


async def compiled_survey(request: web.Request, summary: SurveySummary) -> Survey:
    """The current version compiled, as sessions use it (cached by the response store)."""
    return await request.config_dict[RESPONSES].load_survey(summary.version_id)


def audio_library(request: web.Request) -> AudioLibrary:
    """The prompt files under AUDIO_DIR, as the IVR plays them."""
    return AudioLibrary(Path(request.config_dict[SETTINGS].audio_dir))
