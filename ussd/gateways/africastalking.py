"""Africa's Talking USSD: its wire format in, frozen records out, and its reply format.

The gateway POSTs `application/x-www-form-urlencoded` forms:

- the session callback, once per screen: `sessionId`, `serviceCode` (`*384*123#`),
  `phoneNumber` (E.164 with `+`), `networkCode`, and `text`: every input of the
  session so far joined with `*` (`""` on a plain dial, then `1`, `1*2`,
  `1*2*Nairobi`). We answer `text/plain` starting `CON ` (show, wait for input) or
  `END ` (show, close).
- the session-end notification: `sessionId`, `serviceCode`, `phoneNumber`,
  `status` (`Success`, `Incomplete`, `Failed`), `durationInMillis`, `input`,
  `errorMessage`, and fields we do not use (`date`, `cost`, `hopsCount`, ...).

Errors::

    Exception
     └── GatewayError    a field is missing or malformed, or the body is too large:
                         answer `status` (400, 413), and retry only when `retryable`
                         says so

`phoneNumber` is what the network delivered, so any possible E.164 number is taken,
even in a range phonenumbers' metadata does not list yet (logged once per range).
`text` is bounded as a whole history, generously: each answer in it is the engine's
to judge (it re-prompts a text answer that is too long), never a reason to refuse
the callback.

Only this module knows these field names; the engine never sees them. Splitting the
`*`-joined history into the newest input happens here too (`latest_input`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from survey_engine.phones import PhoneNumberError, read_delivered_phone

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HISTORY",
    "SESSION_END_STATUSES",
    "GatewayError",
    "UssdRequest",
    "UssdSessionEnd",
    "con",
    "dialled_address",
    "end",
    "form_sizes_for_log",
    "latest_input",
    "parse_callback",
    "parse_form",
    "parse_session_end",
    "provably_current",
]

# Generous bounds that no genuine callback reaches; they stop a forged or broken
# request from making us store or log megabytes.
_MAX_SESSION_ID = 128
_MAX_NETWORK_CODE = 32
_MAX_ERROR_MESSAGE = 2000
# The whole `*`-joined history of a session: a hundred open answers at the engine's
# 500-character limit, re-prompts and paging keys included. One answer is limited by
# the engine, with a translated re-prompt, not here.
MAX_HISTORY = 50_000
# A callback's body: the history at its bound, every character a 3-byte UTF-8 one
# percent-encoded (9 bytes), still fits, with room for the other fields. Larger is 413.
MAX_BODY_BYTES = 512 * 1024
# Unlisted ranges already logged, per process; cleared when full to bound memory.
_MAX_REPORTED_RANGES = 1024

log = logging.getLogger("service_tracker.ussd")
_reported_ranges: set[str] = set()
_SERVICE_CODE = re.compile(r"\*[0-9*]+#")
_DIGITS = re.compile(r"[0-9]+")

SESSION_END_STATUSES = frozenset({"Success", "Incomplete", "Failed"})


class GatewayError(Exception):
    """A callback we cannot use. `field` is the form field at fault, `message` says
    what was expected ("field 'sessionId' required"); `status` and `retryable` tell
    the route how to answer, so nobody has to read the message to decide."""

    def __init__(
        self, field: str, message: str, *, status: int = 400, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"GatewayError(field={self.field!r}, message={self.message!r})"


@dataclass(frozen=True, slots=True)
class UssdRequest:
    """One session callback: the respondent's newest screen request."""

    session_id: str
    service_code: str
    phone: str  # E.164
    network_code: str
    text: str  # the whole '*'-joined history of the session, as the gateway sent it


@dataclass(frozen=True, slots=True)
class UssdSessionEnd:
    """The gateway's notice that a session closed, and how."""

    session_id: str
    service_code: str
    phone: str  # E.164, or "" when the notice carried none
    status: str  # one of SESSION_END_STATUSES
    duration_ms: int | None
    error_message: str
    last_input: str


