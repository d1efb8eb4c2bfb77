"""The prompt catalogue: every text the IVR may say, under keys that stay put."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from audio.catalogue import catalogue
from survey_engine.events import Ended, Prompt
from survey_engine.inputs import Answer, NoInput, Resume
from survey_engine.machine import Phase, State, Turn, advance, current_prompt, start
from survey_engine.model import Survey
from survey_engine.phrases import PHRASES
from survey_engine.speech import Speech
from survey_engine.xlsform import load_markdown, load_xlsform

TRACER = Path(__file__).resolve().parents[2] / "examples" / "graduate_tracer.xlsx"

FORM = """
| survey |
| | type | name | label::English (en) | label::Français (fr) | hint::English (en) | hint::Français (fr) | constraint | constraint_message::English (en) | constraint_message::Français (fr) |
| | select_one yn | consent | Do you agree? | Acceptez-vous ? | | | | | |
| | integer | months | Months to find work? | Mois ? | Enter 0 to 60 | De 0 à 60 | . <= 60 | At most 60 | 60 au plus |
| | select_one yn | related | After ${months} months, was it related? | Après ${months} mois, était-ce lié ? | | | | | |
| choices |
| | list_name | name | label::English (en) | label::Français (fr) |
| | yn | yes | Yes | Oui |
| | yn | no | No | Non |
| settings |
| | form_id | version | default_language |
| | tracer | 1 | English (en) |
"""


# An open question answered by voice, piped into the next label: the recording is said
# as its phrase, never as its file reference.
VOICE_FORM = """
| survey |
| | type | name | label::English (en) | label::Français (fr) |
| | text | story | Your story? | Votre histoire ? |
| | select_one yn | more | You said ${story}. More? | Vous avez dit ${story}. Autre chose ? |
| choices |
| | list_name | name | label::English (en) | label::Français (fr) |
| | yn | yes | Yes | Oui |
| | yn | no | No | Non |
| settings |
| | form_id | version | default_language |
| | voice | 1 | English (en) |
"""


def by_key(language: str, form: str = FORM) -> dict[str, str]:
    survey = load_markdown(form)
    return {e.key: e.text for e in catalogue(survey) if e.language == language}


def test_questions_choices_hints_and_messages_have_readable_keys():
    english = by_key("en")
    assert english["consent.label"] == "Do you agree?"
    assert english["consent.choice.yes"] == "Yes"
    assert english["months.hint"] == "Enter 0 to 60"
    assert english["months.constraint_message"] == "At most 60"
    assert by_key("fr")["consent.choice.no"] == "Non"


def test_a_piped_label_is_catalogued_as_its_fixed_parts():
    english = by_key("en")
    assert "related.label" not in english
    assert english["related.label.part1"] == "After"
    assert english["related.label.part2"] == "months, was it related?"


def test_system_phrases_digits_and_the_language_name_are_in_every_language():
    for language, own_name in (("en", "English"), ("fr", "Français")):
        keys = by_key(language)
        assert keys["system.digit.3"] == ("three" if language == "en" else "trois")
        assert keys["system.language_name"] == own_name
        assert keys["system.invalid_choice"]
        # A phrase with a placeholder is catalogued in parts, like a piped label.
        assert "system.current_answer" not in keys
        assert keys["system.current_answer.part1"] in ("Now:", "Actuel :")
    phrase_keys = {k.split(".")[1] for k in by_key("en") if k.startswith("system.")}
    assert set(PHRASES) <= phrase_keys


def test_keys_stay_the_same_when_a_new_version_changes_text_but_not_names():
    changed = FORM.replace("Do you agree?", "Do you agree to take part?").replace(
        "| tracer | 1 |", "| tracer | 2 |"
    )
    before, after = by_key("en"), by_key("en", changed)
    assert before.keys() == after.keys()
    assert [k for k in before if before[k] != after[k]] == ["consent.label"]


def test_the_sample_survey_has_unique_keys_in_each_of_its_four_languages():
    survey = load_xlsform(TRACER)
    entries = catalogue(survey)
    assert {e.language for e in entries} == {"en", "fr", "ar", "sw"}
    counts = Counter((e.language, e.key) for e in entries)
    assert max(counts.values()) == 1
    assert all(e.text.strip() for e in entries)
    # The same prompts in every language; only the number of fixed parts around a piped
    # value may differ, with the word order.
    whole = {
        language: {e.key.split(".part")[0] for e in entries if e.language == language}
        for language in ("en", "fr", "ar", "sw")
    }
    assert whole["en"] == whole["fr"] == whole["ar"] == whole["sw"]


# -- the engine's prompts and the catalogue agree ---------------------------------------

PROVOCATIONS: tuple[Resume, ...] = (
    Answer(""),  # required
    Answer("99"),  # an invalid choice; a number over a constraint
    Answer("-1"),  # under a constraint
    Answer("abc"),  # not a number, not a date
    Answer("31022026"),  # not a real date
    Answer("x" * 501),  # too long for a text
    NoInput(),
    Answer("1"),  # accepted: the next prompt, or the end
    Answer("2"),  # no consent: the refusal
)


def every_prompt(
    survey: Survey, answers: dict[str, str], recorded: frozenset[str] = frozenset()
) -> Iterator[Prompt | Ended]:
    """The language menu, the resume offer and every question in every language, each
    as first shown and after every provocation, and the endings those lead to."""

    def with_replies(turn: Turn) -> Iterator[Prompt | Ended]:
        assert turn.prompt is not None
        yield turn.prompt
        for resume in PROVOCATIONS:
            after = advance(survey, turn.state, resume)
            yield from (e for e in after.events if isinstance(e, Prompt | Ended))
        # The last attempt missed: the polite end.
        last_try = replace(turn.state, attempts=survey.max_attempts - 1)
        yield from (e for e in advance(survey, last_try, NoInput()).events if isinstance(e, Ended))

    yield from with_replies(start(survey))
    for language in survey.language_codes:
        yield from with_replies(
            start(survey, language=language, answers=answers, offer_resume=True, recorded=recorded)
        )
        for position in range(len(survey.questions)):
            state = State(Phase.QUESTION, language, position, answers=answers, recorded=recorded)
            yield from with_replies(Turn(state, (current_prompt(survey, state),)))  # type: ignore[arg-type]


def speeches(said: Prompt | Ended) -> Iterator[tuple[str, Speech]]:
    if isinstance(said, Ended):
        yield said.message, said.speech
        return
    yield said.text, said.speech
    yield said.hint, said.hint_speech
    yield said.error, said.error_speech
    for choice in said.choices:
        yield choice.label, choice.speech


@pytest.mark.parametrize(
    ("survey", "answers", "recorded"),
    [
        pytest.param(load_xlsform(TRACER), {"consent": "yes"}, frozenset(), id="sample"),
        pytest.param(
            load_markdown(FORM), {"consent": "yes", "months": "12"}, frozenset(), id="piped"
        ),
        pytest.param(
            load_markdown(VOICE_FORM),
            {"story": "voice/1/story-a1"},
            frozenset({"story"}),
            id="recorded",
        ),
    ],
)
def test_every_key_a_prompt_says_is_in_the_catalogue_of_its_language(survey, answers, recorded):
    in_catalogue = {(e.language, e.key) for e in catalogue(survey)}
    said_keys: set[str] = set()
    missing: list[tuple[str, str, str]] = []
    for said in every_prompt(survey, answers, recorded):
        language = said.language if isinstance(said, Prompt) else survey.default_language
        for text, speech in speeches(said):
            # Whatever a screen shows, a voice says: no text goes silent.
            assert bool(text) == bool(speech.parts), (said, text)
            for key in speech.catalogue_keys():
                said_keys.add(key.key)
                if (key.language or language, key.key) not in in_catalogue:
                    missing.append((getattr(said, "key", "end"), key.language or language, key.key))
    assert missing == []
    # The walk reached what it set out to provoke.
    expected = {
        "system.choose_language",
        "system.language_name",
        "system.resume_offer",
        "system.continue",
        "system.start_again",
        "system.invalid_choice",
        "system.no_input",
        "system.too_many_attempts",
        *(f"{q.name}.label" for q in survey.questions if not q.labels["en"].pipes),
    }
    assert expected <= said_keys
    if recorded:
        assert {"system.recorded_answer", "more.label.part1", "more.label.part2"} <= said_keys
        return
    assert {"system.invalid_integer", "consent.choice.yes"} <= said_keys
    if survey.form_id == "graduate_tracer":
        assert {
            "months_to_job.constraint_message",
            "months_to_job.required_message",
            "system.required",
            "system.text_too_long.part1",
            "system.refused",
            "system.thank_you",
        } <= said_keys
    else:
        assert {"related.label.part1", "related.label.part2", "months.hint"} <= said_keys
