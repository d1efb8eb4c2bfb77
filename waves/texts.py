"""The SMS a graduate receives: an invitation to dial the survey's USSD code, and a
reminder, in the survey's languages, with their name and the code.

A text travels in one SMS segment when it fits: 160 characters of the GSM 03.38
alphabet (its extension characters `^{}\\[~]|€` take two), else 70 UTF-16 units as
UCS-2 (Arabic, accents outside GSM-7, emoji). Longer texts are sent in parts of 153
or 67, each billed: `segments` counts them, so the cost of a wave is known before it
is sent. A name that would push the invitation over one segment loses the accents
GSM-7 lacks (Aïcha: Aicha), then is shortened to the given name, then cut, before
the text is allowed to run long.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

__all__ = ["KINDS", "Sms", "segments", "sms_text"]

KINDS = ("invitation", "reminder")
# The service's four languages; another language gets the English text.
_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "invitation": "Hello {name}, your training centre wants to know how you are "
        "doing. Please dial {code} (free) to answer a few short questions.",
        "reminder": "Hello {name}, a reminder from your training centre: please dial "
        "{code} (free) to answer a few short questions. Thank you!",
    },
    "fr": {
        "invitation": "Bonjour {name}, votre centre de formation aimerait savoir ce que "
        "vous devenez. Composez {code} (gratuit) pour répondre à quelques questions.",
        "reminder": "Bonjour {name}, rappel de votre centre de formation : composez "
        "{code} (gratuit) pour répondre à quelques questions. Merci !",
    },
    "sw": {
        "invitation": "Habari {name}, chuo chako cha mafunzo kinataka kujua hali yako. "
        "Tafadhali piga {code} (bure) kujibu maswali machache.",
        "reminder": "Habari {name}, ukumbusho kutoka chuo chako: tafadhali piga {code} "
        "(bure) kujibu maswali machache. Asante!",
    },
    "ar": {
        "invitation": "مرحبا {name}، يسأل مركز تدريبك عن أحوالك. اطلب {code} مجانا للإجابة.",
        "reminder": "مرحبا {name}، تذكير من مركز تدريبك: اطلب {code} مجانا للإجابة. شكرا!",
    },
}
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = set("^{}\\[~]|€\f")


@dataclass(frozen=True, slots=True)
class Sms:
    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int


def segments(text: str) -> Sms:
    """How `text` travels: its encoding and how many SMS segments it takes."""
    if all(c in _GSM7 or c in _GSM7_EXTENSION for c in text):
        septets = sum(2 if c in _GSM7_EXTENSION else 1 for c in text)
        return Sms(text, "GSM-7", 1 if septets <= 160 else math.ceil(septets / 153))
    units = len(text.encode("utf-16-le")) // 2
    return Sms(text, "UCS-2", 1 if units <= 70 else math.ceil(units / 67))


def sms_text(kind: str, language: str | None, *, name: str, code: str) -> Sms:
    """The invitation or reminder in `language` (English when the service has no text
    in it), with the graduate's name shortened if that keeps it to one segment."""
    if kind not in KINDS:
        raise ValueError(f"an SMS is one of {', '.join(KINDS)}, not {kind!r}")
    template = _TEXTS.get((language or "en").lower(), _TEXTS["en"])[kind]
    full = " ".join(name.split())
    folded = _folded(full)
    given = folded.split(" ")[0] if folded else ""
    candidates = [full, folded, given] + [given[:n] for n in (12, 8)] + [""]
    for candidate in dict.fromkeys(candidates):
        sms = segments(_fill(template, candidate, code))
        if sms.segments == 1:
            return sms
    return segments(_fill(template, full, code))


def _folded(name: str) -> str:
    """The name with accents GSM-7 lacks taken off (Aïcha: Aicha), so that it does not
    make the whole text UCS-2, which holds less than half as much."""
    out = []
    for char in name:
        if char in _GSM7:
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and all(c in _GSM7 for c in base) else char)
    return "".join(out)


def _fill(template: str, name: str, code: str) -> str:
    text = template.format(name=name, code=code)
    # Without a name: "Hello , ..." reads as a mistake.
    return text.replace(" ,", ",").replace(" ،", "،")