def _field(
    form: Mapping[str, str], name: str, *, required: bool, max_length: int | None = None
) -> str:
    """The text of field `name`; a missing or blank required field is an error."""
    value = form.get(name)
    if value is None:
        if required:
            raise GatewayError(name, f"field '{name}' required")
        return ""
    if not isinstance(value, str):
        # aiohttp hands a file part of a multipart body over as a FileField.
        raise GatewayError(name, f"field '{name}' must be text")
    if required and not value.strip():
        raise GatewayError(name, f"field '{name}' required")
    if max_length is not None and len(value) > max_length:
        raise GatewayError(name, f"field '{name}' longer than {max_length} characters")
    if "\x00" in value:
        # PostgreSQL cannot store NUL in text: refuse it here rather than fail the hop.
        raise GatewayError(name, f"field '{name}' contains a NUL character")
    return value


def _phone(raw: str, default_region: str | None) -> str:
    try:
        phone, unlisted = read_delivered_phone(raw, default_region)
    except PhoneNumberError:
        # The number stays out of the message, and the cause (which quotes it) out of
        # the traceback: both end up in logs.
        message = "field 'phoneNumber' is not a possible phone number"
        raise GatewayError("phoneNumber", message) from None
    if unlisted is not None:
        _report_unlisted_range(unlisted)
    return phone


def _report_unlisted_range(block: str) -> None:
    """Log, once per range, a delivered number that phonenumbers' metadata does not
    list: the caller is served, and the operator learns the package is behind."""
    if block in _reported_ranges:
        return
    if len(_reported_ranges) >= _MAX_REPORTED_RANGES:
        _reported_ranges.clear()
    _reported_ranges.add(block)
    log.warning(
        "accepted a caller in the range %s..., which the phonenumbers package does not "
        "list: consider upgrading it",
        block,
    )


def _service_code(form: Mapping[str, str], *, required: bool) -> str:
    code = _field(form, "serviceCode", required=required).strip()
    if code and not _SERVICE_CODE.fullmatch(code):
        raise GatewayError("serviceCode", "field 'serviceCode' must look like *384*123#")
    return code


def parse_callback(form: Mapping[str, str], *, default_region: str | None = None) -> UssdRequest:
    """The session callback as a `UssdRequest`, or `GatewayError` naming the bad field.

    `default_region` (an ISO country code such as "KE") reads a number sent without
    its `+`; without it the number must be international."""
    session_id = _field(form, "sessionId", required=True, max_length=_MAX_SESSION_ID).strip()
    service_code = _service_code(form, required=True)
    phone = _phone(_field(form, "phoneNumber", required=True), default_region)
    network_code = _field(form, "networkCode", required=False, max_length=_MAX_NETWORK_CODE)
    if "text" not in form:
        # Present even when empty on a plain dial; absent means it is not their callback.
        raise GatewayError("text", "field 'text' required")
    # Not stripped: the history is compared with what the session last applied.
    text = _field(form, "text", required=False, max_length=MAX_HISTORY)
    return UssdRequest(
        session_id=session_id,
        service_code=service_code,
        phone=phone,
        network_code=network_code.strip(),
        text=text,
    )


def parse_session_end(
    form: Mapping[str, str], *, default_region: str | None = None
) -> UssdSessionEnd:
    """The session-end notification as a `UssdSessionEnd`, or `GatewayError`.

    Only `sessionId` and `status` are required: the notice is a report, and a missing
    phone or service code should not lose it. A phone that is present must be valid."""
    session_id = _field(form, "sessionId", required=True, max_length=_MAX_SESSION_ID).strip()
    status = _field(form, "status", required=True).strip()
    if status not in SESSION_END_STATUSES:
        expected = ", ".join(sorted(SESSION_END_STATUSES))
        raise GatewayError("status", f"field 'status' must be one of {expected}")
    raw_phone = _field(form, "phoneNumber", required=False).strip()
    duration_text = _field(form, "durationInMillis", required=False).strip()
    duration_ms: int | None = None
    if duration_text:
        # ASCII digits only: int() would also take "1_000", "+5" and Arabic-Indic digits.
        if not _DIGITS.fullmatch(duration_text):
            raise GatewayError(
                "durationInMillis", "field 'durationInMillis' must be a whole number"
            )
        duration_ms = int(duration_text)
    return UssdSessionEnd(
        session_id=session_id,
        service_code=_service_code(form, required=False),
        phone=_phone(raw_phone, default_region) if raw_phone else "",
        status=status,
        duration_ms=duration_ms,
        error_message=_field(form, "errorMessage", required=False, max_length=_MAX_ERROR_MESSAGE),
        last_input=_field(form, "input", required=False, max_length=MAX_HISTORY),
    )


