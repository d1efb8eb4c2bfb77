"""Importing the roster of graduates (`service-tracker respondents import FILE`).

A roster is a .csv or .xlsx file whose first row names the columns:

    phone            required; normalised to E.164 (a number without + is read in the
                     default region, e.g. KE)
    name, programme, cohort, gender     free text
    language         a 2-3 letter code: en, fr, ar, sw ...
    completion_date  YYYY-MM-DD (an Excel date cell too)
    anything else    kept per respondent in `attributes` (district, trade, ...)

Header names are matched without regard to case, spaces or hyphens ("Completion Date").
Respondents belong to an organisation (`storage.organisations`): a roster is imported
into one, and a number is matched only among that organisation's respondents, so two
agencies tracing the same graduate each keep their own record. A re-import updates
respondents by phone number and puts numbers that first dialled in unannounced on the
roster. An empty cell leaves the stored value as it is: a roster
without languages does not erase the languages respondents chose on their phones.

Problems with rows are reported, not raised: each `RowError` names the line (the
header is line 1, as in a spreadsheet) and the column, and the good rows are imported.
A file that cannot be read at all raises `RosterFileError` (a ValueError).

Reading and storing are two steps for callers that show a preview first (the admin
site): `read_roster` parses without touching the database, `store_roster` writes a
parsed roster in the caller's transaction, or with `dry_run` only counts what it would
create and update. `import_respondents` does both, as the command line needs.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import re
import zipfile
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import Date, String, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.organisations import organisation_for_import
from storage.schema import respondents
from survey_engine.phones import PhoneNumberError, normalize_phone, time_zone_of

__all__ = [
    "ParsedRoster",
    "RosterFileError",
    "RosterImportReport",
    "RowError",
    "import_respondents",
    "read_roster",
    "store_roster",
]

_TEXT_COLUMNS = ("name", "programme", "cohort", "gender")
_UPDATED_FIELDS = (
    "name", "language", "programme", "cohort", "gender", "completion_date", "time_zone",
)  # fmt: skip
_KNOWN = frozenset(("phone", "language", "completion_date", "time_zone", *_TEXT_COLUMNS))
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Rows per SELECT ... WHERE phone IN (...): well under SQLite's parameter limit.
_LOOKUP_CHUNK = 500


class RosterFileError(ValueError):
    """The file cannot be read as a roster at all (not a spreadsheet, not text)."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # the header is line 1
    column: str  # the header as written in the file ("" when about the whole row)
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column '{self.column}'" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class RosterImportReport:
    created: int
    updated: int
    organisation_id: int  # the roster's organisation
    organisation: str  # its name
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False  # counted only: nothing was written


@dataclass(frozen=True, slots=True)
class ParsedRoster:
    """A roster file read and checked, not yet stored: its good rows and its problems."""

    entries: tuple[_Entry, ...]
    errors: tuple[RowError, ...]

    @property
    def lines_with_errors(self) -> int:
        """Rows left out (a header problem, line 1, is not a row)."""
        return len({error.line for error in self.errors if error.line > 1})


@dataclass(slots=True)
class _Entry:
    """One good row: the values it gives (None: the cell was empty, keep what is stored)."""

    line: int
    phone: str
    values: dict[str, Any]
    attributes: dict[str, str]


async def import_respondents(
    engine: AsyncEngine,
    path_or_bytes: bytes | str | os.PathLike[str],
    *,
    filename: str,
    default_region: str | None,
    organisation: int | str | None = None,
    dry_run: bool = False,
) -> RosterImportReport:
    """Create or update `organisation`'s respondents from a roster file; `filename`
    tells .csv from .xlsx. `organisation` is an id, a name (made when new) or None: the
    only organisation, or `Default` when there is none yet
    (`storage.organisations.organisation_for_import`). With `dry_run`, nothing is
    written (not even a new organisation): the report counts what an import would do."""
    roster = await read_roster(path_or_bytes, filename=filename, default_region=default_region)
    async with engine.connect() as conn:
        transaction = await conn.begin()
        report = await store_roster(conn, roster, organisation=organisation, dry_run=dry_run)
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
    return report


async def read_roster(
    path_or_bytes: bytes | str | os.PathLike[str], *, filename: str, default_region: str | None
) -> ParsedRoster:
    """Parse and check a roster file without storing it; `RosterFileError` when it
    cannot be read at all."""
    if isinstance(path_or_bytes, bytes):
        data = path_or_bytes
    else:
        data = await asyncio.to_thread(Path(path_or_bytes).read_bytes)
    # Parsing a large workbook takes a while of CPU: keep the event loop answering.
    entries, errors = await asyncio.to_thread(_parse, data, filename, default_region)
    return ParsedRoster(tuple(entries), tuple(errors))


