"""`PromptFiles`: the files a call plays, by key, and several joined into one so a
prompt is one STREAM FILE."""

from __future__ import annotations

import logging
import os
import wave
from pathlib import Path

import pytest

from audio.library import AudioLibrary, IndexEntry, PromptFiles, PromptSource


def tone(path: Path, frames: int, value: int, rate: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(value.to_bytes(2, "little", signed=True) * frames)


@pytest.fixture
def library(tmp_path: Path) -> AudioLibrary:
    library = AudioLibrary(tmp_path / "audio")
    folder = library.language_dir("en") / "tts"
    tone(folder / "a.wav", 800, 1000)
    tone(folder / "b.wav", 400, -2000)
    tone(folder / "c.wav", 200, 3000)
    library.save_index(
        "tracer",
        "en",
        {key: IndexEntry(f"tts/{key}.wav", PromptSource.SYNTHETIC, key) for key in "abc"},
    )
    return library


def samples(name: str) -> list[int]:
    with wave.open(f"{name}.wav", "rb") as joined:
        data = joined.readframes(joined.getnframes())
    return list(memoryview(data).cast("h"))


async def test_several_files_play_as_one_in_their_order(library):
    files = PromptFiles(library)
    names = files.sounds("tracer", "en")
    [joined] = await files.joined([names["a"], names["b"], names["c"]])
    assert samples(joined) == [1000] * 800 + [-2000] * 400 + [3000] * 200
    assert files.parts[joined] == (names["a"], names["b"], names["c"])
    # The same prompt again is the same file, shared by every worker.
    assert await PromptFiles(library).joined([names["a"], names["b"], names["c"]]) == [joined]
    assert await files.joined([names["a"]]) == [names["a"]]  # one file: as it is


async def test_a_re_recorded_prompt_makes_a_new_joined_file(library):
    files = PromptFiles(library)
    names = files.sounds("tracer", "en")
    [before] = await files.joined([names["a"], names["b"]])
    tone(library.language_dir("en") / "tts" / "b.wav", 100, 5)
    index = library.index("tracer", "en")
    library.save_index(
        "tracer", "en", {**index, "c": IndexEntry("tts/a.wav", index["c"].source, "x")}
    )
    fresh = PromptFiles(library)
    names = fresh.sounds("tracer", "en")
    [after] = await fresh.joined([names["a"], names["b"]])
    assert after != before
    assert samples(after)[-100:] == [5] * 100


async def test_files_that_cannot_be_joined_are_played_one_by_one(library, caplog):
    files = PromptFiles(library)
    names = files.sounds("tracer", "en")
    tone(library.language_dir("en") / "tts" / "c.wav", 100, 7, rate=16000)
    with caplog.at_level(logging.WARNING, logger="audio.library"):
        played = await files.joined([names["a"], names["c"]])
    assert played == [names["a"], names["c"]]
    assert "16000" in caplog.text
    assert not (library.root / "joined").exists() or not os.listdir(library.root / "joined")


async def test_joining_can_be_turned_off(library):
    files = PromptFiles(library, join=False)
    names = files.sounds("tracer", "en")
    assert await files.joined([names["a"], names["b"]]) == [names["a"], names["b"]]
