"""SMS through Africa's Talking, with their official `africastalking` SDK.

The SDK is synchronous (requests): each send runs in a thread, at most `max_in_flight`
at once, so the event loop keeps serving. Messages with the same text go to up to 100
recipients in one request (the SMS API's `to` is a list); different texts are
separate requests. `AFRICASTALKING_BASE_URL` replaces the SDK's own address (a staging
server, or the tests' stand-in): the SDK has no setting for it, so the service's
`_baseUrl` is set as the SDK builds it (`<base>/version1`).

What the API answers, per recipient: a `statusCode` (100 processed, 101 sent, 102
queued: accepted; 401-409 refused for that number or account; 500-502 a failure on
their side, worth retrying) and a `messageId` that delivery reports name later. An
HTTP error or no answer at all raises `SmsError(retryable=True)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService

from service_tracker.config import Settings

__all__ = ["AfricasTalkingSms", "SmsError", "SmsResult"]

RECIPIENTS_PER_REQUEST = 100
_ACCEPTED = {100, 101, 102}
_RETRYABLE = {500, 501, 502}
_TIMEOUT = (3.05, 20.05)  # connect, read (s): a bulk send takes longer than one SMS


class SmsError(Exception):
    """A request was not answered as the SMS API answers; `retryable` when trying again
    later may work (an HTTP error, a timeout, their server failing)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class SmsResult:
    phone: str
    accepted: bool
    status: str  # "Success", "InvalidPhoneNumber", ... as the API says it
    status_code: int | None
    message_id: str | None  # what delivery reports name
    cost: str | None  # "KES 0.8000"
    retryable: bool = False


class AfricasTalkingSms:
    """Sends SMS through the SDK's SMSService."""

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        sender_id: str | None = None,
        base_url: str | None = None,
        max_in_flight: int = 4,
    ) -> None:
        self._service = SMSService(username, api_key)
        if base_url:
            self._service._baseUrl = base_url.rstrip("/") + "/version1"
        self._sender_id = sender_id
        self.max_in_flight = max_in_flight
        self._slots = asyncio.Semaphore(max_in_flight)

    @classmethod
    def from_settings(cls, settings: Settings) -> AfricasTalkingSms | None:
        """None when the settings name no Africa's Talking account."""
        if not (settings.africastalking_username and settings.africastalking_api_key):
            return None
        return cls(
            settings.africastalking_username,
            settings.africastalking_api_key,
            sender_id=settings.africastalking_sender_id,
            base_url=settings.africastalking_base_url,
        )

    async def send(self, text: str, phones: Sequence[str]) -> list[SmsResult]:
        """One text to up to RECIPIENTS_PER_REQUEST numbers (E.164), in one request."""
        if not phones:
            return []
        if len(phones) > RECIPIENTS_PER_REQUEST:
            raise ValueError(f"at most {RECIPIENTS_PER_REQUEST} recipients per request")
        async with self._slots:
            try:
                answer = await asyncio.to_thread(
                    self._service.send, text, list(phones), self._sender_id, timeout=_TIMEOUT
                )
            except (AfricasTalkingException, requests.RequestException) as error:
                raise SmsError(f"the SMS API did not send: {error}"[:500], retryable=True) from None
            except ValueError as error:  # the SDK's own check of the numbers
                raise SmsError(str(error), retryable=False) from None
        return _results(answer, phones)

    async def send_each(self, messages: Sequence[tuple[str, str]]) -> list[SmsResult | SmsError]:
        """Many (phone, text) pairs: identical texts share requests; a request's error
        stands for each of its recipients. Results in the order given."""
        by_text: dict[str, list[int]] = {}
        for index, (_, text) in enumerate(messages):
            by_text.setdefault(text, []).append(index)
        requests_: list[tuple[str, list[int]]] = []
        for text, indexes in by_text.items():
            for start in range(0, len(indexes), RECIPIENTS_PER_REQUEST):
                requests_.append((text, indexes[start : start + RECIPIENTS_PER_REQUEST]))

        async def one(text: str, indexes: list[int]) -> list[SmsResult] | SmsError:
            try:
                return await self.send(text, [messages[i][0] for i in indexes])
            except SmsError as error:
                return error

        answers = await asyncio.gather(*(one(text, indexes) for text, indexes in requests_))
        found: list[SmsResult | SmsError] = [SmsError("not sent", retryable=True)] * len(messages)
        for (_, indexes), answer in zip(requests_, answers, strict=True):
            for position, index in enumerate(indexes):
                found[index] = answer if isinstance(answer, SmsError) else answer[position]
        return found


def _results(answer: Any, phones: Sequence[str]) -> list[SmsResult]:
    """Each recipient's result, in the order of `phones`."""
    try:
        recipients = answer["SMSMessageData"]["Recipients"]
        by_number = {str(r["number"]): r for r in recipients}
    except (TypeError, KeyError) as error:
        raise SmsError(
            f"the SMS API answered something else: {answer!r}"[:500], retryable=True
        ) from error
    found = []
    for phone in phones:
        entry = by_number.get(phone)
        if entry is None:
            found.append(SmsResult(phone, False, "NotInAnswer", None, None, None, retryable=True))
            continue
        code = int(entry.get("statusCode") or 0)
        found.append(
            SmsResult(
                phone=phone,
                accepted=code in _ACCEPTED,
                status=str(entry.get("status") or ""),
                status_code=code,
                message_id=entry.get("messageId") or None,
                cost=entry.get("cost") or None,
                retryable=code in _RETRYABLE,
            )
        )
    return found
