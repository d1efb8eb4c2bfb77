"""Airtime thank-yous through Africa's Talking's Airtime API, with the official SDK.

Each is sent with an idempotency key (the graduate and the wave: see
`storage.airtime.Owed.key`), which the API honours, so a request repeated after a crash
pays nothing twice. The SDK keeps that key in headers it shares between requests, so
sends go one at a time (a thank-you is not a bulk send).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import requests
from africastalking.Airtime import AirtimeService
from africastalking.Service import AfricasTalkingException

from service_tracker.config import Settings

__all__ = ["AfricasTalkingAirtime", "AirtimeResult"]

_TIMEOUT = (3.05, 20.05)


@dataclass(frozen=True, slots=True)
class AirtimeResult:
    sent: bool
    request_id: str | None
    error: str | None


class AfricasTalkingAirtime:
    def __init__(self, username: str, api_key: str, *, base_url: str | None = None) -> None:
        self._service = AirtimeService(username, api_key)
        if base_url:
            self._service._baseUrl = base_url.rstrip("/") + "/version1/airtime"
        self._one_at_a_time = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> AfricasTalkingAirtime | None:
        if not (settings.africastalking_username and settings.africastalking_api_key):
            return None
        return cls(
            settings.africastalking_username,
            settings.africastalking_api_key,
            base_url=settings.africastalking_base_url,
        )

    async def send(self, phone: str, amount: str, key: str) -> AirtimeResult:
        """`amount` as "KES 20"; `key` the idempotency key."""
        currency, value = amount.split(" ", 1)
        async with self._one_at_a_time:
            try:
                answer = await asyncio.to_thread(
                    self._service.send, phone_number=phone, amount=value,
                    currency_code=currency, idempotency_key=key, timeout=_TIMEOUT,
                )  # fmt: skip
            except (AfricasTalkingException, requests.RequestException, ValueError) as error:
                return AirtimeResult(False, None, f"the Airtime API did not send: {error}"[:500])
        return _result(answer)


def _result(answer: Any) -> AirtimeResult:
    try:
        (entry,) = answer["responses"]
    except (TypeError, KeyError, ValueError):
        message = answer.get("errorMessage") if isinstance(answer, dict) else answer
        return AirtimeResult(False, None, f"the Airtime API answered: {message}"[:500])
    status = str(entry.get("status") or "")
    error = entry.get("errorMessage")
    sent = status in ("Sent", "Success")
    return AirtimeResult(sent, entry.get("requestId"), None if sent else f"{status}: {error}")
