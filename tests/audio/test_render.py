"""Rendering a survey's prompts: real espeak-ng, gTTS through its real protocol to a
local stand-in, the content-addressed cache, fallback, recordings and coverage."""

from __future__ import annotations

import time
import wave
from array import array
from pathlib import Path

import pytest

from audio.catalogue import catalogue
from audio.errors import AudioError, UploadRefused
from audio.library import AudioLibrary, PromptFiles, PromptSource
from audio.render import coverage, render_survey, upload_recording
from audio.tts import EspeakEngine, GttsEngine
from survey_engine.xlsform import load_markdown
from tests.audio.gtts_standin import GttsStandin

FORM = """
| survey |
| | type | name | label::English (en) | label::Kiswahili (sw) | hint::English (en) | hint::Kiswahili (sw) |
| | select_one yn | consent | Do you agree to answer? | Je, unakubali kujibu? | | |
| | integer | months | How many months did it take? | Ilichukua miezi mingapi? | Enter a number | Weka namba |
| | text | improve | What should the centre improve? | Chuo kiboreshe nini? | | |
| choices |
| | list_name | name | label::English (en) | label::Kiswahili (sw) |
| | yn | yes | Yes | Ndiyo |
| | yn | no | No | Hapana |
| settings |
| | form_id | version | default_language |
| | tracer | 1 | English (en) |
"""


def survey(form: str = FORM):
    return load_markdown(form)


