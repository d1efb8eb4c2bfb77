"""Text-to-speech engines behind one interface, for prompts nobody has recorded yet.

    GttsEngine     Google Translate's voices through gTTS: the better-sounding voice, but
                   online; a short connect timeout lets the caller fall back quickly.
    EspeakEngine   espeak-ng, offline and always available on the server: robotic, but it
                   speaks every language we survey in when Google cannot be reached.

Both are blocking and hold no per-call state, so worker threads may share one instance.
`voice_for` names the voice a language gets (None: the engine cannot speak it); callers
key their cache on it, so a different voice means a fresh rendering.
"""

from __future__ import annotations

import functools
import io
import re
import subprocess
import threading
import wave
from typing import Protocol

import requests
from gtts import gTTS, gTTSError
from gtts.lang import tts_langs

from audio.errors import LanguageUnsupported, TtsError, TtsUnreachable

__all__ = ["EspeakEngine", "GttsEngine", "TtsEngine"]


class TtsEngine(Protocol):
    name: str

    def voice_for(self, language: str) -> str | None:
        """The voice id used for `language`, None when the engine has none."""
        ...

    def synthesize(self, text: str, language: str) -> bytes:
        """Encoded audio of `text` spoken in `language`.

        Raises TtsUnreachable (worth falling back), LanguageUnsupported or TtsError.
        """
        ...


@functools.cache
def _gtts_languages() -> frozenset[str]:
    return frozenset(tts_langs())