async def store_roster(
    conn: AsyncConnection,
    roster: ParsedRoster,
    *,
    organisation: int | str | None,
    dry_run: bool = False,
) -> RosterImportReport:
    """Store a parsed roster in the caller's transaction (so a page can record the
    import in its audit log with it); with `dry_run`, only count what would be created
    and updated."""
    organisation_id, name, created, updated = await _store(
        conn, list(roster.entries), organisation, dry_run=dry_run
    )
    return RosterImportReport(
        created, updated, organisation_id, name, list(roster.errors), dry_run=dry_run
    )


# -- reading the file -----------------------------------------------------------------


def _parse(
    data: bytes, filename: str, default_region: str | None
) -> tuple[list[_Entry], list[RowError]]:
    rows = _xlsx_rows(data) if _is_xlsx(data, filename) else _csv_rows(data)
    errors: list[RowError] = []
    entries: list[_Entry] = []
    first = next(rows, None)
    if first is None:
        return [], [RowError(1, "phone", "the file is empty: the first row must name the columns")]
    header = first[1]
    columns = _columns(header, errors)
    if "phone" not in columns.values():
        errors.append(
            RowError(1, "phone", "no 'phone' column: the first row must name the columns")
        )
        return [], errors
    seen: dict[str, int] = {}
    for line, cells in rows:
        if all(_text(cell) == "" for cell in cells):
            continue  # blank lines, often at the end of a sheet
        entry = _entry(line, cells, header, columns, default_region, errors)
        if entry is None:
            continue
        if entry.phone in seen:
            errors.append(
                RowError(
                    line,
                    _header_of(header, columns, "phone"),
                    f"the same number as line {seen[entry.phone]}",
                )
            )
            continue
        seen[entry.phone] = line
        entries.append(entry)
    return entries, errors


def _is_xlsx(data: bytes, filename: str) -> bool:
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".xls" or data.startswith(b"\xd0\xcf\x11\xe0"):  # OLE: Excel 97-2003
        raise RosterFileError("this is an old Excel (.xls) file: save it as .xlsx or .csv")
    if suffix in (".xlsx", ".xlsm"):
        return True
    if suffix in (".csv", ".txt"):
        return False
    return data.startswith(b"PK\x03\x04")  # a zip container: a workbook


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        raise RosterFileError(
            "this is not an Excel workbook (.xlsx), or it is damaged; save the roster as "
            ".xlsx or .csv"
        ) from error
    try:
        # The first sheet is the roster; read it whole so the workbook is closed at once.
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    return enumerate(rows, start=1)


