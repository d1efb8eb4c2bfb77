"""The voice channel, call by call: a simulated Asterisk with a person on the line
(`tests/ivr/caller.py`) calls our FastAGI server on a real TCP port, and the tests
read what the person heard and what was stored.

Every prompt key has its own test file (`<lang>/test/<key>.wav`), so the files
played name the prompt parts a caller heard, in order."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from audio.catalogue import catalogue
from audio.library import AudioLibrary, IndexEntry, PromptFiles, PromptSource
from interviews import Interviews, InterviewSettings
from ivr.channel import IvrChannel, IvrSettings
from ivr.server import AgiServer
from storage.memory import MemoryResponseStore
from storage.recordings import RecordingFolder
from storage.sessions import MemorySessionStore
from survey_engine.events import ResponseStatus
from survey_engine.inputs import Answer
from survey_engine.model import Survey
from survey_engine.ports import ResponseRecord
from survey_engine.xlsform import load_markdown, load_xlsform
from tests.ivr.caller import (
    HANG_UP,
    QUIET,
    SILENCE,
    SPEAK,
    SPEAK_THEN_HANG_UP,
    CallSeen,
    SimulatedCall,
    calls_over,
    write_take,
)
from tests.ivr.test_render import KINDS_FORM, SHOP_FORM, TRACER

PHONE = "+254712345678"
CALLER_ID = "254712345678"  # as a trunk delivers it: no `+`
TRACER_NUMBER = "5000"
KINDS_NUMBER = "5001"
SHOP_NUMBER = "5002"
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def write_test_audio(library: AudioLibrary, survey: Survey) -> None:
    """One tiny WAV per prompt key and language, named by the key, and the index."""
    for language in survey.languages:
        entries = catalogue(survey, [language.code])
        folder = library.language_dir(language.code) / "test"
        folder.mkdir(parents=True, exist_ok=True)
        index = {}
        for entry in entries:
            write_take(folder / f"{entry.key}.wav", loud=True, seconds=0.01)
            index[entry.key] = IndexEntry(
                f"test/{entry.key}.wav", PromptSource.SYNTHETIC, entry.text, "test"
            )
        library.save_index(survey.form_id, language.code, index)


@dataclass
class Line:
    """The survey service with its AGI server, and a way to call it."""

    store: MemoryResponseStore
    interviews: Interviews
    server: AgiServer
    prompts: PromptFiles
    recordings: Path
    audio: AudioLibrary
    surveys: dict[str, int]
    now: list[dt.datetime]

    async def call(self, actions: list[str], **options: object) -> CallSeen:
        options.setdefault("caller_id", CALLER_ID)
        options.setdefault("extension", TRACER_NUMBER)
        seen = await SimulatedCall(actions, **options).run(self.server.port)  # type: ignore[arg-type]
        await calls_over(self.server)
        seen.expand(self.prompts.parts)
        return seen

    async def latest(self, form_id: str = "graduate_tracer", phone: str = PHONE) -> ResponseRecord:
        respondent = await self.store.find_respondent(
            MemoryResponseStore.DEFAULT_ORGANISATION_ID, phone
        )
        assert respondent is not None
        latest = await self.store.latest_response(respondent.id, self.surveys[form_id])
        assert latest is not None
        return latest


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    store = MemoryResponseStore()
    audio = AudioLibrary(tmp_path / "audio")
    surveys = {}
    for survey, number in (
        (load_xlsform(TRACER), TRACER_NUMBER),
        (load_markdown(KINDS_FORM), KINDS_NUMBER),
        (load_markdown(SHOP_FORM), SHOP_NUMBER),
    ):
        ref = store.add_survey(survey)
        store.bind("ivr", number, ref.survey_id, roster_only=False)
        surveys[survey.form_id] = ref.survey_id
        write_test_audio(audio, survey)
    now = [T0]
    interviews = Interviews(store, MemorySessionStore(), InterviewSettings(), clock=lambda: now[0])
    prompts = PromptFiles(audio)
    channel = IvrChannel(interviews, prompts, RecordingFolder(tmp_path / "rec"))
    async with AgiServer({"survey": channel.handle}, port=0) as server:
        yield Line(store, interviews, server, prompts, tmp_path / "rec", audio, surveys, now)


# The sample survey answered by a wage earner, in English: language, consent, status,
# months, related, formality, income, further education, relevance, satisfaction,
# the note (any key), four soft skills, then the suggestion spoken and kept.
WAGE_EARNER = ["1", "1", "1", "3#", "1", "1", "3", "2", "4", "4", "5", "4", "4", "4", "4"]
WAGE_ANSWERS = {
    "consent": "yes",
    "employed": "wage",
    "months_to_job": "3",
    "job_related": "yes",
    "job_formality": "formal",
    "income_band": "average",
    "further_education": "no",
    "training_relevant": "agree",
    "satisfied": "agree",
    "skill_confidence": "4",
    "skill_communication": "4",
    "skill_teamwork": "4",
    "skill_problem_solving": "4",
}


def without_note(answers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in answers.items() if k != "skills_intro"}


async def test_a_graduate_answers_the_whole_sample_survey_by_voice(line: Line):
    seen = await line.call([*WAGE_EARNER, SPEAK, "1"])
    latest = await line.latest()
    assert latest.status is ResponseStatus.COMPLETE
    answers = without_note(dict(latest.answers))
    suggestion = answers.pop("suggestion")
    assert answers == WAGE_ANSWERS
    assert latest.recorded == frozenset({"suggestion"})
    take = line.recordings / f"{suggestion}.wav"
    assert take.is_file() and take.stat().st_size > 1000
    heard = seen.played_keys()
    assert heard[:2] == ["system.choose_language", "system.for"]
    assert heard[-1] == "system.thank_you"
    assert seen.missing == [] and seen.unused == []
    assert seen.hung_up_by_server and not seen.hung_up_by_caller


async def test_a_caller_keys_times_a_date_and_time_and_a_rank_and_is_asked_again_when_wrong(
    line: Line,
):
    # English; 930 is 09:30; 25*00 is no time; 8*15 is before opening; 17*45 is kept;
    # then a date and a time, parted by the star; then a rank, one choice at a time,
    # first with one left out (asked again), then all three.
    clock = ["1", "930#", "25*00#", "8*15#", "17*45#", "15062026*1430#"]
    ranked = ["3#", "1#", "#", "3#", "1#", "2#", "#"]
    seen = await line.call([*clock, *ranked], extension=SHOP_NUMBER)
    latest = await line.latest("shop_hours")
    assert latest.status is ResponseStatus.COMPLETE
    assert dict(latest.answers) == {
        "opens": "09:30",
        "closes": "17:45",
        "delivery": "2026-06-15T14:30",
        "needs": "place pay hours",
    }
    heard = seen.played_keys()
    assert heard[heard.index("opens.label") + 1 : heard.index("opens.label") + 3] == [
        "system.time_digits",
        "system.then_hash",
    ]
    # The time said back inside the next question: nine, three, zero.
    closes = heard.index("closes.label.part1")
    assert heard[closes + 1 : closes + 5] == [
        "system.digit.9",
        "system.digit.3",
        "system.digit.0",
        "closes.label.part2",
    ]
    assert heard.count("system.invalid_time") == 1
    assert heard.count("system.invalid_rank.part1") == 1
    assert heard.count("system.constraint") == 1
    assert heard[-1] == "system.thank_you"
    assert seen.missing == [] and seen.unused == []


async def test_the_survey_is_heard_in_the_language_chosen(line: Line):
    seen = await line.call(["2", "1"], extension=TRACER_NUMBER)
    consent = [p for p in seen.played if p.endswith("/consent.label")]
    assert consent and all("/fr/" in p for p in consent)
    latest = await line.latest()
    assert latest.language == "fr" and latest.answers["consent"] == "yes"


async def test_each_prompt_says_its_choices_and_keys_in_order(line: Line):
    seen = await line.call(["1", HANG_UP])
    consent = seen.played_keys()[seen.played_keys().index("consent.label") :]
    assert consent[:10] == [
        "consent.label",
        "consent.hint",
        "system.for",
        "consent.choice.yes",
        "system.press",
        "system.digit.1",
        "system.for",
        "consent.choice.no",
        "system.press",
        "system.digit.2",
    ]
    # Every sound but the last is one STREAM FILE (the files joined) that any key but
    # # interrupts; the last is played by the GET DATA that collects, so no key can
    # fall in a gap.
    play, collect = seen.commands[-2:]
    assert collect.startswith("GET DATA ") and collect.split()[2] == seen.played[-1]
    assert seen.played[-1] != "silence/1"
    assert play.startswith("STREAM FILE ") and play.endswith(' "0123456789*"')
    assert play.count("+") == len(consent) - 2


async def test_a_key_pressed_during_the_prompt_answers_at_once(line: Line):
    seen = await line.call(["!1", "!1", HANG_UP])
    # The language menu was cut at its first sound, and so was the consent question.
    assert seen.played_keys()[:2] == ["system.choose_language", "consent.label"]
    latest = await line.latest()
    assert latest.answers["consent"] == "yes"


async def test_a_number_begun_during_the_prompt_is_finished_after_it(line: Line):
    await line.call(["1", "1", "1", "!12#", HANG_UP])
    latest = await line.latest()
    assert latest.answers["months_to_job"] == "12"


async def test_star_repeats_the_question_without_counting_an_attempt(line: Line):
    seen = await line.call(["1", "*", "*", "*", "*", "1", HANG_UP])
    heard = seen.played_keys()
    assert heard.count("consent.label") == 5
    latest = await line.latest()
    assert latest.answers["consent"] == "yes"


async def test_back_is_zero_on_a_menu_and_hash_alone_on_a_number(line: Line):
    await line.call(["1", "1", "3", "0", "1", "#", "1", "3#", HANG_UP])
    latest = await line.latest()
    # employed: not working; back (0) from "looking for work" and changed to wage;
    # back (# alone) from months to employed, answered again, then months typed.
    assert latest.answers["employed"] == "wage"
    assert latest.answers["months_to_job"] == "3"


async def test_a_wrong_key_hears_the_error_then_the_question(line: Line):
    seen = await line.call(["1", "7", "1", HANG_UP])
    heard = seen.played_keys()
    second = heard.index("consent.label", heard.index("consent.label") + 1)
    assert heard[second - 1] == "system.invalid_choice"
    assert "system.repeat" in heard[second:]
    assert (await line.latest()).answers["consent"] == "yes"


async def test_silence_replays_then_ends_politely_and_the_answers_are_kept(line: Line):
    seen = await line.call(["1", "1", SILENCE, SILENCE, SILENCE])
    heard = seen.played_keys()
    assert heard.count("system.no_input") == 2
    assert heard[-1] == "system.too_many_attempts"
    assert seen.hung_up_by_server
    latest = await line.latest()
    assert latest.status is ResponseStatus.INTERRUPTED
    assert latest.answers["consent"] == "yes"


async def test_a_hang_up_keeps_the_answers_and_the_next_call_resumes(line: Line):
    await line.call(["1", "1", "1", HANG_UP], unique_id="call-1")
    first = await line.latest()
    assert first.status is ResponseStatus.INTERRUPTED
    line.now[0] += dt.timedelta(hours=2)
    seen = await line.call(["1", "5#", HANG_UP], unique_id="call-2")
    assert seen.played_keys()[0] == "system.resume_offer"
    latest = await line.latest()
    assert latest.id == first.id
    assert latest.answers["months_to_job"] == "5"
    assert latest.answers["employed"] == "wage"


async def test_a_response_begun_on_ussd_is_finished_by_voice(line: Line):
    def view(turn, notice):  # a channel's render: nothing to keep
        return ()

    line.store.bind("ussd", "*384*1#", line.surveys["graduate_tracer"], roster_only=False)
    step = await line.interviews.open("ussd", ("*384*1#",), PHONE, "u1", "", view)
    for turn, key in enumerate(["1", "1", "1"], start=1):
        step = await line.interviews.advance(step.live, Answer(key), str(turn), view)
    await line.interviews.end("ussd", "u1")
    line.now[0] += dt.timedelta(minutes=5)
    await line.call(["1", "2#", *WAGE_EARNER[4:], SPEAK, "1"])
    latest = await line.latest()
    assert latest.status is ResponseStatus.COMPLETE
    channels = line.store.answer_channels(latest.id)
    assert channels["consent"] == "ussd" and channels["employed"] == "ussd"
    assert channels["months_to_job"] == "ivr" and channels["suggestion"] == "ivr"


async def test_a_spoken_answer_can_be_recorded_again_and_the_kept_take_is_stored(line: Line):
    seen = await line.call([*WAGE_EARNER, QUIET, SPEAK, "2", SPEAK, "1"])
    latest = await line.latest()
    assert latest.status is ResponseStatus.COMPLETE
    kept = line.recordings / f"{latest.answers['suggestion']}.wav"
    # The silent take and the one recorded again are gone; the kept one remains.
    assert len(seen.recordings) == 3
    assert [p.exists() for p in seen.recordings] == [False, False, True]
    assert seen.recordings[-1] == kept
    assert "system.no_input" in seen.played_keys()
    assert seen.played_keys().count("system.keep_answer") == 2


async def test_a_hang_up_while_speaking_keeps_what_was_said(line: Line):
    await line.call([*WAGE_EARNER, SPEAK_THEN_HANG_UP])
    latest = await line.latest()
    assert "suggestion" in latest.recorded
    assert (line.recordings / f"{latest.answers['suggestion']}.wav").is_file()


async def test_several_choices_a_decimal_and_a_date_on_the_keypad(line: Line):
    await line.call(["1", "2#", "1#", "#", "7*5#", "05062026#", HANG_UP], extension=KINDS_NUMBER)
    latest = await line.latest("kinds")
    assert latest.answers["skills"] == "weld wire"  # stored in the survey's order
    assert latest.answers["hours"] == "7.5"
    assert latest.answers["started"] == "2026-06-05"


async def test_a_graduate_who_completed_hears_a_short_thank_you(line: Line):
    await line.call([*WAGE_EARNER, SPEAK, "1"], unique_id="c1")
    seen = await line.call([], unique_id="c2")
    assert seen.played_keys() == ["system.already_completed"]
    assert seen.hung_up_by_server


async def test_a_number_bound_to_no_survey_hears_that_it_is_not_in_service(line: Line):
    seen = await line.call(["1"], extension="9999")
    assert seen.played == ["ss-noservice"] and seen.hung_up_by_server


async def test_a_hidden_caller_id_hears_why_it_cannot_go_on(line: Line):
    seen = await line.call(["1"], caller_id="anonymous")
    heard = seen.played_keys()
    assert heard and all(key.startswith("system.no_caller_id") for key in heard)
    assert seen.hung_up_by_server
    assert (
        await line.store.find_respondent(MemoryResponseStore.DEFAULT_ORGANISATION_ID, PHONE) is None
    )


async def test_a_call_the_dialer_placed_names_the_respondent_in_its_variables(line: Line):
    await line.call(
        ["1", "1", HANG_UP],
        caller_id="5000",
        extension="s",
        variables={"ST_PHONE": "+254711000111", "ST_ENTRY": TRACER_NUMBER, "ST_CALL": "7"},
    )
    latest = await line.latest(phone="+254711000111")
    assert latest.answers["consent"] == "yes"


async def test_a_missing_prompt_file_is_a_warning_and_the_call_goes_on(
    line: Line, caplog: pytest.LogCaptureFixture
):
    (line.audio.language_dir("en") / "test" / "consent.label.wav").unlink()
    with caplog.at_level(logging.WARNING, logger="ivr.channel"):
        seen = await line.call(["1", "1", HANG_UP])
    assert "consent.label" not in seen.played_keys()
    assert (await line.latest()).answers["consent"] == "yes"
    assert any("'consent.label'" in r.getMessage() for r in caplog.records)


async def test_a_hash_pressed_after_a_menu_choice_is_not_the_next_answer(line: Line):
    # "1" then "#" out of habit: the # arrives while the next prompt plays.
    await line.call(["1", "1", "!#1", "!#5#", HANG_UP])
    latest = await line.latest()
    assert latest.answers["employed"] == "wage"
    assert latest.answers["months_to_job"] == "5"


async def test_on_an_open_question_star_repeats_and_zero_goes_back_before_the_tone(line: Line):
    before_suggestion = WAGE_EARNER[:-1]
    seen = await line.call([*before_suggestion, "4", "!*", "!0", "3", HANG_UP])
    heard = seen.played_keys()
    # Said, said again (*), back (0) to the last skill, answered, said once more.
    assert heard.count("suggestion.label") == 3
    assert seen.recordings == []  # neither key started a recording
    latest = await line.latest()
    assert latest.answers["skill_problem_solving"] == "3"


async def test_a_survey_for_the_roster_only_turns_away_a_number_not_on_it(line: Line):
    line.store.bind("ivr", "5002", line.surveys["graduate_tracer"], roster_only=True)
    seen = await line.call(["1"], extension="5002")
    heard = seen.played_keys()
    assert heard and all(key.startswith("system.not_on_roster") for key in heard)
    assert (
        await line.store.find_respondent(MemoryResponseStore.DEFAULT_ORGANISATION_ID, PHONE) is None
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"keep_key": "0"},
        {"again_key": "#"},
        {"keep_key": "2", "again_key": "2"},
    ],
)
def test_keep_and_record_again_keys_are_two_different_digits(settings):
    with pytest.raises(ValueError, match="IvrSettings"):
        IvrSettings(**settings)


async def test_hash_on_a_note_continues_rather_than_going_back(line: Line):
    before_note = WAGE_EARNER[:10]
    await line.call([*before_note, "#", "2", HANG_UP])
    latest = await line.latest()
    assert latest.answers["skill_confidence"] == "2"
    assert latest.answers["satisfied"] == "agree"
