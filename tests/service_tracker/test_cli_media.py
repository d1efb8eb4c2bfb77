"""`survey import FORM --media DIR`, as an operator types it: the CSV a form lists its
choices from is imported with it, or the form is refused naming the missing file."""

from __future__ import annotations

from pathlib import Path

import pytest

from service_tracker.cli import main
from tests.conftest import markdown_to_xlsx

FORM = """
| survey |
| | type | name | label |
| | select_one_from_file districts.csv | district | District? |
| settings |
| | form_id | version |
| | listed | 1 |
"""


@pytest.fixture
def form(cli_database: Path) -> Path:
    path = cli_database / "listed.xlsx"
    path.write_bytes(markdown_to_xlsx(FORM))
    return path


def test_the_list_beside_the_form_is_imported_with_it(form, tmp_path, capsys):
    media = tmp_path / "media"
    media.mkdir()
    (media / "districts.csv").write_text("name,label\nkisumu,Kisumu\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["survey", "import", str(form), "--media", str(media)]) == 0
    assert "form_id=listed version=1 (imported)" in capsys.readouterr().out


def test_without_media_the_missing_list_is_named_with_the_way_to_import_it(form, capsys):
    capsys.readouterr()
    assert main(["survey", "import", str(form)]) == 1
    err = capsys.readouterr().err
    assert "row 2, column 'type'" in err and "districts.csv" in err and "--media DIR" in err


def test_a_media_folder_that_is_not_one_is_said(form, tmp_path, capsys):
    capsys.readouterr()
    assert main(["survey", "import", str(form), "--media", str(tmp_path / "nope")]) == 1
    assert "not a folder" in capsys.readouterr().err
