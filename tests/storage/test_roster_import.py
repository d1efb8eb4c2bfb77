"""Importing rosters of graduates from CSV and Excel files."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.organisations import organisation_id as organisation_id_of
from storage.respondents import RosterFileError, RowError, import_respondents
from storage.responses import SqlResponseStore
from storage.schema import respondents

HEADER = "phone,name,language,programme,cohort,completion_date,gender,district\n"


async def _roster(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(respondents).order_by(respondents.c.phone))
        return {row.phone: dict(row._mapping) for row in rows}


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_good_rows_are_imported_and_bad_ones_reported_by_line_and_column(
    engine: AsyncEngine,
) -> None:
    csv = (
        HEADER
        + "+254712300481,Wanjiru Kamau,sw,Tailoring,2025-B,2026-01-30,F,Kisumu Central\n"
        + "0722845016,Brian Otieno,EN,Solar PV,2025-B,,M,Nakuru East\n"  # KE national form
        + "12345,Bad Phone,en,ICT,2025-C,2026-02-27,F,Arusha\n"
        + "+255754218733,Bad Date,sw,ICT,2025-C,27/02/2026,F,Arusha\n"
        + "+255713604952,Bad Language,Swahili,ICT,2025-C,2026-02-31,M,Mbeya\n"
        + ",,,,,,,\n"  # blank line: ignored
        + "+254712300481,Same Number,sw,Tailoring,2025-B,2026-01-30,F,Kisumu\n"
    )
    report = await import_respondents(
        engine, csv.encode(), filename="roster.csv", default_region="KE"
    )

    assert (report.created, report.updated) == (2, 0)
    assert report.errors == [
        RowError(4, "phone", report.errors[0].message),
        RowError(5, "completion_date", "'27/02/2026' is not a date written as YYYY-MM-DD"),
        RowError(
            6,
            "language",
            "'Swahili' is not a language code: use 2 or 3 letters such as en, fr, ar, sw",
        ),
        RowError(6, "completion_date", "'2026-02-31' is not a date written as YYYY-MM-DD"),
        RowError(8, "phone", "the same number as line 2"),
    ]
    assert "12345" in report.errors[0].message

    roster = await _roster(engine)
    assert set(roster) == {"+254712300481", "+254722845016"}
    wanjiru = roster["+254712300481"]
    assert (wanjiru["name"], wanjiru["language"], wanjiru["programme"], wanjiru["cohort"]) == (
        "Wanjiru Kamau",
        "sw",
        "Tailoring",
        "2025-B",
    )
    assert (wanjiru["completion_date"], wanjiru["gender"], wanjiru["on_roster"]) == (
        dt.date(2026, 1, 30),
        "F",
        True,
    )
    assert wanjiru["attributes"] == {"district": "Kisumu Central"}
    brian = roster["+254722845016"]
    assert (brian["language"], brian["completion_date"]) == ("en", None)


@pytest.mark.parametrize("data", [b"name,language\nAmina,sw\n", b""])
async def test_a_file_without_a_phone_column_is_one_error(engine: AsyncEngine, data: bytes) -> None:
    report = await import_respondents(engine, data, filename="r.csv", default_region="KE")
    assert (report.created, report.updated) == (0, 0)
    assert [(e.line, e.column) for e in report.errors] == [(1, "phone")]


async def test_a_column_named_twice_is_reported_and_the_first_one_used(
    engine: AsyncEngine,
) -> None:
    report = await import_respondents(
        engine,
        b"phone,Name,name\n+254712300481,Wanjiru,Other\n",
        filename="r.csv",
        default_region=None,
    )
    assert report.created == 1
    assert [(e.line, e.column) for e in report.errors] == [(1, "name")]
    assert (await _roster(engine))["+254712300481"]["name"] == "Wanjiru"


async def test_excel_rosters_with_numeric_phones_and_date_cells(engine: AsyncEngine) -> None:
    data = _xlsx(
        [
            ["Phone", "Name", "Completion Date", "Language", "Trade"],
            [254712300481, "Wanjiru", dt.datetime(2026, 1, 30), "sw", "Tailoring"],
            ["+255754218733", "Neema", "2026-02-27", None, 3.0],
            ["+255713604952", "Baraka", "soon", "sw", None],
        ]
    )
    report = await import_respondents(engine, data, filename="roster.xlsx", default_region="KE")
    assert (report.created, report.updated) == (2, 0)
    assert report.errors == [
        RowError(4, "Completion Date", "'soon' is not a date written as YYYY-MM-DD")
    ]
    roster = await _roster(engine)
    assert roster["+254712300481"]["completion_date"] == dt.date(2026, 1, 30)
    assert roster["+254712300481"]["attributes"] == {"Trade": "Tailoring"}
    assert roster["+255754218733"]["attributes"] == {"Trade": "3"}
    assert roster["+255754218733"]["language"] is None


async def test_semicolons_a_byte_order_mark_and_stray_nul_characters_are_handled(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes("\ufeffphone;name\n+254712300481;Wanjiru Kamau\x00\n".encode())
    report = await import_respondents(engine, path, filename=path.name, default_region=None)
    assert (report.created, report.errors) == (1, [])
    assert (await _roster(engine))["+254712300481"]["name"] == "Wanjiru Kamau"


async def test_reimport_updates_by_phone_and_keeps_what_empty_cells_do_not_give(
    engine: AsyncEngine,
) -> None:
    store = SqlResponseStore(engine)
    async with engine.begin() as conn:
        organisation_id = await organisation_id_of(conn, "Default", dt.datetime.now(dt.UTC))
    walk_in = await store.create_respondent(organisation_id, "+254722845016", "en")
    assert walk_in.on_roster is False

    await import_respondents(
        engine,
        (HEADER + "+254712300481,Wanjiru,sw,Tailoring,2025-B,2026-01-30,F,Kisumu\n").encode(),
        filename="r.csv",
        default_region="KE",
    )
    report = await import_respondents(
        engine,
        b"phone,name,language,cohort,trade\n"
        b"+254712300481,Wanjiru Kamau,,2025-C,Dressmaking\n"
        b"+254722845016,Brian Otieno,,,\n",
        filename="r.csv",
        default_region="KE",
    )
    assert (report.created, report.updated, report.errors) == (0, 2, [])

    roster = await _roster(engine)
    wanjiru = roster["+254712300481"]
    assert (wanjiru["name"], wanjiru["language"], wanjiru["programme"], wanjiru["cohort"]) == (
        "Wanjiru Kamau",
        "sw",
        "Tailoring",
        "2025-C",
    )
    assert wanjiru["attributes"] == {"district": "Kisumu", "trade": "Dressmaking"}
    brian = roster["+254722845016"]
    assert (brian["name"], brian["language"], brian["on_roster"]) == ("Brian Otieno", "en", True)
    assert len(roster) == 2


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"PK\x03\x04garbage", "roster.xlsx", "not an Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "roster.xls", "old Excel"),
        (b'phone\n"' + b"x" * 200_000, "roster.csv", "near line 2"),  # a quote never closed
        (b"phone\n\x81\x8d\x8f\n", "roster.csv", "not text in UTF-8"),
    ],
)
async def test_a_file_that_is_not_a_roster_is_refused(
    engine: AsyncEngine, data: bytes, filename: str, message: str
) -> None:
    with pytest.raises(RosterFileError, match=message):
        await import_respondents(engine, data, filename=filename, default_region=None)


async def test_where_a_graduate_lives_comes_from_the_roster_else_from_the_number(
    engine: AsyncEngine,
) -> None:
    roster = (
        "phone,name,time_zone\n"
        "+254712300481,Wanjiru,\n"  # Kenya has one zone
        "+9613123456,Rami,Asia/Beirut\n"
        "+61412345678,Chloe,\n"  # Australia has several: nobody guesses
        "+254712300482,Otieno,Nairobi\n"  # not an IANA name
    )
    report = await import_respondents(
        engine, roster.encode(), filename="r.csv", default_region="KE"
    )
    assert report.created == 3
    assert [(e.line, e.column) for e in report.errors] == [(5, "time_zone")]
    assert "is not a time zone: use its IANA name, such as Africa/Nairobi" in str(
        report.errors[0].message
    )
    async with engine.connect() as conn:
        zones = dict(
            (await conn.execute(select(respondents.c.name, respondents.c.time_zone))).all()
        )
    assert zones == {"Wanjiru": "Africa/Nairobi", "Rami": "Asia/Beirut", "Chloe": None}
