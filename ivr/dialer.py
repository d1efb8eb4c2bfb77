"""Outbound survey calls, placed through Asterisk's AMI with panoramisk's `Manager`.

    async with Dialer(settings, calls) as dialer:
        result = await dialer.place(
            CallRequest(survey_id=3, phone="+254712345678", entry="+254201234567")
        )
        if result.outcome is CallOutcome.ANSWERED: ...

How one call goes:
- It takes one of `max_calls` slots; a call beyond them waits its turn.
- Its row is written to the call log (`survey_engine.ports.CallLog`), then an
  `Originate` with `Async: true` asks Asterisk to dial the trunk (`trunk` with
  `{number}` replaced by the respondent's E.164 number) for `ring_seconds`. Answered,
  the call runs `context`, `exten`, priority 1 (the IVR over FastAGI) with the channel
  variables ST_PHONE (the respondent's E.164 number), ST_ENTRY (the survey's IVR entry
  address) and ST_CALL (the call's id in the call log), and the survey's IVR number as
  its caller ID, so the respondent can call back on it.
- Asterisk's `OriginateResponse` gives the outcome (`outcome_of`, table below), which is
  recorded and returned. An answered call keeps its slot until Asterisk reports its
  hang-up, recorded as the call's end; `place` returns at the answer.

The AMI connection:
- panoramisk's `Manager` reconnects every `reconnect_seconds` after the connection is
  lost (Asterisk restarted) and logs in again; calls wait for it, up to
  `connect_seconds`, then fail with `error` set and no `reason`.
- A call whose outcome had not come when the connection was lost fails with `error`
  set: after a restart Asterisk has forgotten it. It is never sent again (panoramisk
  would re-send an action that had no reply yet on reconnecting: a graduate must not be
  called twice). An answered call whose hang-up was not seen keeps no end.
- Phone numbers are masked in every log line the dialer writes.

Exceptions (`start()`; `place` reports a call's failure as its `CallResult`):

    DialerError
     +-- AmiUnavailable     no AMI connection within `connect_seconds`
     +-- AmiLoginRefused    Asterisk refused AMI_USERNAME / AMI_SECRET
    ValueError              DialerSettings or CallRequest values that cannot be sent
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from panoramisk import Manager

from survey_engine.phones import mask_phone, mask_phones_in
from survey_engine.ports import CallLog, CallOutcome

__all__ = [
    "CALL_VARIABLE",
    "ENTRY_VARIABLE",
    "FAILURE_REASONS",
    "PHONE_VARIABLE",
    "AmiLoginRefused",
    "AmiUnavailable",
    "CallOutcome",
    "CallRequest",
    "CallResult",
    "Dialer",
    "DialerError",
    "DialerSettings",
    "outcome_of",
]

log = logging.getLogger(__name__)
# The channel variables a placed call carries, which the AGI side (ivr.channel) reads:
# the respondent's E.164 number, the survey's IVR entry address, the call log's id.
PHONE_VARIABLE, ENTRY_VARIABLE, CALL_VARIABLE = "ST_PHONE", "ST_ENTRY", "ST_CALL"
# panoramisk's own lines (connection lost, reconnecting) go under this name.
_ami_log = logging.getLogger(__name__ + ".ami")

# What a failed `OriginateResponse` (`Response: Failure`) means, by its numeric `Reason`.
# Asterisk (main/pbx.c, `pbx_dial_reason`) reports an AST_CONTROL_* value: 4 (answer)
# comes with `Response: Success`; 5 busy (cause USER_BUSY); 8 congestion (CONGESTION,
# CALL_REJECTED by the network, out of order, temporary failure); 3 rang without answer
# (the Timeout ran out, or NO_ANSWER); 1 the dialling side hung up; 0 anything else: no
# such number (UNALLOCATED), a channel that cannot be created, a callee that hung up
# while ringing. Checked against Asterisk 22 with the dialer's tests (tests/e2e).
FAILURE_REASONS: Mapping[int, tuple[CallOutcome, str]] = {
    0: (CallOutcome.FAILED, "failed (no such number, unreachable, or declined)"),
    1: (CallOutcome.FAILED, "hung up before answering"),
    3: (CallOutcome.NO_ANSWER, "no answer"),
    5: (CallOutcome.BUSY, "busy"),
    8: (CallOutcome.FAILED, "congestion"),
}

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ENTRY = re.compile(r"\+?[0-9]{1,20}")  # what survey_engine.phones.ivr_address stores
_DIALPLAN_NAME = re.compile(r"[A-Za-z0-9_.+*#-]{1,80}")
# Technology/resource, with no white space (AMI headers end at a line break).
_TRUNK = re.compile(r"[A-Za-z][A-Za-z0-9_]*/\S+")


class DialerError(Exception):
    """The dialer cannot work; `start()` raises a subclass."""


class AmiUnavailable(DialerError):
    """Asterisk's AMI did not answer (or log us in) within `connect_seconds`."""