def files_under(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def asterisk_ready(path: Path) -> None:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() > 800  # more than 0.1 s


@pytest.fixture
def library(tmp_path: Path) -> AudioLibrary:
    return AudioLibrary(tmp_path / "audio")


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_espeak_renders_every_prompt_once_and_a_second_render_writes_nothing(library):
    form = survey()
    report = render_survey(form, library, engine="espeak", espeak=EspeakEngine(), languages=["en"])
    entries = catalogue(form, ["en"])
    assert report.missing == []
    assert report.written + report.reused == len(entries)
    assert report.written == len({e.text for e in entries})  # one file per distinct text
    played = library.playable("tracer", "en", "consent.label")
    assert played is not None and played.parent.parent.name == "tts"
    asterisk_ready(played)

    before = files_under(library.root)
    again = render_survey(form, library, engine="espeak", espeak=EspeakEngine(), languages=["en"])
    assert again.written == 0 and again.reused == len(entries)
    assert files_under(library.root) == before  # not one file written, index included


def test_editing_one_label_re_renders_exactly_that_prompt(library):
    espeak = EspeakEngine()
    render_survey(survey(), library, engine="espeak", espeak=espeak, languages=["en"])
    before = files_under(library.root)
    edited = survey(
        FORM.replace("What should the centre improve?", "What one thing should change?").replace(
            "| tracer | 1 |", "| tracer | 2 |"
        )
    )
    report = render_survey(edited, library, engine="espeak", espeak=espeak, languages=["en"])
    assert report.written == 1
    new_files = [p for p in files_under(library.root) if p not in before and p.suffix == ".wav"]
    assert len(new_files) == 1
    assert library.playable("tracer", "en", "improve.label") == new_files[0]
    # The other prompts keep their files; only the index changed besides the new one.
    changed = [p for p, stamp in files_under(library.root).items() if before.get(p, stamp) != stamp]
    assert [p.suffix for p in changed] == [".json"]


def test_gtts_through_the_stand_in_speaks_each_language_and_is_cached(
    library, monkeypatch, no_proxy_env
):
    with GttsStandin() as standin:
        monkeypatch.setenv("HTTPS_PROXY", standin.url)
        report = render_survey(survey(), library, engine="gtts", gtts=GttsEngine())
        assert report.missing == [] and report.fallback == 0
        spoken = {(r.lang, r.text) for r in standin.requests}
        assert ("en", "Do you agree to answer?") in spoken
        assert ("sw", "Je, unakubali kujibu?") in spoken
        seen = len(standin.requests)
        again = render_survey(survey(), library, engine="gtts", gtts=GttsEngine())
        assert again.written == 0 and len(standin.requests) == seen  # nothing asked again
    states = coverage(survey(), library)
    assert {k.source for c in states for k in c.keys} == {PromptSource.SYNTHETIC}
    asterisk_ready(library.playable("tracer", "sw", "consent.choice.yes"))


def test_unreachable_google_falls_back_to_espeak_quickly_and_gtts_is_tried_again_later(
    library, monkeypatch, no_proxy_env
):
    with GttsStandin("hang") as standin:
        monkeypatch.setenv("HTTPS_PROXY", standin.url)
        gtts = GttsEngine(connect_timeout=0.5, read_timeout=0.5)
        started = time.monotonic()
        report = render_survey(
            survey(), library, engine="auto", gtts=gtts, espeak=EspeakEngine(), languages=["en"]
        )
        elapsed = time.monotonic() - started
    entries = catalogue(survey(), ["en"])
    assert report.missing == []
    assert report.fallback == len(entries)
    assert "Google" in report.gtts_down or "connect" in report.gtts_down.lower()
    # One timeout for the batch, not one per prompt (there are dozens of prompts).
    assert elapsed < 20
    (state,) = coverage(survey(), library, ["en"])
    assert state.count(PromptSource.FALLBACK) == len(entries)

    with GttsStandin() as standin:
        monkeypatch.setenv("HTTPS_PROXY", standin.url)
        later = render_survey(
            survey(),
            library,
            engine="auto",
            gtts=GttsEngine(),
            espeak=EspeakEngine(),
            languages=["en"],
        )
    assert later.fallback == 0 and later.written == len({e.text for e in entries})
    (state,) = coverage(survey(), library, ["en"])
    assert state.count(PromptSource.SYNTHETIC) == len(entries)


def test_a_language_neither_engine_speaks_is_reported_missing(library, monkeypatch, no_proxy_env):
    form = survey(
        FORM.replace("label::Kiswahili (sw)", "label::Klingon (tlh)").replace(
            "hint::Kiswahili (sw)", "hint::Klingon (tlh)"
        )
    )
    with GttsStandin() as standin:
        monkeypatch.setenv("HTTPS_PROXY", standin.url)
        report = render_survey(
            form,
            library,
            engine="auto",
            gtts=GttsEngine(),
            espeak=EspeakEngine(),
            languages=["tlh"],
        )
    assert len(report.missing) == len(catalogue(form, ["tlh"]))
    entry, why = report.missing[0]
    assert entry.language == "tlh"
    assert "gTTS has no voice for 'tlh'" in why and "espeak-ng has no voice for 'tlh'" in why
    (state,) = coverage(form, library, ["tlh"])
    assert state.count(PromptSource.MISSING) == len(state.keys)


def test_an_uploaded_recording_overrides_synthetic_speech_and_survives_a_render(library, tmp_path):
    espeak = EspeakEngine()
    form = survey()
    render_survey(form, library, engine="espeak", espeak=espeak, languages=["sw"])
    voice = espeak.synthesize("Habari, hii ni sauti ya mtu.", "sw")  # stands in for a person
    stored = upload_recording(
        form, library, key="consent.label", language="sw", data=voice, filename="karibu.wav"
    )
    assert stored.source is PromptSource.RECORDED
    played = library.playable("tracer", "sw", "consent.label")
    assert played == library.recording_file("tracer", "sw", "consent.label")
    asterisk_ready(played)

    report = render_survey(form, library, engine="espeak", espeak=espeak, languages=["sw"])
    assert report.recorded == 1 and report.written == 0
    assert library.playable("tracer", "sw", "consent.label") == played
    (state,) = coverage(form, library, ["sw"])
    assert state.count(PromptSource.RECORDED) == 1


def test_uploads_for_an_unknown_key_or_language_or_of_bad_audio_are_refused(library):
    form = survey()
    with pytest.raises(AudioError, match=r"no prompt 'consent\.lable'") as unknown:
        upload_recording(
            form, library, key="consent.lable", language="en", data=b"x", filename="a.wav"
        )
    assert unknown.value.code == "unknown_key"
    with pytest.raises(AudioError, match="no language 'fr'"):
        upload_recording(
            form, library, key="consent.label", language="fr", data=b"x", filename="a.wav"
        )
    with pytest.raises(UploadRefused) as refused:
        upload_recording(
            form, library, key="consent.label", language="en", data=b"hello", filename="notes.mp3"
        )
    assert refused.value.code == "not_audio"
    assert library.playable("tracer", "en", "consent.label") is None


def test_asterisk_gets_each_prompt_by_absolute_name_and_sees_a_new_render(library):
    files = PromptFiles(library)
    assert files.sounds("tracer", "en") == {}
    render_survey(survey(), library, engine="espeak", espeak=EspeakEngine(), languages=["en"])
    name = files.sounds("tracer", "en")["months.hint"]
    assert name.startswith(str(library.root.resolve() / "en" / "tts" / "espeak"))
    assert not name.endswith(".wav") and Path(f"{name}.wav").is_file()
    assert "no.such.key" not in files.sounds("tracer", "en")
    # A recording uploaded later rewrites the index: the next prompt plays it.
    voice = EspeakEngine().synthesize("How many months?", "en")  # stands in for a person
    upload_recording(
        survey(), library, key="months.hint", language="en", data=voice, filename="m.wav"
    )
    assert "/recorded/tracer/months.hint" in files.sounds("tracer", "en")["months.hint"]


def test_a_language_gtts_lacks_falls_back_to_espeak_while_the_others_use_gtts(
    library, monkeypatch, no_proxy_env
):
    # Afaan Oromoo (om): espeak-ng speaks it, gTTS does not.
    form = survey(
        FORM.replace("label::Kiswahili (sw)", "label::Afaan Oromoo (om)").replace(
            "hint::Kiswahili (sw)", "hint::Afaan Oromoo (om)"
        )
    )
    with GttsStandin() as standin:
        monkeypatch.setenv("HTTPS_PROXY", standin.url)
        report = render_survey(
            form, library, engine="auto", gtts=GttsEngine(), espeak=EspeakEngine()
        )
        languages_asked = {r.lang for r in standin.requests}
    assert report.missing == [] and not report.gtts_down
    assert languages_asked == {"en"}
    english, oromo = coverage(form, library)
    assert english.count(PromptSource.SYNTHETIC) == len(english.keys)
    assert oromo.count(PromptSource.FALLBACK) == len(oromo.keys)
    asterisk_ready(library.playable("tracer", "om", "consent.label"))


SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "graduate_tracer.xlsx"


def test_espeak_speaks_the_sample_survey_in_its_four_languages(library):
    from survey_engine.xlsform import load_xlsform

    sample = load_xlsform(SAMPLE)
    report = render_survey(sample, library, engine="espeak", espeak=EspeakEngine())
    assert report.missing == []
    for state in coverage(sample, library):
        assert state.count(PromptSource.SYNTHETIC) == len(state.keys), state.language
        label = next(k for k in state.keys if k.entry.key == "months_to_job.label")
        path = library.root / label.file
        with wave.open(str(path)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
            frames = wav.readframes(wav.getnframes())
            seconds = wav.getnframes() / 8000
        samples = array("h", frames)
        rms = (sum(s * s for s in samples) / len(samples)) ** 0.5
        assert rms > 500, state.language  # speech, not silence
        words = len(label.entry.text.split())
        assert 0.15 * words < seconds < 1.2 * words + 1, (state.language, seconds, words)


def test_a_label_longer_than_one_gtts_request_is_spoken_whole(library, monkeypatch, no_proxy_env):
    long_label = (
        "Thinking about the whole course, from the first week to the final assessment, "
        "how well did the training prepare you for the work you do today, in your own view?"
    )
    form = survey(FORM.replace("What should the centre improve?", long_label))
    with GttsStandin() as standin:
        monkeypatch.setenv("HTTPS_PROXY", standin.url)
        render_survey(form, library, engine="gtts", gtts=GttsEngine(), languages=["en"])
        chunks = [r.text for r in standin.requests if r.text in long_label]
    assert len(chunks) >= 2  # gTTS sent it in several requests
    whole_file = library.playable("tracer", "en", "improve.label")
    one_file = library.playable("tracer", "en", "consent.label")
    with wave.open(str(whole_file)) as whole, wave.open(str(one_file)) as one:
        ratio = whole.getnframes() / one.getnframes()
    # Every chunk's audio is in the file (the stand-in answers each with the same clip).
    assert len(chunks) - 0.2 < ratio < len(chunks) + 0.2
