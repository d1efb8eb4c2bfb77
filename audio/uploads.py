"""Staff recordings checked before they replace synthetic speech, refused in plain words.

The cheap checks come first: size before anything is decoded, and duration from the file's
header (`probe_duration`) so that a two-hour upload is refused without decoding two hours.
Every refusal is an `UploadRefused` whose `code` is stable and whose message names the file
(its base name only) and the limit it broke.
"""

from __future__ import annotations

import logging
import math

from audio.convert import ConvertedAudio, probe_duration, to_asterisk_wav
from audio.errors import AudioError, UploadRefused

__all__ = [
    "ACCEPTED_SUFFIXES",
    "MAX_PROMPT_SECONDS",
    "MAX_UPLOAD_BYTES",
    "MIN_PROMPT_SECONDS",
    "prepare_upload",
]

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PROMPT_SECONDS = 120.0
MIN_PROMPT_SECONDS = 0.2
ACCEPTED_SUFFIXES = (".wav", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".flac")

# Headers may round or leave out encoder padding (MP3, AAC): a decoded length this much
# over the limit is the same recording the header already let through.
_DECODED_GRACE_SECONDS = 0.5


def prepare_upload(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_seconds: float = MAX_PROMPT_SECONDS,
) -> ConvertedAudio:
    """The upload as Asterisk-ready audio, or `UploadRefused` with code `empty`,
    `too_big`, `unsupported_type`, `not_audio`, `too_long` or `too_short` (or the code of
    whatever else stopped the conversion, such as `decode_timeout`)."""
    name = _base_name(filename)
    shown = name or "The file"
    if not data:
        raise UploadRefused("empty", f"{shown} is empty")
    if len(data) > max_bytes:
        raise UploadRefused(
            "too_big",
            f"{shown} is {_size(len(data), round_up=True)}; "
            f"the limit is {_size(max_bytes, round_up=False)}",
        )
    suffix = _suffix(name)
    if suffix not in ACCEPTED_SUFFIXES:
        accepted = ", ".join(ACCEPTED_SUFFIXES)
        what = f"files ending in {suffix} are" if suffix else "a file with no type ending is"
        raise UploadRefused(
            "unsupported_type", f"{shown}: {what} not accepted; send one ending in {accepted}"
        )
    duration = probe_duration(data, filename=name)
    if duration is not None:
        _check_duration(shown, duration, max_seconds)
    try:
        converted = to_asterisk_wav(data, filename=name)
    except AudioError as exc:
        raise _refusal(shown, exc) from exc
    except Exception as exc:
        # A decoder bug must still reach the person as a refusal, not a traceback; the log
        # keeps the traceback for whoever maintains this.
        logger.exception("converting the upload %s failed", name)
        raise UploadRefused("not_audio", _not_audio(shown)) from exc
    _check_duration(shown, converted.duration_seconds, max_seconds + _DECODED_GRACE_SECONDS)
    return converted


def _check_duration(shown: str, seconds: float, max_seconds: float) -> None:
    if seconds > max_seconds:
        raise UploadRefused(
            "too_long",
            f"{shown} lasts {_duration(seconds, round_up=True)}; "
            f"a prompt may last at most {_duration(max_seconds, round_up=False)}",
        )
    if seconds < MIN_PROMPT_SECONDS:
        raise UploadRefused(
            "too_short",
            f"{shown} lasts {_duration(seconds, round_up=False)}; "
            f"a prompt must last at least {_duration(MIN_PROMPT_SECONDS, round_up=False)}",
        )


def _refusal(shown: str, exc: AudioError) -> UploadRefused:
    if exc.code == "not_audio":
        return UploadRefused("not_audio", _not_audio(shown))
    if exc.code == "empty":
        return UploadRefused("empty", f"{shown} is empty: it holds no sound")
    return UploadRefused(exc.code, f"{shown} could not be converted: {exc.message}")


def _not_audio(shown: str) -> str:
    return f"{shown} is not a sound file we can read (WAV, MP3, OGG or M4A)"


def _base_name(filename: str) -> str:
    # Browsers on Windows may send the whole client path, with backslashes.
    return filename.replace("\\", "/").rsplit("/", 1)[-1].strip()


def _suffix(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return f".{extension.lower()}" if dot and stem else ""


def _size(count: int, *, round_up: bool) -> str:
    """1024-based, one decimal. The upload's size rounds up and the limit shows whole
    units bare, so a file over "20 MB" never reads as "20 MB" itself."""
    if count >= 1024 * 1024:
        value, unit = count / (1024 * 1024), "MB"
    elif count >= 1024:
        value, unit = count / 1024, "KB"
    else:
        return f"{count} bytes"
    value = math.ceil(value * 10) / 10 if round_up else round(value, 1)
    return f"{value:.1f} {unit}" if round_up or value != int(value) else f"{int(value)} {unit}"


def _duration(seconds: float, *, round_up: bool) -> str:
    """Like "0.1 s", "45 s", "2 min 5 s" or "2 h 0 min". Too-long lengths round up and
    too-short ones down, so the figure shown is never on the allowed side of the limit."""
    if seconds < 10:
        tenths = math.ceil(seconds * 10 - 1e-9) if round_up else math.floor(seconds * 10 + 1e-9)
        return f"{tenths / 10:g} s" if tenths % 10 else f"{tenths // 10} s"
    whole = math.ceil(seconds - 1e-9) if round_up else math.floor(seconds + 1e-9)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60} min"
