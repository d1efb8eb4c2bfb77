"""to_asterisk_wav and probe_duration on real audio made by numpy, ffmpeg and espeak-ng."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from audio.convert import ASTERISK_RATE, ConvertedAudio, probe_duration, to_asterisk_wav
from audio.errors import AudioError
from tests.audio.sounds import FORMATS, encode, loudness, speechlike, spoken, wav_bytes

SECONDS = 1.5
PEAK_LIMIT = 32767 * 10 ** (-1 / 20)  # -1 dBFS in 16-bit samples
ESPEAK_TEXT = "Welcome. Please tell us whether you have found work since your training."


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, float], bytes]:
    """The speech-like tone in every format, once loud (-6 dBFS) and once quiet (-30)."""
    folder = tmp_path_factory.mktemp("sources")
    made = {}
    for gain_db in (-6.0, -30.0):
        wav = wav_bytes(speechlike(SECONDS, gain_db=gain_db), 44100)
        for fmt, (suffix, _) in FORMATS.items():
            made[fmt, gain_db] = encode(wav, folder / f"tone{gain_db:+.0f}{suffix}", fmt)
    return made


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return spoken(ESPEAK_TEXT, tmp_path_factory.mktemp("espeak") / "speech.wav")


def samples_of(converted: ConvertedAudio) -> np.ndarray:
    info = soundfile.info(io.BytesIO(converted.wav))
    assert (info.format, info.subtype) == ("WAV", "PCM_16")
    assert (info.samplerate, info.channels) == (ASTERISK_RATE, 1)
    samples, _ = soundfile.read(io.BytesIO(converted.wav), dtype="int16")
    assert converted.duration_seconds == pytest.approx(samples.shape[0] / ASTERISK_RATE)
    return samples


def rms_dbfs(samples: np.ndarray) -> float:
    rms = np.sqrt(np.mean(np.square(samples.astype(np.float64) / 32768)))
    return float(20 * np.log10(rms)) if rms > 0 else float("-inf")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_becomes_8khz_mono_16bit_wav_at_the_target_loudness(sources, fmt):
    converted = to_asterisk_wav(sources[fmt, -6.0], filename=f"tone{FORMATS[fmt][0]}")
    samples = samples_of(converted)
    assert converted.duration_seconds == pytest.approx(SECONDS, rel=0.10)
    assert converted.source_rate == (48000 if fmt == "opus" else 44100)
    assert converted.source_channels == 2
    assert rms_dbfs(samples) > -30
    assert loudness(converted.wav) == pytest.approx(-20.0, abs=0.5)
    assert np.max(np.abs(samples.astype(np.int32))) <= PEAK_LIMIT + 1


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_loud_and_quiet_recordings_come_out_equally_loud(sources, fmt):
    loud = to_asterisk_wav(sources[fmt, -6.0])
    quiet = to_asterisk_wav(sources[fmt, -30.0])
    assert abs(loudness(loud.wav) - loudness(quiet.wav)) <= 1.5


def test_espeak_speech_is_converted_with_its_length_and_nothing_clipped(speech):
    source_seconds = soundfile.info(io.BytesIO(speech)).duration
    converted = to_asterisk_wav(speech, filename="espeak-output")
    samples = samples_of(converted)
    assert (converted.source_rate, converted.source_channels) == (22050, 1)
    assert converted.duration_seconds == pytest.approx(source_seconds, rel=0.10)
    assert rms_dbfs(samples) > -35
    assert -21.5 <= loudness(converted.wav) <= -19.5
    assert np.max(np.abs(samples.astype(np.int32))) <= PEAK_LIMIT + 1


def test_espeak_speech_at_a_whisper_comes_out_as_loud_as_at_full_voice(speech):
    frames, rate = soundfile.read(io.BytesIO(speech), dtype="float64")
    whisper = wav_bytes(frames * 10 ** (-30 / 20), rate)
    assert (
        abs(loudness(to_asterisk_wav(speech).wav) - loudness(to_asterisk_wav(whisper).wav)) <= 1.5
    )


def test_peaks_are_limited_to_minus_1_dbfs_when_loudness_would_push_them_over():
    # Sparse full-scale clicks: reaching -20 LUFS would need far more than full scale.
    frames = np.zeros(ASTERISK_RATE * 2)
    frames[::2000] = 1.0
    converted = to_asterisk_wav(wav_bytes(frames, ASTERISK_RATE, "FLOAT"))
    samples = samples_of(converted)
    assert np.max(np.abs(samples.astype(np.int32))) == pytest.approx(PEAK_LIMIT, abs=1)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("rate, seconds", [(44100, 1.0), (8000, 0.1)])
def test_silence_comes_out_as_silence_without_a_warning(rate, seconds):
    frames = np.zeros((round(rate * seconds), 2))
    converted = to_asterisk_wav(wav_bytes(frames, rate))
    samples = samples_of(converted)
    assert converted.duration_seconds == pytest.approx(seconds, abs=0.01)
    assert not np.any(samples)


@pytest.mark.filterwarnings("error")
def test_hiss_below_minus_70_dbfs_is_not_amplified():
    hiss = np.random.default_rng(7).normal(0, 10 ** (-80 / 20), ASTERISK_RATE)
    samples = samples_of(to_asterisk_wav(wav_bytes(hiss, ASTERISK_RATE, "FLOAT")))
    assert rms_dbfs(samples) == pytest.approx(-80.0, abs=1.0)


def test_a_clip_shorter_than_a_loudness_block_is_brought_to_the_equivalent_level():
    clip = speechlike(0.3, rate=16000, channels=1, gain_db=-40.0)
    converted = to_asterisk_wav(wav_bytes(clip, 16000))
    samples = samples_of(converted)
    assert converted.duration_seconds == pytest.approx(0.3, abs=0.01)
    assert rms_dbfs(samples) == pytest.approx(-20.0, abs=0.5)


def test_nan_in_a_float_wav_does_not_poison_the_rest():
    frames = speechlike(1.0, rate=ASTERISK_RATE, channels=1)
    frames[100:110] = np.nan
    samples = samples_of(to_asterisk_wav(wav_bytes(frames, ASTERISK_RATE, "FLOAT")))
    assert rms_dbfs(samples) > -30


def test_a_phone_m4a_with_its_index_after_the_audio_decodes_past_the_pipe_buffer(tmp_path):
    # Ten seconds of AAC is ~120 KB, more than ffmpeg can rewind on a pipe; through stdin
    # this failed with "partial file".
    wav = wav_bytes(speechlike(10.0, gain_db=-12.0), 44100)
    m4a = encode(wav, tmp_path / "voice-memo.m4a", "m4a")
    assert len(m4a) > 100_000
    converted = to_asterisk_wav(m4a, filename="voice-memo.m4a")
    assert converted.duration_seconds == pytest.approx(10.0, rel=0.02)
    assert loudness(converted.wav) == pytest.approx(-20.0, abs=0.5)


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is a text file\n" * 50,
        bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8)),
    ],
    ids=["text", "random"],
)
def test_bytes_nothing_can_decode_are_not_audio(data):
    with pytest.raises(AudioError) as refused:
        to_asterisk_wav(data, filename="notes.mp3")
    assert refused.value.code == "not_audio"
    assert "notes.mp3" in refused.value.message


def test_an_hls_playlist_in_disguise_is_not_followed(tmp_path):
    # An unrestricted ffmpeg plays this MP3 "segment" from anywhere on the server's disk.
    secret = tmp_path / "secret.mp3"
    encode(wav_bytes(speechlike(1.0), 44100), secret, "mp3")
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://{secret}\n#EXT-X-ENDLIST\n"
    with pytest.raises(AudioError) as refused:
        to_asterisk_wav(playlist.encode(), filename="prompt.m4a")
    assert refused.value.code == "not_audio"
    assert probe_duration(playlist.encode()) is None


def test_no_bytes_or_no_frames_are_empty():
    with pytest.raises(AudioError) as no_bytes:
        to_asterisk_wav(b"")
    assert no_bytes.value.code == "empty"
    with pytest.raises(AudioError) as no_frames:
        to_asterisk_wav(wav_bytes(np.zeros((0, 1)), 44100))
    assert no_frames.value.code == "empty"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_probe_duration_reads_the_length_from_the_header(sources, fmt):
    assert probe_duration(sources[fmt, -6.0]) == pytest.approx(SECONDS, rel=0.02)


def test_probe_duration_is_none_when_unknown():
    assert probe_duration(b"") is None
    assert probe_duration(b"just some words, not sound") is None


def test_espeak_source_length_is_probed(speech):
    assert probe_duration(speech, filename="speech.wav") == pytest.approx(
        soundfile.info(io.BytesIO(speech)).duration
    )
