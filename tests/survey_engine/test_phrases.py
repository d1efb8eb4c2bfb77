"""System phrases: the words the respondent sees that no form author wrote."""

from __future__ import annotations

import string

import pytest

from survey_engine.phrases import PHRASES, digit_word, native_name, phrase

REQUIRED_LANGUAGES = ("en", "fr", "ar", "sw")


@pytest.mark.parametrize("key", sorted(PHRASES))
def test_every_system_phrase_exists_in_english_french_arabic_and_swahili(key):
    missing = [lang for lang in REQUIRED_LANGUAGES if not PHRASES[key].get(lang, "").strip()]
    assert missing == []


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(PHRASES))
def test_placeholders_are_the_same_in_every_language(key):
    for lang in REQUIRED_LANGUAGES:
        assert placeholders(PHRASES[key][lang]) == placeholders(PHRASES[key]["en"]), lang


def test_a_language_without_a_translation_falls_back_to_english():
    assert phrase("thank_you", "am") == "Thank you for your answers!"
    assert phrase("text_too_long", "sw", limit=500) == "Jibu ni refu mno. Lisizidi herufi 500."


def test_languages_are_named_in_their_own_words_on_the_menu():
    assert native_name("ar", "Arabic") == "العربية"
    assert native_name("xx", "Xhosa-ish") == "Xhosa-ish"


@pytest.mark.parametrize("language", REQUIRED_LANGUAGES)
def test_every_digit_has_a_word_in_every_language(language):
    words = [digit_word(d, language) for d in range(10)]
    assert all(word.strip() for word in words)
    assert len(set(words)) == 10  # no two digits sound the same


def test_a_language_without_digit_words_falls_back_to_english():
    assert digit_word(7, "xx") == "seven"
