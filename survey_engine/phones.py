"""The one place that normalises and masks phone numbers (personal data).

Two ways in, for two kinds of source:

- `normalize_phone`: a number a person typed (a roster cell). It must be valid in
  phonenumbers' metadata, which catches typos.
- `read_delivered_phone`: a number the phone network delivered (a gateway callback).
  It is a fact, not input: any *possible* E.164 number (the right length for its
  country code) is accepted, because the metadata lags behind the ranges operators
  open, and a real caller must never be turned away for that. It also says when such
  a number lies outside the metadata (its range, safe to log).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
import phonenumbers.timezone

__all__ = [
    "PhoneNumberError",
    "caller_phone",
    "ivr_address",
    "mask_phone",
    "mask_phones_in",
    "normalize_phone",
    "read_delivered_phone",
    "time_zone_of",
]

# Digits of the national number kept in an unlisted range: enough to name an operator's
# block (`+254 810`), too few to name a person.
_RANGE_DIGITS = 3

# What looks like a phone number in free text: `+` and 7 to 15 digits, maybe grouped
# by single spaces or hyphens, or a bare run of 9 to 15 digits (a number without `+`,
# national or international). Digits glued to a letter or `_` (ids) are left alone.
_PHONE_LIKE = re.compile(r"(?<![\w+])(?:\+\d(?:[ -]?\d){6,14}|\d{9,15})(?!\w)")


class PhoneNumberError(ValueError):
    """The text is not a valid phone number; the message says why, for people."""


def _parse(raw: str, default_region: str | None) -> phonenumbers.PhoneNumber:
    text = (raw or "").strip()
    if not text:
        raise PhoneNumberError("phone number is empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        return phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if default_region else " (an international number starting with + is needed)"
        raise PhoneNumberError(f"'{raw}' is not a phone number{hint}") from exc


# A USSD session repeats its number on every hop, and parsing one costs ~50 µs: keep
# the recent ones (errors are not cached, they raise).
@lru_cache(maxsize=65536)
def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """E.164 (`+254712345678`) from what a person typed (a spreadsheet cell), which
    must be a valid number in a range phonenumbers' metadata lists.

    A number without `+` is read in `default_region` (an ISO country code such as
    "KE"); without one it must be international."""
    number = _parse(raw, default_region)
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberError(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Every first hop of a dial reads its number: one parse gives both answers.
@lru_cache(maxsize=65536)
def read_delivered_phone(raw: str, default_region: str | None = None) -> tuple[str, str | None]:
    """(E.164, the unlisted range or None) of a delivered number, from one parse;
    `PhoneNumberError` when it is not even a possible number."""
    number = _parse(raw, default_region)
    if not phonenumbers.is_possible_number(number):
        raise PhoneNumberError(f"'{raw}' is not a possible phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(number):
        return e164, None
    national = str(number.national_number)
    return e164, f"+{number.country_code} {national[:_RANGE_DIGITS]}"


# A dialled number as staff type it or Asterisk reports it: an optional `+` and digits,
# maybe grouped by spaces, hyphens, dots or brackets (staff only; Asterisk sends none).
_DIALLED = re.compile(r"\+?\d+")
_DIALLED_SEPARATORS = re.compile(r"[ ()./-]")
_MAX_DIALLED_DIGITS = 20  # E.164 allows 15; PBX extensions are shorter still


@lru_cache(maxsize=1024)
def ivr_address(raw: str, default_region: str | None = None) -> str:
    """The entry-point address of a number dialled to reach the IVR: what
    `survey import --ivr-number` stores and what the IVR looks up for a call's
    `agi_extension` (else `agi_dnid`), so both agree by construction.

    A possible phone number becomes E.164: `+254201234567`, `254201234567`,
    `0201234567` (national, read in `default_region`) and `00254201234567` are all
    `+254201234567`. Digits that are no possible number, such as a PBX extension
    (`4000`), are kept as given. `PhoneNumberError` when it is not digits with an
    optional leading `+`, or when a `+` number is not a possible one."""
    text = _DIALLED_SEPARATORS.sub("", (raw or "").strip())
    if not _DIALLED.fullmatch(text) or len(text.lstrip("+")) > _MAX_DIALLED_DIGITS:
        raise PhoneNumberError(
            f"IVR number '{raw}' is not valid: expected digits with an optional leading +, "
            "such as +254201234567, 0201234567 or an extension like 4000"
        )
    international = text.startswith(("+", "00"))
    candidates = [(text, default_region)] if international or default_region else []
    if not international:
        # A trunk may deliver an international number without its `+`.
        candidates.append(("+" + text, None))
    for candidate, region in candidates:
        try:
            number = _parse(candidate, region)
        except PhoneNumberError:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if international:
        raise PhoneNumberError(f"IVR number '{raw}' is not a possible international number")
    return text


def caller_phone(raw: str | None, default_region: str | None = None) -> str | None:
    """The E.164 number of a voice caller from the caller ID Asterisk reports, or None
    when it names no phone (hidden, `anonymous`, a PBX extension). The caller ID is
    delivered by the network, so it is read like a dialled number: without its `+`,
    national, or behind `00`, any possible number is accepted."""
    if not raw:
        return None
    try:
        address = ivr_address(raw, default_region)
    except PhoneNumberError:
        return None
    return address if address.startswith("+") else None


def mask_phone(e164: str) -> str:
    """`+254712345678` -> `+2547•••••678`: enough to tell numbers apart in logs."""
    if len(e164) <= 7:
        return "•" * len(e164)
    keep_head = min(5, len(e164) - 6)
    return e164[:keep_head] + "•" * (len(e164) - keep_head - 3) + e164[-3:]


def mask_phones_in(text: str) -> str:
    """`text` with everything that looks like a phone number masked by `mask_phone`
    (for log lines, whoever wrote them)."""
    return _PHONE_LIKE.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    return mask_phone(match.group().replace(" ", "").replace("-", ""))


def time_zone_of(e164: str) -> str | None:
    """The IANA time zone of a number when its country (or area) has exactly one, as
    phonenumbers knows it: `Africa/Nairobi` for +254...; None for a country of several
    zones (Australia, most mobile numbers of the US) or an unknown one."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    zones = phonenumbers.timezone.time_zones_for_number(parsed)
    if len(zones) != 1 or zones[0] == phonenumbers.timezone.UNKNOWN_TIMEZONE:
        return None
    return zones[0]
