"""`survey import --skip-unaskable`, as an operator types it: a form with questions a
phone cannot ask is refused naming each, or imported without them, listing each."""

from __future__ import annotations

from pathlib import Path

import pytest

from service_tracker.cli import main
from tests.conftest import markdown_to_xlsx

SHOP_VISIT = """
| survey |
| | type | name | label | relevant |
| | text | shop | Name of your shop? | |
| | geopoint | where | Where is it? | |
| | image | front | Photo of the front | |
| | text | why | Why no location? | ${where} = '' |
| settings |
| | form_id | version |
| | shop_visit | 1 |
"""


@pytest.fixture
def form(cli_database: Path) -> Path:
    path = cli_database / "shop_visit.xlsx"
    path.write_bytes(markdown_to_xlsx(SHOP_VISIT))
    return path


def test_a_form_with_what_a_phone_cannot_ask_is_refused_one_line_per_question(form, capsys):
    capsys.readouterr()
    assert main(["survey", "import", str(form)]) == 1
    err = capsys.readouterr().err
    assert "shop_visit.xlsx: the form has 2 error(s):" in err
    assert (
        "[unaskable_type] sheet 'survey', row 3, column 'type': type 'geopoint' asks for a "
        "GPS location" in err
    )
    assert "[unaskable_type] sheet 'survey', row 4, column 'type': type 'image'" in err


def test_skip_unaskable_imports_it_and_lists_what_was_left_out(form, capsys):
    capsys.readouterr()
    assert main(["survey", "import", str(form), "--skip-unaskable"]) == 0
    captured = capsys.readouterr()
    assert "form_id=shop_visit version=1 (imported)" in captured.out
    assert "shop_visit.xlsx: 3 warning(s):" in captured.err
    assert "[unaskable_skipped] sheet 'survey', row 3, column 'type': 'where'" in captured.err
    assert "[unaskable_skipped] sheet 'survey', row 4, column 'type': 'front'" in captured.err
    assert "[unaskable_reference] sheet 'survey', row 5, column 'relevant'" in captured.err
