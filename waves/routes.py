"""Africa's Talking's SMS callbacks: delivery reports and incoming messages.

    POST /sms/africastalking/delivery   id, status, phoneNumber, networkCode,
                                        failureReason, retryCount
    POST /sms/africastalking/incoming   from, to, text, date, id, linkId, networkCode

Both are form-encoded, as the gateway posts them, and guarded by `GATEWAY_TOKEN` like
the USSD callbacks (`?token=` in the URL configured at the gateway). A delivery report
is kept on the invitation its message id names. An incoming message whose first word
is STOP, or its word in the service's languages, opts the number out everywhere and
cancels what was waiting for it. Both answer 200 at once whatever they were sent (the
gateway retries anything else); what could not be used is logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata

from aiohttp import web

from service_tracker.keys import DATABASE
from storage.invitations import opt_out, record_delivery
from survey_engine.phones import PhoneNumberError, mask_phone, normalize_phone

__all__ = ["STOP_WORDS", "add_sms_routes", "is_stop"]

_log = logging.getLogger("service_tracker.sms")


def _plain(text: str) -> str:
    """Lower case, no accents or punctuation: how a first word is compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        kept.append(char if char.isalnum() or char.isspace() else " ")
    # Arabic: the hamza comes off too, so "إلغاء" and "الغاء" read alike.
    return "".join(kept).replace("ء", "")


# The first word of a message that asks for no more contact, in English, French,
# Swahili and Arabic, compared as `_plain` leaves it.
STOP_WORDS = frozenset(
    _plain(word)
    for word in (
        "stop", "stopall", "unsubscribe", "cancel", "end", "quit",
        "arrêt", "arrêter", "stopper", "désabonner", "désinscrire",
        "acha", "sitisha", "simamisha", "ondoa",
        "توقف", "قف", "إلغاء", "إيقاف",
    )
)  # fmt: skip


def add_sms_routes(app: web.Application) -> None:
    app.router.add_post("/sms/africastalking/delivery", delivery_report)
    app.router.add_post("/sms/africastalking/incoming", incoming)


def is_stop(text: str) -> bool:
    """Whether a message asks for no more contact: its first word, accents and case
    and punctuation aside, is one of STOP_WORDS."""
    words = _plain(text).split()
    return bool(words) and words[0] in STOP_WORDS


async def delivery_report(request: web.Request) -> web.Response:
    form = await request.post()
    message_id = str(form.get("id") or "").strip()
    status = str(form.get("status") or "").strip()
    reason = str(form.get("failureReason") or "").strip()
    if not message_id or not status:
        _log.warning("a delivery report without id or status was ignored")
        return web.Response(text="ok")
    async with request.config_dict[DATABASE].begin() as conn:
        found = await record_delivery(conn, message_id, status, reason, dt.datetime.now(dt.UTC))
    if not found:
        _log.info("a delivery report for a message no invitation sent (%s)", message_id[:80])
    return web.Response(text="ok")


async def incoming(request: web.Request) -> web.Response:
    form = await request.post()
    text = str(form.get("text") or "")
    if not is_stop(text):
        return web.Response(text="ok")  # only STOP is read; answers come by USSD or voice
    try:
        phone = normalize_phone(str(form.get("from") or ""))
    except PhoneNumberError:
        _log.warning("a STOP from a number that is not one was ignored")
        return web.Response(text="ok")
    async with request.config_dict[DATABASE].begin() as conn:
        count = await opt_out(conn, phone, dt.datetime.now(dt.UTC))
    _log.info("%s asked to stop: %d respondent(s) opted out", mask_phone(phone), count)
    return web.Response(text="ok")
