"""Where prompt files live, and which one to play for a key.

Everything is under one audio root (`AUDIO_DIR`), one folder per language code, the
way Asterisk's own sounds are laid out, so Asterisk reads the files directly:

    <root>/<lang>/tts/<engine>/<hash>.wav           synthetic speech, content-addressed by
                                                    (text, language, engine, voice)
    <root>/<lang>/recorded/<form_id>/<key>.wav      staff recordings, by prompt key
    <root>/<lang>/surveys/<form_id>.json            the index: key -> file and source

Every file is 8 kHz mono 16-bit WAV. The index answers "which file do I play for this
key in this language" with a file read and no network; `render` and `upload` keep it
current. Files are written to a temporary name and renamed, so a reader (Asterisk, a
call in progress) never sees half a file.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import io
import json
import logging
import os
import tempfile
import wave
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from audio.catalogue import CatalogueEntry

__all__ = ["AudioLibrary", "IndexEntry", "PromptFiles", "PromptSource"]

log = logging.getLogger(__name__)


class PromptSource(enum.Enum):
    RECORDED = "recorded"  # a person's recording, uploaded by staff
    SYNTHETIC = "synthetic"  # the engine asked for (gTTS, or espeak-ng when chosen)
    FALLBACK = "fallback"  # espeak-ng standing in for gTTS; re-rendered when asked
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    file: str  # relative to the language folder
    source: PromptSource
    text: str  # the text the file says
    engine: str = ""  # "gtts", "espeak", or "" for a recording

    def to_plain(self) -> dict[str, str]:
        return {
            "file": self.file,
            "source": self.source.value,
            "text": self.text,
            "engine": self.engine,
        }

    @classmethod
    def from_plain(cls, raw: dict[str, str]) -> IndexEntry:
        return cls(raw["file"], PromptSource(raw["source"]), raw["text"], raw.get("engine", ""))


class AudioLibrary:
    """The files under one audio root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- paths ------------------------------------------------------------------------

    def language_dir(self, language: str) -> Path:
        return self.root / _safe_segment(language)

    def tts_file(self, engine: str, voice: str, entry: CatalogueEntry) -> Path:
        """The cache file of `entry` spoken by `engine` with `voice`: the same text is
        rendered once, whichever survey, version or key asks for it."""
        digest = hashlib.sha256(
            "\x1f".join((entry.text, entry.language, engine, voice)).encode()
        ).hexdigest()[:24]
        return self.language_dir(entry.language) / "tts" / _safe_segment(engine) / f"{digest}.wav"

    def recording_file(self, form_id: str, language: str, key: str) -> Path:
        return self.language_dir(language) / "recorded" / _safe_segment(form_id) / f"{key}.wav"

    def index_file(self, form_id: str, language: str) -> Path:
        return self.language_dir(language) / "surveys" / f"{_safe_segment(form_id)}.json"

    # -- the index --------------------------------------------------------------------

    def index(self, form_id: str, language: str) -> dict[str, IndexEntry]:
        path = self.index_file(form_id, language)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {key: IndexEntry.from_plain(value) for key, value in raw.items()}

    def save_index(self, form_id: str, language: str, index: dict[str, IndexEntry]) -> bool:
        """Write the index when it changed; True when it was written."""
        if index == self.index(form_id, language):
            return False
        plain = {key: index[key].to_plain() for key in sorted(index)}
        body = json.dumps(plain, ensure_ascii=False, indent=1).encode()
        write_atomically(self.index_file(form_id, language), body)
        return True

    def file_of(self, language: str, entry: IndexEntry) -> Path | None:
        """The file an index entry names, or None when it is not (or no longer) there."""
        path = self.language_dir(language) / entry.file
        return path if path.is_file() else None

    def playable(self, form_id: str, language: str, key: str) -> Path | None:
        """The file to play for `key` in `language`, or None when there is none yet
        (`PromptFiles` gives the name Asterisk plays)."""
        found = self.index(form_id, language).get(key)
        return self.file_of(language, found) if found is not None else None

    def relative(self, language: str, path: Path) -> str:
        return path.relative_to(self.language_dir(language)).as_posix()


