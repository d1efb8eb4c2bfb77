"""The one place that normalises and masks phone numbers (personal data)."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class PhoneNumberError(ValueError):
    """The text is not a valid phone number; the message says why, for people."""


# A USSD session repeats its number on every hop, and parsing one costs ~50 µs: keep
# the recent ones (errors are not cached, they raise).
@lru_cache(maxsize=65536)
def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """E.164 (`+254712345678`) from what a gateway or a spreadsheet holds.

    A number without `+` is read in `default_region` (an ISO country code such as
    "KE"); without one it must be international."""
    text = (raw or "").strip()
    if not text:
        raise PhoneNumberError("phone number is empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if default_region else " (an international number starting with + is needed)"
        raise PhoneNumberError(f"'{raw}' is not a phone number{hint}") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberError(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """`+254712345678` -> `+2547•••••678`: enough to tell numbers apart in logs."""
    if len(e164) <= 7:
        return "•" * len(e164)
    keep_head = min(5, len(e164) - 6)
    return e164[:keep_head] + "•" * (len(e164) - keep_head - 3) + e164[-3:]
