"""Errors of the engine.

    EngineError              a caller misused the engine (bad state bytes, unknown survey)
    SurveyLoadError          an XLSForm could not be compiled; carries FormErrors

A form can also load with *warnings* (`FormWarning`, located like a `FormError`):
something was read in a way its author should know about, such as a language that no
registry knows, or a question a phone cannot ask left out by `--skip-unaskable`. They
ride on `Survey.warnings`; nothing refuses the form for them.

A *broken survey at run time* (an expression that fails on real answers, a skip
loop) never raises: the session ends as failed with a `Failed` event, so the
channel can still answer the respondent politely.
"""

from __future__ import annotations

from dataclasses import dataclass


class EngineError(Exception):
    """Raised when the engine is called wrongly; `code` is stable for tests and logs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class _Located:
    """Where in a form, and what: `row` is the spreadsheet row (the header is row 1),
    `column` the header text of the column; either may be None when it is sheet-wide."""

    code: str
    message: str
    sheet: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {_where(self.sheet, self.row, self.column)}{self.message}"


@dataclass(frozen=True, slots=True)
class FormError(_Located):
    """One problem in an uploaded form, located for the person who wrote it."""


@dataclass(frozen=True, slots=True)
class FormWarning(_Located):
    """Something in an imported form its author should know, located like a FormError;
    the form still loads."""


def _where(sheet: str, row: int | None, column: str | None) -> str:
    where = [f"sheet '{sheet}'"] if sheet else []
    if row is not None:
        where.append(f"row {row}")
    if column is not None:
        where.append(f"column '{column}'")
    return f"{', '.join(where)}: " if where else ""


class SurveyLoadError(Exception):
    """The form has errors; every one found is listed, not just the first."""

    def __init__(self, errors: list[FormError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))
