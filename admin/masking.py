"""Phone numbers as staff see them: grouped as people write them, and masked unless an
admin has asked to see them (and that request is in the audit log).

    masked_phone("+254712345678")  -> "+254 7•• ••• 678"
    shown_phone("+254712345678")   -> "+254 712 345 678"

The country code, the first digit (mobile or landline, often the operator) and the
last three digits stay: enough to tell two graduates apart and to recognise a number
one already knows, not enough to call anyone. Any page listing numbers uses these
(`phone` in templates: `{{ r.phone | phone(shown) }}`); the logs keep their own masking
(`survey_engine.phones.mask_phone`).
"""

from __future__ import annotations

import jinja2
import phonenumbers

from survey_engine.phones import mask_phone

__all__ = ["install_phone_filter", "masked_phone", "phone", "shown_phone"]

MASK = "•"
_KEEP_LAST = 3


def shown_phone(e164: str) -> str:
    """The full number in international form, grouped (`+254 712 345 678`)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def masked_phone(e164: str) -> str:
    """The number grouped as `shown_phone` groups it, its middle digits hidden."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return mask_phone(e164)
    grouped = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    prefix = f"+{number.country_code}"
    if not grouped.startswith(prefix):
        return mask_phone(e164)
    national = grouped[len(prefix) :]
    digits = sum(c.isdigit() for c in national)
    if digits <= _KEEP_LAST + 1:  # too short to keep anything of it
        return prefix + "".join(MASK if c.isdigit() else c for c in national)
    seen = 0
    out = []
    for c in national:
        if c.isdigit():
            seen += 1
            out.append(c if seen == 1 or seen > digits - _KEEP_LAST else MASK)
        else:
            out.append(c)
    return prefix + "".join(out)


def phone(e164: str, shown: bool = False) -> str:
    """For templates: the number shown in full only when `shown`."""
    return shown_phone(e164) if shown else masked_phone(e164)


def install_phone_filter(env: jinja2.Environment) -> None:
    """Make `phone` a template filter (idempotent: every area may call it)."""
    env.filters["phone"] = phone
