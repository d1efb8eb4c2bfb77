"""Choices as the field writes them: a name repeated in a list (allow_choice_duplicates,
cascading lists told apart by a choice_filter) and `select_one LIST or_other`; on the
engine, the USSD screen and the voice plan."""

from __future__ import annotations

import json

import pytest

from audio.catalogue import catalogue
from interviews import Notice
from ivr.render import VoicePlan, voice_plan
from survey_engine.events import Ended, Prompt
from survey_engine.inputs import Answer
from survey_engine.machine import Phase, State, advance, current_prompt, display_value, start
from survey_engine.model import QuestionType
from survey_engine.phrases import PHRASES
from survey_engine.xlsform import load_markdown
from tests.audio.test_catalogue import every_prompt
from tests.survey_engine.test_xlsform import located

CASCADE = """
| survey |
| | type | name | label | choice_filter |
| | select_one states | state | State? | |
| | select_one counties | county | County? | ${state} = cf |
| | select_one cities | city | City? | ${county} = cf |
| | note | said | You live in ${county}. | |
| choices |
| | list_name | name | label | cf |
| | states | texas | Texas | |
| | states | washington | Washington | |
| | counties | king | King (WA) | washington |
| | counties | pierce | Pierce | washington |
| | counties | king | King (TX) | texas |
| | counties | cameron | Cameron | texas |
| | cities | seattle | Seattle | king |
| | cities | brownsville | Brownsville | cameron |
| settings |
| | form_id | allow_choice_duplicates |
| | cascade | yes |
"""


def screen(survey, state) -> str:
    prompt = current_prompt(survey, state)
    assert isinstance(prompt, Prompt)
    return prompt.text + " | " + " ".join(f"{c.key}.{c.label}" for c in prompt.choices)


# -- duplicate choice names ---------------------------------------------------------------


def test_a_repeated_choice_name_is_refused_unless_the_settings_allow_it() -> None:
    refused = CASCADE.replace("| | cascade | yes |", "| | cascade | no |")
    assert located(refused) == [("duplicate_choice", "choices", 6, "name")]
    survey = load_markdown(CASCADE)
    kings = [c for c in survey.question("county").choices if c.name == "king"]
    assert [(c.labels["en"], c.catalogue_name) for c in kings] == [
        ("King (WA)", "king"),
        ("King (TX)", "king~2"),
    ]


def test_the_filter_tells_the_duplicates_apart_and_the_answer_is_the_name_alone() -> None:
    survey = load_markdown(CASCADE)
    turn = start(survey)
    turn = advance(survey, turn.state, Answer("1"))  # Texas
    assert screen(survey, turn.state) == "County? | 1.King (TX) 2.Cameron"
    turn = advance(survey, turn.state, Answer("1"))
    assert turn.state.answers == {"state": "texas", "county": "king"}
    # As in ODK, the later filter reads the name: King's cities, whichever King.
    assert screen(survey, turn.state) == "City? | 1.Seattle"
    turn = advance(survey, turn.state, Answer("1"))
    # Shown back with the label of the King the filter shows for these answers.
    assert turn.prompt is not None and turn.prompt.text == "You live in King (TX)."
    assert display_value(survey.question("county"), "king", "en", turn.state.answers) == (
        "King (TX)"
    )


def test_each_duplicate_has_its_own_prompt_in_the_audio_catalogue() -> None:
    survey = load_markdown(CASCADE)
    entries = {e.key: e.text for e in catalogue(survey) if e.key.startswith("county.choice.")}
    assert entries == {
        "county.choice.king": "King (WA)",
        "county.choice.pierce": "Pierce",
        "county.choice.king~2": "King (TX)",
        "county.choice.cameron": "Cameron",
    }
    texas = State(Phase.QUESTION, "en", 1, answers={"state": "texas"})
    plan = voice_plan(current_prompt(survey, texas))  # type: ignore[arg-type]
    assert "county.choice.king~2" in [s.key for s in plan.sounds]
    said = State(Phase.QUESTION, "en", 3, answers={"state": "texas", "county": "king"})
    note = current_prompt(survey, said)
    assert isinstance(note, Prompt)
    assert [p.key for p in note.speech.catalogue_keys()] == [
        "said.label.part1",
        "county.choice.king~2",
    ]


