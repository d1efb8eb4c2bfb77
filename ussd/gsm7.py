"""How much of a USSD screen a text takes: GSM 03.38 (7-bit) or UCS-2.

A USSD screen carries 182 septets when every character is in the GSM 7-bit alphabet
(3GPP TS 23.038). One character outside it (Arabic, Amharic, `ç`, an emoji) sends the
whole screen as UCS-2, where the same message allows only 80 UTF-16 code units. The
extension table (`€ [ ] { } ^ ~ \\ |` and form feed) is reached through an escape
septet, so each of those characters costs two.

The tables follow the standard strictly: position 0x09 is capital `Ç`, so a small `ç`
is not GSM-7. Some networks map it anyway; counting it as UCS-2 only makes a page
shorter, never too long.
"""

from __future__ import annotations

__all__ = [
    "GSM7_SCREEN_LIMIT",
    "UCS2_SCREEN_LIMIT",
    "fits_screen",
    "gsm7_length",
    "is_gsm7",
    "screen_length",
]

GSM7_SCREEN_LIMIT = 182
UCS2_SCREEN_LIMIT = 80

# The basic table, in septet order. 0x1B (escape) is left out: it is not a character
# a text can hold, only the door to the extension table.
_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION = frozenset("\f^{}\\[~]|€")
_ALPHABET = _BASIC | _EXTENSION


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 basic set or its extension table."""
    return _ALPHABET.issuperset(text)


def gsm7_length(text: str) -> int:
    """Septets `text` takes in GSM-7: two for an extension character, one otherwise.

    Meaningful only when `is_gsm7(text)`; other characters count one each."""
    return len(text) + sum(map(_EXTENSION.__contains__, text))


def _utf16_units(text: str) -> int:
    # UCS-2 on the air is UTF-16 in practice: a character outside the BMP (an emoji)
    # takes a surrogate pair, two units.
    return len(text.encode("utf-16-le")) // 2


def screen_length(text: str) -> tuple[int, int]:
    """(length, limit) of `text` as one USSD screen.

    GSM-7 text is counted in septets against 182; anything else in UTF-16 code units
    against 80."""
    if is_gsm7(text):
        return gsm7_length(text), GSM7_SCREEN_LIMIT
    return _utf16_units(text), UCS2_SCREEN_LIMIT


def fits_screen(text: str) -> bool:
    """True when `text` fits one USSD screen in its own encoding."""
    length, limit = screen_length(text)
    return length <= limit
