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

Keys are named by `survey_engine.speech.keyed_text`, the rule the engine also follows
when it says which entries a `Prompt` plays, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from survey_engine.model import Pipe, Question, Survey, Text, base_name
from survey_engine.phrases import DIGITS, PHRASES, digit_word, native_name, phrase
from survey_engine.speech import (
    LANGUAGE_NAME_KEY,
    choice_key,
    keyed_text,
    spoken_pieces,
    system_key,
    template_parts,
    text_key,
)

__all__ = ["CatalogueEntry", "catalogue", "spoken_parts"]

# Kept under its first name: the fixed pieces of a text that say something.
spoken_parts = spoken_pieces


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
        seen: set[str] = set()
        for question in survey.questions:
            if base_name(question.name) not in seen:  # a repeat's later passes: the same
                seen.add(base_name(question.name))
                entries.extend(_question_entries(question, language))
        entries.extend(_system_entries(survey, language))
    return entries


def _question_entries(question: Question, language: str) -> Iterator[CatalogueEntry]:
    name = question.name
    yield from _text_entries(text_key(name, "label"), question.labels.get(language), language)
    yield from _text_entries(text_key(name, "hint"), question.hints.get(language), language)
    for choice in question.choices:
        label = choice.labels.get(language) or next(iter(choice.labels.values()), choice.name)
        yield CatalogueEntry(choice_key(name, choice.catalogue_name), language, label)
    for which, texts in (
        ("constraint_message", question.constraint_messages),
        ("required_message", question.required_messages),
    ):
        yield from _text_entries(text_key(name, which), texts.get(language), language)


def _text_entries(key: str, text: Text | None, language: str) -> Iterator[CatalogueEntry]:
    if text is not None:
        yield from _keyed_entries(key, text.parts, language)


def _keyed_entries(
    key: str, parts: Sequence[str | Pipe], language: str
) -> Iterator[CatalogueEntry]:
    for piece in keyed_text(key, parts):
        if not isinstance(piece, Pipe):  # a value is said at call time, not rendered
            yield CatalogueEntry(piece[0], language, piece[1])


def _system_entries(survey: Survey, language: str) -> Iterator[CatalogueEntry]:
    for key in PHRASES:
        yield from _keyed_entries(system_key(key), template_parts(phrase(key, language)), language)
    for digit in range(len(DIGITS["en"])):
        yield CatalogueEntry(f"system.digit.{digit}", language, digit_word(digit, language))
    yield CatalogueEntry(
        LANGUAGE_NAME_KEY, language, native_name(language, survey.language_name(language))
    )
