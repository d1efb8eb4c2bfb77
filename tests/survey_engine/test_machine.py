"""The state machine, driven as production drives it: the state goes through its bytes
between every input, as it does through Redis."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey_engine.errors import EngineError
from survey_engine.events import (
    AnswerGiven,
    AnswerKind,
    AnswersCleared,
    Ended,
    Failed,
    InputKind,
    LanguageChosen,
    Prompt,
    PromptKind,
    ResponseStatus,
    Restarted,
    Suspended,
)
from survey_engine.inputs import Answer, Back, HungUp, NoInput, Recording, Resume
from survey_engine.machine import (
    Phase,
    State,
    Turn,
    advance,
    current_prompt,
    expected_input,
    resume_state,
    start,
)
from survey_engine.model import Survey
from survey_engine.speech import PromptKey
from survey_engine.xlsform import load_markdown

TRACER = load_markdown(
    """
    | survey |
    | | type | name | label::English (en) | label::Français (fr) | relevant | constraint | constraint_message::English (en) | constraint_message::Français (fr) | required | hint::English (en) | hint::Français (fr) |
    | | select_one yn | consent | Do you agree? | Acceptez-vous ? | | | | | yes | | |
    | | select_one work | employed | Are you working? | Travaillez-vous ? | | | | | yes | | |
    | | integer | months | Months to find work? | Mois pour trouver ? | ${employed} != 'none' | . >= 0 and . <= 60 | 0 to 60 please | Entre 0 et 60 | yes | Months | Mois |
    | | select_one yn | related | After ${months} months: related job? | Après ${months} mois : lié ? | ${employed} != 'none' | | | | yes | | |
    | | select_one yn | looking | Looking for work? | Cherchez-vous ? | ${employed} = 'none' | | | | yes | | |
    | | note | skills_intro | Rate yourself 1-5 | Notez-vous de 1 à 5 | | | | | | | |
    | | select_multiple skill | skills | Skills used? | Compétences ? | | | | | yes | | |
    | | date | finished | When did you finish? | Fin de formation ? | | | | | yes | | |
    | | decimal | hours | Hours per day? | Heures par jour ? | | . < 24 | | | no | | |
    | | text | comment | Any comment? | Un commentaire ? | | | | | no | | |
    | choices |
    | | list_name | name | label::English (en) | label::Français (fr) |
    | | yn | yes | Yes | Oui |
    | | yn | no | No | Non |
    | | work | wage | Employed | Salarié |
    | | work | self | Own business | À mon compte |
    | | work | none | Not working | Sans emploi |
    | | skill | wiring | Wiring | Câblage |
    | | skill | sales | Sales | Vente |
    | | skill | design | Design | Conception |
    | settings |
    | | form_id | version | default_language |
    | | tracer | 3 | English (en) |
    """
)


@dataclass
class Drive:
    state: State
    turns: list[Turn]

    @property
    def prompt(self) -> Prompt:
        prompt = self.turns[-1].prompt
        assert prompt is not None, self.turns[-1].events
        return prompt

    @property
    def events(self) -> list[object]:
        return [e for t in self.turns for e in t.data_events]


def drive(survey: Survey, inputs: list[Resume | str], **start_args: object) -> Drive:
    turn = start(survey, **start_args)  # type: ignore[arg-type]
    turns = [turn]
    state_bytes = turn.state.to_bytes()
    for item in inputs:
        resume = Answer(item) if isinstance(item, str) else item
        turn = advance(survey, State.from_bytes(state_bytes), resume)
        turns.append(turn)
        state_bytes = turn.state.to_bytes()
    return Drive(State.from_bytes(state_bytes), turns)


def given_answers(d: Drive) -> dict[str, str]:
    answers: dict[str, str] = {}
    for event in d.events:
        if isinstance(event, AnswerGiven):
            answers[event.question] = event.value
        elif isinstance(event, AnswersCleared):
            for name in event.questions:
                answers.pop(name, None)
    return answers


def test_a_survey_in_several_languages_first_asks_the_language_each_in_its_own_name():
    d = drive(TRACER, [])
    assert d.prompt.kind is PromptKind.LANGUAGE_MENU
    assert [c.label for c in d.prompt.choices] == ["English", "Français"]


def test_choosing_french_asks_every_question_in_french_and_records_the_choice():
    d = drive(TRACER, ["2"])
    assert d.events == [LanguageChosen("fr")]
    assert d.prompt.text == "Acceptez-vous ?"
    assert [c.label for c in d.prompt.choices] == ["Oui", "Non"]


def test_a_known_language_skips_the_menu():
    d = drive(TRACER, [], language="fr")
    assert d.prompt.key == "consent"
    assert d.prompt.language == "fr"


def test_nonsense_on_a_choice_reprompts_in_the_respondents_language():
    d = drive(TRACER, ["9"], language="fr")
    assert d.prompt.key == "consent"
    assert d.prompt.error.startswith("Choix invalide")
    assert d.events == []


def test_refusing_consent_ends_the_survey_as_refused_with_the_answer_stored():
    d = drive(TRACER, ["2"], language="en")
    ended = d.turns[-1].ended
    assert ended is not None and ended.status is ResponseStatus.REFUSED
    assert d.events == [AnswerGiven("consent", "no"), ended]
    assert d.state.phase is Phase.ENDED


def test_a_working_graduate_is_asked_the_employment_follow_ups_and_the_months_are_piped():
    d = drive(TRACER, ["1", "1", "12"], language="en")
    assert d.prompt.key == "related"
    assert d.prompt.text == "After 12 months: related job?"


def test_a_graduate_without_work_skips_to_the_questions_for_job_seekers():
    d = drive(TRACER, ["1", "3"], language="en")
    assert d.prompt.key == "looking"


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("abc", "Please enter a whole number."),
        ("1.5", "Please enter a whole number."),
        ("61", "0 to 60 please"),
        ("-1", "0 to 60 please"),
        ("", "This question needs an answer."),
    ],
)
def test_months_are_validated_with_the_forms_own_message(typed, error):
    d = drive(TRACER, ["1", "1", typed], language="en")
    assert d.prompt.key == "months"
    assert d.prompt.error == error
    assert d.prompt.input.kind is InputKind.INTEGER
    assert d.prompt.hint == "Months"


def test_constraint_messages_are_translated():
    d = drive(TRACER, ["1", "1", "99"], language="fr")
    assert d.prompt.error == "Entre 0 et 60"


def to_skills(extra: list[str]) -> list[str]:
    return ["1", "1", "12", "1", "ok", *extra]


def test_a_note_continues_on_any_input():
    d = drive(TRACER, to_skills([]), language="en")
    assert d.prompt.key == "skills"
    assert d.turns[-2].prompt is not None and d.turns[-2].prompt.kind is PromptKind.NOTE


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("1 3", "wiring design"),
        ("3  1", "wiring design"),
        ("2", "sales"),
        ("1 1 2", "wiring sales"),
    ],
)
def test_several_choices_are_typed_as_numbers_in_one_input(typed, stored):
    d = drive(TRACER, to_skills([typed]), language="en")
    assert AnswerGiven("skills", stored) in d.events
    assert d.prompt.key == "finished"


# A keypad's other separators are the channel's to map (ussd/keypad.py), not the engine's.
@pytest.mark.parametrize("typed", ["1 4", "0", "x", "01", "1*3", "3,1"])
def test_a_choice_outside_the_list_is_refused(typed):
    d = drive(TRACER, to_skills([typed]), language="en")
    assert d.prompt.key == "skills"
    assert d.prompt.error.startswith("Invalid choice")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("15062026", "2026-06-15"), ("15-06-2026", "2026-06-15"), ("1/6/2026", "2026-06-01")],
)
def test_dates_are_read_day_first_and_stored_iso(typed, stored):
    d = drive(TRACER, to_skills(["1", typed]), language="en")
    assert AnswerGiven("finished", stored) in d.events


@pytest.mark.parametrize(
    "typed", ["31022026", "2026-06-15", "1506202", "tomorrow", "15*06*2026", "15-06/2026"]
)
def test_impossible_or_malformed_dates_are_refused(typed):
    d = drive(TRACER, to_skills(["1", typed]), language="en")
    assert d.prompt.key == "finished"
    assert d.prompt.error == "Please enter a real date as DDMMYYYY."


@pytest.mark.parametrize(("typed", "stored"), [("7.5", "7.5"), ("7,5", "7.5"), ("8", "8")])
def test_decimals_take_a_point_or_a_comma(typed, stored):
    d = drive(TRACER, to_skills(["1", "01012026", typed]), language="en")
    assert AnswerGiven("hours", stored) in d.events


def test_the_keypads_star_as_a_point_is_no_longer_the_engines_business():
    # USSD maps `7*5` to `7.5` before the engine (ussd/keypad.py); a voice channel has
    # its own keys, so the engine reads canonical text only.
    d = drive(TRACER, to_skills(["1", "01012026", "7*5"]), language="en")
    assert d.prompt.key == "hours"
    assert d.prompt.error == "Please enter a number."
    assert not any(isinstance(e, AnswerGiven) and e.question == "hours" for e in d.events)


def test_the_input_a_state_expects_is_the_prompts_without_building_it():
    seen = set()
    d = drive(TRACER, [])
    assert expected_input(TRACER, d.state) is d.prompt.input.kind is InputKind.CHOICE
    for inputs in (["1"], to_skills([]), to_skills(["1"]), to_skills(["1", "01012026"])):
        for language in ("en", "fr"):
            d = drive(TRACER, inputs, language=language)
            assert expected_input(TRACER, d.state) is d.prompt.input.kind
            seen.add(d.prompt.input.kind)
    for position in range(len(TRACER.questions)):
        state = State(Phase.QUESTION, "en", position)
        prompt = current_prompt(TRACER, state)
        assert prompt is not None and expected_input(TRACER, state) is prompt.input.kind
        seen.add(prompt.input.kind)
    offer = start(TRACER, language="en", answers={"consent": "yes"}, offer_resume=True)
    assert expected_input(TRACER, offer.state) is InputKind.CHOICE
    assert expected_input(TRACER, drive(TRACER, ["2"], language="en").state) is InputKind.ANY
    # The tracer asks no time and no rank: test_time.py and test_rank.py do.
    assert seen == set(InputKind) - {InputKind.TIME, InputKind.DATETIME, InputKind.RANK}


def test_an_optional_question_left_empty_is_recorded_as_skipped_and_the_survey_completes():
    d = drive(TRACER, to_skills(["1", "01012026", "", ""]), language="en")
    ended = d.turns[-1].ended
    assert ended == Ended(ResponseStatus.COMPLETE, "Thank you for your answers!")
    assert given_answers(d)["hours"] == ""
    assert given_answers(d)["comment"] == ""


def test_going_back_shows_the_earlier_answer_and_changing_it_clears_what_no_longer_applies():
    d = drive(TRACER, ["1", "1", "12", "1", Back(), Back(), Back()], language="en")
    assert d.prompt.key == "employed"
    assert d.prompt.current_value == "Employed"
    d = drive(TRACER, ["1", "1", "12", "1", Back(), Back(), Back(), "3"], language="en")
    assert AnswersCleared(("months", "related")) in d.events
    assert d.prompt.key == "looking"  # newly relevant, then back to where they were
    d = drive(TRACER, ["1", "1", "12", "1", Back(), Back(), Back(), "3", "1"], language="en")
    assert d.prompt.key == "skills_intro"
    assert set(given_answers(d)) == {"consent", "employed", "looking"}


def test_changing_an_answer_without_side_effects_returns_to_the_first_open_question():
    d = drive(TRACER, ["1", "1", "12", "1", "ok", Back(), Back(), Back(), "20"], language="en")
    assert AnswerGiven("months", "20") in d.events
    # Past the last answer the walk resumes in order, so the note before `skills` shows again.
    assert d.prompt.key == "skills_intro"


def test_back_on_the_first_question_stays_there():
    d = drive(TRACER, [Back()], language="en")
    assert d.prompt.key == "consent"
    assert d.prompt.can_go_back is False


def test_no_input_reprompts_with_a_message_and_stores_nothing():
    d = drive(TRACER, [NoInput()], language="sw")
    # A language the survey lacks falls back to the survey's default language.
    assert d.prompt.language == "en"
    assert d.prompt.error == "We did not receive an answer."
    assert d.events == []


def test_hanging_up_suspends_without_losing_state():
    d = drive(TRACER, ["1", HungUp()], language="en")
    assert d.turns[-1].events == (Suspended(),)
    assert d.state.answers == {"consent": "yes"}
    assert d.state.status is ResponseStatus.INTERRUPTED


def test_resume_offer_continue_goes_to_the_first_open_question():
    d = drive(TRACER, ["1"], language="en", answers={"consent": "yes", "employed": "wage"},
              offer_resume=True)  # fmt: skip
    assert d.prompt.key == "months"
    assert d.events == []


def test_resume_offer_start_again_drops_every_answer():
    d = drive(TRACER, ["2"], language="fr", answers={"consent": "yes"}, offer_resume=True)
    assert d.events == [Restarted()]
    assert d.prompt.key == "consent"
    assert d.state.answers == {}


def test_resume_offer_is_in_the_respondents_language():
    turn = start(TRACER, language="fr", answers={"consent": "yes"}, offer_resume=True)
    assert turn.prompt is not None
    assert turn.prompt.kind is PromptKind.RESUME_OFFER
    assert [c.label for c in turn.prompt.choices] == ["Continuer", "Recommencer"]


def test_state_rebuilt_from_stored_answers_points_at_the_next_question():
    state = resume_state(TRACER, {"consent": "yes", "employed": "none"}, "en")
    prompt = current_prompt(TRACER, state)
    assert prompt is not None and prompt.key == "looking"


def test_state_rebuilt_from_a_complete_set_of_answers_is_ended():
    d = drive(TRACER, to_skills(["1", "01012026", "", ""]), language="en")
    state = resume_state(TRACER, given_answers(d), "en")
    assert state.phase is Phase.ENDED


def test_answers_of_questions_a_newer_version_dropped_are_ignored():
    state = resume_state(TRACER, {"consent": "yes", "gone": "x"}, "en")
    assert state.answers == {"consent": "yes"}


def test_bad_state_bytes_are_a_caller_error_with_a_code():
    with pytest.raises(EngineError) as caught:
        State.from_bytes(b'{"p": "question"}')
    assert caught.value.code == "bad_state"


def test_advancing_an_ended_response_is_a_caller_error():
    d = drive(TRACER, ["2"], language="en")
    with pytest.raises(EngineError) as caught:
        advance(TRACER, d.state, Answer("1"))
    assert caught.value.code == "ended"


class ExplodingExpression:
    source = "boom()"
    references = frozenset()

    def is_true(self, *args: object, **kwargs: object) -> bool:
        raise ZeroDivisionError("boom")


def test_a_survey_that_breaks_on_real_answers_ends_as_failed_not_with_an_exception():
    broken_q = replace(TRACER.question("employed"), relevant=ExplodingExpression())
    questions = tuple(broken_q if q.name == "employed" else q for q in TRACER.questions)
    broken = Survey(TRACER.form_id, "x", TRACER.title, TRACER.languages, "en", questions)
    d = drive(broken, ["1"], language="en")
    events = d.turns[-1].events
    assert isinstance(events[-2], Failed) and events[-2].code == "relevant_failed"
    assert events[-1] == Ended(ResponseStatus.FAILED, d.turns[-1].ended.message)  # type: ignore[union-attr]
    assert d.state.phase is Phase.ENDED


def test_the_engine_imports_no_io_library_and_no_channel():
    code = (
        "import sys, survey_engine.machine, survey_engine.xlsform, survey_engine.ports;"
        "bad = {'aiohttp','sqlalchemy','redis','asyncpg','aiosqlite','ussd','ivr','storage',"
        "'admin','service_tracker','audio'} & {m.split('.')[0] for m in sys.modules};"
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


inputs = st.lists(
    st.one_of(
        st.text(alphabet="0123456789 *#.,-/ab", max_size=10).map(Answer),
        st.sampled_from([Back(), NoInput(), Answer("1"), Answer("2"), Answer("3")]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(inputs, st.sampled_from([None, "en", "fr"]))
def test_random_input_never_crashes_and_every_stored_answer_satisfies_its_constraint(seq, lang):
    turn = start(TRACER, language=lang)
    state = turn.state
    for resume in seq:
        if state.phase is Phase.ENDED:
            break
        turn = advance(TRACER, State.from_bytes(state.to_bytes()), resume)
        state = turn.state
        assert turn.prompt is not None or turn.ended is not None
    for name, value in state.answers.items():
        question = TRACER.question(name)
        assert question.relevant is None or question.relevant.is_true(state.answers)
        if question.constraint is not None and value:
            assert question.constraint.is_true(state.answers, current=value), (name, value)
        if question.required:
            assert value != ""


def test_prompts_built_once_per_question_still_follow_each_respondents_answers():
    # Prompts without pipes are remembered on the survey; those with pipes or a choice
    # filter must still be built from each respondent's own answers.
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | choice_filter |
        | | select_one county | county | Your county? | |
        | | select_one ward | ward | Your ward in ${county}? | county = ${county} |
        | choices |
        | | list_name | name | label | county |
        | | county | nairobi | Nairobi | |
        | | county | mombasa | Mombasa | |
        | | ward | westlands | Westlands | nairobi |
        | | ward | kibra | Kibra | nairobi |
        | | ward | likoni | Likoni | mombasa |
        """
    )
    first = drive(survey, ["1"])
    second = drive(survey, ["2"])
    again = drive(survey, ["1"])
    assert first.prompt.text == again.prompt.text == "Your ward in Nairobi?"
    assert [c.label for c in first.prompt.choices] == ["Westlands", "Kibra"]
    assert second.prompt.text == "Your ward in Mombasa?"
    assert [c.label for c in second.prompt.choices] == ["Likoni"]
    assert drive(survey, []).prompt.text == "Your county?"