def _csv_rows(data: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's plain "CSV" on Windows is cp1252, not UTF-8.
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as error:
            raise RosterFileError(
                "this file is not text in UTF-8: save the roster as 'CSV UTF-8' or .xlsx"
            ) from error
    first_line = text.split("\n", 1)[0]
    # Excel writes ';' where the decimal separator is ',' (French, ...).
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # Lines count records, as a spreadsheet shows them, even when a quoted cell has
        # newlines.
        yield from enumerate(reader, start=1)
    except csv.Error as error:  # a NUL byte, a runaway quoted cell
        raise RosterFileError(
            f"the file cannot be read as CSV near line {reader.line_num}: {error}"
        ) from error


def _columns(header: Sequence[Any], errors: list[RowError]) -> dict[int, str]:
    """Column index -> field name (a known name, or the header text for attributes)."""
    columns: dict[int, str] = {}
    for index, cell in enumerate(header):
        text = _text(cell)
        if not text:
            continue
        key = re.sub(r"[\s\-]+", "_", text.lower())
        name = key if key in _KNOWN else text
        if name in columns.values():
            errors.append(RowError(1, text, "this column appears twice; the first one is used"))
            continue
        columns[index] = name
    return columns


def _header_of(header: Sequence[Any], columns: dict[int, str], name: str) -> str:
    return next(_text(header[i]) for i, n in columns.items() if n == name)


def _entry(
    line: int,
    cells: Sequence[Any],
    header: Sequence[Any],
    columns: dict[int, str],
    default_region: str | None,
    errors: list[RowError],
) -> _Entry | None:
    problems: list[RowError] = []
    phone = ""
    values: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for index, name in columns.items():
        cell = cells[index] if index < len(cells) else None
        label = _text(header[index])
        try:
            if name == "phone":
                phone = normalize_phone(_text(cell), default_region)
            elif name == "language":
                values["language"] = _language(cell)
            elif name == "completion_date":
                values["completion_date"] = _date(cell)
            elif name == "time_zone":
                values["time_zone"] = _zone(cell)
            elif name in _TEXT_COLUMNS:
                values[name] = _limited(name, cell)
            elif (text := _text(cell)) != "":
                attributes[name] = text
        except (PhoneNumberError, ValueError) as error:
            problems.append(RowError(line, label, str(error)))
    if problems:
        errors.extend(problems)
        return None
    if not values.get("time_zone"):
        # Where the number's country has one zone, that is where the graduate lives.
        values["time_zone"] = time_zone_of(phone)
    return _Entry(line, phone, values, attributes)


def _text(cell: Any) -> str:
    """A cell as text: Excel gives numbers as floats (254712345678.0) and dates as datetimes."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat() if cell.time() == dt.time() else cell.isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    # NUL characters are never data, and PostgreSQL refuses them in text.
    return str(cell).replace("\x00", "").strip()


def _language(cell: Any) -> str | None:
    text = _text(cell).lower()
    if not text:
        return None
    if not _LANGUAGE_CODE.fullmatch(text):
        raise ValueError(
            f"'{_text(cell)}' is not a language code: use 2 or 3 letters such as en, fr, ar, sw"
        )
    return text


def _zone(cell: Any) -> str | None:
    text = _text(cell)
    if not text:
        return None
    try:
        return zoneinfo.ZoneInfo(text).key
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"'{text}' is not a time zone: use its IANA name, such as Africa/Nairobi"
        ) from None


def _date(cell: Any) -> dt.date | None:
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    text = _text(cell)
    if not text:
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a date written as YYYY-MM-DD") from None


def _limited(name: str, cell: Any) -> str | None:
    text = _text(cell)
    limit = respondents.c[name].type.length
    if limit is not None and len(text) > limit:
        raise ValueError(f"longer than {limit} characters")
    return text or None


# -- writing ----------------------------------------------------------------------------

_UPDATE = (
    update(respondents)
    .where(respondents.c.id == bindparam("b_id"))
    .values(
        # A NULL parameter (an empty cell) keeps what is stored.
        name=func.coalesce(bindparam("b_name", type_=String()), respondents.c.name),
        language=func.coalesce(bindparam("b_language", type_=String()), respondents.c.language),
        programme=func.coalesce(bindparam("b_programme", type_=String()), respondents.c.programme),
        cohort=func.coalesce(bindparam("b_cohort", type_=String()), respondents.c.cohort),
        gender=func.coalesce(bindparam("b_gender", type_=String()), respondents.c.gender),
        completion_date=func.coalesce(
            bindparam("b_completion_date", type_=Date()), respondents.c.completion_date
        ),
        time_zone=func.coalesce(bindparam("b_time_zone", type_=String()), respondents.c.time_zone),
        attributes=bindparam("b_attributes", type_=respondents.c.attributes.type),
        on_roster=True,
        updated_at=bindparam("b_now", type_=respondents.c.updated_at.type),
        grouped_at=bindparam("b_now", type_=respondents.c.updated_at.type),
    )
)


async def _store(
    conn: AsyncConnection,
    entries: list[_Entry],
    organisation: int | str | None,
    *,
    dry_run: bool,
) -> tuple[int, str, int, int]:
    """(organisation id, its name, respondents created, updated)."""
    now = dt.datetime.now(dt.UTC)
    organisation_id, name = await organisation_for_import(conn, organisation, now)
    if not entries:
        return organisation_id, name, 0, 0
    existing: dict[str, tuple[int, dict[str, Any]]] = {}
    phones = [entry.phone for entry in entries]
    for start in range(0, len(phones), _LOOKUP_CHUNK):
        chunk = phones[start : start + _LOOKUP_CHUNK]
        result = await conn.execute(
            select(respondents.c.phone, respondents.c.id, respondents.c.attributes).where(
                respondents.c.organisation_id == organisation_id,
                respondents.c.phone.in_(chunk),
            )
        )
        for phone, respondent_id, attributes in result:
            existing[phone] = (respondent_id, attributes or {})

    new = [
        {
            "organisation_id": organisation_id,
            "phone": entry.phone,
            "name": entry.values.get("name") or "",
            "language": entry.values.get("language"),
            "programme": entry.values.get("programme") or "",
            "cohort": entry.values.get("cohort") or "",
            "gender": entry.values.get("gender") or "",
            "completion_date": entry.values.get("completion_date"),
            "time_zone": entry.values.get("time_zone"),
            "on_roster": True,
            "attributes": entry.attributes,
            "created_at": now,
            "updated_at": now,
            "grouped_at": now,
        }
        for entry in entries
        if entry.phone not in existing
    ]
    changed = [
        {
            "b_id": existing[entry.phone][0],
            **{f"b_{name}": entry.values.get(name) for name in _UPDATED_FIELDS},
            "b_attributes": {**existing[entry.phone][1], **entry.attributes},
            "b_now": now,
        }
        for entry in entries
        if entry.phone in existing
    ]
    if dry_run:
        return organisation_id, name, len(new), len(changed)
    if new:
        await conn.execute(respondents.insert(), new)
    if changed:
        await conn.execute(_UPDATE, changed)
    return organisation_id, name, len(new), len(changed)
