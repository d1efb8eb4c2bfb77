"""The gateway endpoints. They carry no cookies and no admin session."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl

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

HOP_DEADLINE_SECONDS = 5.0

log = logging.getLogger("service_tracker.ussd")


async def read_form(request: web.Request) -> Mapping[str, str]:
    """The gateway's form fields. Africa's Talking posts urlencoded UTF-8, read here with
    `parse_qsl` (a third of the cost of `request.post()` on every hop); anything else
    goes through aiohttp's general parser."""
    if request.content_type != "application/x-www-form-urlencoded":
        return await request.post()  # type: ignore[return-value]
    body = await request.read()
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise GatewayError("body", "the form is not UTF-8") from None


async def africastalking_callback(request: web.Request) -> web.Response:
    started = time.perf_counter()
    form: Mapping[str, str] = {}
    try:
        form = await read_form(request)
        hop = parse_callback(form, default_region=request.app.get(DEFAULT_REGION) or None)
    except GatewayError as error:
        shown = mask_form_for_log(form) if error.field != "body" else {}
        log.warning("rejected callback: %s %s", error.message, shown)
        return web.Response(status=error.status, text=error.message)
    try:
        # Networks drop a session whose reply is late: a stuck database or Redis must
        # fail this hop in time, not hang it.
        async with asyncio.timeout(HOP_DEADLINE_SECONDS):
            result = await request.app[CONVERSATION].handle(hop)
    except Exception:
        # Whatever was not committed is redone when the respondent dials again.
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
    form: Mapping[str, str] = {}
    try:
        form = await read_form(request)
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
