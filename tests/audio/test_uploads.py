"""prepare_upload: staff recordings accepted or refused in plain words, on real files."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import soundfile

from audio.convert import ASTERISK_RATE
from audio.errors import UploadRefused
from audio.uploads import (
    ACCEPTED_SUFFIXES,
    MAX_PROMPT_SECONDS,
    MAX_UPLOAD_BYTES,
    MIN_PROMPT_SECONDS,
    prepare_upload,
)
from tests.audio.sounds import FORMATS, encode, silent_mp3, speechlike, wav_bytes

MB = 1024 * 1024


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("recordings")
    wav = wav_bytes(speechlike(1.5), 44100)
    return {
        fmt: encode(wav, folder / f"karibu{suffix}", fmt) for fmt, (suffix, _) in FORMATS.items()
    }


@pytest.fixture(scope="module")
def two_hours_mp3(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return silent_mp3(tmp_path_factory.mktemp("long") / "sermon.mp3", 2 * 60 * 60)


def refusal(data: bytes, filename: str, **limits) -> UploadRefused:
    with pytest.raises(UploadRefused) as refused:
        prepare_upload(data, filename, **limits)
    return refused.value


def test_the_limits():
    assert MAX_UPLOAD_BYTES == 20 * MB
    assert (MIN_PROMPT_SECONDS, MAX_PROMPT_SECONDS) == (0.2, 120.0)
    assert ACCEPTED_SUFFIXES == (".wav", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".flac")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_accepted_format_is_prepared_for_asterisk(recordings, fmt):
    converted = prepare_upload(recordings[fmt], f"karibu{FORMATS[fmt][0]}")
    info = soundfile.info(io.BytesIO(converted.wav))
    assert (info.samplerate, info.channels, info.subtype) == (ASTERISK_RATE, 1, "PCM_16")
    assert converted.duration_seconds == pytest.approx(1.5, rel=0.10)


def test_suffixes_are_matched_whatever_their_case_and_ogg_may_be_oga(recordings):
    assert prepare_upload(recordings["mp3"], "KARIBU.MP3").duration_seconds == pytest.approx(1.5)
    assert prepare_upload(recordings["ogg"], "karibu.oga").duration_seconds == pytest.approx(1.5)


def test_an_empty_file_is_refused():
    refused = refusal(b"", "karibu.wav")
    assert (refused.code, refused.message) == ("empty", "karibu.wav is empty")


def test_a_sound_file_with_no_sound_in_it_is_refused_as_empty():
    refused = refusal(wav_bytes(np.zeros((0, 1)), 8000), "karibu.wav")
    assert refused.code == "empty"
    assert refused.message.startswith("karibu.wav is empty")


def test_a_file_over_the_size_limit_is_refused_before_anything_else(recordings):
    refused = refusal(recordings["wav"], "karibu.wav", max_bytes=10 * 1024)
    assert refused.code == "too_big"
    size = len(recordings["wav"]) / 1024
    assert refused.message == f"karibu.wav is {np.ceil(size * 10) / 10:.1f} KB; the limit is 10 KB"


def test_21_mb_is_over_the_default_limit_whatever_it_holds():
    # The size check is the first one: these bytes are never looked at, not even the suffix.
    refused = refusal(bytes(21 * MB), "interview.docx")
    assert (refused.code, refused.message) == (
        "too_big",
        "interview.docx is 21.0 MB; the limit is 20 MB",
    )


@pytest.mark.parametrize("filename", ["minutes.docx", "karibu", "karibu.wav.exe"])
def test_a_type_we_do_not_take_is_refused_naming_those_we_do(recordings, filename):
    refused = refusal(recordings["wav"], filename)
    assert refused.code == "unsupported_type"
    assert refused.message.startswith(f"{filename}: ")
    assert ".wav, .mp3, .ogg, .oga, .opus, .m4a, .flac" in refused.message


@pytest.mark.parametrize("filename", ["notes.mp3", "notes.m4a", "notes.wav"])
def test_a_text_file_renamed_as_sound_is_not_audio(filename):
    refused = refusal(b"Minutes of the staff meeting, 3 March\n" * 40, filename)
    assert (refused.code, refused.message) == (
        "not_audio",
        f"{filename} is not a sound file we can read (WAV, MP3, OGG or M4A)",
    )


def test_only_the_base_name_of_a_client_path_is_shown():
    for path in (r"C:\Users\amina\Desktop\notes.mp3", "/home/amina/notes.mp3"):
        refused = refusal(b"not sound at all", path)
        assert refused.message.startswith("notes.mp3 is not a sound file")
        assert "amina" not in refused.message


def test_a_two_hour_file_is_refused_from_its_header_without_decoding_it(two_hours_mp3):
    assert len(two_hours_mp3) < MAX_UPLOAD_BYTES  # so the duration is what refuses it
    started = time.monotonic()
    refused = refusal(two_hours_mp3, "sermon.mp3")
    assert time.monotonic() - started < 2.0
    assert (refused.code, refused.message) == (
        "too_long",
        "sermon.mp3 lasts 2 h 0 min; a prompt may last at most 2 min",
    )


def test_a_long_m4a_is_refused_from_its_header_too(tmp_path):
    m4a = encode(wav_bytes(speechlike(3.0, rate=8000, channels=1), 8000), tmp_path / "a.m4a", "m4a")
    refused = refusal(m4a, "welcome.m4a", max_seconds=2.0)
    assert (refused.code, refused.message) == (
        "too_long",
        "welcome.m4a lasts 3 s; a prompt may last at most 2 s",
    )


def test_a_recording_shorter_than_a_fifth_of_a_second_is_refused():
    click = wav_bytes(speechlike(0.15, rate=16000, channels=1), 16000)
    refused = refusal(click, "yes.wav")
    assert (refused.code, refused.message) == (
        "too_short",
        "yes.wav lasts 0.1 s; a prompt must last at least 0.2 s",
    )


def test_the_duration_limit_can_be_lowered(recordings):
    refused = refusal(recordings["ogg"], "karibu.ogg", max_seconds=1.0)
    assert refused.code == "too_long"
    assert refused.message == "karibu.ogg lasts 1.5 s; a prompt may last at most 1 s"
