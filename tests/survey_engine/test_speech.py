"""What a prompt says to a voice: catalogue keys for its texts, typed values for answers."""

from __future__ import annotations

from survey_engine.events import Prompt
from survey_engine.inputs import Answer, NoInput
from survey_engine.machine import advance, start
from survey_engine.model import Pipe
from survey_engine.speech import PromptKey, Speech, SpokenValue, ValueKind, template_parts
from survey_engine.xlsform import load_markdown

FORM = load_markdown(
    """
    | survey |
    | | type | name | label::English (en) | label::Français (fr) | hint::English (en) | hint::Français (fr) | constraint | constraint_message::English (en) | constraint_message::Français (fr) | required |
    | | select_one work | employed | Are you working? | Travaillez-vous ? | | | | | | yes |
    | | integer | months | Months? | Mois ? | Up to 60 | 60 au plus | . <= 60 | At most 60, ${employed} or not. | | yes |
    | | date | started | Start date? | Début ? | | | | | | yes |
    | | select_multiple tool | tools | Tools? | Outils ? | | | | | | yes |
    | | text | job | Your job? | Votre métier ? | | | | | | yes |
    | | note | recap | ${employed}, ${months} months from ${started}: ${tools}. ${job}! | ${employed}, ${months} mois depuis ${started} : ${tools}. ${job} ! | | | | | | |
    | choices |
    | | list_name | name | label::English (en) | label::Français (fr) |
    | | work | wage | Employed | Salarié |
    | | work | none | Not working | Sans emploi |
    | | tool | drill | Drill | Perceuse |
    | | tool | phone | Phone | Téléphone |
    """
)


def prompt_after(inputs: list[str], language: str = "en") -> Prompt:
    turn = start(FORM, language=language)
    for text in inputs:
        turn = advance(FORM, turn.state, Answer(text))
    assert turn.prompt is not None, turn.events
    return turn.prompt


def key(name: str, language: str | None = None) -> PromptKey:
    return PromptKey(name, language)


def test_a_question_without_pipes_says_its_label_hint_and_choices_by_key():
    prompt = prompt_after([])
    assert prompt.speech == Speech((key("employed.label"),))
    assert prompt.hint_speech == Speech()
    assert [c.speech for c in prompt.choices] == [
        Speech((key("employed.choice.wage"),)),
        Speech((key("employed.choice.none"),)),
    ]
    months = prompt_after(["1"], "fr")
    assert months.hint == "60 au plus"
    assert months.hint_speech == Speech((key("months.hint"),))


def test_piped_answers_are_spoken_as_typed_values_between_the_fixed_parts():
    prompt = prompt_after(["1", "12", "15062026", "2 1", "Welder"])
    # The screen is unchanged: labels with the answers as the respondent knows them.
    assert prompt.text == "Employed, 12 months from 15/06/2026: Drill, Phone. Welder!"
    # Pieces that say nothing (", ", ": ", "!") have no prompt file, as in the catalogue.
    assert prompt.speech.parts == (
        SpokenValue(ValueKind.CHOICE, "wage", "employed.choice.wage"),
        SpokenValue(ValueKind.NUMBER, "12"),
        key("recap.label.part1"),
        SpokenValue(ValueKind.DATE, "2026-06-15"),
        SpokenValue(ValueKind.CHOICE, "drill", "tools.choice.drill"),
        SpokenValue(ValueKind.CHOICE, "phone", "tools.choice.phone"),
        SpokenValue(ValueKind.TEXT, "Welder"),
    )
    assert prompt.speech.catalogue_keys() == (
        key("employed.choice.wage"),
        key("recap.label.part1"),
        key("tools.choice.drill"),
        key("tools.choice.phone"),
    )


def test_errors_are_spoken_by_key_with_their_values_typed():
    too_long = prompt_after(["1", "12", "15062026", "1", "x" * 501])
    assert too_long.error == "Answer too long. Keep it under 500 characters."
    assert too_long.error_speech.parts == (
        key("system.text_too_long.part1"),
        SpokenValue(ValueKind.NUMBER, "500"),
        key("system.text_too_long.part2"),
    )
    invalid = prompt_after(["7"])
    assert invalid.error_speech == Speech((key("system.invalid_choice"),))
    required = prompt_after(["1", ""])
    assert required.error_speech == Speech((key("system.required"),))
    # The form's own message, with the refused value piped in, is keyed like a label.
    refused = prompt_after(["1", "61"])
    assert refused.error == "At most 60, Employed or not."
    assert refused.error_speech.parts == (
        key("months.constraint_message.part1"),
        SpokenValue(ValueKind.CHOICE, "wage", "employed.choice.wage"),
        key("months.constraint_message.part2"),
    )
    # French has no message of its own: the form's default language fills in.
    assert prompt_after(["1", "61"], "fr").error_speech == refused.error_speech


def test_no_input_is_spoken_by_key():
    turn = advance(FORM, start(FORM, language="en").state, NoInput())
    assert turn.prompt is not None
    assert turn.prompt.error_speech == Speech((key("system.no_input"),))


def test_the_language_menu_names_each_language_in_its_own_voice():
    turn = start(FORM)
    prompt = turn.prompt
    assert prompt is not None
    assert prompt.speech == Speech((key("system.choose_language"),))
    assert [c.speech for c in prompt.choices] == [
        Speech((key("system.language_name", "en"),)),
        Speech((key("system.language_name", "fr"),)),
    ]
    wrong = advance(FORM, turn.state, Answer("5")).prompt
    assert wrong is not None and wrong.error_speech == Speech((key("system.invalid_choice"),))


def test_the_resume_offer_says_its_phrase_and_its_two_choices():
    prompt = start(FORM, language="fr", answers={"employed": "wage"}, offer_resume=True).prompt
    assert prompt is not None
    assert prompt.text == "Vous avez un questionnaire inachevé."
    assert prompt.speech == Speech((key("system.resume_offer"),))
    assert [c.speech for c in prompt.choices] == [
        Speech((key("system.continue"),)),
        Speech((key("system.start_again"),)),
    ]


def test_the_closing_words_are_spoken_by_key():
    turn = start(FORM, language="en")
    for text in ["1", "12", "15062026", "1", "Welder", "ok"]:
        turn = advance(FORM, turn.state, Answer(text))
    assert turn.ended is not None
    assert turn.ended.speech == Speech((key("system.thank_you"),))


def test_a_phrase_template_splits_into_text_and_placeholders():
    assert template_parts("Keep it under {limit} characters.") == (
        "Keep it under ",
        Pipe("limit"),
        " characters.",
    )
    assert template_parts("{value}") == (Pipe("value"),)
    assert template_parts("Plain.") == ("Plain.",)
