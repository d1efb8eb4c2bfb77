"""The gateway endpoints. They carry no cookies and no admin session."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from survey_engine.phones import mask_phone
from survey_engine.phrases import phrase
from ussd.conversation import Conversation
from ussd.gateways.africastalking import (
    GatewayError,
    end,
    mask_form_for_log,
    parse_callback,
    parse_session_end,
)

CONVERSATION = web.AppKey("ussd_conversation", Conversation)
DEFAULT_REGION = web.AppKey("ussd_default_region", str)

log = logging.getLogger("service_tracker.ussd")


async def africastalking_callback(request: web.Request) -> web.Response:
    started = time.perf_counter()
    form = await request.post()
    try:
        hop = parse_callback(form, default_region=request.app.get(DEFAULT_REGION) or None)
    except GatewayError as error:
        log.warning("rejected callback: %s %s", error.message, mask_form_for_log(form))
        return web.Response(status=error.status, text=error.message)
    try:
        result = await request.app[CONVERSATION].handle(hop)
    except Exception:
        # Nothing was committed or saved: the respondent dials again and resumes.
        log.exception("hop failed session=%s phone=%s", hop.session_id, mask_phone(hop.phone))
        return web.Response(text=end(phrase("system_error", None)), content_type="text/plain")
    if result.failure is not None:
        log.error("survey failed session=%s: %s", hop.session_id, result.failure.detail)
    if log.isEnabledFor(logging.INFO):
        log.info(
            "hop session=%s phone=%s question=%s outcome=%s ms=%.1f",
            hop.session_id,
            mask_phone(hop.phone),
            result.question or "-",
            result.outcome.value if result.status is None else result.status.value,
            (time.perf_counter() - started) * 1000,
        )
    return web.Response(text=result.reply, content_type="text/plain")


async def africastalking_session_end(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        notice = parse_session_end(form)
    except GatewayError as error:
        log.warning("rejected session-end notice: %s %s", error.message, mask_form_for_log(form))
        return web.Response(status=error.status, text=error.message)
    changed = await request.app[CONVERSATION].session_ended(notice.session_id)
    log.info(
        "session end session=%s status=%s interrupted=%s",
        notice.session_id,
        notice.status,
        changed,
    )
    return web.Response(text="OK")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/ussd/africastalking", africastalking_callback)
    app.router.add_post("/ussd/africastalking/events", africastalking_session_end)