class AmiLoginRefused(DialerError):
    """Asterisk refused the AMI username or secret: a configuration error."""


def outcome_of(response: str, reason: int | None) -> tuple[CallOutcome, str]:
    """(outcome, what it means for people) of an `OriginateResponse`: `Response:
    Success` is answered, whatever the reason; a failure is read in `FAILURE_REASONS`,
    and an unknown or missing reason is FAILED, naming it."""
    if response == "Success":
        return CallOutcome.ANSWERED, "answered"
    if reason is None:
        return CallOutcome.FAILED, "failed (no reason given)"
    return FAILURE_REASONS.get(reason, (CallOutcome.FAILED, f"failed (reason {reason})"))


def _one_line(name: str, value: str) -> None:
    if not value or any(c in value for c in "\r\n\x00"):
        raise ValueError(f"{name}: expected a non-empty value on one line")


@dataclass(frozen=True, slots=True)
class DialerSettings:
    """Where AMI is, how calls are dialled, and how many at once.

    `trunk` is a dial string with `{number}` where the respondent's E.164 number goes
    (`PJSIP/{number}@trunk`); `context` and `exten` are where an answered call goes
    (the IVR); `ring_seconds` is how long a call may ring; `connect_seconds` how long
    `start()` and a call wait for AMI; `answer_grace_seconds` how long past the ring time
    a call waits for Asterisk's outcome before it is failed."""

    username: str
    secret: str = field(repr=False)
    trunk: str
    host: str = "127.0.0.1"
    port: int = 5038
    context: str = "survey"
    exten: str = "s"
    ring_seconds: float = 45
    max_calls: int = 10
    connect_seconds: float = 10
    reconnect_seconds: int = 2
    answer_grace_seconds: float = 30

    def __post_init__(self) -> None:
        for name in ("username", "host"):
            _one_line(name, getattr(self, name))
        if not self.secret or any(c in self.secret for c in "\r\n\x00"):
            raise ValueError("secret: expected a non-empty value on one line")
        if "{number}" not in self.trunk or not _TRUNK.fullmatch(self.trunk):
            raise ValueError(
                f"trunk {self.trunk!r}: expected a dial string with {{number}} and no "
                "spaces, such as PJSIP/{number}@trunk"
            )
        for name in ("context", "exten"):
            if not _DIALPLAN_NAME.fullmatch(getattr(self, name)):
                raise ValueError(f"{name} {getattr(self, name)!r}: expected a dialplan name")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port {self.port}: expected 1 to 65535")
        if self.max_calls < 1:
            raise ValueError(f"max_calls {self.max_calls}: expected at least 1")
        if self.reconnect_seconds < 1:
            # panoramisk schedules its reconnection in whole seconds
            raise ValueError(f"reconnect_seconds {self.reconnect_seconds}: expected at least 1")
        for name in ("ring_seconds", "connect_seconds", "answer_grace_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} {getattr(self, name)}: expected more than 0")

    def dial_string(self, phone: str) -> str:
        """The channel to dial for `phone` (E.164, with its `+`)."""
        return self.trunk.replace("{number}", phone)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """Call `phone` (E.164) for the survey `survey_id`, reached by its IVR entry address
    `entry` as stored (`+254201234567`, or an extension such as `4000`): the AGI side
    finds the survey by ST_ENTRY, and the respondent sees `entry` as the caller."""

    survey_id: int
    phone: str
    entry: str

    def __post_init__(self) -> None:
        if self.survey_id < 1:
            raise ValueError(f"survey_id {self.survey_id}: expected a survey's id")
        if not _E164.fullmatch(self.phone):
            raise ValueError(f"phone {mask_phone(self.phone)!r}: expected an E.164 number")
        if not _ENTRY.fullmatch(self.entry):
            raise ValueError(f"entry {self.entry!r}: expected an IVR number or extension")