class GttsEngine:
    """Google Translate TTS; returns MP3.

    A server that accepts and then stays silent fails each request within
    `connect_timeout + read_timeout` (requests' read timeout bounds each wait for data,
    so one that trickles bytes can take longer). Text over 100 characters is sent as
    several requests, each with those bounds.
    """

    name = "gtts"

    def __init__(
        self, *, connect_timeout: float = 3.0, read_timeout: float = 15.0, tld: str = "com"
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.tld = tld

    def voice_for(self, language: str) -> str | None:
        return f"gtts-{language}-{self.tld}" if language in _gtts_languages() else None

    def synthesize(self, text: str, language: str) -> bytes:
        if self.voice_for(language) is None:
            raise LanguageUnsupported("language_unsupported", f"gTTS has no voice for '{language}'")
        if not text.strip():
            raise TtsError("empty_text", "there is no text to speak")
        out = io.BytesIO()
        try:
            tts = gTTS(
                text,
                lang=language,
                tld=self.tld,
                timeout=(self.connect_timeout, self.read_timeout),
            )
            tts.write_to_fp(out)
        except gTTSError as exc:
            raise self._translate(exc) from exc
        except requests.RequestException as exc:
            raise TtsUnreachable(
                "unreachable", f"Google TTS could not be reached: {self._cause(exc)}"
            ) from exc
        except AssertionError as exc:
            # gTTS asserts there is something left to say once punctuation is cleaned off.
            raise TtsError("empty_text", f"gTTS found nothing to speak: {exc}") from exc
        audio = out.getvalue()
        if not audio:
            # gTTS writes nothing, without error, when the answer holds no audio line.
            raise TtsError("no_audio", "Google TTS answered without any audio")
        return audio

    def _translate(self, exc: gTTSError) -> TtsError:
        response = getattr(exc, "rsp", None)
        status = getattr(response, "status_code", None)
        if status is None:
            found = re.match(r"(\d{3}) \(", str(exc))
            status = int(found[1]) if found else None
        if status is None:
            if str(exc).startswith("Failed to connect"):
                return TtsUnreachable(
                    "unreachable",
                    f"Google TTS could not be reached: {self._cause(exc.__context__)}",
                )
            return TtsError("gtts_failed", f"gTTS failed: {exc}")
        reason = getattr(response, "reason", None) or "error"
        if status == 200:
            return TtsError("no_audio", "Google TTS answered without any audio")
        # 5xx, 429 and 403 are Google down, throttling or refusing us for now: worth a fallback.
        error = TtsUnreachable if status >= 500 or status in (403, 429) else TtsError
        return error(f"http_{status}", f"Google TTS answered HTTP {status} ({reason})")

    def _cause(self, exc: BaseException | None) -> str:
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"no connection within {self.connect_timeout:g} s"
        if isinstance(exc, requests.Timeout):
            return f"no answer within {self.read_timeout:g} s"
        if isinstance(exc, requests.exceptions.ProxyError):
            return "the proxy could not connect"
        if isinstance(exc, requests.exceptions.SSLError):
            return "the TLS handshake failed"
        return "the connection failed"


# Our languages, with the accent our callers expect: British English is what is taught
# across East and West Africa; espeak-ng's "ar" is Modern Standard Arabic.
_ESPEAK_VOICES = {"en": "en-gb", "fr": "fr-fr", "ar": "ar", "sw": "sw"}
_VOICE_LINE = re.compile(r"^\s*\d+\s+(\S+)\s+\S+\s+\S+\s+(\S+)(.*)$")
_OTHER_LANGUAGE = re.compile(r"\(([^\s()]+) (\d+)\)")


class EspeakEngine:
    """espeak-ng, run as a process per prompt; returns 16-bit mono WAV."""

    name = "espeak"

    def __init__(self, binary: str = "espeak-ng", *, timeout: float = 30.0) -> None:
        self.binary = binary
        self.timeout = timeout
        self._voices: dict[str, str] | None = None
        self._voices_lock = threading.Lock()

    def voice_for(self, language: str) -> str | None:
        code = language.strip().lower().replace("_", "-")
        voices = self._installed_voices()
        if not voices:
            # Without a voice list (espeak-ng missing) guess, so that synthesize can say
            # how to install it instead of every language looking unsupported.
            return _ESPEAK_VOICES.get(code, code) if code else None
        for candidate in (code, code.split("-")[0]):
            preferred = _ESPEAK_VOICES.get(candidate)
            if preferred in voices:
                return preferred
            if candidate in voices:
                return voices[candidate]
        return None

    def synthesize(self, text: str, language: str) -> bytes:
        voice = self.voice_for(language)
        if voice is None:
            raise LanguageUnsupported(
                "language_unsupported", f"espeak-ng has no voice for '{language}'"
            )
        if not text.strip():
            raise TtsError("empty_text", "there is no text to speak")
        # `--` keeps a text starting with "-" from being read as an option.
        done = self._run("-v", voice, "-b", "1", "-s", "150", "--stdout", "--", text)
        return _fix_wav_sizes(done.stdout)

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        try:
            done = subprocess.run(
                [self.binary, *args], capture_output=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError as exc:
            raise TtsError(
                "espeak_missing", "espeak-ng is not installed: run scripts/install-system-deps"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise TtsError(
                "espeak_timeout", f"espeak-ng took longer than {self.timeout:g} s"
            ) from exc
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = lines[0] if lines else f"exit status {done.returncode}"
            raise TtsError("espeak_failed", f"espeak-ng failed: {detail}")
        return done

    def _installed_voices(self) -> dict[str, str]:
        """Language code → voice, from `espeak-ng --voices`, read once per instance."""
        with self._voices_lock:
            if self._voices is None:
                try:
                    listing = self._run("--voices").stdout.decode("utf-8", "replace")
                except TtsError:
                    listing = ""
                self._voices = _parse_voices(listing)
            return self._voices


def _parse_voices(listing: str) -> dict[str, str]:
    """A voice's own language maps to itself; a language it also speaks ("(zh 5)" on
    the cmn line) maps to the voice with the best (lowest) priority for it."""
    own: dict[str, str] = {}
    others: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines():
        found = _VOICE_LINE.match(line)
        if found is None:
            continue
        language, file, rest = found.groups()
        if file.startswith(("mb/", "!v")):  # mbrola needs another program; variants aren't voices
            continue
        own.setdefault(language, language)
        for other, priority in _OTHER_LANGUAGE.findall(rest):
            best = others.get(other)
            if best is None or int(priority) < best[0]:
                others[other] = (int(priority), language)
    return {**{code: voice for code, (_, voice) in others.items()}, **own}


def _fix_wav_sizes(data: bytes) -> bytes:
    """espeak-ng cannot seek back on a pipe, so its header claims ~2 GiB of samples;
    rewrite it with the real sizes so every WAV reader accepts the file."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            params = reader.getparams()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise TtsError("espeak_failed", f"espeak-ng wrote no valid WAV: {exc}") from exc
    # Whole frames only: a pipe may end mid-sample in principle.
    frames = frames[: len(frames) - len(frames) % (params.sampwidth * params.nchannels)]
    if not frames:
        raise TtsError("no_audio", "espeak-ng produced no audio")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setparams(params)
        writer.writeframes(frames)
    return out.getvalue()
