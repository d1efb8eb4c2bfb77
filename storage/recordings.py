"""`RecordingFolder`: where voice answers are recorded (RECORDINGS_DIR).

The server makes every reference; a channel never passes on a name it was given:

    <RECORDINGS_DIR>/<form_id>/<response_id>/<question>-<random>.wav

The answer stores the reference `<form_id>/<response_id>/<question>-<random>` (a
relative POSIX path, no extension) and the export shows it as it is, so the export
never reveals where the server keeps its files. Asterisk's `RECORD FILE` is given the
absolute path without extension and adds `.wav` itself (`RECORDING_FORMAT`).

Form ids and question names come from a spreadsheet: they are reduced to letters,
digits, `_` and `-` before they name a folder. Stored references are read back only
through `path_of`, which refuses anything that would leave the folder (an absolute
path, `..`, a NUL, a symbolic link pointing out).

The methods touch the file system (folders, links), which may be a mount shared with
Asterisk: they run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import array
import asyncio
import hashlib
import re
import secrets
import sys
import unicodedata
import wave
from collections.abc import Callable
from pathlib import Path

from survey_engine.ports import NewRecording

__all__ = ["RECORDING_FORMAT", "BadRecordingRef", "RecordingFolder"]

RECORDING_FORMAT = "wav"  # Asterisk's name for 8 kHz 16-bit mono PCM

_SEGMENT_LIMIT = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# What `new` makes, and so all `path_of` accepts: three safe segments.
_SEGMENT = rf"[A-Za-z0-9_][A-Za-z0-9_-]{{0,{_SEGMENT_LIMIT * 2}}}"
_REF = re.compile(rf"{_SEGMENT}/[1-9][0-9]{{0,18}}/{_SEGMENT}")


class BadRecordingRef(ValueError):
    """A stored reference that this folder did not make, or that leads outside it."""


def _random_part() -> str:
    return secrets.token_hex(8)


class RecordingFolder:
    """`survey_engine.ports.RecordingStore` on a local folder (or a shared mount that
    Asterisk sees at the same path)."""

    def __init__(self, root: Path | str, *, random_part: Callable[[], str] = _random_part) -> None:
        # Absolute once, so Asterisk (whose working folder is its own) gets full paths.
        self._root = Path(root).resolve()
        self._random_part = random_part

    @property
    def root(self) -> Path:
        return self._root

    async def new(self, form_id: str, response_id: int, question: str) -> NewRecording:
        """A fresh reference for one recording of `question`, its folder created. Every
        call gives a new name: re-recording never overwrites the file of an answer that
        is still stored until the new answer replaces it."""
        if isinstance(response_id, bool) or not isinstance(response_id, int) or response_id < 1:
            raise ValueError(f"response_id {response_id!r}: expected a positive integer")
        name = f"{_safe_segment(question)}-{_safe_segment(self._random_part())}"
        ref = f"{_safe_segment(form_id)}/{response_id}/{name}"
        return await asyncio.to_thread(self._make, ref)

    async def path_of(self, ref: str) -> str:
        """The absolute path, without extension, of a stored reference.

        Raises BadRecordingRef for a reference this folder would not have made or one
        that resolves (through symbolic links) outside the folder."""
        return str(await asyncio.to_thread(self._resolve, ref))

    async def file_of(self, ref: str) -> Path:
        """The audio file a stored reference names (it may not exist: a call can drop
        before Asterisk wrote anything)."""
        path = await asyncio.to_thread(self._resolve, ref)
        return path.with_name(f"{path.name}.{RECORDING_FORMAT}")

    async def peak(self, ref: str) -> int | None:
        """The loudest sample of a recording (0 to 32768), or None when there is no
        readable file: a take whose peak is near 0 holds nothing said."""
        return await asyncio.to_thread(self._peak, ref)

    async def discard(self, ref: str) -> None:
        """Delete a take that no answer stores (silent, or recorded again)."""
        await asyncio.to_thread(self._discard, ref)

    def _peak(self, ref: str) -> int | None:
        path = self._resolve(ref)
        try:
            with wave.open(str(path.with_name(f"{path.name}.{RECORDING_FORMAT}")), "rb") as take:
                if take.getsampwidth() != 2:
                    return None
                loudest = 0
                while frames := take.readframes(8000):
                    samples = array.array("h", frames[: len(frames) // 2 * 2])
                    if sys.byteorder == "big":
                        samples.byteswap()
                    if samples:
                        loudest = max(loudest, max(samples), -min(samples))
                return loudest
        except (OSError, EOFError, wave.Error):
            return None

    def _discard(self, ref: str) -> None:
        path = self._resolve(ref)
        path.with_name(f"{path.name}.{RECORDING_FORMAT}").unlink(missing_ok=True)

    def _make(self, ref: str) -> NewRecording:
        self._resolve(ref).parent.mkdir(parents=True, exist_ok=True)
        # Checked again now the folders exist: one of them may be a link made meanwhile.
        return NewRecording(ref=ref, path=str(self._resolve(ref)))

    def _resolve(self, ref: str) -> Path:
        if not isinstance(ref, str) or not _REF.fullmatch(ref):
            raise BadRecordingRef(
                f"{ref!r}: expected a recording reference '<form_id>/<response_id>/<name>'"
            )
        path = self._root.joinpath(*ref.split("/"))
        audio = path.with_name(f"{path.name}.{RECORDING_FORMAT}")
        for candidate in (path, audio):
            if not candidate.resolve().is_relative_to(self._root):
                raise BadRecordingRef(f"{ref!r} leads outside the recordings folder")
        return path


def _safe_segment(name: str) -> str:
    """`name` as one folder or file name made of ASCII letters, digits, `_` and `-`.

    Accents are dropped (`enquête` -> `enquete`), anything else becomes `_`, and a
    name with nothing usable left becomes a short digest of itself, so different
    names stay apart."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", ascii_name).strip("-")[:_SEGMENT_LIMIT]
    if not cleaned.strip("_"):
        return "n" + hashlib.sha256(name.encode()).hexdigest()[:12]
    return cleaned
