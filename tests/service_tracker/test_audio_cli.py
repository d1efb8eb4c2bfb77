"""`service-tracker audio render|upload|coverage` as an operator runs them: a real
database, real espeak-ng, real files under AUDIO_DIR."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

from service_tracker.cli import main
from tests.conftest import markdown_to_xlsx

FORM = """
| survey |
| | type | name | label::English (en) | label::Français (fr) |
| | select_one yn | consent | Do you agree? | Acceptez-vous ? |
| | text | improve | What should improve? | Que faut-il améliorer ? |
| choices |
| | list_name | name | label::English (en) | label::Français (fr) |
| | yn | yes | Yes | Oui |
| | yn | no | No | Non |
| settings |
| | form_id | version | default_language |
| | voice_test | 1 | English (en) |
"""


@pytest.fixture
def imported(cli_database: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tmp_path = cli_database
    monkeypatch.setenv("AUDIO_DIR", str(tmp_path / "audio"))
    form = tmp_path / "voice.xlsx"
    form.write_bytes(markdown_to_xlsx(FORM))
    assert main(["survey", "import", str(form)]) == 0
    return tmp_path / "audio"


def test_render_then_coverage_then_upload_with_espeak(imported, tmp_path, capsys):
    assert main(["audio", "render", "--survey", "voice_test", "--engine", "espeak"]) == 0
    captured = capsys.readouterr()
    assert "0 missing" in captured.out and "rendering" in captured.err
    assert (imported / "en" / "surveys" / "voice_test.json").is_file()
    assert (imported / "fr" / "tts" / "espeak").is_dir()

    assert main(["audio", "coverage", "--survey", "voice_test"]) == 0
    table = capsys.readouterr().out
    assert "language" in table and "recorded" in table and "synthetic" in table
    en_row = next(line for line in table.splitlines() if line.startswith("en (English)"))
    recorded, synthetic, fallback, missing, total = (int(n) for n in en_row.split()[2:])
    assert (recorded, fallback, missing) == (0, 0, 0) and synthetic == total > 40

    recording = tmp_path / "karibu.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en", "-w", str(recording), "Do you agree to answer?"], check=True
    )
    args = ["audio", "upload", "--survey", "voice_test", "--key", "consent.label"]
    assert main([*args, "--language", "en", str(recording)]) == 0
    assert "consent.label (en) now plays" in capsys.readouterr().out
    played = imported / "en" / "recorded" / "voice_test" / "consent.label.wav"
    with wave.open(str(played)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)

    assert main(["audio", "coverage", "--survey", "voice_test", "--keys"]) == 0
    listing = capsys.readouterr().out
    line = next(row for row in listing.splitlines() if row.strip().startswith("consent.label "))
    assert "recorded" in line and "recorded/voice_test/consent.label.wav" in line


def test_only_one_language_is_rendered_when_asked(imported, capsys):
    assert (
        main(
            ["audio", "render", "--survey", "voice_test", "--engine", "espeak", "--language", "fr"]
        )
        == 0
    )
    assert not (imported / "en").exists()
    assert main(["audio", "render", "--survey", "voice_test", "--language", "de"]) == 1
    assert "has no language 'de' (it has: en, fr)" in capsys.readouterr().err


def test_a_bad_upload_is_refused_with_a_clear_message_and_no_traceback(imported, tmp_path, capsys):
    fake = tmp_path / "interview.mp3"
    fake.write_text("these are my notes, not a recording")
    args = ["audio", "upload", "--survey", "voice_test", "--key", "consent.label"]
    assert main([*args, "--language", "en", str(fake)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("refused: ") and "interview.mp3" in err and "Traceback" not in err
    assert main(["audio", "coverage", "--survey", "nope"]) == 1
    assert "no survey with id or form_id 'nope'" in capsys.readouterr().err


def test_an_audio_folder_that_cannot_be_written_is_named_without_a_traceback(
    imported, tmp_path, monkeypatch, capsys
):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the audio folder should be")
    monkeypatch.setenv("AUDIO_DIR", str(blocked / "audio"))
    assert main(["audio", "render", "--survey", "voice_test", "--engine", "espeak"]) == 1
    err = capsys.readouterr().err
    assert f"cannot write to the audio folder {blocked / 'audio'} (AUDIO_DIR)" in err
    assert "Traceback" not in err


def test_a_write_failing_mid_render_stops_it_with_a_message(imported, capsys):
    (imported / "en").mkdir(parents=True)
    (imported / "en" / "tts").write_text("a file where the speech folder should be")
    assert main(["audio", "render", "--survey", "voice_test", "--engine", "espeak"]) == 1
    err = capsys.readouterr().err
    assert "render stopped: cannot write" in err and "Traceback" not in err


LOCAL_FORM = """
| survey |
| | type | name | label::English | label::Local language |
| | select_one yn | consent | Do you agree? | Unakubali? |
| choices |
| | list_name | name | label::English | label::Local language |
| | yn | yes | Yes | Ee |
| | yn | no | No | Aa |
| settings |
| | form_id | version |
| | local_test | 1 |
"""


def test_a_language_without_a_code_is_skipped_by_voice_with_the_reason(imported, tmp_path, capsys):
    form = tmp_path / "local.xlsx"
    form.write_bytes(markdown_to_xlsx(LOCAL_FORM))
    assert main(["survey", "import", str(form)]) == 0
    capsys.readouterr()
    assert main(["audio", "render", "--survey", "local_test", "--engine", "espeak"]) == 0
    captured = capsys.readouterr()
    assert "Local language (x-local) skipped: voice needs the language's code" in captured.err
    assert "'label::Local language (xx)'" in captured.err and "0 missing" in captured.out
    assert (imported / "en" / "surveys" / "local_test.json").is_file()
    assert not (imported / "x-local").exists()
    # Asked for that language alone, nothing can be rendered: a failure.
    args = ["audio", "render", "--survey", "local_test", "--language", "x-local"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "skipped: voice needs the language's code" in err and "nothing to render" in err
