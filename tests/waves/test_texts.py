"""The invitation and reminder texts: in the graduate's language, with their name and
the code, and counted in SMS segments as the networks bill them."""

from __future__ import annotations

import pytest

from waves.texts import segments, sms_text

CODE = "*384*123#"


@pytest.mark.parametrize("language", ["en", "fr", "sw", "ar"])
@pytest.mark.parametrize("kind", ["invitation", "reminder"])
def test_every_text_holds_the_name_and_the_code_in_one_segment(kind: str, language: str) -> None:
    name = "ليلى" if language == "ar" else "Wanjiru Kamau"
    sms = sms_text(kind, language, name=name, code=CODE)
    assert name in sms.text and CODE in sms.text
    assert sms.segments == 1
    assert sms.encoding == ("UCS-2" if language == "ar" else "GSM-7")


def test_a_language_without_texts_gets_english() -> None:
    assert sms_text("invitation", "am", name="Abebe", code=CODE).text.startswith("Hello Abebe,")


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),  # parts of 153
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # an extension character takes two septets
        ("€" * 81, "GSM-7", 2),
        ("é" * 160, "GSM-7", 1),  # é is in the GSM alphabet
        ("ï" + "a" * 69, "UCS-2", 1),  # ï is not: the whole text is UCS-2
        ("ï" + "a" * 70, "UCS-2", 2),  # parts of 67
        ("😀" * 35, "UCS-2", 1),  # two UTF-16 units each
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_segments_are_counted_as_the_networks_bill_them(
    text: str, encoding: str, count: int
) -> None:
    sms = segments(text)
    assert (sms.encoding, sms.segments) == (encoding, count)


def test_a_name_that_would_cost_a_second_segment_is_folded_then_shortened() -> None:
    folded = sms_text("invitation", "fr", name="Aïcha Diallo", code=CODE)
    assert folded.text.startswith("Bonjour Aicha Diallo,") and folded.encoding == "GSM-7"
    long = sms_text("invitation", "fr", name="Marie-Françoise Éléonore de la Tour", code=CODE)
    # ç is not in the GSM alphabet (Ç is): folded, then the given name alone.
    assert long.segments == 1 and long.text.startswith("Bonjour Marie-Francoise,")
    nameless = sms_text("reminder", "en", name="", code=CODE)
    assert nameless.text.startswith("Hello, a reminder")
