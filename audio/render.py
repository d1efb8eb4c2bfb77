"""Rendering a survey's prompts to files, uploading recordings, and coverage.

`render_survey` speaks every catalogue entry that has no file yet, several at a time
(a thread pool, one thread per core for espeak-ng, which runs as a process, and
four per core when gTTS is asked, which mostly waits on the network; the conversion
spends its time in C), and updates the index of each language.

The `auto` engine asks gTTS first. When Google cannot be reached (a short connect
timeout), that prompt and every later one in the batch go straight to espeak-ng and
are marked as fallback; a later `render` tries gTTS again for them. A language gTTS
has no voice for falls back the same way; one that neither engine speaks is reported
as missing, never skipped in silence.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from audio.catalogue import CatalogueEntry, catalogue
from audio.convert import to_asterisk_wav
from audio.errors import AudioError, TtsUnreachable
from audio.library import AudioLibrary, IndexEntry, PromptSource, write_atomically
from audio.tts import TtsEngine
from audio.uploads import prepare_upload
from survey_engine.model import Survey

__all__ = [
    "Coverage",
    "EngineChoice",
    "KeyState",
    "RenderReport",
    "coverage",
    "render_survey",
    "upload_recording",
]

EngineChoice = Literal["auto", "gtts", "espeak"]


@dataclass
class RenderReport:
    written: int = 0  # new files
    reused: int = 0  # prompts whose file was already there
    recorded: int = 0  # prompts a recording covers
    fallback: int = 0  # prompts spoken by espeak-ng in place of gTTS
    missing: list[tuple[CatalogueEntry, str]] = field(default_factory=list)  # and why
    gtts_down: str = ""  # why gTTS was given up for this batch, if it was


@dataclass(frozen=True, slots=True)
class _Outcome:
    entry: CatalogueEntry
    index: IndexEntry | None
    written: bool
    problem: str = ""


# How the engines are named to people (coverage, missing prompts).
_ENGINE_NAMES = {"gtts": "gTTS", "espeak": "espeak-ng"}


class _Batch:
    """One render: the engines, and which of them has failed for the rest of the batch
    (shared by the worker threads)."""

    def __init__(
        self,
        library: AudioLibrary,
        choice: EngineChoice,
        gtts: TtsEngine | None,
        espeak: TtsEngine | None,
    ) -> None:
        self.library = library
        self.gtts = gtts if choice in ("auto", "gtts") else None
        self.espeak = espeak if choice in ("auto", "espeak") else None
        self._lock = threading.Lock()
        self.down: dict[str, str] = {}  # engine name -> why it was given up

    def speak(self, entry: CatalogueEntry) -> _Outcome:
        problems: list[str] = []
        if self.gtts is not None:
            found = self._speak_with(self.gtts, entry, PromptSource.SYNTHETIC, problems)
            if found is not None:
                return found
        if self.espeak is not None:
            # espeak-ng is a fallback voice when gTTS was asked for.
            source = PromptSource.FALLBACK if self.gtts is not None else PromptSource.SYNTHETIC
            found = self._speak_with(self.espeak, entry, source, problems)
            if found is not None:
                return found
        return _Outcome(entry, None, False, "; ".join(problems) or "no engine chosen")

    def _speak_with(
        self, engine: TtsEngine, entry: CatalogueEntry, source: PromptSource, problems: list[str]
    ) -> _Outcome | None:
        """The engine's file for `entry`, rendered unless already there; None (and why,
        in `problems`) when the engine has no voice, is down, or failed."""
        shown = _ENGINE_NAMES.get(engine.name, engine.name)
        voice = engine.voice_for(entry.language)
        if voice is None:
            problems.append(f"{shown} has no voice for '{entry.language}'")
            return None
        path = self.library.tts_file(engine.name, voice, entry)
        if path.is_file():
            return self._found(entry, path, source, engine.name, written=False)
        if engine.name not in self.down:
            try:
                self._synthesize(engine, entry, path)
                return self._found(entry, path, source, engine.name, written=True)
            except TtsUnreachable as exc:
                with self._lock:
                    self.down.setdefault(engine.name, exc.message)
            except AudioError as exc:
                problems.append(f"{shown}: {exc.message}")
                return None
        problems.append(f"{shown} unreachable: {self.down[engine.name]}")
        return None

    def _synthesize(self, engine: TtsEngine, entry: CatalogueEntry, path: Path) -> None:
        audio = engine.synthesize(entry.text, entry.language)
        converted = to_asterisk_wav(audio, filename=f"{engine.name}-output")
        write_atomically(path, converted.wav)

    def _found(
        self, entry: CatalogueEntry, path: Path, source: PromptSource, engine: str, *, written: bool
    ) -> _Outcome:
        relative = self.library.relative(entry.language, path)
        return _Outcome(entry, IndexEntry(relative, source, entry.text, engine), written)


def render_survey(
    survey: Survey,
    library: AudioLibrary,
    *,
    engine: EngineChoice = "auto",
    gtts: TtsEngine | None = None,
    espeak: TtsEngine | None = None,
    languages: Sequence[str] | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RenderReport:
    """Give every prompt of `survey` a file, in `languages` (default: all of them)."""
    entries = catalogue(survey, languages)
    batch = _Batch(library, engine, gtts, espeak)
    report = RenderReport()
    indexes = {lang: library.index(survey.form_id, lang) for lang in _languages(entries)}

    todo: list[CatalogueEntry] = []
    for entry in entries:
        current = indexes[entry.language].get(entry.key)
        if (
            current is not None
            and current.source is PromptSource.RECORDED
            and library.file_of(entry.language, current) is not None
        ):
            report.recorded += 1
            continue
        todo.append(entry)

    # The same text in the same language (a "Yes" in several lists) is spoken once.
    unique: dict[tuple[str, str], CatalogueEntry] = {}
    for entry in todo:
        unique.setdefault((entry.language, entry.text), entry)
    spoken: dict[tuple[str, str], _Outcome] = {}
    done = 0
    total = len(unique)
    if workers is None:
        # espeak-ng keeps a core busy per prompt; gTTS mostly waits on the network.
        cores = os.cpu_count() or 2
        workers = cores if engine == "espeak" else 4 * cores
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for outcome in pool.map(batch.speak, unique.values()):
            spoken[(outcome.entry.language, outcome.entry.text)] = outcome
            done += 1
            if progress is not None:
                progress(done, total)

    for entry in todo:
        outcome = spoken[(entry.language, entry.text)]
        index = indexes[entry.language]
        if outcome.index is None:
            report.missing.append((entry, outcome.problem))
            index.pop(entry.key, None)
            continue
        # Entries that share a text share the one file written for the first of them.
        if outcome.written and outcome.entry is entry:
            report.written += 1
        else:
            report.reused += 1
        if outcome.index.source is PromptSource.FALLBACK:
            report.fallback += 1
        index[entry.key] = outcome.index
    # Keys the survey no longer has are dropped from its index (their files stay in
    # the cache, where another survey or version may still use them).
    keys = {(e.language, e.key) for e in entries}
    for language, index in indexes.items():
        for key in [k for k in index if (language, k) not in keys]:
            if index[key].source is not PromptSource.RECORDED:
                del index[key]
        library.save_index(survey.form_id, language, index)
    report.gtts_down = batch.down.get("gtts", "")
    return report


def upload_recording(
    survey: Survey, library: AudioLibrary, *, key: str, language: str, data: bytes, filename: str
) -> IndexEntry:
    """A staff recording for `key` in `language`: validated, converted, stored, and from
    now on played instead of synthetic speech. Raises `UploadRefused` (with a message
    for people) or `AudioError`."""
    if language not in survey.language_codes:
        raise AudioError(
            "unknown_language",
            f"the survey '{survey.form_id}' has no language '{language}' "
            f"(it has: {', '.join(survey.language_codes)})",
        )
    entry = next((e for e in catalogue(survey, [language]) if e.key == key), None)
    if entry is None:
        raise AudioError(
            "unknown_key",
            f"the survey '{survey.form_id}' has no prompt '{key}': "
            "`service-tracker audio coverage --keys` lists them",
        )
    converted = prepare_upload(data, filename)
    path = library.recording_file(survey.form_id, language, key)
    write_atomically(path, converted.wav)
    index = library.index(survey.form_id, language)
    stored = IndexEntry(library.relative(language, path), PromptSource.RECORDED, entry.text)
    index[key] = stored
    library.save_index(survey.form_id, language, index)
    return stored


@dataclass(frozen=True, slots=True)
class KeyState:
    entry: CatalogueEntry
    source: PromptSource
    file: str  # relative to the audio root, "" when missing
    stale: bool = False  # a recording made for a text that has changed since


@dataclass(frozen=True, slots=True)
class Coverage:
    language: str
    keys: tuple[KeyState, ...]

    def count(self, source: PromptSource) -> int:
        return sum(1 for k in self.keys if k.source is source)


def coverage(
    survey: Survey, library: AudioLibrary, languages: Sequence[str] | None = None
) -> list[Coverage]:
    """Per language, each prompt's state: recorded, synthetic, fallback or missing. A
    synthetic file counts only while it says the survey's current text."""
    entries = catalogue(survey, languages)
    result: list[Coverage] = []
    for language in _languages(entries):
        index = library.index(survey.form_id, language)
        states: list[KeyState] = []
        for entry in (e for e in entries if e.language == language):
            found = index.get(entry.key)
            path = library.file_of(language, found) if found is not None else None
            if found is None or path is None:
                states.append(KeyState(entry, PromptSource.MISSING, ""))
                continue
            recorded = found.source is PromptSource.RECORDED
            if not recorded and found.text != entry.text:
                # Speech of an earlier text: this version's prompt has no file yet.
                states.append(KeyState(entry, PromptSource.MISSING, ""))
                continue
            file = path.relative_to(library.root).as_posix()
            stale = recorded and found.text != entry.text
            states.append(KeyState(entry, found.source, file, stale))
        result.append(Coverage(language, tuple(states)))
    return result


def _languages(entries: Iterable[CatalogueEntry]) -> list[str]:
    return list(dict.fromkeys(e.language for e in entries))
