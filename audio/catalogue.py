"""The prompt catalogue: every piece of text the IVR may say, under a stable key.

Keys are readable and depend only on names, never on text or version, so a recording
made for `improve.label` stays attached when a new version of the survey is imported:

    <question>.label                  the question
    <question>.hint                   its hint
    <question>.choice.<choice>        one option
    <question>.constraint_message     the form's own message when a constraint fails
    <question>.required_message       the form's own message when an answer is missing
    system.<phrase>                   a system phrase (`system.invalid_choice`)
    system.digit.<0-9>                digits, for "press 3" and numbers read back
    system.language_name              the language naming itself, for the language menu

A text that pipes an earlier answer (`After ${months} months...`) or holds a
placeholder (`Now: {value}`) is catalogued in parts, `<key>.part1`, `<key>.part2`, ...:
only its fixed text. The piped value is spoken at call time from digit or choice
prompts, which are in the catalogue already.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from survey_engine.model import Pipe, Question, Survey, Text
from survey_engine.phrases import DIGITS, PHRASES, digit_word, native_name, phrase

__all__ = ["CatalogueEntry", "catalogue", "spoken_parts"]

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    key: str
    language: str  # a language code: the folder its file lives in
    text: str  # what is spoken


def catalogue(survey: Survey, languages: Iterable[str] | None = None) -> list[CatalogueEntry]:
    """Every prompt of `survey` in each of `languages` (default: the survey's own), in a
    stable order: questions in survey order, then system prompts."""
    codes = list(languages) if languages is not None else list(survey.language_codes)
    entries: list[CatalogueEntry] = []
    for language in codes:
        for question in survey.questions:
            entries.extend(_question_entries(question, language))
        entries.extend(_system_entries(survey, language))
    return entries


def spoken_parts(parts: Iterable[str | Pipe]) -> list[str]:
    """The fixed pieces of a text, stripped, without pieces that say nothing (a lone
    comma between two pipes)."""
    return [p.strip() for p in parts if isinstance(p, str) and any(c.isalnum() for c in p)]


def _question_entries(question: Question, language: str) -> Iterator[CatalogueEntry]:
    name = question.name
    yield from _text_entries(f"{name}.label", question.labels.get(language), language)
    yield from _text_entries(f"{name}.hint", question.hints.get(language), language)
    for choice in question.choices:
        label = choice.labels.get(language) or next(iter(choice.labels.values()), choice.name)
        yield CatalogueEntry(f"{name}.choice.{choice.name}", language, label)
    yield from _text_entries(
        f"{name}.constraint_message", question.constraint_messages.get(language), language
    )
    yield from _text_entries(
        f"{name}.required_message", question.required_messages.get(language), language
    )


def _text_entries(key: str, text: Text | None, language: str) -> Iterator[CatalogueEntry]:
    if text is None:
        return
    if not text.pipes:
        spoken = "".join(p for p in text.parts if isinstance(p, str)).strip()
        if spoken:
            yield CatalogueEntry(key, language, spoken)
        return
    for number, part in enumerate(spoken_parts(text.parts), start=1):
        yield CatalogueEntry(f"{key}.part{number}", language, part)


def _system_entries(survey: Survey, language: str) -> Iterator[CatalogueEntry]:
    for key in PHRASES:
        text = phrase(key, language)
        if _PLACEHOLDER.search(text):
            pieces = _PLACEHOLDER.split(text)
            for number, part in enumerate(spoken_parts(pieces), start=1):
                yield CatalogueEntry(f"system.{key}.part{number}", language, part)
        else:
            yield CatalogueEntry(f"system.{key}", language, text)
    for digit in range(len(DIGITS["en"])):
        yield CatalogueEntry(f"system.digit.{digit}", language, digit_word(digit, language))
    yield CatalogueEntry(
        "system.language_name", language, native_name(language, survey.language_name(language))
    )
