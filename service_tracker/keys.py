"""Typed application keys of the composition root, in one place."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from interviews import Interviews
from ivr.server import AgiServer
from service_tracker.config import Settings
from storage.responses import SqlResponseStore
from survey_engine.ports import RecordingStore, SessionStore

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", AsyncEngine)
RESPONSES = web.AppKey("responses", SqlResponseStore)
SESSIONS = web.AppKey("sessions", SessionStore)
INTERVIEWS = web.AppKey("interviews", Interviews)
# The voice channel's: live records in the worker's memory (see app._interviews).
IVR_INTERVIEWS = web.AppKey("ivr_interviews", Interviews)
RECORDINGS = web.AppKey("recordings", RecordingStore)
AGI_SERVER = web.AppKey("agi_server", AgiServer)
