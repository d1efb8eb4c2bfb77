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

import enum
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from audio.catalogue import CatalogueEntry

__all__ = ["AudioLibrary", "IndexEntry", "PromptFiles", "PromptSource"]


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
    the cost of one `stat`. Files
    are named by absolute path without `.wav`, as STREAM FILE and GET DATA take them
    (Asterisk must see AUDIO_DIR at the same path)."""

    def __init__(self, library: AudioLibrary) -> None:
        self.library = library
        self._loaded: dict[tuple[str, str], tuple[tuple[int, int, int], dict[str, str]]] = {}

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
            if path.is_file():
                names[key] = str(path.with_suffix(""))
        self._loaded[(form_id, language)] = (stamp, names)
        return names


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