# -- voice answers --------------------------------------------------------------------

STORY = load_markdown(
    """
    | survey |
    | | type | name | label | required | constraint |
    | | text | story | Tell us about your work | yes | string-length(.) < 3 |
    | | integer | age | Your age? | yes | |
    """
)
REF = "story_form/7/story-k3q9"
RESUMING = {"language": "en", "answers": {"consent": "yes"}, "offer_resume": True}


def test_a_recording_answers_an_open_question_and_the_survey_moves_on():
    d = drive(TRACER, [*to_skills(["1", "01012026", ""]), Recording("tracer/7/comment-x1")],
              language="en")  # fmt: skip
    assert AnswerGiven("comment", "tracer/7/comment-x1", AnswerKind.RECORDING) in d.events
    assert d.turns[-1].ended == Ended(ResponseStatus.COMPLETE, "Thank you for your answers!")


def test_a_recording_satisfies_required_and_skips_the_constraints_on_typed_text():
    typed = drive(STORY, ["a long story"])
    assert typed.prompt.key == "story"  # typed text must keep to the constraint
    d = drive(STORY, [Recording(REF)])
    assert d.events == [AnswerGiven("story", REF, AnswerKind.RECORDING)]
    assert d.prompt.key == "age"
    assert d.state.answers == {"story": REF}


