"""GSM 03.38 membership and screen lengths: what decides 182 or 80 per screen."""

from __future__ import annotations

import pytest

from ussd.gsm7 import (
    GSM7_SCREEN_LIMIT,
    UCS2_SCREEN_LIMIT,
    fits_screen,
    gsm7_length,
    is_gsm7,
    screen_length,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", True, id="empty"),
        pytest.param("Did you find work? 1. Yes", True, id="plain-english"),
        pytest.param("Où travaillez-vous ? é è à ù", True, id="french-accents-in-table"),
        pytest.param("Français", False, id="small-c-cedilla-is-not-gsm7"),
        pytest.param("Ç", True, id="capital-c-cedilla"),
        pytest.param("ΔΦΓΛΩΠΨΣΘΞ", True, id="greek-capitals"),
        pytest.param("€[]{}^~\\|\f", True, id="extension-table"),
        pytest.param("\n\r", True, id="line-breaks"),
        pytest.param("\x1b", False, id="bare-escape"),
        pytest.param("\t", False, id="tab"),
        pytest.param("هل وجدت عملاً؟", False, id="arabic"),
        pytest.param("ሥራ አግኝተዋል?", False, id="amharic"),
        pytest.param("Yes 👍", False, id="emoji"),
        pytest.param("`", False, id="backtick"),
    ],
)
def test_is_gsm7(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", 0, id="empty"),
        pytest.param("Yes", 3, id="basic"),
        pytest.param("€", 2, id="euro-counts-two"),
        pytest.param("[]{}", 8, id="brackets-count-two"),
        pytest.param("^~\\|", 8, id="caret-tilde-backslash-pipe"),
        pytest.param("Cost: 5€", 9, id="mixed"),
    ],
)
def test_gsm7_length_counts_extension_characters_double(text: str, expected: int) -> None:
    assert gsm7_length(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Hello", (5, GSM7_SCREEN_LIMIT), id="gsm7-septets"),
        pytest.param("{x}", (5, GSM7_SCREEN_LIMIT), id="gsm7-extension"),
        pytest.param("مرحبا", (5, UCS2_SCREEN_LIMIT), id="arabic-utf16-units"),
        pytest.param("Ça va ç", (7, UCS2_SCREEN_LIMIT), id="one-non-gsm-char-makes-ucs2"),
        pytest.param("{ç}", (3, UCS2_SCREEN_LIMIT), id="extension-counts-one-in-ucs2"),
        pytest.param("😀", (2, UCS2_SCREEN_LIMIT), id="astral-is-a-surrogate-pair"),
    ],
)
def test_screen_length(text: str, expected: tuple[int, int]) -> None:
    assert screen_length(text) == expected


def test_limits_are_the_documented_ones() -> None:
    assert (GSM7_SCREEN_LIMIT, UCS2_SCREEN_LIMIT) == (182, 80)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a" * 182, True, id="182-septets-fit"),
        pytest.param("a" * 183, False, id="183-septets-do-not"),
        pytest.param("€" * 91, True, id="91-euros-are-182-septets"),
        pytest.param("€" * 92, False, id="92-euros-are-184-septets"),
        pytest.param("ب" * 80, True, id="80-arabic-fit"),
        pytest.param("ب" * 81, False, id="81-arabic-do-not"),
        pytest.param("a" * 80 + "ç", False, id="81-ucs2-units"),
    ],
)
def test_fits_screen(text: str, expected: bool) -> None:
    assert fits_screen(text) is expected