def test_picking_two_choices_of_one_name_stores_it_once() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | select_multiple tools | tools | Tools? |
        | choices |
        | | list_name | name | label |
        | | tools | drill | Drill |
        | | tools | drill | Power drill |
        | | tools | saw | Saw |
        | settings |
        | | allow_choice_duplicates |
        | | TRUE |
        """
    )
    turn = advance(survey, start(survey).state, Answer("1 2 3"))
    assert turn.state.answers == {"tools": "drill saw"}


# -- or_other -------------------------------------------------------------------------------

OR_OTHER = """
| survey |
| | type | name | label::English (en) | label::Français (fr) |
| | select_one trades or_other | trade | Your trade? | Votre métier ? |
| | select_multiple trades or specify other | also | Other trades? | Autres métiers ? |
| | integer | years | Years in ${trade_other}? | Années en ${trade_other} ? |
| choices |
| | list_name | name | label::English (en) | label::Français (fr) |
| | trades | tailor | Tailoring | Couture |
| | trades | weld | Welding | Soudure |
| settings |
| | form_id | default_language |
| | trades | en |
"""


def test_or_other_adds_an_other_choice_and_a_please_specify_question() -> None:
    survey = load_markdown(OR_OTHER)
    assert [(q.name, q.type) for q in survey.questions] == [
        ("trade", QuestionType.SELECT_ONE),
        ("trade_other", QuestionType.TEXT),
        ("also", QuestionType.SELECT_MULTIPLE),
        ("also_other", QuestionType.TEXT),
        ("years", QuestionType.INTEGER),
    ]
    other = survey.question("trade").choices[-1]
    assert (other.name, dict(other.labels)) == ("other", {"en": "Other", "fr": "Autre"})
    specify = survey.question("trade_other")
    assert {k: t.source for k, t in specify.labels.items()} == {
        "en": "Please specify.",
        "fr": "Veuillez préciser.",
    }
    assert specify.relevant is not None and not specify.required


def test_please_specify_is_asked_only_after_other() -> None:
    survey = load_markdown(OR_OTHER)
    turn = advance(survey, start(survey).state, Answer("1"))  # English
    assert screen(survey, turn.state) == "Your trade? | 1.Tailoring 2.Welding 3.Other"
    turn = advance(survey, turn.state, Answer("3"))
    assert turn.prompt is not None and turn.prompt.text == "Please specify."
    turn = advance(survey, turn.state, Answer("carpentry"))
    turn = advance(survey, turn.state, Answer("1"))  # also: Tailoring, no "please specify"
    assert turn.prompt is not None and turn.prompt.text == "Years in carpentry?"
    turn = advance(survey, turn.state, Answer("4"))
    assert turn.state.answers == {
        "trade": "other",
        "trade_other": "carpentry",
        "also": "tailor",
        "years": "4",
    }
    assert any(isinstance(e, Ended) for e in turn.events)


def test_a_list_with_its_own_other_keeps_it() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | select_one trades or_other | trade | Your trade? |
        | choices |
        | | list_name | name | label |
        | | trades | tailor | Tailoring |
        | | trades | other | Something else |
        """
    )
    assert [(c.name, c.labels["en"]) for c in survey.question("trade").choices] == [
        ("tailor", "Tailoring"),
        ("other", "Something else"),
    ]


def test_or_other_with_a_choice_filter_is_refused_as_pyxform_does() -> None:
    assert located(
        """
        | survey |
        | | type | name | label | choice_filter |
        | | select_one trades or_other | trade | Your trade? | kind = 'hand' |
        | | text | trade_other | Mine | |
        | choices |
        | | list_name | name | label | kind |
        | | trades | tailor | Tailoring | hand |
        """
    ) == [
        ("or_other_with_choice_filter", "survey", 2, "choice_filter"),
        ("duplicate_name", "survey", 3, "name"),
    ]


def test_other_is_a_system_phrase_in_every_language_and_the_voice_says_it() -> None:
    for key in ("other", "specify_other"):
        assert set(PHRASES[key]) == {"en", "fr", "ar", "sw"}
    survey = load_markdown(OR_OTHER)
    in_catalogue = {(e.language, e.key): e.text for e in catalogue(survey)}
    assert in_catalogue[("fr", "trade.choice.other")] == "Autre"
    assert in_catalogue[("fr", "trade_other.label")] == "Veuillez préciser."
    assert in_catalogue[("en", "system.other")] == "Other"
    plan = voice_plan(current_prompt(survey, State(Phase.QUESTION, "fr", 0)))  # type: ignore[arg-type]
    assert "trade.choice.other" in [s.key for s in plan.sounds]
    answers = {"trade": "other", "trade_other": "menuiserie", "also": "weld"}
    missing = []
    for said in every_prompt(survey, answers):
        if isinstance(said, Prompt):
            plan = voice_plan(said, Notice("failed_before", said.language))
            missing += [
                s.key
                for s in plan.sounds
                if ((s.language or plan.language), s.key) not in in_catalogue
            ]
            assert VoicePlan.from_plain(json.loads(json.dumps(plan.to_plain()))) == plan
    assert missing == []


@pytest.mark.parametrize("written", ["select_one trades or other", "SELECT_ONE trades OR_OTHER"])
def test_or_other_is_read_as_pyxform_spells_it(written: str) -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | label |
        | | {written} | trade | Your trade? |
        | choices |
        | | list_name | name | label |
        | | trades | tailor | Tailoring |
        """
    )
    assert [q.name for q in survey.questions] == ["trade", "trade_other"]