def test_typed_text_is_still_an_answer_of_kind_text():
    d = drive(STORY, ["ok"])
    assert d.events == [AnswerGiven("story", "ok", AnswerKind.TEXT)]


def test_recording_again_after_going_back_replaces_the_earlier_recording():
    d = drive(STORY, [Recording(REF), Back(), Recording("story_form/7/story-2nd")])
    assert d.events[-1] == AnswerGiven("story", "story_form/7/story-2nd", AnswerKind.RECORDING)
    assert d.state.answers == {"story": "story_form/7/story-2nd"}


@pytest.mark.parametrize(
    ("inputs", "start_args"),
    [
        pytest.param([], {"language": "en"}, id="select_one"),
        pytest.param(["1", "1", "12", "1"], {"language": "en"}, id="note"),
        pytest.param(["1", "1"], {"language": "en"}, id="integer"),
        pytest.param([], {}, id="language menu"),
        pytest.param([], RESUMING, id="resume offer"),
    ],
)
def test_a_recording_where_no_open_question_is_asked_is_a_channel_error(inputs, start_args):
    d = drive(TRACER, inputs, **start_args)
    with pytest.raises(EngineError) as caught:
        advance(TRACER, d.state, Recording("tracer/7/x-1"))
    assert caught.value.code == "recording_not_expected"


