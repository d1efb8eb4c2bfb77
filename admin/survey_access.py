"""How the Surveys and Audio pages reach a survey: always through the signed-in member
of staff's organisation, so another organisation's id is a 404, as for one that does
not exist."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from admin import selection
from audio.library import AudioLibrary
from service_tracker.keys import SETTINGS
from storage.surveys import SurveySummary
from survey_engine.model import Survey

__all__ = ["audio_library", "compiled_survey", "survey_or_404"]


async def survey_or_404(request: web.Request) -> SurveySummary:
    """The survey the URL names, when it is the signed-in organisation's; 404 otherwise."""
    return await selection.survey_or_404(request, request.match_info["survey_id"])


async def compiled_survey(request: web.Request, summary: SurveySummary) -> Survey:
    """The current version compiled, as sessions use it (cached by the response store)."""
    return await selection.load_form(request, summary.version_id)


def audio_library(request: web.Request) -> AudioLibrary:
    """The prompt files under AUDIO_DIR, as the IVR plays them."""
    return AudioLibrary(Path(request.config_dict[SETTINGS].audio_dir))
