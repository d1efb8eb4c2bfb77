"""`select_one_from_file x.csv`: choices from a CSV imported beside the form
(`survey import FORM --media DIR`), as ODK and KoBo forms list long lists (districts,
schools) without a choices sheet."""

from __future__ import annotations

import pytest

from survey_engine.errors import SurveyLoadError
from survey_engine.inputs import Answer
from survey_engine.machine import advance, start
from survey_engine.xlsform import load_markdown

FORM = """
| survey |
| | type | name | label | choice_filter |
| | select_one_from_file regions.csv | region | Region? | |
| | select_one_from_file towns.csv | town | Town? | region=${region} |
| | select_multiple_from_file trades.csv | trades | Trades? | |
"""
MEDIA = {
    "regions.csv": b"name,label\ncoast,Coast\nrift,Rift Valley\n",
    "towns.csv": b"name,label,region\nmombasa,Mombasa,coast\nnakuru,Nakuru,rift\neldoret,Eldoret,rift\n",
    "trades.csv": "\ufeffname,label::English (en)\nweld,Welding\nwire,Wiring\n".encode(),
}


def test_choices_come_from_the_csv_beside_the_form_filtered_like_a_sheet() -> None:
    survey = load_markdown(FORM, media=MEDIA)
    turn = start(survey)
    assert turn.prompt is not None
    assert [c.label for c in turn.prompt.choices] == ["Coast", "Rift Valley"]
    turn = advance(survey, turn.state, Answer("2"))
    assert [c.label for c in turn.prompt.choices] == ["Nakuru", "Eldoret"]
    turn = advance(survey, turn.state, Answer("2"))
    turn = advance(survey, turn.state, Answer("1 2"))
    assert turn.state.answers == {"region": "rift", "town": "eldoret", "trades": "weld wire"}


def test_a_file_not_imported_beside_the_form_is_named_with_the_way_to_import_it() -> None:
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(FORM, media={"regions.csv": MEDIA["regions.csv"]})
    errors = raised.value.errors
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("missing_choice_list", "survey", 3, "type"),
        ("missing_choice_list", "survey", 4, "type"),
    ]
    assert "--media DIR" in errors[0].message and "towns.csv" in errors[0].message


def test_a_choice_in_the_csv_without_a_name_is_located_in_the_file() -> None:
    media = {**MEDIA, "trades.csv": b"name,label\nweld,Welding\n,Wiring\n"}
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(FORM, media=media)
    assert [(e.code, e.sheet, e.row) for e in raised.value.errors] == [
        ("invalid_name", "trades.csv", 3)
    ]


def test_only_csv_lists_are_read() -> None:
    form = FORM.replace("towns.csv", "towns.geojson")
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(form, media=MEDIA)
    assert "only .csv files" in raised.value.errors[0].message
