"""The two text-to-speech engines, for real.

gTTS is unmodified and goes through `GttsStandin` as its HTTPS proxy (this machine cannot
reach Google): CONNECT, TLS, the batchexecute POST and its answer are the real protocol.
espeak-ng runs as installed, and its output is checked as audio, not as bytes.
"""

from __future__ import annotations

import io
import math
import socket
import time
import wave
from array import array
from collections.abc import Iterator

import pytest

from audio.errors import LanguageUnsupported, TtsError, TtsUnreachable
from audio.tts import EspeakEngine, GttsEngine
from tests.audio.gtts_standin import GttsStandin, SeenRequest

# About eight words each; the survey's own kind of sentence.
SENTENCES = {
    "en": "Did you find a job after your training?",
    "fr": "Avez-vous trouvé un emploi après votre formation ?",
    "ar": "هل وجدت عملا بعد انتهاء التدريب المهني؟",
    "sw": "Je, ulipata kazi baada ya kumaliza mafunzo yako?",
}


def _use_proxy(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # Lower-case variables win over upper-case ones in urllib's getproxies().
    for name in ("HTTP_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", url)


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[GttsStandin]:
    with GttsStandin() as server:
        _use_proxy(monkeypatch, server.url)
        yield server


def _seen(standin: GttsStandin) -> list[tuple[str, str]]:
    return [(r.text, r.lang) for r in standin.requests]


# -- gTTS ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_gtts_returns_the_services_mp3_for_what_it_was_asked(
    standin: GttsStandin, language: str
) -> None:
    text = SENTENCES[language]

    audio = GttsEngine().synthesize(text, language)

    assert audio == standin.mp3
    assert audio[:3] == b"ID3" or audio[0] == 0xFF  # an MP3, as ffmpeg wrote it
    assert _seen(standin) == [(text, language)]
    (seen,) = standin.requests
    assert seen == SeenRequest(
        text, language, None, "translate.google.com", "translate.google.com:443"
    )


def test_gtts_sends_a_long_text_in_chunks_and_joins_the_answers_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No punctuation: gTTS has to cut between words to stay within 100 characters.
    text = ("please tell us which trade you learned and where you work now " * 5)[:250]
    assert len(text) == 250

    def audio_for(chunk: str, lang: str) -> bytes:
        return f"<{lang}:{len(chunk)}:{chunk[-12:]}>".encode()

    with GttsStandin(audio_for=audio_for) as standin:
        _use_proxy(monkeypatch, standin.url)
        audio = GttsEngine().synthesize(text, "en")

    chunks = [r.text for r in standin.requests]
    assert len(chunks) == 3
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert " ".join(chunks).split() == text.split()
    assert audio == b"".join(audio_for(chunk, "en") for chunk in chunks)


def test_gtts_joins_real_mp3_chunks(standin: GttsStandin) -> None:
    sentences = [
        "Thank you for taking part in this survey about the training you followed last year.",
        "Your answers stay private and help the centre improve the courses it offers to all.",
        "Please press one to continue or hang up now if you would rather not answer at all.",
    ]
    text = " ".join(sentences)
    assert len(text) == 250

    audio = GttsEngine().synthesize(text, "en")

    # gTTS cuts at sentence ends and drops the full stop, except the last one
    assert [r.text for r in standin.requests] == [
        *(s.rstrip(".") for s in sentences[:2]),
        sentences[2],
    ]
    assert audio == standin.mp3 * 3


def test_gtts_server_error_is_unreachable(standin: GttsStandin) -> None:
    standin.mode = "error500"
    with pytest.raises(TtsUnreachable) as caught:
        GttsEngine().synthesize(SENTENCES["en"], "en")
    assert caught.value.code == "http_500"
    assert "Google TTS" in caught.value.message and "500" in caught.value.message
    assert _seen(standin) == [(SENTENCES["en"], "en")]


def test_gtts_closed_connection_is_unreachable(standin: GttsStandin) -> None:
    standin.mode = "refuse"
    with pytest.raises(TtsUnreachable) as caught:
        GttsEngine().synthesize(SENTENCES["en"], "en")
    assert caught.value.code == "unreachable"
    assert "Google TTS" in caught.value.message