@pytest.mark.parametrize("ref", ["", "   "])
def test_a_recording_without_a_reference_is_a_channel_error(ref):
    with pytest.raises(EngineError) as caught:
        drive(STORY, [Recording(ref)])
    assert caught.value.code == "empty_recording"


@pytest.mark.parametrize(
    "ref",
    [
        "/srv/recordings/story_form/7/story-1",
        "../7/story-1",
        "story_form/../../etc",
        "story_form\\7\\story-1",
        "a/\x00b",
    ],
)
def test_a_recording_reference_that_is_not_relative_to_the_folder_is_a_channel_error(ref):
    with pytest.raises(EngineError) as caught:
        drive(STORY, [Recording(ref)])
    assert caught.value.code == "bad_recording_ref"


# -- which answers are voice: remembered by the state ----------------------------------

VOICE = load_markdown(
    """
    | survey |
    | | type | name | label::English (en) | label::Français (fr) | relevant | constraint |
    | | integer | age | Your age? | Votre âge ? | | |
    | | text | story | Tell us about your work | Parlez-nous de votre travail | ${age} >= 16 | string-length(.) < 3 |
    | | text | more | You said: ${story}. Anything else? | Vous avez dit : ${story}. Autre chose ? | | |
    | settings |
    | | form_id | version | default_language |
    | | voice | 1 | English (en) |
    """
)  # fmt: skip
VOICE_REF = "voice/7/story-k3q9"


