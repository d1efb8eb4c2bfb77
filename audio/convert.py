"""Any prompt audio (TTS output, staff recordings) into the WAV Asterisk plays natively.

soundfile (libsndfile) decodes WAV, MP3, OGG Vorbis/Opus and FLAC in-process from memory,
with no subprocess per prompt; ffmpeg is run only for what libsndfile cannot read, such as
AAC in M4A. soxr resamples to 8 kHz with a proper anti-alias filter, and pyloudnorm measures
ITU-R BS.1770 loudness, so that every prompt plays at the same perceived level.

    to_asterisk_wav   bytes in any of those formats -> 8 kHz mono PCM_16 WAV at -20 LUFS
    probe_duration    seconds, from the container header when it says, without decoding
"""

from __future__ import annotations

import io
import json
import logging
import math
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np
import pyloudnorm
import soundfile
import soxr

from audio.errors import AudioError

__all__ = ["ASTERISK_RATE", "ConvertedAudio", "probe_duration", "to_asterisk_wav"]

logger = logging.getLogger(__name__)

ASTERISK_RATE = 8000

_TARGET_LUFS = -20.0
# BS.1770 weights a 1 kHz tone by about 0 dB, so for clips too short to gate, an RMS of
# -20 dBFS is the nearest plain-level equivalent of -20 LUFS.
_TARGET_RMS_DBFS = -20.0
_SILENCE_DBFS = -70.0  # also BS.1770's absolute gate: nothing below it is heard as a prompt
_PEAK_LIMIT = 10 ** (-1 / 20)  # -1 dBFS, about 0.89: headroom for the phone codecs downstream
_LOUDNESS_BLOCK_SECONDS = 0.4  # pyloudnorm refuses anything shorter than one gating block

_FFMPEG_TIMEOUT_SECONDS = 60.0
_FFPROBE_TIMEOUT_SECONDS = 10.0
# Untrusted uploads reach ffmpeg: only plain audio containers may be probed, so a text file
# that is really an HLS or concat playlist cannot make ffmpeg open other files or URLs.
_FFMPEG_FORMATS = "mov,aac,mp3,ogg,wav,flac,matroska,asf,amr,caf,aiff"


@dataclass(frozen=True, slots=True)
class ConvertedAudio:
    wav: bytes
    duration_seconds: float
    source_rate: int
    source_channels: int


def to_asterisk_wav(data: bytes, *, filename: str = "") -> ConvertedAudio:
    """`data` as 8 kHz mono 16-bit WAV, loudness-normalised to -20 LUFS, peaks at most
    -1 dBFS. Raises `AudioError` "empty" (no bytes or no frames) or "not_audio"; when
    ffmpeg is needed and fails otherwise, "decoder_unavailable" or "decode_timeout"."""
    label = filename or "the audio"
    if not data:
        raise AudioError("empty", f"{label} is empty")
    samples, rate = _decode(data, label)
    if samples.shape[0] == 0 or rate <= 0:
        raise AudioError("empty", f"{label} holds no sound")
    channels = samples.shape[1]
    mono = samples.mean(axis=1, dtype=np.float64)
    # Float WAVs may carry NaN or inf; one of them would poison every gain computed below.
    mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
    if rate != ASTERISK_RATE:
        mono = soxr.resample(mono, rate, ASTERISK_RATE, quality="VHQ")
    if mono.shape[0] == 0:
        raise AudioError("empty", f"{label} is too short to hold any sound")
    pcm = _to_int16(_normalise(mono))
    out = io.BytesIO()
    soundfile.write(out, pcm, ASTERISK_RATE, format="WAV", subtype="PCM_16")
    return ConvertedAudio(
        wav=out.getvalue(),
        duration_seconds=pcm.shape[0] / ASTERISK_RATE,
        source_rate=int(rate),
        source_channels=int(channels),
    )


def probe_duration(data: bytes, *, filename: str = "") -> float | None:
    """Seconds of audio in `data` as its header tells, without decoding it all; None when
    the header does not say or nothing can read it."""
    if not data:
        return None
    try:
        info = soundfile.info(io.BytesIO(data))
    except Exception:  # libsndfile on untrusted bytes: any failure just means "ask ffprobe"
        info = None
    # libsndfile reports an unknown length as a huge frame count rather than failing.
    if info is not None and info.samplerate > 0 and 0 < info.frames < 2**62:
        return info.frames / info.samplerate
    logger.debug("probing %s with ffprobe: libsndfile cannot read it", filename or "audio")
    return _ffprobe_duration(data)