@pytest.mark.parametrize("mode", ["hang", "hang_response"])
def test_gtts_silent_server_fails_within_the_timeouts(standin: GttsStandin, mode) -> None:
    standin.mode = mode
    engine = GttsEngine(connect_timeout=0.5, read_timeout=0.5)

    started = time.monotonic()
    with pytest.raises(TtsUnreachable) as caught:
        engine.synthesize(SENTENCES["fr"], "fr")
    elapsed = time.monotonic() - started

    assert elapsed < 3.0
    assert caught.value.code == "unreachable"
    assert "0.5 s" in caught.value.message
    # hang never gets as far as the POST; hang_response has read it
    assert len(standin.requests) == (mode == "hang_response")


def test_gtts_with_nothing_listening_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    _use_proxy(monkeypatch, f"http://127.0.0.1:{port}")

    started = time.monotonic()
    with pytest.raises(TtsUnreachable) as caught:
        GttsEngine().synthesize(SENTENCES["en"], "en")
    assert time.monotonic() - started < 2.0
    assert caught.value.code == "unreachable"


def test_gtts_answer_without_audio_is_an_error(standin: GttsStandin) -> None:
    standin.mode = "no_audio"
    with pytest.raises(TtsError) as caught:
        GttsEngine().synthesize(SENTENCES["sw"], "sw")
    assert type(caught.value) is TtsError
    assert caught.value.code == "no_audio"


def test_gtts_unsupported_language_is_refused_without_a_request(standin: GttsStandin) -> None:
    engine = GttsEngine()
    assert engine.voice_for("xx") is None
    assert engine.voice_for("sw") == "gtts-sw-com"
    assert GttsEngine(tld="co.uk").voice_for("en") == "gtts-en-co.uk"
    with pytest.raises(LanguageUnsupported):
        engine.synthesize("Hello", "xx")
    assert standin.requests == []


# -- espeak-ng -------------------------------------------------------------------------


def _wav(data: bytes) -> tuple[float, float]:
    """(seconds, RMS of the 16-bit samples, 0..32767) of a mono WAV."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getsampwidth() == 2 and reader.getnchannels() == 1
        frames = reader.readframes(reader.getnframes())
        assert len(frames) == reader.getnframes() * 2  # the header tells the truth
        seconds = reader.getnframes() / reader.getframerate()
    samples = array("h", frames)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return seconds, rms


@pytest.fixture(scope="module")
def espeak() -> EspeakEngine:
    return EspeakEngine()


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_espeak_speaks_each_language(espeak: EspeakEngine, language: str) -> None:
    text = SENTENCES[language]

    seconds, rms = _wav(espeak.synthesize(text, language))
    twice, _ = _wav(espeak.synthesize(f"{text} {text}", language))

    assert 0.5 < seconds < 10
    assert rms > 500  # speech, not silence
    assert 1.4 < twice / seconds < 2.6


def test_espeak_voices(espeak: EspeakEngine) -> None:
    assert {lang: espeak.voice_for(lang) for lang in SENTENCES} == {
        "en": "en-gb",
        "fr": "fr-fr",
        "ar": "ar",
        "sw": "sw",
    }
    assert espeak.voice_for("xx") is None
    assert espeak.voice_for("de") == "de"  # any language espeak-ng lists
    assert espeak.voice_for("fr-ca") == "fr-fr"
    with pytest.raises(LanguageUnsupported):
        espeak.synthesize("Hello", "xx")


def test_espeak_reads_a_leading_dash_as_text(espeak: EspeakEngine) -> None:
    seconds, rms = _wav(espeak.synthesize("-v minus five degrees", "en"))
    assert seconds > 0.5 and rms > 500


def test_espeak_missing_says_how_to_install_it() -> None:
    engine = EspeakEngine("/nonexistent/espeak-ng")
    assert engine.voice_for("en") == "en-gb"  # so that synthesize can explain
    with pytest.raises(TtsError) as caught:
        engine.synthesize("Hello", "en")
    assert caught.value.code == "espeak_missing"
    assert "scripts/install-system-deps" in caught.value.message