def latest_input(text: str, previous_text: str | None) -> str | None:
    """The newest input in the gateway's `*`-joined history, or None when `text` is
    not one new input after `previous_text` (the history this session last applied,
    None before the first request).

    The history cannot be split on `*` alone: an answer may itself contain `*`, so the
    new input is whatever extends the applied history.

    - first request: the whole text ("" on a plain dial, "2" when *384*123*2# was
      dialled);
    - a record of "": the text;
    - text extending the record by "*": the remainder ("1" then "1*3*4" -> "3*4";
      "1*2" then "1*2*" -> "", an empty input);
    - anything else is None: the same text again (a retried delivery), or a text the
      session has moved past or that does not extend it (a late retry of an earlier
      hop, callbacks reordered). Such a text must store nothing.
    """
    if previous_text is None:
        return text
    if text == previous_text:
        return None
    if previous_text == "":
        return text
    if text.startswith(previous_text + "*"):
        return text[len(previous_text) + 1 :]
    return None


def is_earlier(text: str, previous_text: str) -> bool:
    """True when `text` is a history the session had before `previous_text`: a late
    retry of an earlier hop (the plain dial included)."""
    return text == "" or previous_text.startswith(text + "*")


def provably_current(text: str, previous_text: str) -> bool:
    """True when a session last at `previous_text` cannot have moved on before `text`:
    the same text again, or one more input that holds no `*`. Had another worker
    answered a hop in between, the text would hold at least one more `*`-separated
    input; had it answered this very hop, re-applying the same input to the same state
    stores the same answer (upserts) and the same record."""
    if text == previous_text:
        return True
    if previous_text:
        if not text.startswith(previous_text + "*"):
            return False
        return "*" not in text[len(previous_text) + 1 :]
    return "*" not in text


def dialled_address(service_code: str, text: str) -> str:
    """The code as the respondent dialled it: `*384*123#` with first text "2" was
    `*384*123*2#` (the entry address of extension 2)."""
    return f"{service_code[:-1]}*{text}#"


# Every ASCII character's %-escape, in either case of hex digit: what the gateway's
# forms hold on almost every hop (`%2A` for `*`, `%2B` for `+`, `%23` for `#`).
_ASCII_ESCAPES = {
    first + second: chr(code)
    for code in range(128)
    for first in {f"{code:02x}"[0], f"{code:02X}"[0]}
    for second in {f"{code:02x}"[1], f"{code:02X}"[1]}
}


def parse_form(body: str) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body as a dict, the last value of a
    repeated name winning: exactly `dict(parse_qsl(body, keep_blank_values=True))`
    (a property test holds them equal), at a third of its cost on every hop."""
    fields = {}
    for pair in body.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            fields[_unquote_plus(name)] = _unquote_plus(value)
    return fields


def _unquote_plus(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    pieces = text.split("%")
    out = [pieces[0]]
    for piece in pieces[1:]:
        char = _ASCII_ESCAPES.get(piece[:2])
        if char is None:
            # Multi-byte UTF-8 (Arabic, accents) or a stray `%`: the library's way.
            return unquote(text)
        out.append(char)
        out.append(piece[2:])
    return "".join(out)


def con(screen: str) -> str:
    """A reply that shows `screen` and waits for input."""
    return f"CON {screen}"


def end(screen: str) -> str:
    """A reply that shows `screen` and closes the session."""
    return f"END {screen}"


def form_sizes_for_log(form: Mapping[str, object], *, most: int = 12) -> str:
    """`phoneNumber:13 sessionId:26 text:0`: which fields a rejected callback held and
    how long each was, never what a respondent typed. Names are the sender's too, so
    they are cut short and only the first `most` are named."""
    parts = [
        f"{name[:32]}:{len(value) if isinstance(value, str) else '?'}"
        for name, value in sorted(form.items())[:most]
    ]
    if len(form) > most:
        parts.append(f"(+{len(form) - most} more)")
    return " ".join(parts) or "(no fields)"
