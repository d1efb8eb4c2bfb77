"""Repeats as a caller hears them: every pass plays the same prompts (one catalogue entry
per question, not per pass), piped values of this pass are said, and "Add another?"
is a yes/no menu the catalogue renders."""

from __future__ import annotations

from audio.catalogue import catalogue
from ivr.render import voice_plan
from survey_engine.inputs import Answer
from survey_engine.machine import advance, start
from survey_engine.xlsform import load_markdown

FORM = """
| survey |
| | type | name | label::English (en) | label::Kiswahili (sw) |
| | begin repeat | job | Jobs | Kazi |
| | integer | months | Months? | Miezi? |
| | note | said | ${months} months. | Miezi ${months}. |
| | end repeat | | | |
"""


def test_the_second_pass_says_the_same_prompts_with_its_own_values():
    survey = load_markdown(FORM)
    state = start(survey, language="en").state
    for typed in ("7", "", "1"):  # pass 1, its note, yes to another
        state = advance(survey, state, Answer(typed)).state
    turn = advance(survey, state, Answer("12"))  # pass 2
    assert turn.prompt is not None and turn.prompt.text == "12 months."
    keys = [sound.key for sound in voice_plan(turn.prompt).sounds]
    assert keys[:3] == ["system.digit.1", "system.digit.2", "said.label.part1"]
    assert {k for k in keys} <= {e.key for e in catalogue(survey)}


def test_add_another_is_a_yes_no_menu_in_the_callers_language():
    survey = load_markdown(FORM)
    state = start(survey, language="sw").state
    turn = advance(survey, advance(survey, state, Answer("7")).state, Answer(""))
    assert turn.prompt is not None
    assert turn.prompt.text == "Ongeza mwingine?"
    keys = [sound.key for sound in voice_plan(turn.prompt).sounds]
    assert keys[0] == "job.label"
    assert "job.choice.yes" in keys and "job.choice.no" in keys
    said = {(e.key, e.language): e.text for e in catalogue(survey)}
    assert said["job.label", "sw"] == "Ongeza mwingine?"
    assert said["job.choice.no", "en"] == "No"
    assert set(keys) <= {key for key, _ in said}