def test_the_state_remembers_through_its_bytes_which_answers_are_recordings():
    recorded = drive(VOICE, ["30", Recording(VOICE_REF)], language="en")
    assert recorded.state.recorded == {"story"}
    assert recorded.state.to_plain()["r"] == ["story"]
    typed = drive(VOICE, ["30", "ok"], language="en")
    assert typed.state.recorded == frozenset()
    assert "r" not in typed.state.to_plain()  # absent: none, and no bigger than before


def test_changing_an_earlier_answer_keeps_a_recording_its_text_constraint_would_refuse():
    d = drive(VOICE, ["30", Recording(VOICE_REF), Back(), Back(), "31"], language="en")
    assert d.turns[-1].data_events == (AnswerGiven("age", "31"),)
    assert given_answers(d) == {"age": "31", "story": VOICE_REF}
    assert d.prompt.key == "more"
    assert d.state.recorded == {"story"}


def test_a_piped_recording_is_named_in_the_label_and_the_voice_not_read_as_its_path():
    english = drive(VOICE, ["30", Recording(VOICE_REF)], language="en").prompt
    assert english.text == "You said: (your recorded answer). Anything else?"
    assert english.speech.parts == (
        PromptKey("more.label.part1"),
        PromptKey("system.recorded_answer"),
        PromptKey("more.label.part2"),
    )
    french = drive(VOICE, ["30", Recording(VOICE_REF)], language="fr").prompt
    assert french.text == "Vous avez dit : (votre réponse enregistrée). Autre chose ?"


