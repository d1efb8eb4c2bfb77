"""The gateway endpoints. They carry no cookies and no admin session.

Phone numbers and gateway fields are logged as they are: the service's log handler
masks numbers and escapes control characters in every line (`service_tracker.logs`).
A rejected callback logs its field names and sizes only, never what was typed. The
gateway token (GATEWAY_TOKEN) is checked before these handlers, by the app."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from aiohttp import web

from survey_engine.phrases import phrase
from ussd.channel import UssdChannel
from ussd.gateways.africastalking import (
    MAX_BODY_BYTES,
    GatewayError,
    end,
    form_sizes_for_log,
    parse_callback,
    parse_form,
    parse_session_end,
)

HOP_DEADLINE_SECONDS = 5.0

log = logging.getLogger("service_tracker.ussd")


class HopDeadlines:
    """Cancels hops still running `seconds` after they started.

    Networks drop a session whose reply is late: a stuck database or Redis must fail
    the hop in time, not hang it. One timer ticks while hops run, instead of an
    `asyncio.timeout` per hop, which schedules and cancels a timer handle on every hop
    (a few per cent of a hop's CPU under load); a deadline is kept to within `tick`."""

    def __init__(self, seconds: float = HOP_DEADLINE_SECONDS, tick: float = 0.25) -> None:
        self.seconds = seconds
        self._tick = min(tick, seconds / 4)
        self._running: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def enter(self) -> asyncio.Task[object]:
        """Start the current task's deadline; pass the task to `leave` when it is done."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("HopDeadlines.enter() outside a task")
        loop = task.get_loop()
        self._running[task] = loop.time() + self.seconds
        if self._timer is None:
            self._timer = loop.call_later(self._tick, self._check, loop)
        return task

    def leave(self, task: asyncio.Task[object]) -> bool:
        """End the task's deadline: True when the deadline cancelled it."""
        self._running.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        late = [task for task, deadline in self._running.items() if deadline <= now]
        for task in late:
            del self._running[task]
            self._expired.add(task)
            task.cancel()
        self._timer = loop.call_later(self._tick, self._check, loop) if self._running else None


USSD_CHANNEL = web.AppKey("ussd_channel", UssdChannel)
DEFAULT_REGION = web.AppKey("ussd_default_region", str)
DEADLINES = web.AppKey("ussd_hop_deadlines", HopDeadlines)


async def read_form(request: web.Request, *, limit: int = MAX_BODY_BYTES) -> Mapping[str, str]:
    """The gateway's form fields, from a body of at most `limit` bytes (413 beyond).
    Africa's Talking posts urlencoded UTF-8, read here with `parse_form` (a ninth of
    the cost of `request.post()` on every hop); anything else goes through aiohttp's
    general parser, after the declared length is checked."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    if request.content_type != "application/x-www-form-urlencoded":
        return await request.post()  # type: ignore[return-value]
    # A declared length was checked above, and aiohttp reads exactly that much; only a
    # chunked body (no length) needs counting as it arrives.
    if request.content_length is not None:
        body = await request.read()
    else:
        body = await _read_at_most(request, limit)
    try:
        return parse_form(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise GatewayError("body", "the form is not UTF-8") from None


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    # A chunked body declares no length: count as it arrives.
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(65536):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> GatewayError:
    return GatewayError("body", f"the body is larger than {limit} bytes", status=413)


async def africastalking_callback(request: web.Request) -> web.Response:
    started = time.perf_counter()
    form: Mapping[str, str] = {}
    try:
        form = await read_form(request)
        hop = parse_callback(form, default_region=request.app.get(DEFAULT_REGION) or None)
    except GatewayError as error:
        log.warning("rejected callback: %s; fields %s", error.message, form_sizes_for_log(form))
        return web.Response(status=error.status, text=error.message)
    deadlines = request.app[DEADLINES]
    task = deadlines.enter()
    try:
        result = await request.app[USSD_CHANNEL].handle(hop)
    except asyncio.CancelledError:
        if not deadlines.leave(task):
            raise
        task.uncancel()
        # Whatever was not committed is redone when the respondent dials again.
        log.error(
            "hop took longer than %.1f s session=%s phone=%s",
            deadlines.seconds,
            hop.session_id,
            hop.phone,
        )
        return _system_error()
    except Exception:
        deadlines.leave(task)
        log.exception("hop failed session=%s phone=%s", hop.session_id, hop.phone)
        return _system_error()
    if deadlines.leave(task):
        # The cancellation was swallowed on the way (the hop finished): the reply is
        # good, and the task must not stay marked as cancelling.
        task.uncancel()
    if result.failure is not None:
        log.error("survey failed session=%s: %s", hop.session_id, result.failure.detail)
    if log.isEnabledFor(logging.INFO):
        log.info(
            "hop session=%s phone=%s question=%s outcome=%s ms=%.1f",
            hop.session_id,
            hop.phone,
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
        log.warning(
            "rejected session-end notice: %s; fields %s", error.message, form_sizes_for_log(form)
        )
        return web.Response(status=error.status, text=error.message)
    changed = await request.app[USSD_CHANNEL].session_ended(notice.session_id)
    log.info(
        "session end session=%s status=%s interrupted=%s",
        notice.session_id,
        notice.status,
        changed,
    )
    return web.Response(text="OK")


def _system_error() -> web.Response:
    return web.Response(text=end(phrase("system_error", None)), content_type="text/plain")


def add_routes(app: web.Application) -> None:
    if DEADLINES not in app:
        app[DEADLINES] = HopDeadlines()
    app.router.add_post("/ussd/africastalking", africastalking_callback)
    app.router.add_post("/ussd/africastalking/events", africastalking_session_end)
