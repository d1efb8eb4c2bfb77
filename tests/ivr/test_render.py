"""What a caller hears: engine prompts as voice plans (sounds in order, how the answer is
collected), tested as tables over every kind of prompt, in every language."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from audio.catalogue import catalogue
from interviews import Notice
from ivr.render import (
    Collect,
    Record,
    Sound,
    VoiceKeys,
    VoicePlan,
    closing_plan,
    phrase_speech,
    voice_plan,
)
from survey_engine.events import Ended, InputKind, Prompt
from survey_engine.inputs import Answer
from survey_engine.machine import Phase, State, advance, current_prompt, start
from survey_engine.model import Survey
from survey_engine.xlsform import load_markdown, load_xlsform
from tests.audio.test_catalogue import every_prompt

# Every key but `#` cuts a prompt short (a `#` after a menu choice is a habit).
INTERRUPT = "0123456789*"
TRACER = Path(__file__).resolve().parents[2] / "examples" / "graduate_tracer.xlsx"

# The prompt kinds the sample survey lacks: several choices, a decimal, a date, eleven
# choices (two-digit keys), and labels piping each kind of value.
KINDS_FORM = """
| survey |
| | type | name | label::English (en) | label::Français (fr) |
| | select_multiple skills | skills | Which skills? | Quelles compétences ? |
| | decimal | hours | Hours a day? | Heures par jour ? |
| | date | started | Start date? | Date de début ? |
| | text | story | Your story? | Votre histoire ? |
| | select_one many | pick | After ${hours} hours from ${started} with ${skills}, pick | Après ${hours} heures depuis ${started} avec ${skills}, choisissez |
| | integer | count | You said ${story}. How many? | Vous avez dit ${story}. Combien ? |
| choices |
| | list_name | name | label::English (en) | label::Français (fr) |
| | skills | weld | Welding | Soudure |
| | skills | wire | Wiring | Câblage |
| | many | c1 | One | Un |
| | many | c2 | Two | Deux |
| | many | c3 | Three | Trois |
| | many | c4 | Four | Quatre |
| | many | c5 | Five | Cinq |
| | many | c6 | Six | Six |
| | many | c7 | Seven | Sept |
| | many | c8 | Eight | Huit |
| | many | c9 | Nine | Neuf |
| | many | c10 | Ten | Dix |
| | many | c11 | Eleven | Onze |
| settings |
| | form_id | version | default_language |
| | kinds | 1 | English (en) |
"""

# A time of day asked, then piped into the next label and compared in its constraint;
# then a date and time, and a rank.
SHOP_FORM = """
| survey |
| | type | name | label::English (en) | label::Français (fr) | constraint |
| | time | opens | When do you open? | Vous ouvrez à ? | |
| | time | closes | You open at ${opens}. When do you close? | Vous ouvrez à ${opens}. Vous fermez à ? | . > ${opens} |
| | dateTime | delivery | Next delivery? | Prochaine livraison ? | |
| | rank needs | needs | Order what matters | Classez ce qui compte | |
| choices |
| | list_name | name | label::English (en) | label::Français (fr) | |
| | needs | pay | Pay | Salaire | |
| | needs | hours | Hours | Horaires | |
| | needs | place | Place | Lieu | |
| settings |
| | form_id | version | default_language |
| | shop_hours | 1 | English (en) |
"""

KINDS_ANSWERS = {
    "skills": "weld wire",
    "hours": "-7.05",
    "started": "2026-06-05",
    "story": "I fix cars",  # typed over USSD: no prompt can say it
}


@pytest.fixture(scope="module")
def tracer() -> Survey:
    return load_xlsform(TRACER)


@pytest.fixture(scope="module")
def kinds() -> Survey:
    return load_markdown(KINDS_FORM)


def question(survey: Survey, name: str, answers: dict[str, str] | None = None) -> Prompt:
    position = next(i for i, q in enumerate(survey.questions) if q.name == name)
    state = State(Phase.QUESTION, "en", position, answers=answers or {"consent": "yes"})
    prompt = current_prompt(survey, state)
    assert isinstance(prompt, Prompt)
    return prompt


def keys(plan: VoicePlan) -> list[str]:
    return [s.key for s in plan.sounds]


def choices(*pairs: tuple[str, str]) -> list[str]:
    said: list[str] = []
    for key, digit in pairs:
        said += ["system.for", key, "system.press", *(f"system.digit.{d}" for d in digit)]
    return said


# -- exact sequences ----------------------------------------------------------------------


def test_the_language_menu_names_each_language_in_its_own_voice(tracer):
    plan = voice_plan(current_prompt(tracer, start(tracer).state))  # type: ignore[arg-type]
    assert plan.sounds[:5] == (
        Sound("system.choose_language"),
        Sound("system.for"),
        Sound("system.language_name", "en"),
        Sound("system.press"),
        Sound("system.digit.1"),
    )
    assert Sound("system.language_name", "ar") in plan.sounds
    assert plan.collect == Collect(InputKind.CHOICE, 1, "#", INTERRUPT)
    assert plan.back is None  # nothing before the menu: no "to go back"
    assert plan.repeat == "*"


def test_a_single_choice_question_says_each_choice_and_its_key_then_how_to_go_back(tracer):
    plan = voice_plan(question(tracer, "employed"))
    assert keys(plan) == [
        "employed.label",
        *choices(
            ("employed.choice.wage", "1"),
            ("employed.choice.self", "2"),
            ("employed.choice.not_working", "3"),
        ),
        "system.go_back",
        "system.digit.0",
    ]
    assert plan.back == "0"
    assert plan.collect == Collect(InputKind.CHOICE, 1, "#", INTERRUPT)


def test_a_notice_comes_first_and_the_hint_after_the_question(tracer):
    notice = Notice("declined_before", "en")
    plan = voice_plan(question(tracer, "consent"), notice)
    assert keys(plan)[:3] == ["system.declined_before", "consent.label", "consent.hint"]
    assert plan.sounds[0].language is None  # the prompt's own language
    # A notice in another language than the prompt's is played from that language.
    on_menu = voice_plan(current_prompt(tracer, start(tracer).state), Notice("refused", "sw"))  # type: ignore[arg-type]
    assert on_menu.sounds[0] == Sound("system.refused", "sw")


def test_a_refused_number_says_why_first_and_how_to_hear_it_again_last(tracer):
    position = next(i for i, q in enumerate(tracer.questions) if q.name == "months_to_job")
    state = State(Phase.QUESTION, "en", position, answers={"consent": "yes"})
    refused = advance(tracer, state, Answer("abc")).prompt
    assert refused is not None
    assert keys(voice_plan(refused)) == [
        "system.invalid_integer",
        "months_to_job.label",
        "months_to_job.hint",
        "system.then_hash",
        "system.go_back",
        "system.key_hash",  # 0 is a real number of months: back is # alone
        "system.repeat",
        "system.key_star",
    ]
    assert voice_plan(refused).back == "#"
    assert voice_plan(refused).collect == Collect(InputKind.INTEGER, 9, "#", INTERRUPT)


def test_an_open_question_is_recorded_after_the_tone(tracer):
    plan = voice_plan(question(tracer, "suggestion"))
    assert keys(plan) == [
        "suggestion.label",
        "system.record_after_tone",
        "system.go_back",
        "system.digit.0",
    ]
    assert plan.collect == Record(
        silence_seconds=4, max_seconds=120, beep=True, end_key="#", escape_digits=INTERRUPT
    )


def test_a_note_continues_on_any_key(tracer):
    plan = voice_plan(question(tracer, "skills_intro"))
    assert keys(plan)[-3:] == ["system.any_key", "system.go_back", "system.digit.0"]
    assert plan.collect == Collect(InputKind.ANY, 1, None, INTERRUPT)


def test_several_choices_are_collected_one_at_a_time(kinds):
    plan = voice_plan(question(kinds, "skills", {}))
    assert keys(plan) == [
        "skills.label",
        *choices(("skills.choice.weld", "1"), ("skills.choice.wire", "2")),
        "system.one_at_a_time",
    ]
    assert plan.collect == Collect(InputKind.CHOICES, None, "#", INTERRUPT, one_at_a_time=True)


def test_a_decimal_says_which_key_is_the_point_and_a_date_how_many_digits(kinds):
    decimal = voice_plan(question(kinds, "hours", {"skills": "weld"}))
    assert keys(decimal) == [
        "hours.label",
        "system.hint_integer",
        "system.then_hash",
        "system.decimal_point",
        "system.key_star",
        "system.go_back",
        "system.key_hash",
    ]
    date = voice_plan(question(kinds, "started", {"skills": "weld"}))
    assert keys(date)[1:3] == ["system.date_digits", "system.then_hash"]
    assert date.collect == Collect(InputKind.DATE, 8, "#", INTERRUPT)


def test_a_time_says_four_digits_then_hash_and_is_said_back_as_hour_and_minutes():
    survey = load_markdown(SHOP_FORM)
    plan = voice_plan(question(survey, "opens"))
    assert keys(plan) == ["opens.label", "system.time_digits", "system.then_hash"]
    assert plan.collect == Collect(InputKind.TIME, 5, "#", INTERRUPT)
    assert plan.back is None  # the first question
    piped = voice_plan(question(survey, "closes", {"opens": "09:05"}))
    digit = "system.digit.{}".format
    assert keys(piped)[:6] == [
        "closes.label.part1",
        digit(9),
        digit(0),
        digit(5),
        "closes.label.part2",
        "system.time_digits",
    ]
    assert piped.back == "#"  # 0 is a real first key of a time
    both = voice_plan(question(survey, "delivery", {"opens": "09:05", "closes": "17:00"}))
    assert keys(both)[:4] == [
        "delivery.label",
        "system.date_digits",
        "system.then_time_digits",
        "system.then_hash",
    ]
    assert both.collect == Collect(InputKind.DATETIME, 13, "#", INTERRUPT)


def test_a_rank_reads_its_choices_then_asks_them_one_at_a_time_in_order():
    survey = load_markdown(SHOP_FORM)
    answers = {"opens": "09:05", "closes": "17:00", "delivery": "2026-06-15T14:30"}
    plan = voice_plan(question(survey, "needs", answers))
    assert keys(plan) == [
        "needs.label",
        *choices(("needs.choice.pay", "1"), ("needs.choice.hours", "2")),
        *choices(("needs.choice.place", "3")),
        "system.rank_order",
        "system.one_at_a_time",
        "system.go_back",
        "system.digit.0",
    ]
    assert plan.collect == Collect(InputKind.RANK, None, "#", INTERRUPT, one_at_a_time=True)


def test_piped_values_are_said_as_digits_and_choice_labels(kinds):
    plan = voice_plan(question(kinds, "pick", KINDS_ANSWERS))
    digit = "system.digit.{}".format
    said = keys(plan)
    assert said[: said.index("system.for")] == [
        "pick.label.part1",  # After
        "system.minus",
        digit(7),
        "system.point",
        digit(0),
        digit(5),
        "pick.label.part2",  # hours from
        digit(5),  # day 05, month 06, year 2026
        digit(6),
        *(digit(d) for d in "2026"),
        "pick.label.part3",  # with
        "skills.choice.weld",
        "skills.choice.wire",
        "pick.label.part4",  # pick
    ]
    assert plan.skipped == 0


COMPUTED_FORM = """
| survey |
| | type | name | label | calculation |
| | integer | rate | Pay per day? | |
| | calculate | weekly | | ${rate} * 7 - 0.5 |
| | calculate | since | | date(decimal-date-time('2026-06-01') + ${rate}) |
| | calculate | band | | if(${weekly} > 100, 'high', 'low') |
| | note | told | You earn ${weekly} a week since ${since}, ${band} | |
"""


def test_a_piped_calculation_is_said_as_what_its_value_is():
    survey = load_markdown(COMPUTED_FORM)
    turn = advance(survey, start(survey).state, Answer("12"))  # 12 x 7 - 0.5 = 83.5
    assert turn.prompt is not None
    assert turn.prompt.text == "You earn 83.5 a week since 2026-06-13, low"
    plan = voice_plan(turn.prompt)
    digit = "system.digit.{}".format
    said = keys(plan)
    assert said[: said.index("system.any_key")] == [
        "told.label.part1",  # You earn
        digit(8),
        digit(3),
        "system.point",
        digit(5),
        "told.label.part2",  # a week since
        digit(1),  # day 13, month 6, year 2026
        digit(3),
        digit(6),
        *(digit(d) for d in "2026"),
    ]
    assert plan.skipped == 1  # 'low' is text: no prompt can say it
    in_catalogue = {e.key for e in catalogue(survey)}
    assert {s.key for s in plan.sounds} <= in_catalogue
    assert not any(k.startswith(("weekly.", "since.")) for k in in_catalogue)


def test_choice_numbers_above_nine_are_said_digit_by_digit(kinds):
    plan = voice_plan(question(kinds, "pick", KINDS_ANSWERS))
    eleventh = keys(plan).index("pick.choice.c11")
    assert keys(plan)[eleventh + 1 : eleventh + 4] == [
        "system.press",
        "system.digit.1",
        "system.digit.1",
    ]
    assert plan.collect == Collect(InputKind.CHOICE, 2, "#", INTERRUPT)


def test_typed_text_no_prompt_can_say_is_skipped_and_counted(kinds):
    plan = voice_plan(question(kinds, "count", KINDS_ANSWERS))
    assert keys(plan)[:2] == ["count.label.part1", "count.label.part2"]
    assert plan.skipped == 1
    assert voice_plan(question(kinds, "count", {**KINDS_ANSWERS, "story": ""})).skipped == 0


def test_a_closing_is_said_and_then_the_call_ends():
    plan = closing_plan(phrase_speech("thank_you", "fr"), "fr")
    assert plan == VoicePlan("fr", (Sound("system.thank_you"),), None)


# -- every prompt, every language ---------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "answers"),
    [
        pytest.param(None, {"consent": "yes"}, id="sample"),
        pytest.param(KINDS_FORM, KINDS_ANSWERS, id="kinds"),
    ],
)
def test_every_sound_of_every_plan_is_in_the_catalogue_and_survives_the_live_record(form, answers):
    survey = load_xlsform(TRACER) if form is None else load_markdown(form)
    in_catalogue = {(e.language, e.key) for e in catalogue(survey)}
    missing: list[tuple[str, str]] = []
    seen: set[InputKind | None] = set()
    for said in every_prompt(survey, answers):
        if isinstance(said, Ended):
            plan = closing_plan(said.speech, survey.default_language)
            seen.add(None)
        else:
            plan = voice_plan(said, Notice("failed_before", said.language))
            seen.add(said.input.kind)
        missing += [
            (s.language or plan.language, s.key)
            for s in plan.sounds
            if (s.language or plan.language, s.key) not in in_catalogue
        ]
        assert VoicePlan.from_plain(json.loads(json.dumps(plan.to_plain()))) == plan
    assert missing == []
    expected = {InputKind.CHOICE, None}
    expected |= (
        {InputKind.INTEGER, InputKind.TEXT, InputKind.ANY}
        if form is None
        else {InputKind.CHOICES, InputKind.DECIMAL, InputKind.DATE, InputKind.TEXT}
    )
    assert expected <= seen


# -- settings and the stored view are validated -------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"repeat": "5"}, "VoiceKeys.repeat"),
        ({"menu_back": "1"}, "VoiceKeys.menu_back"),
        ({"open_back": "0"}, "VoiceKeys.open_back"),
        ({"repeat": "#", "open_back": "#"}, "repeat key must differ"),
        ({"end": "x"}, "VoiceKeys.end"),
        ({"timeout_ms": 0}, "VoiceKeys.timeout_ms"),
    ],
)
def test_voice_keys_that_would_collide_with_answers_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        VoiceKeys(**change)


def test_configured_keys_are_the_ones_said_and_collected(tracer):
    plan = voice_plan(question(tracer, "employed"), keys=VoiceKeys(menu_back="#", timeout_ms=9000))
    assert keys(plan)[-2:] == ["system.go_back", "system.key_hash"]
    assert plan.back == "#"
    assert isinstance(plan.collect, Collect) and plan.collect.timeout_ms == 9000


GOOD = VoicePlan("en", (Sound("a.label"),), Collect(InputKind.CHOICE, 1, "#"), "0", "*").to_plain()


@pytest.mark.parametrize(
    ("plain", "message"),
    [
        ("not a mapping", "a mapping"),
        ({**GOOD, "extra": 1}, "exactly the fields"),
        ({**GOOD, "sounds": [["a.label"]]}, "'sounds'"),
        ({**GOOD, "sounds": [["", None]]}, "Sound.key"),
        ({**GOOD, "collect": {"type": "dial"}}, "'collect.type'"),
        ({**GOOD, "collect": {**GOOD["collect"], "kind": "choice", "max_digits": 0}}, "max_digits"),
        ({**GOOD, "collect": {"type": "record", "beep": True}}, "'collect' fields"),
        ({**GOOD, "back": "00"}, "VoicePlan.back"),
        ({**GOOD, "skipped": -1}, "skipped"),
    ],
)
def test_a_stored_view_of_another_shape_is_refused_with_what_was_expected(plain, message):
    with pytest.raises(ValueError, match=message):
        VoicePlan.from_plain(plain)


def test_a_record_view_round_trips():
    plan = VoicePlan("sw", (), Record(silence_seconds=2), back="0")
    assert VoicePlan.from_plain(json.loads(json.dumps(plan.to_plain()))) == plan
    assert replace(plan, back=None).to_plain()["back"] is None


# -- forms as the field writes them ------------------------------------------------------

OLD_STYLE_FORM = """
| survey |
| | type | name | label:English | label:Kiswahili | bind:relevant | bind:jr:constraintMsg:Kiswahili | bind:constraint |
| | select one from yn | working | Are you working? | Una kazi? | | | |
| | int | months | Months in the job? | Miezi kazini? | ${working} = 'yes' | Si zaidi ya 600 | . <= 600 |
| choices |
| | list name | value | label:English | label:Kiswahili |
| | yn | yes | Yes | Ndio |
| | yn | no | No | La |
"""
CURRENT_FORM = """
| survey |
| | type | name | label::English (en) | label::Kiswahili (sw) | relevant | constraint_message::Kiswahili (sw) | constraint |
| | select_one yn | working | Are you working? | Una kazi? | | | |
| | integer | months | Months in the job? | Miezi kazini? | ${working} = 'yes' | Si zaidi ya 600 | . <= 600 |
| choices |
| | list_name | name | label::English (en) | label::Kiswahili (sw) |
| | yn | yes | Yes | Ndio |
| | yn | no | No | La |
"""


def test_an_old_style_form_is_heard_exactly_as_its_current_spelling():
    old, current = load_markdown(OLD_STYLE_FORM), load_markdown(CURRENT_FORM)
    assert old.language_codes == current.language_codes == ("en", "sw")
    answers = {"working": "yes"}
    heard_old = [
        voice_plan(said) if isinstance(said, Prompt) else said
        for said in every_prompt(old, answers)
    ]
    heard_current = [
        voice_plan(said) if isinstance(said, Prompt) else said
        for said in every_prompt(current, answers)
    ]
    assert heard_old == heard_current
    refused = advance(old, State(Phase.QUESTION, "sw", 1, answers=answers), Answer("601"))
    assert keys(voice_plan(refused.prompt))[0] == "months.constraint_message"  # type: ignore[arg-type]
    said = {(e.language, e.key): e.text for e in catalogue(old)}
    assert said[("sw", "months.constraint_message")] == "Si zaidi ya 600"
