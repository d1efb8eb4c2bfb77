"""Real audio for the conversion tests, made at test time with numpy, ffmpeg and espeak-ng.

    speechlike(seconds, gain_db=...)   a 440 Hz voice-like tone, syllable-rate modulated,
                                       as float frames x channels
    wav_bytes(frames, rate)            those frames as WAV bytes (soundfile)
    encode(wav, path, fmt)             WAV bytes re-encoded by ffmpeg into `fmt` at `path`
    spoken(text, path)                 an espeak-ng sentence (22050 Hz mono WAV)
    silent_mp3(path, seconds)          a long, small, silent MP3, made in well under a second
    loudness(wav)                      BS.1770 integrated loudness of WAV bytes, in LUFS

No mocks: every byte the tests convert went through the real encoders.
"""

from __future__ import annotations

import io
import subprocess
import wave
from pathlib import Path

import numpy as np
import pyloudnorm
import soundfile

# ffmpeg arguments per fixture format; the suffix is the file name's ending
FORMATS: dict[str, tuple[str, list[str]]] = {
    "wav": (".wav", ["-c:a", "pcm_s16le", "-f", "wav"]),
    "mp3": (".mp3", ["-c:a", "libmp3lame", "-b:a", "96k", "-f", "mp3"]),
    "ogg": (".ogg", ["-c:a", "libvorbis", "-q:a", "3", "-f", "ogg"]),
    "opus": (".opus", ["-c:a", "libopus", "-b:a", "48k", "-f", "ogg"]),
    "flac": (".flac", ["-c:a", "flac", "-f", "flac"]),
    # what a phone's recorder hands over: AAC in MP4 with the index (moov) at the end
    "m4a": (".m4a", ["-c:a", "aac", "-b:a", "96k", "-f", "ipod"]),
}


def speechlike(
    seconds: float = 1.5, *, rate: int = 44100, channels: int = 2, gain_db: float = -6.0
) -> np.ndarray:
    """A 440 Hz tone with a few harmonics (a voice's spectrum, roughly), its level
    swinging at 4 Hz like syllables, peaking at `gain_db` dBFS."""
    t = np.arange(round(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 440 * k * t) / k for k in (1, 2, 3, 5))
    syllables = 0.2 + 0.8 * np.abs(np.sin(2 * np.pi * 2 * t))
    mono = voice * syllables
    mono = mono / np.max(np.abs(mono)) * 10 ** (gain_db / 20)
    # the right channel a little quieter, as from a microphone slightly off-centre
    return np.stack([mono * (1.0 - 0.2 * c) for c in range(channels)], axis=1)


def wav_bytes(frames: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    out = io.BytesIO()
    soundfile.write(out, frames, rate, format="WAV", subtype=subtype)
    return out.getvalue()


def encode(wav: bytes, path: Path, fmt: str) -> bytes:
    _, arguments = FORMATS[fmt]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "wav", "-i", "pipe:0",
         *arguments, str(path)],
        input=wav,
        check=True,
        timeout=60,
    )  # fmt: skip
    return path.read_bytes()


def spoken(text: str, path: Path) -> bytes:
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(path), text], check=True, timeout=60)
    return path.read_bytes()


def silent_mp3(path: Path, seconds: int) -> bytes:
    """Encoding hours of even silence takes seconds, so one minute is encoded and its
    frames copied over and over; 8 kHz at 8 kbit/s keeps two hours near 7 MB."""
    minute = path.with_name(f"minute-{path.name}")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono",
         "-t", "60", "-c:a", "libmp3lame", "-b:a", "8k", str(minute)],
        check=True,
        timeout=60,
    )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", str(seconds // 60 - 1),
         "-i", str(minute), "-c", "copy", str(path)],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path.read_bytes()


def loudness(wav: bytes) -> float:
    frames, rate = soundfile.read(io.BytesIO(wav), dtype="float64")
    return float(pyloudnorm.Meter(rate).integrated_loudness(frames))


def silent_wav(seconds: float = 0.1) -> bytes:
    """Silence as an 8 kHz 16-bit mono WAV: a prompt recording where only its being
    there matters."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(b"\0\0" * int(8000 * seconds))
    return out.getvalue()