def _decode(data: bytes, label: str) -> tuple[np.ndarray, int]:
    """Frames x channels float32 and the sample rate."""
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception:  # libsndfile on untrusted bytes: any failure just means "try ffmpeg"
        logger.debug("decoding %s with ffmpeg: libsndfile cannot read it", label)
        return _decode_with_ffmpeg(data, label)
    return samples, int(rate)


def _decode_with_ffmpeg(data: bytes, label: str) -> tuple[np.ndarray, int]:
    # The input goes through a temporary file, not stdin: M4A from phones and from ffmpeg
    # itself keeps its index (moov) after the audio, and from a pipe ffmpeg cannot seek back
    # to the audio once it has read the index, so anything beyond a few dozen KB fails.
    with tempfile.NamedTemporaryFile(prefix="prompt-", suffix=".input") as source:
        source.write(data)
        source.flush()
        command = [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
            "-protocol_whitelist", "file", "-format_whitelist", _FFMPEG_FORMATS,
            "-i", source.name,
            "-map", "0:a:0",
            "-c:a", "pcm_f32le", "-f", "wav", "pipe:1",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=_FFMPEG_TIMEOUT_SECONDS, check=False
            )
        except FileNotFoundError as exc:
            raise AudioError(
                "decoder_unavailable",
                f"{label} needs ffmpeg to be decoded, and ffmpeg is not installed",
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise AudioError(
                "decode_timeout",
                f"{label} took longer than {_FFMPEG_TIMEOUT_SECONDS:g} s to decode",
            ) from exc
    if done.returncode != 0 or not done.stdout:
        logger.debug("ffmpeg could not decode %s: %s", label, done.stderr[-500:])
        raise AudioError("not_audio", f"{label} is not in a sound format we can decode")
    try:
        # ffmpeg writes WAV sizes it cannot know on a pipe as 0xFFFFFFFF; libsndfile then
        # reads up to the end of the data, which is what we want.
        samples, rate = soundfile.read(io.BytesIO(done.stdout), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError("not_audio", f"{label} is not in a sound format we can decode") from exc
    return samples, int(rate)


def _ffprobe_duration(data: bytes) -> float | None:
    command = [
        "ffprobe", "-v", "error",
        "-protocol_whitelist", "pipe", "-format_whitelist", _FFMPEG_FORMATS,
        "-select_streams", "a:0", "-show_entries", "stream=codec_type:format=duration",
        "-of", "json", "-i", "pipe:0",
    ]  # fmt: skip
    try:
        # Unlike decoding, the duration comes from the index alone, which ffprobe reaches by
        # reading the pipe through to the end, so stdin serves even for moov-at-end M4A.
        done = subprocess.run(
            command, input=data, capture_output=True, timeout=_FFPROBE_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        report = json.loads(done.stdout)
        if not report.get("streams"):
            return None  # a container with no audio in it: its length is no prompt's length
        seconds = float(report["format"]["duration"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _normalise(mono: np.ndarray) -> np.ndarray:
    # A DC offset (cheap microphones) carries no sound but would count as level below and
    # eat headroom in the peak limit.
    signal = mono - mono.mean()
    rms = math.sqrt(float(np.mean(np.square(signal))))
    if rms == 0.0 or 20 * math.log10(rms) < _SILENCE_DBFS:
        return signal  # silence stays silence: amplifying it would only make noise
    if signal.shape[0] >= math.ceil(_LOUDNESS_BLOCK_SECONDS * ASTERISK_RATE):
        loudness = pyloudnorm.Meter(ASTERISK_RATE).integrated_loudness(signal)
        if not math.isfinite(loudness) or loudness < _SILENCE_DBFS:
            # Above the RMS floor yet gated out entirely: rumble the ear (and K-weighting)
            # barely hears, so it is silence for a prompt's purposes too.
            return signal
        gain_db = _TARGET_LUFS - loudness
    else:
        gain_db = _TARGET_RMS_DBFS - 20 * math.log10(rms)
    louder = signal * 10 ** (gain_db / 20)
    peak = float(np.max(np.abs(louder)))
    if peak > _PEAK_LIMIT:
        # A plain scale-down rather than a compressor: prompts are short and mostly speech,
        # and the few that hit the limit only come out a little quieter.
        louder *= _PEAK_LIMIT / peak
    return louder


def _to_int16(signal: np.ndarray) -> np.ndarray:
    return np.clip(np.round(signal * 32767.0), -32768, 32767).astype(np.int16)
