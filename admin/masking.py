"""Phone numbers as staff see them: grouped as people write them, and masked unless an
admin has asked to see them (and that request is in the audit log).

    masked_phone("+254712345678")  -> "+254 7•• ••• 678"
    shown_phone("+254712345678")   -> "+254 712 345 678"

The country code, the first digit of the national number (mobile or landline, often
the operator) and the last three digits stay: enough to tell two graduates apart and
to recognise a number one already knows, not enough to call anyone. Any page listing
numbers uses these (`phone` in templates: `{{ r.phone | phone(shown) }}`, after
`install_phone_filter`); the logs keep their own masking
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
    """`+CC`, the first digit, the middle hidden in groups of three, the last three:
    one shape for every country, so a masked number never hints at its grouping."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return mask_phone(e164)
    national = phonenumbers.national_significant_number(number)
    if len(national) <= _KEEP_LAST + 1:  # too short to keep anything of it
        return f"+{number.country_code} {MASK * len(national)}"
    head = national[0] + MASK * (len(national) - 1 - _KEEP_LAST)
    groups = [head[i : i + 3] for i in range(0, len(head), 3)]
    if len(groups) > 1 and len(groups[-1]) == 1:  # no group of one: "3•••", not "3•• •"
        groups[-2:] = [groups[-2] + groups[-1]]
    return f"+{number.country_code} {' '.join(groups)} {national[-_KEEP_LAST:]}"


def phone(e164: str, shown: bool = False) -> str:
    """For templates: the number shown in full only when `shown`."""
    return shown_phone(e164) if shown else masked_phone(e164)


def install_phone_filter(env: jinja2.Environment) -> None:
    """Make `phone` a template filter (idempotent: every area may call it)."""
    env.filters["phone"] = phone
