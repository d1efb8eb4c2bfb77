"""RecordingFolder on a real folder: the server makes every recording's name."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from storage.recordings import BadRecordingRef, RecordingFolder


@pytest.fixture
def folder(tmp_path: Path) -> RecordingFolder:
    counter = itertools.count(1)
    return RecordingFolder(tmp_path / "recordings", random_part=lambda: f"r{next(counter)}")


async def test_a_new_recording_is_named_by_form_response_and_question_with_its_folder_made(
    folder: RecordingFolder,
) -> None:
    made = await folder.new("graduate_tracer", 42, "comment")
    assert made.ref == "graduate_tracer/42/comment-r1"
    assert made.path == str(folder.root / "graduate_tracer" / "42" / "comment-r1")
    assert Path(made.path).is_absolute()
    assert Path(made.path).parent.is_dir()
    # Asterisk's RECORD FILE adds the format to the path it is given.
    assert await folder.file_of(made.ref) == Path(made.path + ".wav")


async def test_a_relative_root_still_gives_asterisk_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    made = await RecordingFolder("var/recordings").new("tracer", 1, "story")
    assert made.path.startswith(str(tmp_path / "var" / "recordings" / "tracer" / "1" / "story-"))


async def test_every_new_recording_has_its_own_name(tmp_path: Path) -> None:
    folder = RecordingFolder(tmp_path)
    refs = {(await folder.new("tracer", 1, "story")).ref for _ in range(50)}
    assert len(refs) == 50


@pytest.mark.parametrize(
    ("form_id", "question", "ref"),
    [
        ("../../etc", "comment", "_etc/7/comment-r1"),
        ("tracer", "../../../passwd", "tracer/7/_passwd-r1"),
        ("/abs/form", "a\\b", "_abs_form/7/a_b-r1"),
        ("enquête 2026", "histoire", "enquete_2026/7/histoire-r1"),
        ("-rf", "x\x00y.z", "rf/7/x_y_z-r1"),
    ],
)
async def test_names_from_the_spreadsheet_are_made_safe(
    folder: RecordingFolder, form_id: str, question: str, ref: str
) -> None:
    made = await folder.new(form_id, 7, question)
    assert made.ref == ref
    assert Path(made.path).is_relative_to(folder.root)


async def test_a_name_with_nothing_usable_becomes_a_digest_that_keeps_names_apart(
    folder: RecordingFolder,
) -> None:
    async def top_folder(form_id: str, response_id: int = 1) -> str:
        return (await folder.new(form_id, response_id, "q")).ref.split("/")[0]

    dots, survey, questionnaire = [await top_folder(name) for name in ("..", "調査", "問卷")]
    assert len({dots, survey, questionnaire}) == 3
    assert all(name.startswith("n") and name.isalnum() for name in (dots, survey))
    assert await top_folder("調査", 2) == survey


@pytest.mark.parametrize("response_id", [0, -3, True])
async def test_a_response_id_must_be_a_positive_integer(
    folder: RecordingFolder, response_id
) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        await folder.new("tracer", response_id, "q")


async def test_a_stored_ref_resolves_to_its_file_under_the_root(folder: RecordingFolder) -> None:
    made = await folder.new("tracer", 3, "story")
    assert await folder.path_of(made.ref) == made.path


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "/etc/passwd",
        "../outside/1/x",
        "tracer/../../1/x",
        "tracer/1/../../x",
        "tracer/1/x/../../..",
        "tracer/1/story\x00",
        "tracer\\1\\story",
        "tracer//1/story",
        "tracer/1/story.wav",
        "tracer/abc/story",
        "tracer/1",
        "./tracer/1/story",
        "C:/tracer/1/story",
    ],
)
async def test_a_ref_that_is_not_one_the_server_makes_is_refused(
    folder: RecordingFolder, ref: str
) -> None:
    with pytest.raises(BadRecordingRef):
        await folder.path_of(ref)


async def test_a_symbolic_link_out_of_the_folder_is_refused(
    folder: RecordingFolder, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder.root.mkdir(parents=True)
    os.symlink(outside, folder.root / "tracer")
    with pytest.raises(BadRecordingRef, match="outside"):
        await folder.path_of("tracer/1/story-r1")
    with pytest.raises(BadRecordingRef, match="outside"):
        await folder.new("tracer", 1, "story")
    assert list(outside.iterdir()) == []  # no folder was made through the link


async def test_a_recording_file_linked_out_of_the_folder_is_refused(
    folder: RecordingFolder, tmp_path: Path
) -> None:
    made = await folder.new("tracer", 1, "story")
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF")
    os.symlink(secret, made.path + ".wav")
    with pytest.raises(BadRecordingRef, match="outside"):
        await folder.file_of(made.ref)