class PromptFiles:
    """Which file Asterisk plays for a prompt key, for a call in progress.

    The IVR asks for every sound of every prompt, so each survey's index is read once
    and kept with the index file's identity: the index is replaced by a rename on every
    change (a new inode), so a `render` or an upload is seen by the next prompt, at
    the cost of one `stat`. Files are named by absolute path without `.wav`, as STREAM
    FILE and GET DATA take them (Asterisk must see AUDIO_DIR at the same path).

    `joined` makes one file of several, so a prompt ("For", "yes", "press", "1", ...)
    is one STREAM FILE instead of a dozen: a dozen fewer round trips to Asterisk and no
    gap between the words. Joined files are a cache under `<AUDIO_DIR>/joined/`, named
    by the files they join and each one's identity (a re-recorded prompt makes a new
    one), written once and shared by every worker; the folder may be emptied at any
    time."""

    def __init__(self, library: AudioLibrary, *, join: bool = True, remember: int = 20_000) -> None:
        self.library = library
        self.join = join
        self._loaded: dict[tuple[str, str], tuple[tuple[int, int, int], dict[str, str]]] = {}
        self._identity: dict[str, str] = {}  # name -> "inode:size:mtime" when loaded
        self._remember = remember
        self._joined: OrderedDict[tuple[str, ...], str] = OrderedDict()
        # joined name -> the names it joins (for logs and tests), as long as remembered
        self.parts: dict[str, tuple[str, ...]] = {}
        self._refused: set[tuple[str, ...]] = set()

    def sounds(self, form_id: str, language: str) -> Mapping[str, str]:
        """key -> what to play, for the keys whose file exists; empty when the survey
        has no audio in `language` yet."""
        index_file = self.library.index_file(form_id, language)
        try:
            found = index_file.stat()
        except FileNotFoundError:
            self._loaded.pop((form_id, language), None)
            return {}
        stamp = (found.st_ino, found.st_mtime_ns, found.st_size)
        loaded = self._loaded.get((form_id, language))
        if loaded is not None and loaded[0] == stamp:
            return loaded[1]
        folder = self.library.language_dir(language).resolve()
        names: dict[str, str] = {}
        for key, entry in self.library.index(form_id, language).items():
            path = folder / entry.file
            try:
                file = path.stat()
            except OSError:
                continue
            name = str(path.with_suffix(""))
            names[key] = name
            self._identity[name] = f"{file.st_ino}:{file.st_size}:{file.st_mtime_ns}"
        self._loaded[(form_id, language)] = (stamp, names)
        return names

    def _identity_of(self, name: str) -> str:
        known = self._identity.get(name)
        if known is None:
            try:
                file = os.stat(f"{name}.wav")
                known = f"{file.st_ino}:{file.st_size}:{file.st_mtime_ns}"
            except OSError:
                known = ""
            self._identity[name] = known
        return known

    async def joined(self, names: Sequence[str]) -> list[str]:
        """`names` as one file to play, or as they are when there is one, joining is
        off, or they cannot be joined (a file unreadable or in another format: logged
        once)."""
        key = tuple(names)
        if not self.join or len(key) < 2 or key in self._refused:
            return list(key)
        found = self._joined.get(key)
        if found is not None:
            self._joined.move_to_end(key)
            return [found]
        signature = "\n".join(f"{n}|{self._identity_of(n)}" for n in key)
        digest = hashlib.sha256(signature.encode()).hexdigest()[:32]
        target = (self.library.root / "joined" / f"{digest}.wav").resolve()
        if not target.is_file():
            try:
                await asyncio.to_thread(_join_wavs, key, target)
            except (OSError, EOFError, wave.Error, ValueError) as error:
                self._refused.add(key)
                log.warning("prompt files not joined, played one by one: %s", error)
                return list(key)
        name = str(target.with_suffix(""))
        self._joined[key] = name
        self.parts[name] = key
        while len(self._joined) > self._remember:
            self.parts.pop(self._joined.popitem(last=False)[1], None)
        return [name]


_PROMPT_FORMAT = (1, 2, 8000)  # mono, 16-bit, 8 kHz: every file of the library


def _join_wavs(names: Sequence[str], target: Path) -> None:
    frames: list[bytes] = []
    for name in names:
        with wave.open(f"{name}.wav", "rb") as part:
            shape = (part.getnchannels(), part.getsampwidth(), part.getframerate())
            if shape != _PROMPT_FORMAT:
                raise ValueError(f"{name}.wav is {shape}, not {_PROMPT_FORMAT}")
            frames.append(part.readframes(part.getnframes()))
    out = io.BytesIO()
    with wave.open(out, "wb") as whole:
        whole.setnchannels(1)
        whole.setsampwidth(2)
        whole.setframerate(8000)
        whole.writeframes(b"".join(frames))
    write_atomically(target, out.getvalue())


def write_atomically(path: Path, data: bytes) -> None:
    """`data` at `path`, never half-written: a temporary file in the same folder, renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _safe_segment(name: str) -> str:
    # Language codes, engines and form ids become folder names: never a path.
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"{name!r} cannot be a folder name")
    return name
