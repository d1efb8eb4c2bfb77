"""Data read by expressions (issue 15): `pulldata()` from a CSV imported beside the form,
and a choice list read as data with `instance('list')/root/item[...]/column` and
`jr:itext()`, as ODK and KoBo forms preload a graduate's details or look up a choice."""

from __future__ import annotations

import pytest

from survey_engine.errors import SurveyLoadError
from survey_engine.events import AnswerKind
from survey_engine.inputs import Back
from survey_engine.xlsform import load_markdown
from tests.survey_engine.test_computed import Run

# The roster preloaded beside the form, as programmes keep it: ids, names, the trade.
GRADUATES = b"id,first_name,trade\nG-001,Amina,weld\nG-002,Brian,tailor\n"

PRELOAD = """
| survey |
| | type | name | label::English (en) | label::French (fr) | calculation |
| | text | grad_id | Your graduate id? | Votre identifiant ? | |
| | calculate | first | | | pulldata('graduates', 'first_name', 'id', ${grad_id}) |
| | calculate | trade | | | pulldata('graduates', 'trade', 'id', ${grad_id}) |
| | calculate | trade_label | | | jr:itext(instance('trades')/root/item[name = ${trade}]/itextId) |
| | calculate | sector | | | instance('trades')/root/item[name = ${trade}]/sector |
| | note | hello | Hello ${first}: you trained in ${trade_label}. | Bonjour ${first} : vous avez appris ${trade_label}. | |
| | select_one trades | now_trade | Your trade now? | Votre métier ? | |
| | calculate | other_in_sector | | | instance('trades')/root/item[sector = ${sector} and name != ${trade}]/label |
| choices |
| | list_name | name | label::English (en) | label::French (fr) | sector |
| | trades | weld | Welding | Soudure | building |
| | trades | tailor | Tailoring | Couture | garments |
| | trades | mason | Masonry | Maçonnerie | building |
"""


def test_pulldata_preloads_from_the_csv_beside_the_form_and_labels_read_in_the_language() -> None:
    survey = load_markdown(PRELOAD, media={"graduates.csv": GRADUATES})
    run = Run(survey, language="fr").send("G-001")
    assert run.screen == "Bonjour Amina : vous avez appris Soudure."
    assert run.calculated() == {
        "first": "Amina",
        "trade": "weld",
        "trade_label": "Soudure",
        "sector": "building",
        "other_in_sector": "Maçonnerie",  # `label` too is in the respondent's language
    }
    assert run.stored["grad_id"] == ("G-001", AnswerKind.TEXT)
    assert survey.media_files == {"graduates.csv"}


def test_an_id_not_in_the_file_reads_as_empty_and_a_corrected_id_recomputes() -> None:
    survey = load_markdown(PRELOAD, media={"graduates.csv": GRADUATES})
    run = Run(survey, language="en").send("G-999")
    assert run.screen == "Hello : you trained in ."
    assert set(run.calculated().values()) == {""}  # nothing matched: empty, not an error
    run.send(Back(), "G-002")  # back to the id, then the right one
    assert run.screen == "Hello Brian: you trained in Tailoring."
    assert run.calculated()["sector"] == "garments"


def test_a_file_pulldata_reads_that_was_not_imported_is_named_with_the_way_to_import_it() -> None:
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(PRELOAD)
    located = [(e.code, e.sheet, e.row, e.column) for e in raised.value.errors]
    assert located == [
        ("missing_media", "survey", 3, "calculation"),
        ("missing_media", "survey", 4, "calculation"),
    ]
    message = raised.value.errors[0].message
    assert "'graduates'" in message and "graduates.csv" in message and "--media DIR" in message


@pytest.mark.parametrize(
    ("calculation", "said"),
    [
        (
            "pulldata('graduates', 'surname', 'id', ${grad_id})",
            "'surname' at position 23 is not a column of 'graduates'",
        ),
        (
            "instance('trades')/root/item[colour = 'red']/label",
            "'colour' at position 30 is not a column of the list being read",
        ),
        ("instance('trades')/item/label", "expected 'root' at position 20"),
        ("instance('trades')/root/entry/label", "expected 'item' at position 25"),
        ("pulldata(${grad_id}, 'a', 'b', 'c')", "pulldata() at position 10 needs quoted text"),
        ("jr:itext(${grad_id})", "jr:itext() at position 1 reads the label of a choice"),
    ],
)
def test_a_misread_lookup_is_located_and_says_what_is_wrong(calculation: str, said: str) -> None:
    form = f"""
| survey |
| | type | name | label | calculation |
| | text | grad_id | Id? | |
| | calculate | looked_up | | {calculation} |
| choices |
| | list_name | name | label |
| | trades | weld | Welding |
"""
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(form, media={"graduates.csv": GRADUATES})
    (error,) = raised.value.errors
    assert (error.sheet, error.row, error.column) == ("survey", 3, "calculation")
    assert said in error.message


def test_files_beside_the_form_that_it_does_not_read_are_not_kept() -> None:
    survey = load_markdown(
        PRELOAD, media={"graduates.csv": GRADUATES, "unrelated.csv": b"name,label\na,A\n"}
    )
    assert survey.media_files == {"graduates.csv"}