@dataclass(frozen=True, slots=True)
class CallResult:
    """What became of one call, as recorded in the call log under `call_id`.

    `reason` is Asterisk's numeric reason (`FAILURE_REASONS`), None when Asterisk never
    reported an outcome: then `error` says why (no AMI connection, the connection lost
    while the call was placed, no outcome in time) and the respondent may never have been
    called. `detail` is the outcome in words, for people."""

    call_id: int
    outcome: CallOutcome
    detail: str
    reason: int | None = None
    unique_id: str | None = None
    channel: str | None = None
    error: str | None = None

    @property
    def reached_asterisk(self) -> bool:
        """Whether Asterisk reported on the call (it tried to reach the respondent)."""
        return self.reason is not None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's `Manager` that stays closed once closed: `close()` does not cancel
    the reconnection it may have scheduled, nor a connection being made."""

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.stopped = False

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.stopped:
            return None
        return super().connect(*args, **kwargs)

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if self.stopped:
            if not f.cancelled() and f.exception() is None:
                transport, _ = f.result()
                transport.close()
            return
        super().connection_made(f)

    def close(self) -> None:
        self.stopped = True
        super().close()


@dataclass(slots=True, eq=False)
class _LiveCall:
    """A call between its `Originate` and its end: the outcome (the action's reply, or
    a string saying why there will be none) and the hang-up time (None: not seen)."""

    outcome: asyncio.Future[Any]
    hangup: asyncio.Future[dt.datetime | None]
    action: asyncio.Future[Any] | None = None


class Dialer:
    """Places survey calls through AMI. `async with Dialer(...)`, or `await start()`
    and `await close()`; `place` as many calls at once as you like: at most
    `settings.max_calls` are dialled or in progress, the others wait their turn.

    `clock` gives the times written to the call log (timezone-aware UTC)."""

    def __init__(
        self,
        settings: DialerSettings,
        calls: CallLog,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self._calls = calls
        self._clock = clock
        self._slots = asyncio.Semaphore(settings.max_calls)
        self._active = 0
        self._ready = asyncio.Event()
        self._refused: str | None = None
        self._login_answered = asyncio.Event()
        self._manager: _Manager | None = None
        self._live: dict[str, _LiveCall] = {}  # by the Uniqueid we gave the channel
        self._followers: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        """Whether the dialer is logged in to AMI now."""
        return self._ready.is_set()

    @property
    def active_calls(self) -> int:
        """Calls holding a slot: being dialled, or answered and not yet hung up."""
        return self._active

    async def __aenter__(self) -> Dialer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the connection -----------------------------------------------------------------

    async def start(self) -> None:
        """Connect and log in to AMI; `AmiUnavailable` or `AmiLoginRefused` when that
        cannot be done within `connect_seconds`."""
        if self._manager is not None:
            raise DialerError("the dialer is already started")
        s = self.settings
        self._manager = _Manager(
            loop=asyncio.get_running_loop(),
            host=s.host,
            port=s.port,
            username=s.username,
            secret=s.secret,
            events="call",  # OriginateResponse and Hangup; nothing else is read
            reconnect_timeout=s.reconnect_seconds,
            log=_ami_log,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
        )
        self._manager.register_event("Hangup", self._on_hangup)
        self._manager.connect()
        try:
            async with asyncio.timeout(s.connect_seconds):
                while not self._ready.is_set():
                    await self._login_answered.wait()
                    self._login_answered.clear()
                    if self._refused is not None:
                        break
        except TimeoutError:
            await self.close()
            raise AmiUnavailable(
                f"Asterisk's AMI at {s.host}:{s.port} did not answer within {s.connect_seconds:g} s"
            ) from None
        if self._refused is not None:
            await self.close()
            raise AmiLoginRefused(
                f"Asterisk's AMI at {s.host}:{s.port} refused the login of user "
                f"{s.username!r}: {self._refused}"
            )
        log.info("AMI connected: %s:%s as %s", s.host, s.port, s.username)

    async def close(self) -> None:
        """Stop: calls still waiting for an outcome fail ("the dialer was closed"), and
        answered calls are no longer followed to their end."""
        manager, self._manager = self._manager, None
        self._ready.clear()
        for live in list(self._live.values()):
            if not live.outcome.done():
                live.outcome.set_result("the dialer was closed before Asterisk's outcome")
            if not live.hangup.done():
                live.hangup.set_result(None)
        if manager is not None:
            manager.close()
            manager.awaiting_actions.clear()
        for task in list(self._followers):
            task.cancel()
        if self._followers:
            await asyncio.gather(*self._followers, return_exceptions=True)

    def _on_connect(self, manager: Manager) -> None:
        login = manager.authenticated_future
        if login is not None:
            login.add_done_callback(self._on_login_reply)

    def _on_login_reply(self, reply: asyncio.Future[Any]) -> None:
        if reply.cancelled() or reply.exception() is not None:
            return
        message = reply.result()
        if message.success:
            self._refused = None
            self._ready.set()
        else:
            self._refused = str(message.get("Message") or "login failed")
            log.error(
                "Asterisk's AMI refused the login of user %r: %s",
                self.settings.username,
                self._refused,
            )
        self._login_answered.set()

    def _on_disconnect(self, manager: Manager, exc: object) -> None:
        self._ready.clear()
        # Actions without a reply are queued by panoramisk to be sent again after the
        # next login: never for a call (see the module's docstring).
        manager.awaiting_actions.clear()
        if getattr(manager, "stopped", False):
            return
        lost = 0
        for live in self._live.values():
            if live.action is not None and not live.action.done():
                live.action.cancel()
            if not live.outcome.done():
                live.outcome.set_result("the AMI connection was lost before Asterisk's outcome")
                lost += 1
            if not live.hangup.done():
                live.hangup.set_result(None)
        log.warning(
            "lost the AMI connection to %s:%s (%d call(s) without an outcome); "
            "reconnecting every %d s",
            self.settings.host,
            self.settings.port,
            lost,
            self.settings.reconnect_seconds,
        )

    def _on_hangup(self, manager: Manager, event: Any) -> None:
        live = self._live.get(event.get("Uniqueid", ""))
        if live is not None and not live.hangup.done():
            live.hangup.set_result(self._clock())

    # -- calls ------------------------------------------------------------------------

    async def place(self, request: CallRequest) -> CallResult:
        """Place one call and return its outcome once Asterisk reports it (at the answer
        for an answered call), recorded in the call log."""
        if self._manager is None:
            raise DialerError("start() the dialer before placing calls")
        await self._slots.acquire()
        self._active += 1
        handed_over = False
        try:
            started = time.monotonic()
            call_id = await self._calls.call_placed(
                request.survey_id, request.phone, now=self._clock()
            )
            result, live = await self._dial(call_id, request)
            await self._calls.call_outcome(
                call_id,
                result.outcome,
                reason=result.reason,
                unique_id=result.unique_id,
                channel=result.channel,
                error=result.error,
                now=self._clock(),
            )
            log.info(
                "call %d to %s for survey %d: %s%s in %.1f s%s",
                call_id,
                mask_phone(request.phone),
                request.survey_id,
                result.detail,
                "" if result.reason is None else f" (reason {result.reason})",
                time.monotonic() - started,
                f"; {mask_phones_in(result.error)}" if result.error else "",
            )
            if result.outcome is CallOutcome.ANSWERED and live is not None:
                task = asyncio.create_task(self._follow(call_id, result.unique_id or "", live))
                self._followers.add(task)
                task.add_done_callback(self._followers.discard)
                handed_over = True
            return result
        finally:
            if not handed_over:
                self._release()

    def _release(self) -> None:
        self._active -= 1
        self._slots.release()

    async def _dial(
        self, call_id: int, request: CallRequest
    ) -> tuple[CallResult, _LiveCall | None]:
        s = self.settings
        if not self._ready.is_set():
            try:
                async with asyncio.timeout(s.connect_seconds):
                    await self._ready.wait()
            except TimeoutError:
                error = (
                    f"no AMI connection to {s.host}:{s.port} within {s.connect_seconds:g} s; "
                    "the call was not placed"
                )
                return CallResult(call_id, CallOutcome.FAILED, "not placed", error=error), None
        manager = self._manager
        if manager is None:
            error = "the dialer was closed before the call was placed"
            return CallResult(call_id, CallOutcome.FAILED, "not placed", error=error), None

        unique_id = f"st-{call_id}-{secrets.token_hex(4)}"
        loop = asyncio.get_running_loop()
        live = _LiveCall(outcome=loop.create_future(), hangup=loop.create_future())
        self._live[unique_id] = live
        answered = False
        try:
            live.action = manager.send_action(
                {
                    "Action": "Originate",
                    "ActionID": f"originate-{unique_id}",
                    "ChannelId": unique_id,
                    "Channel": s.dial_string(request.phone),
                    "Context": s.context,
                    "Exten": s.exten,
                    "Priority": "1",
                    "CallerID": request.entry,
                    "Timeout": str(round(s.ring_seconds * 1000)),
                    "Async": "true",
                    "Variable": [
                        f"{PHONE_VARIABLE}={request.phone}",
                        f"{ENTRY_VARIABLE}={request.entry}",
                        f"{CALL_VARIABLE}={call_id}",
                    ],
                }
            )
            live.action.add_done_callback(lambda action: _settle(live.outcome, action))
            wait = s.ring_seconds + s.answer_grace_seconds
            try:
                async with asyncio.timeout(wait):
                    reply = await asyncio.shield(live.outcome)
            except TimeoutError:
                live.action.cancel()
                reply = f"no outcome from Asterisk within {wait:g} s"
            result = _result(call_id, unique_id, reply)
            answered = result.outcome is CallOutcome.ANSWERED
            return result, live
        finally:
            if not answered:
                self._live.pop(unique_id, None)

    async def _follow(self, call_id: int, unique_id: str, live: _LiveCall) -> None:
        """Hold an answered call's slot until its hang-up, and record the hang-up."""
        try:
            ended = await live.hangup
            if ended is not None:
                await self._calls.call_ended(call_id, now=ended)
                log.info("call %d ended", call_id)
            else:
                log.warning("call %d: its hang-up was not seen (AMI connection lost)", call_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %d: recording its end failed", call_id)
        finally:
            self._live.pop(unique_id, None)
            self._release()


def _settle(outcome: asyncio.Future[Any], action: asyncio.Future[Any]) -> None:
    """Hand the Originate's reply to the call waiting for it."""
    if outcome.done():
        return
    if action.cancelled():
        outcome.set_result("the Originate was abandoned")
    elif action.exception() is not None:
        outcome.set_result(f"the Originate failed: {action.exception()}")
    else:
        outcome.set_result(action.result())


def _result(call_id: int, unique_id: str, reply: Any) -> CallResult:
    """The call's result from what its Originate got: the action's replies (a list ending
    with the `OriginateResponse` event), a single refusal (`Response: Error`), or a
    string saying why no outcome came."""
    if isinstance(reply, str):
        return CallResult(
            call_id, CallOutcome.FAILED, "no outcome", unique_id=unique_id, error=reply
        )
    messages = reply if isinstance(reply, list) else [reply]
    event = next((m for m in messages if m.get("Event") == "OriginateResponse"), None)
    if event is None:
        refusal = str(messages[0].get("Message") or messages[0].get("Response") or "no reply")
        return CallResult(
            call_id,
            CallOutcome.FAILED,
            "refused by Asterisk",
            error=f"Asterisk refused the Originate: {refusal}",
        )
    raw_reason = str(event.get("Reason", ""))
    reason = int(raw_reason) if raw_reason.isdigit() else None
    outcome, detail = outcome_of(str(event.get("Response", "")), reason)
    reported_id = str(event.get("Uniqueid") or "")
    return CallResult(
        call_id,
        outcome,
        detail,
        reason=reason,
        unique_id=reported_id if reported_id and reported_id != "<unknown>" else unique_id,
        channel=str(event.get("Channel") or "") or None,
    )