def test_coming_back_to_a_recorded_answer_says_it_is_recorded_not_its_path():
    d = drive(VOICE, ["30", Recording(VOICE_REF), Back()], language="en")
    assert (d.prompt.key, d.prompt.current_value) == ("story", "(your recorded answer)")


def test_typing_over_a_recording_makes_it_a_typed_answer_again():
    d = drive(VOICE, ["30", Recording(VOICE_REF), Back(), "ok"], language="en")
    assert d.state.recorded == frozenset()
    assert d.prompt.text == "You said: ok. Anything else?"


def test_a_recording_cleared_by_skip_logic_is_forgotten():
    d = drive(VOICE, ["30", Recording(VOICE_REF), Back(), Back(), "12"], language="en")
    assert AnswersCleared(("story",)) in d.events
    assert d.state.recorded == frozenset()
    # Old enough again: the question is asked afresh, with nothing recorded on it.
    d = drive(VOICE, ["30", Recording(VOICE_REF), Back(), Back(), "12", Back(), "20"],
              language="en")  # fmt: skip
    assert (d.prompt.key, d.prompt.current_value) == ("story", "")


def test_starting_again_forgets_recordings():
    turn = start(VOICE, language="en", answers={"age": "30", "story": VOICE_REF},
                 recorded={"story"}, offer_resume=True)  # fmt: skip
    after = advance(VOICE, turn.state, Answer("2"))
    assert after.events[0] == Restarted()
    assert after.state.recorded == frozenset()


def test_a_resumed_or_rebuilt_state_keeps_knowing_which_answers_are_recordings():
    stored = {"age": "30", "story": VOICE_REF}
    offered = start(VOICE, language="en", answers=stored, recorded={"story"}, offer_resume=True)
    resumed = advance(VOICE, State.from_bytes(offered.state.to_bytes()), Answer("1"))
    assert resumed.prompt is not None
    assert resumed.prompt.text == "You said: (your recorded answer). Anything else?"
    # A recording of a question a newer version dropped is ignored, like its answer.
    rebuilt = resume_state(VOICE, stored, "en", recorded={"story", "gone"})
    assert rebuilt.recorded == {"story"}
    changed = advance(VOICE, replace(rebuilt, position=0), Answer("31"))
    assert not any(isinstance(e, AnswersCleared) for e in changed.events)


@pytest.mark.parametrize(
    "recorded",
    [
        pytest.param("story", id="not a list"),
        pytest.param([7], id="not names"),
        pytest.param(["nobody"], id="not an answer"),
        pytest.param(None, id="null"),
    ],
)
def test_recordings_in_state_bytes_are_checked(recorded):
    plain = drive(VOICE, ["30", Recording(VOICE_REF)], language="en").state.to_plain()
    with pytest.raises(EngineError) as caught:
        State.from_plain({**plain, "r": recorded})
    assert caught.value.code == "bad_state"
