"""Load an XLSForm (the spreadsheet ODK and KoBo users already write) into a `Survey`.

pyxform's readers turn the workbook into rows of strings; everything after that is
ours, because pyxform's XForm builder has other semantics (repeats, calculations, XML).
Each sheet has its own function; a `_Context` collects every problem found, so the
author sees the whole list at once as `SurveyLoadError([FormError, ...])`, each error
located by sheet, row (the header is row 1) and column header as written.

Choices made where XLSForm leaves room:

* Groups are flattened: a group's `relevant` is ANDed into each child's relevant as
  `(group) and (child)`. Group labels are not shown; group names are optional.
* The workbook may be .xlsx or the old .xls; pyxform's readers read both.
* Column headers and question types are read through pyxform's own alias tables
  (`bind:relevant`, `label:English`, `caption`, `select one from LIST`, `int`, `gps`...),
  then named as this module names them (`_parse_column`, `_canonical_type`). A few
  older spellings pyxform no longer maps (`text:English`, `constraint-msg`) are read
  too, unless the sheet also has the column under its current name.
* Languages come from `label::Name (code)` columns, in column order (survey sheet, then
  choices). Without a code, the name is looked up in the language registry langcodes
  ships, in English or in the language itself (`label::Kiswahili`, `label::中文`), and a
  bare code (`label::EN`) is taken as a code. A name the registry does not know
  (`label::Local language`) still loads, with a warning: its code is made from the name
  under BCP 47's private use, `x-local` (the first 6 ASCII letters or digits of its first
  word, or 6 hex digits of the name's hash when another name has that code or nothing of
  it is ASCII): 8 characters at most, as responses store a code, and safe in folder names
  and prompt keys; no voice can speak it. A plain `label` column belongs to the default language:
  `settings.default_language` when set, else the first label column's language, or
  English (en) when the plain column comes first. Where a plain and a coded column
  give the same language, the coded cell wins and the plain one fills its blanks.
* `hint`, `constraint_message` and `required_message` fall back to the default
  language's text; with none at all the key is absent (the engine has a system phrase).
* `version` defaults to the first 10 hex digits of the sha256 of the uploaded bytes.
* A select's `choice_filter` may use the choices sheet's columns, including `name`.
* Choice names may start with a digit ("1", "2") but may not contain spaces, since a
  select_multiple answer is its choice names separated by spaces.
* `calculate` rows (and any row with a `calculation`, since ODK would overwrite what is
  typed in it), `hidden` rows (their `default`) and the metadata types are computed
  values (`Survey.calculations`), never asked; each is kept in an order where it
  follows what it refers to, and a cycle is a load error. `default` on an asked
  question is checked against its type when it is a plain value; with `${` or a
  function call it is an expression, computed when the question is asked.
* A name may repeat within a list only when the settings sheet's
  `allow_choice_duplicates` is yes (pyxform's rule; cascading lists told apart by a
  `choice_filter` use it). An answer stores the name alone, as ODK does, so `${county}
  = 'king'` and exports read the same; its label is that of the first choice of the
  name the question's choice_filter shows. In the audio catalogue the second `king`
  is `q.choice.king~2`, so each has its own prompt.
* `select_one LIST or_other` (also `or other`, `or specify other`), as pyxform: an
  `other` choice is added to the question's list unless it has one, labelled "Other"
  (a system phrase, in each language), and a text question `<name>_other` ("Please
  specify.") follows, relevant when `other` is selected. pyxform refuses it with a
  choice_filter, and so do we.
* Repeats are unrolled here, pass by pass, into questions named `x[1]`, `x[2]`...
  (`_Repeats`), so the engine knows no repeat: at most `MAX_REPEAT_PASSES`, each
  relevant while its pass is (its `repeat_count`, or "Add another?" answered yes after
  the pass before, a generated select_one named after the repeat). A repeat's label is
  not shown. Nested repeats are refused. `begin loop over LIST` is a repeat of one pass
  per choice, its `%(label)s` / `%(name)s` said as that choice (`_Repeats._loop_item`).
* Columns we do not use (`media::audio`, `read_only`...) are ignored.
* Two columns for the same thing (`label` and `caption`, `relevant` and `bind:relevant`)
  are refused, as pyxform refuses them.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import hashlib
import io
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import langcodes
from pyxform import aliases as pyxform_aliases
from pyxform.errors import PyXFormError, PyXFormReadError
from pyxform.parsing.sheet_headers import process_header
from pyxform.question import MultipleChoiceQuestion, Option
from pyxform.question_type_dictionary import QUESTION_TYPE_DICT
from pyxform.survey import Survey as PyxformSurvey
from pyxform.xls2json_backends import md_to_dict, xls_to_dict, xlsx_to_dict

from survey_engine.errors import FormError, FormWarning, SurveyLoadError
from survey_engine.expressions import (
    GEO_FUNCTIONS,
    NAME_PATTERN,
    Expression,
    ExpressionError,
    MissingTableError,
    Table,
    UnsupportedFunctionError,
    UnsupportedPatternError,
    compile_expression,
)
from survey_engine.model import (
    MAX_ATTEMPTS,
    MAX_REPEAT_PASSES,
    PRIVATE_USE_PREFIX,
    Calculation,
    Choice,
    Language,
    Metadata,
    Pipe,
    Question,
    QuestionType,
    Survey,
    Text,
    canonical_datetime,
    canonical_time,
)
from survey_engine.paths import (
    PathError,
    RepeatPath,
    fixed_pass,
    predicate_in_pass,
    relative_paths,
    repeat_paths,
)
from survey_engine.phrases import phrase

__all__ = ["FormErrorCode", "FormWarningCode", "load_markdown", "load_xlsform"]


class FormErrorCode(enum.StrEnum):
    """Stable codes of `FormError.code`; tests and the admin rely on them."""

    UNREADABLE_FILE = "unreadable_file"  # not an .xlsx/.xls, damaged, duplicate column header
    MISSING_SHEET = "missing_sheet"  # no survey sheet; no choices sheet but a select
    EMPTY_SURVEY = "empty_survey"  # the survey sheet has no question
    # type/name/label/list_name, or one language's label; `column` is the header expected
    MISSING_COLUMN = "missing_column"
    UNKNOWN_TYPE = "unknown_type"  # a type we do not know, or content with no type
    UNSUPPORTED_TYPE = "unsupported_type"  # XLSForm knows it, we do not ask it (yet)
    # asks for what a phone cannot give (geopoint, image...): see --skip-unaskable
    UNASKABLE_TYPE = "unaskable_type"
    INVALID_NAME = "invalid_name"  # missing or malformed name (question, choice, list)
    DUPLICATE_NAME = "duplicate_name"  # two questions with one name
    UNDEFINED_REFERENCE = "undefined_reference"  # ${x} that is not a question
    MISSING_CHOICE_LIST = "missing_choice_list"  # select_one LIST with no such list
    EMPTY_CHOICE_LIST = "empty_choice_list"  # the list has no usable choice
    DUPLICATE_CHOICE = "duplicate_choice"  # one choice name twice in a list
    BAD_EXPRESSION = "bad_expression"  # relevant/constraint/choice_filter does not parse
    # regex() with a back-reference or look-around: valid elsewhere, not linear-time
    UNSUPPORTED_PATTERN = "unsupported_pattern"
    MISSING_LABEL = "missing_label"  # a question or choice without text in a language
    # No longer raised: a name no registry knows loads with a warning (kept for old logs).
    LANGUAGE_CODE_MISSING = "language_code_missing"
    UNKNOWN_LANGUAGE = "unknown_language"  # hint::X (x) where X has no label column
    BAD_REQUIRED = "bad_required"  # required is not yes/no
    BAD_SETTING = "bad_setting"  # form_id, default_language or max_attempts unusable
    DOT_OUTSIDE_CONSTRAINT = "dot_outside_constraint"  # `.` outside a constraint
    BARE_NAME_OUTSIDE_CHOICE_FILTER = "bare_name_outside_choice_filter"
    UNBALANCED_GROUP = "unbalanced_group"  # end group without begin, or never ended
    MISSING_CALCULATION = "missing_calculation"  # a calculate row with no calculation
    CALCULATION_CYCLE = "calculation_cycle"  # calculations that depend on each other
    BAD_DEFAULT = "bad_default"  # a default that is not an answer of the question's type
    # position(), pulldata(), instance()...: XLSForm has them, this engine not yet
    UNSUPPORTED_FUNCTION = "unsupported_function"
    # pulldata('x', ...) or instance('x') of no choice list and no file x.csv beside it
    MISSING_MEDIA = "missing_media"
    OR_OTHER_WITH_CHOICE_FILTER = "or_other_with_choice_filter"  # as pyxform refuses it
    NESTED_REPEAT = "nested_repeat"  # a repeat inside a repeat
    BAD_REPEAT_COUNT = "bad_repeat_count"  # a fixed repeat_count above the most passes
    # ${x} of a repeat's question outside it, other than count(${x}) or sum(${x})
    REPEAT_REFERENCE = "repeat_reference"
    DUPLICATE_COLUMN = "duplicate_column"  # two headers for one column: label and caption


class FormWarningCode(enum.StrEnum):
    """Stable codes of `FormWarning.code`: the form loads, its author should know."""

    UNREGISTERED_LANGUAGE = "unregistered_language"  # label::Local language: USSD only
    IGNORED_COLUMN = "ignored_column"  # an old spelling beside the column's current name
    MISSING_TRANSLATION = "missing_translation"  # a label missing in one language
    CHOICE_NAME_AS_LABEL = "choice_name_as_label"  # a choice with no label at all
    UNASKABLE_SKIPPED = "unaskable_skipped"  # left out by --skip-unaskable
    UNASKABLE_REFERENCE = "unaskable_reference"  # ${x} of a question left out: empty
    UNKNOWN_CHOICE_COLUMN = "unknown_choice_column"  # a choice_filter's name no column has
    NOTHING_TO_ASK = "nothing_to_ask"  # only computed values: a response completes at once
    FORM_ID_CHANGED = "form_id_changed"  # a form_id with spaces: kept with _ instead
    CHOICE_ROW_IGNORED = "choice_row_ignored"  # a choices row with no list_name and no name


Code = FormErrorCode
SURVEY, CHOICES, SETTINGS = "survey", "choices", "settings"
EXTERNAL_CHOICES = "external_choices"
FILE = ""  # the sheet of errors about the whole file

_NAME_RE = re.compile(NAME_PATTERN)
_PIPE_RE = re.compile(r"\$\{([^}]*)\}")
_LANGUAGE_RE = re.compile(r"(.*?)\s*\(\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)\s*\)")
# Direction marks often ride along with Arabic headers typed in Excel.
_BIDI_MARKS = dict.fromkeys([0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls format

_TRANSLATABLE = frozenset({"label", "hint", "constraint_message", "required_message"})
# Choices-sheet columns that are not data for a choice_filter.
_NOT_CHOICE_DATA = frozenset({"list_name", "name", "media", "image", "audio", "video", "big-image"})

# Types by the names `_canonical_type` gives them (`int` is `integer`, `gps` `geopoint`).
_SIMPLE_TYPES = {
    "integer": QuestionType.INTEGER,
    "decimal": QuestionType.DECIMAL,
    "text": QuestionType.TEXT,
    "date": QuestionType.DATE,
    "time": QuestionType.TIME,
    "datetime": QuestionType.DATETIME,
    "note": QuestionType.NOTE,
}
_SELECT_TYPES = {
    ("select_one",): QuestionType.SELECT_ONE,
    ("select_multiple",): QuestionType.SELECT_MULTIPLE,
    ("rank",): QuestionType.RANK,
    # Its list is on the external_choices sheet (ODK ships it as itemsets.csv).
    ("select_one_external",): QuestionType.SELECT_ONE,
    # Their list is a CSV file imported beside the form (`survey import --media DIR`).
    ("select_one_from_file",): QuestionType.SELECT_ONE,
    ("select_multiple_from_file",): QuestionType.SELECT_MULTIPLE,
}
# Collected by ODK on the device; filled by the system here (start, end, today,
# phonenumber, deviceid) or kept empty (the others).
_METADATA_TYPES = {m.value: m for m in Metadata}
_COMPUTED_TYPES = frozenset({"calculate", "hidden"})
# A tick to go on (`trigger` is its old name): asked as one choice, OK.
_ACKNOWLEDGE_TYPES = frozenset({"acknowledge", "trigger"})
_UNSUPPORTED_TYPES = frozenset(
    {
        "range",
        "xml-external",
        "csv-external",
        "select_multiple_external",
        "osm",
    }
)
# What a phone cannot give, by pyxform's bind type (and media type for `binary`).
_UNASKABLE_BINDS = {
    "geopoint": "a GPS location",
    "geotrace": "a line of GPS points",
    "geoshape": "an area of GPS points",
    "barcode": "a barcode scan",
    "image/*": "a photo",
    "audio/*": "an audio recording",
    "video/*": "a video",
    "application/*": "a file",
    "osm/*": "an OpenStreetMap feature",
}
_UNASKABLE_ACTIONS = {"action", "trigger"}  # start-geopoint, background-audio/-geopoint


def _unaskable_types() -> dict[str, str]:
    """Type (every spelling pyxform accepts, casefolded) -> what it asks for, for the
    types a phone cannot ask; from pyxform's own type table, so aliases (`gps`,
    `photo`, `add location prompt`) are included. Types without a control (`audit`)
    are metadata, not questions."""
    found = {}
    for name, definition in QUESTION_TYPE_DICT.items():
        bind, control = definition.get("bind", {}), definition.get("control", {})
        kind = bind.get("type")
        if kind == "binary":  # background-audio has no media type
            kind = control.get("mediatype") or f"{name.rpartition('-')[2]}/*"
        what = _UNASKABLE_BINDS.get(kind or "")
        if what is not None and control.get("tag"):
            if control.get("tag") in _UNASKABLE_ACTIONS:
                what = f"{what}, taken by the device in the background"
            found[name.casefold()] = what
    return found


_UNASKABLE_TYPES = _unaskable_types()
# Askable on a keypad, not supported yet: what to write instead.
_NOT_YET = {
    "range": "ask an integer with a constraint such as '. >= 1 and . <= 10'",
}
_TRUE_WORDS = frozenset({"yes", "y", "true", "true()", "1"})
_YES = frozenset({"yes", "true", "true()"})  # pyxform's yes for a setting
_FALSE_WORDS = frozenset({"no", "n", "false", "false()", "0", ""})

_ENGLISH = Language("en", "English")


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def load_xlsform(
    source: bytes | str | os.PathLike[str],
    *,
    fallback_form_id: str = "survey",
    skip_unaskable: bool = False,
    media: Mapping[str, bytes] | None = None,
) -> Survey:
    """Compile an .xlsx or .xls workbook (its bytes, or a path to it) into a Survey.
    `media`: the files imported beside the form, by name (the CSV files of
    `select_one_from_file`).

    Raises SurveyLoadError listing every problem found; `Survey.warnings` lists what
    loaded but deserves the author's eye. A question a phone cannot ask (a geopoint, a
    photo...) is an error, or with `skip_unaskable` left out, each such question and
    each reference to it named in the warnings.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as error:
            _fail(f"The file {os.fspath(source)!r} cannot be read: {error.strerror or error}.")
    # The bytes tell the format; a name can lie (an .xls saved as "form.xlsx").
    read = xls_to_dict if data.startswith(_OLE_MAGIC) else xlsx_to_dict
    try:
        book = read(BytesIO(data))
    except PyXFormReadError:
        _fail(_NOT_A_WORKBOOK)
    except PyXFormError as error:  # e.g. "Duplicate column header: label"
        _fail(f"{error}.")
    except Exception:  # foreign or damaged bytes make xlrd and openpyxl raise nearly anything
        _fail(_NOT_A_WORKBOOK)
    return _build(book, data, fallback_form_id, skip_unaskable, media)


_NOT_A_WORKBOOK = "This file is not an Excel workbook (.xlsx or .xls), or it is damaged."


def load_markdown(
    md: str,
    *,
    fallback_form_id: str = "survey",
    skip_unaskable: bool = False,
    media: Mapping[str, bytes] | None = None,
) -> Survey:
    """Compile a form written in pyxform's markdown-table notation (used by tests)."""
    try:
        book = md_to_dict(md)
    except Exception as error:  # pyxform's md reader raises IndexError etc. on odd tables
        _fail(f"The form's tables cannot be read: {error}")
    return _build(book, md.encode("utf-8"), fallback_form_id, skip_unaskable, media)


def _fail(message: str) -> NoReturn:
    raise SurveyLoadError([FormError(Code.UNREADABLE_FILE, message, FILE)])


# --------------------------------------------------------------------------------------
# Sheets, columns and the error collector
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Column:
    header: str  # as written, for messages
    base: str  # canonical: "type", "label", "constraint_message"...
    language_text: str | None  # what follows `::` on translatable columns
    known: bool = True  # a column pyxform knows (or an old spelling of one), not data
    old: bool = False  # an old spelling pyxform no longer maps (`text:English`)
    detail: str = ""  # all that follows the column's name: `English` in `image::English`


@dataclass(slots=True)
class _Sheet:
    title: str  # as written in the workbook, for messages
    present: bool
    rows: list[dict[str, str]]
    columns: list[_Column]

    def column(self, base: str) -> str | None:
        """The header of the first column named `base` (case-insensitively), if any."""
        return next((c.header for c in self.columns if c.base == base), None)

    def numbered_rows(self) -> Iterable[tuple[int, dict[str, str]]]:
        # pyxform keeps blank rows in place, so the list index gives the sheet row.
        for index, row in enumerate(self.rows):
            if row:
                yield index + 2, row


def _sheet(book: Mapping[str, Any], name: str) -> _Sheet:
    titles = list(book.get("sheet_names") or [])
    title = next((t for t in titles if t.lower() == name), None)
    if title is None and name == SURVEY and len(titles) == 1:
        title = titles[0]  # pyxform reads a lone sheet of any name as the survey
    present = name in book
    headers = [h for h in ((book.get(f"{name}_header") or [{}])[0] or {}) if h is not None]
    # As pyxform: `::` separates a column from its language, or `:` on a sheet without `::`.
    double_colon = any("::" in h for h in headers)
    columns = [_parse_column(h, name, double_colon) for h in headers]
    rows = [
        {str(k): str(v) for k, v in row.items() if k is not None and v is not None}
        for row in book.get(name) or []
    ]
    return _Sheet(title or name, present, rows, columns)


# -- column headers as pyxform reads them ------------------------------------------------

# Per sheet, pyxform's header aliases and the columns it knows.
_PYXFORM_HEADERS: Mapping[str, tuple[Mapping[str, Any], frozenset[str]]] = {
    SURVEY: (pyxform_aliases.survey_header, frozenset(MultipleChoiceQuestion.get_slot_names())),
    CHOICES: (pyxform_aliases.list_header, frozenset({*Option.get_slot_names(), "list name"})),
    SETTINGS: (pyxform_aliases.settings_header, frozenset(PyxformSurvey.get_slot_names())),
}
_PYXFORM_HEADERS = {**_PYXFORM_HEADERS, EXTERNAL_CHOICES: _PYXFORM_HEADERS[CHOICES]}
# `bind::relevant`, `control::appearance`, `media::audio`: the column is the second part.
_GROUPING_TOKENS = frozenset({"bind", "control", "media"})
# pyxform's name -> ours, where they differ.
_OUR_COLUMN_NAMES = {
    "jr:constraintMsg": "constraint_message",
    "jr:requiredMsg": "required_message",
    "jr:noAppErrorString": "no_app_error_string",
    "readonly": "read_only",
    "jr:count": "repeat_count",
    "calculate": "calculation",
    "list name": "list_name",
    "id_string": "form_id",
    "title": "form_title",
}
# Older spellings pyxform no longer maps, still in forms from the field (`text:English`
# in KoBo's first forms, Enketo's `constraint-msg`); read unless the sheet also has the
# column under its current name.
_OLD_COLUMN_NAMES = {
    "text": "label",
    "constraint-msg": "constraint_message",
    "jr:constraintmsg": "constraint_message",
    "jr:requiredmsg": "required_message",
}


def _parse_column(header: str, sheet: str, double_colon: bool) -> _Column:
    """A header read by pyxform's own `process_header` and alias tables, named our way."""
    header_aliases, known_columns = _PYXFORM_HEADERS[sheet]
    _, tokens = process_header(header, double_colon, header_aliases, known_columns)
    known, old = True, False
    if tokens[0] in _GROUPING_TOKENS and len(tokens) > 1:
        tokens = tokens[1:]
    elif tokens[0] not in known_columns:  # ours (max_attempts), choice data, or an old name
        first = tokens[0].strip().lower()
        old = first in _OLD_COLUMN_NAMES
        known = old
        tokens = (_OLD_COLUMN_NAMES.get(first, first), *tokens[1:])
    base = _OUR_COLUMN_NAMES.get(tokens[0], tokens[0])
    detail = "::".join(tokens[1:]).strip()
    language = detail if base in _TRANSLATABLE and detail else None
    return _Column(header, base, language, known, old, detail)


def _settle_columns(ctx: _Context, sheet: _Sheet) -> None:
    """One column per name and language, as pyxform requires: a second spelling of one
    (`caption` beside `label`, `bind:relevant` beside `relevant`) is refused, and an old
    spelling beside the current one is set aside with a warning."""
    first: dict[tuple[str, str], _Column] = {}
    dropped: list[_Column] = []
    for column in sorted(sheet.columns, key=lambda c: c.old):  # current spellings first
        if not column.known:
            continue
        other = first.setdefault((column.base, column.detail), column)
        if other is column:
            continue
        dropped.append(column)
        if column.old:
            ctx.warn(
                FormWarningCode.IGNORED_COLUMN,
                f"ignored: '{other.header}' is the same column under its current name",
                sheet.title,
                column=column.header,
            )
        else:
            ctx.add(
                Code.DUPLICATE_COLUMN,
                f"'{column.header}' and '{other.header}' are the same column; keep one",
                sheet.title,
                None,
                column.header,
            )
    sheet.columns = [c for c in sheet.columns if c not in dropped]


@dataclass(slots=True)
class _Context:
    errors: list[FormError] = field(default_factory=list)
    warnings: list[FormWarning] = field(default_factory=list)
    skip_unaskable: bool = False
    left_out: dict[str, int] = field(default_factory=dict)  # unaskable question -> row
    media: Mapping[str, bytes] = field(default_factory=dict)  # files beside the form
    media_read: set[str] = field(default_factory=set)  # those the form uses

    def warn(
        self,
        code: FormWarningCode,
        message: str,
        sheet: str,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        warning = FormWarning(code.value, message, sheet, row, column)
        if warning not in self.warnings:
            self.warnings.append(warning)

    def add(
        self,
        code: FormErrorCode,
        message: str,
        sheet: str,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        error = FormError(code.value, message, sheet, row, column)
        if error not in self.errors:  # a text reused as a fallback is checked once per use
            self.errors.append(error)

    def count(self, sheet: str) -> int:
        return sum(1 for e in self.errors if e.sheet == sheet)

    def sorted_errors(self, order: Sequence[str]) -> list[FormError]:
        rank = {title: i for i, title in enumerate(order)}
        return sorted(self.errors, key=lambda e: (rank.get(e.sheet, len(rank)), e.row or 0))


# --------------------------------------------------------------------------------------
# Building the survey
# --------------------------------------------------------------------------------------


def _build(
    book: Mapping[str, Any],
    data: bytes,
    fallback_form_id: str,
    skip_unaskable: bool = False,
    media: Mapping[str, bytes] | None = None,
) -> Survey:
    ctx = _Context(skip_unaskable=skip_unaskable, media=media or {})
    survey_sheet = _sheet(book, SURVEY)
    choices_sheet = _sheet(book, CHOICES)
    settings_sheet = _sheet(book, SETTINGS)
    external_sheet = _sheet(book, EXTERNAL_CHOICES)
    for sheet in (survey_sheet, choices_sheet, settings_sheet, external_sheet):
        _settle_columns(ctx, sheet)

    settings = _read_settings(ctx, settings_sheet)
    # The files beside the form that a type cell names (select_one_from_file x.csv).
    type_header = survey_sheet.column("type") or ""
    named = {word for row in survey_sheet.rows for word in row.get(type_header, "").split()}
    files = {
        name: _media_sheet(ctx, name, content)
        for name, content in ctx.media.items()
        if name.lower().endswith(".csv") and name in named
    }
    ctx.media_read.update(files)
    languages = _read_languages(
        ctx, survey_sheet, choices_sheet, settings, external_sheet, *files.values()
    )
    allow_duplicates = (settings.get("allow_choice_duplicates") or "").lower() in _YES
    choice_lists = _read_choices(ctx, choices_sheet, languages, allow_duplicates)
    # select_one_external lists, read like the choices sheet's; pyxform does not hold
    # them to unique names (a choice_filter tells them apart).
    for name, external in _read_choices(ctx, external_sheet, languages, True).items():
        choice_lists[_external(name)] = external
    # A CSV beside the form is one list, named by its file (select_one_from_file x.csv).
    for sheet in files.values():
        choice_lists.update(_read_choices(ctx, sheet, languages, True))
    questions, calculations = _read_survey(
        ctx, survey_sheet, choices_sheet, languages, choice_lists, external_sheet, *files.values()
    )

    if ctx.errors:
        order = [FILE, survey_sheet.title, choices_sheet.title, settings_sheet.title]
        raise SurveyLoadError(ctx.sorted_errors(order))
    form_id = settings.get("form_id") or fallback_form_id
    return Survey(
        form_id=form_id,
        version=settings.get("version") or hashlib.sha256(data).hexdigest()[:10],
        title=settings.get("form_title") or form_id,
        languages=languages.ordered,
        default_language=languages.default.code,
        questions=tuple(questions),
        max_attempts=_attempts(settings.get("max_attempts")) or MAX_ATTEMPTS,
        calculations=tuple(calculations),
        warnings=tuple(ctx.warnings),
        media_files=frozenset(ctx.media_read),
    )


# -- settings ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Settings:
    """The first filled row of the settings sheet, keyed by canonical column name."""

    sheet: _Sheet
    row: int = 2
    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def error(self, ctx: _Context, code: FormErrorCode, message: str, key: str) -> None:
        ctx.add(code, message, self.sheet.title, self.row, self.sheet.column(key))


def _read_settings(ctx: _Context, sheet: _Sheet) -> _Settings:
    first = next(iter(sheet.numbered_rows()), None)
    if first is None:
        return _Settings(sheet)
    settings = _Settings(sheet, first[0])
    for column in sheet.columns:
        value = first[1].get(column.header, "").strip()
        if value and column.base not in settings.values:
            settings.values[column.base] = value
    form_id = settings.get("form_id")
    usable = _usable_form_id(form_id) if form_id is not None else None
    if form_id is not None and usable is not None and usable != form_id:
        # pyxform takes any id; commands and addresses need one without spaces.
        ctx.warn(
            FormWarningCode.FORM_ID_CHANGED,
            f"form_id '{form_id}' is kept as '{usable}': an id is typed in commands and "
            "addresses, so only letters, digits, _, - and . are kept",
            sheet.title,
            settings.row,
            sheet.column("form_id"),
        )
        settings.values["form_id"] = usable
    elif form_id is not None and usable is None:
        settings.error(
            ctx,
            Code.BAD_SETTING,
            f"form_id '{form_id}' must start with a letter or _ and contain only letters, "
            "digits, _, - and .",
            "form_id",
        )
        del settings.values["form_id"]
    attempts = settings.get("max_attempts")
    if attempts is not None and _attempts(attempts) is None:
        settings.error(
            ctx,
            Code.BAD_SETTING,
            f"max_attempts '{attempts}' must be a whole number from 1 to {_MOST_ATTEMPTS}: how "
            "many wrong or missing answers in a row end a session (it can be continued later)",
            "max_attempts",
        )
        del settings.values["max_attempts"]
    return settings


_MOST_ATTEMPTS = 99
_WHOLE_NUMBER = re.compile(r"\d{1,9}(?:\.0*)?")  # "3", or "3.0" from a number cell


def _usable_form_id(form_id: str) -> str | None:
    """The id with every run of other characters made one `_` (None: nothing left)."""
    usable = re.sub(r"[^A-Za-z0-9_.\-]+", "_", form_id).strip("_")
    if usable and not _NAME_RE.fullmatch(usable):
        usable = f"_{usable}"
    return usable if usable and _NAME_RE.fullmatch(usable) else None


def _attempts(raw: str | None) -> int | None:
    """The max_attempts setting as a number, or None when absent or unusable."""
    if raw is None or not _WHOLE_NUMBER.fullmatch(raw):
        return None
    number = int(float(raw))
    return number if 1 <= number <= _MOST_ATTEMPTS else None


# -- languages --------------------------------------------------------------------------


@dataclass(slots=True)
class _Languages:
    ordered: tuple[Language, ...]
    default: Language
    # Per sheet title, per translatable base: language code -> header of its column.
    headers: dict[str, dict[str, dict[str, str]]]
    # Languages written as `label::Name (code)` somewhere (others only as plain `label`).
    coded: set[str]

    def header(self, sheet: _Sheet, base: str, code: str) -> str | None:
        return self.headers.get(sheet.title, {}).get(base, {}).get(code)

    def expected_label_header(self, language: Language) -> str:
        if language.code in self.coded:
            shown = f" ({language.code})" if language.has_code else ""
            return f"label::{language.name}{shown}"
        return "label"


def _normalise_code(code: str) -> str:
    primary, *rest = code.replace("_", "-").split("-")
    return "-".join([primary.lower(), *rest])


_CODE_RE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


def _parse_language(text: str) -> Language | None:
    """A language from `Name (code)`, a code (`en`, `EN`, `pt-BR`), or a name langcodes'
    registry knows in English or in the language itself; None for any other name."""
    text = text.translate(_BIDI_MARKS).strip()
    match = _LANGUAGE_RE.fullmatch(text)
    if match:
        code = _normalise_code(match.group(2))
        return Language(code, match.group(1).strip() or _display_name(code))
    if _CODE_RE.fullmatch(text):  # a code before a name: `EN` is English, not the En language
        try:
            tag = langcodes.get(text)
        except langcodes.LanguageTagError:
            tag = None
        if tag is not None and tag.is_valid():
            return Language(tag.to_tag(), tag.display_name())
    for spelling in dict.fromkeys([text, _ascii_folded(text)]):  # Yorùbá, then Yoruba
        try:
            return Language(langcodes.find(spelling).to_tag(), text)
        except LookupError:
            continue
    return None


def _display_name(code: str) -> str:
    try:
        return langcodes.get(code).display_name()
    except langcodes.LanguageTagError:
        return code


def _ascii_folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _unregistered_language(name: str, taken: dict[str, str]) -> Language:
    """A language no registry knows, coded from its name under BCP 47's private use in
    at most 8 characters, as responses store a code: `x-` and the first 6 ASCII letters
    or digits of its first word (`Local language` -> `x-local`), or 6 hex digits of the
    name's hash when that code is another name's (`taken`) or nothing of it is ASCII."""
    key = name.casefold()
    words = re.findall(r"[a-z0-9]+", _ascii_folded(key))
    code = PRIVATE_USE_PREFIX + words[0][:6] if words else ""
    if not code or taken.setdefault(code, key) != key:
        code = PRIVATE_USE_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:6]
    return Language(code, name)


def _read_languages(
    ctx: _Context,
    survey: _Sheet,
    choices: _Sheet,
    settings: _Settings,
    *others: _Sheet,
) -> _Languages:
    # (sheet, column, language or None for a plain column) for every translatable column
    found: list[tuple[_Sheet, _Column, Language | None]] = []
    coded: set[str] = set()
    unregistered: dict[str, str] = {}  # code -> the name it was made from
    for sheet in (survey, choices, *others):
        for column in sheet.columns:
            if column.base not in _TRANSLATABLE:
                continue
            if column.language_text is None:
                found.append((sheet, column, None))
                continue
            language = _parse_language(column.language_text)
            if language is None:
                name = column.language_text.translate(_BIDI_MARKS).strip()
                language = _unregistered_language(name, unregistered)
            if not language.has_code and language.code not in coded:  # once per language
                ctx.warn(
                    FormWarningCode.UNREGISTERED_LANGUAGE,
                    f"no language registry knows '{language.name}': it is offered on USSD "
                    f"(code {language.code}), but voice needs a real code; name the column "
                    f"'{column.base}::{language.name} (xx)' with its ISO 639 code for voice",
                    sheet.title,
                    None,
                    column.header,
                )
            coded.add(language.code)
            found.append((sheet, column, language))

    label_languages = [lang for _, column, lang in found if column.base == "label"]
    default = _ENGLISH if not label_languages or label_languages[0] is None else label_languages[0]
    wanted = settings.get("default_language")
    setting_language: Language | None = None
    if wanted is not None:
        setting_language = _resolve_default(wanted, [lang for lang in label_languages if lang])
        if setting_language is None:
            settings.error(
                ctx,
                Code.BAD_SETTING,
                f"default_language '{wanted}' is not a language; write it like 'English (en)'",
                "default_language",
            )
        else:
            default = setting_language

    ordered: dict[str, Language] = {}
    spelled = {lang.code: lang for lang in reversed(label_languages) if lang}
    for language in label_languages:
        chosen = language or spelled.get(default.code, default)  # as its header spells it
        ordered.setdefault(chosen.code, chosen)
    # A language only the choices sheet has labels in is set aside, as pyxform only warns.
    on_survey = {
        (lang or default).code
        for sheet, col, lang in found
        if sheet is survey and col.base == "label"
    }
    set_aside = {code for code in ordered if on_survey and code not in on_survey}
    for code in set_aside:
        del ordered[code]
    if not ordered:
        ordered[default.code] = default
    if setting_language is not None and setting_language.code not in ordered:
        settings.error(
            ctx,
            Code.BAD_SETTING,
            f"default_language '{wanted}' has no label column; the form's languages are "
            + ", ".join(f"{lang.name} ({lang.code})" for lang in ordered.values()),
            "default_language",
        )
    if default.code not in ordered:
        default = next(iter(ordered.values()))

    headers: dict[str, dict[str, dict[str, str]]] = {}
    # Coded columns first, so that they win over a plain column of the same language.
    for sheet, column, language in sorted(found, key=lambda item: item[2] is None):
        if language is not None and language.code in set_aside:
            ctx.warn(
                FormWarningCode.IGNORED_COLUMN,
                f"not used: the survey sheet has no label column in {language.name}",
                sheet.title,
                None,
                column.header,
            )
            continue
        if language is not None and language.code not in ordered:
            ctx.add(
                Code.UNKNOWN_LANGUAGE,
                "this column is in a language that has no label column (the form's "
                f"languages are {', '.join(ordered)})",
                sheet.title,
                None,
                column.header,
            )
            continue
        by_code = headers.setdefault(sheet.title, {}).setdefault(column.base, {})
        by_code.setdefault((language or default).code, column.header)
    return _Languages(tuple(ordered.values()), default, headers, coded)


def _resolve_default(wanted: str, languages: Sequence[Language]) -> Language | None:
    for language in languages:
        if wanted.casefold() in (language.code.casefold(), language.name.casefold()):
            return language
    return _parse_language(wanted)


def _cell_texts(
    row: Mapping[str, str], sheet: _Sheet, base: str, languages: _Languages
) -> dict[str, tuple[str, str]]:
    """language code -> (text, header it came from), for the languages that have text.

    A coded column's blank cell is filled from the plain column of the same language.
    """
    found: dict[str, tuple[str, str]] = {}
    plain = next(
        (c.header for c in sheet.columns if c.base == base and c.language_text is None), None
    )
    by_code = languages.headers.get(sheet.title, {}).get(base, {})
    for language in languages.ordered:
        header = by_code.get(language.code)
        if header is None:
            continue
        value = row.get(header, "").strip()
        if not value and plain is not None and language.code == languages.default.code:
            value, header = row.get(plain, "").strip(), plain
        if value:
            found[language.code] = (value, header)
    return found


# -- choices ----------------------------------------------------------------------------


@dataclass(slots=True)
class _ChoiceList:
    choices: list[Choice] = field(default_factory=list)
    names: dict[str, int] = field(default_factory=dict)  # choice name -> its row
    # choice name with a space -> (sheet, row, column): where a select_multiple fails
    spaced: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    has_errors: bool = False


def _read_choices(
    ctx: _Context, sheet: _Sheet, languages: _Languages, allow_duplicates: bool = False
) -> dict[str, _ChoiceList]:
    lists: dict[str, _ChoiceList] = {}
    if not sheet.present or not sheet.rows:
        return lists
    list_header, name_header = sheet.column("list_name"), sheet.column("name")
    for base, header in (("list_name", list_header), ("name", name_header)):
        if header is None:
            ctx.add(
                Code.MISSING_COLUMN,
                f"the choices sheet needs a '{base}' column",
                sheet.title,
                None,
                base,
            )
    if list_header is None or name_header is None:
        return lists
    _check_label_columns(ctx, sheet, languages)
    data_columns = [c.header for c in sheet.columns if _is_choice_data(c)]

    for number, row in sheet.numbered_rows():
        list_name = row.get(list_header, "").strip()
        name = row.get(name_header, "").strip()
        if not list_name and not name:
            # A stray label under a list (pyxform passes it by): it belongs to no list.
            ctx.warn(
                FormWarningCode.CHOICE_ROW_IGNORED,
                "this row has neither list_name nor name: it is not a choice, and is ignored",
                sheet.title,
                number,
                list_header,
            )
            continue
        if not list_name:
            ctx.add(
                Code.INVALID_NAME, "this choice has no list_name", sheet.title, number, list_header
            )
            continue
        choice_list = lists.setdefault(list_name, _ChoiceList())
        if not name:
            if len(row) > 1:  # a row with only list_name declares an (empty) list
                choice_list.has_errors = True
                ctx.add(
                    Code.INVALID_NAME, "this choice has no name", sheet.title, number, name_header
                )
            continue
        if any(ch.isspace() for ch in name):
            # Fine for select_one, as pyxform lets it be; a select_multiple refuses it.
            choice_list.spaced.setdefault(name, (sheet.title, number, name_header))
        occurrence = 1
        if name in choice_list.names:
            if not allow_duplicates:
                choice_list.has_errors = True
                ctx.add(
                    Code.DUPLICATE_CHOICE,
                    f"'{name}' is already a choice of list '{list_name}' "
                    f"(row {choice_list.names[name]}); if a choice_filter tells them apart, "
                    "set allow_choice_duplicates to yes on the settings sheet",
                    sheet.title,
                    number,
                    name_header,
                )
                continue
            occurrence = 1 + sum(1 for c in choice_list.choices if c.name == name)
        choice_list.names.setdefault(name, number)
        if _cell_texts(row, sheet, "label", languages):
            labels = _required_labels(ctx, sheet, number, row, languages, what="choice")
        else:
            # pyxform lets a choice go without a label (with a warning): say its name.
            labels = {language.code: (name, "") for language in languages.ordered}
            ctx.warn(
                FormWarningCode.CHOICE_NAME_AS_LABEL,
                f"choice '{name}' of list '{list_name}' has no label: its name is shown and said",
                sheet.title,
                number,
                sheet.column("label"),
            )
        extra = {h: row[h].strip() for h in data_columns if row.get(h, "").strip()}
        choice_list.choices.append(
            Choice(name, {code: text for code, (text, _) in labels.items()}, extra, occurrence)
        )
    return lists


def _is_choice_data(column: _Column) -> bool:
    return column.base not in _TRANSLATABLE and column.base not in _NOT_CHOICE_DATA


def _check_label_columns(ctx: _Context, sheet: _Sheet, languages: _Languages) -> None:
    """One error per language without a label column on this sheet (not one per row)."""
    if not any(c.base == "label" for c in sheet.columns):
        ctx.add(
            Code.MISSING_COLUMN,
            f"the {sheet.title} sheet needs a 'label' column",
            sheet.title,
            None,
            "label",
        )
        return
    for language in languages.ordered:
        if languages.header(sheet, "label", language.code) is None:
            ctx.add(
                Code.MISSING_COLUMN,
                f"no label column for {language.name} ({language.code}) on this sheet",
                sheet.title,
                None,
                languages.expected_label_header(language),
            )


# Quotes a word processor curls, which pyxform straightens too.
_SMART_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})
# A cell Excel stores as a boolean reaches us as TRUE or FALSE.
_EXCEL_BOOLEANS = {"true": "true()", "false": "false()"}


# Quoted text, or a bare `null` outside it.
_QUOTED_OR_NULL = re.compile(r"""('[^']*'|"[^"]*")|(?<![\w$.{/-])null(?![\w(.}-])""")


def _as_xpath(source: str) -> str:
    """An expression cell as XPath: straight quotes, Excel's booleans as true(), and a
    bare `null` as empty text, as XPath reads it (a path to no node: '')."""
    source = source.translate(_SMART_QUOTES)
    source = _EXCEL_BOOLEANS.get(source.strip().casefold(), source)
    if "null" not in source:
        return source
    return _QUOTED_OR_NULL.sub(lambda m: m.group(1) or "''", source)


# The list of select_one_from_file: a file name with pyxform's extensions.
_FILE_LIST = re.compile(r"[^/\\]+\.(csv|xml|geojson)", re.IGNORECASE)
_MEDIA_CSV_LIMIT = 10_000_000  # bytes


def _missing_list_message(key: str) -> str:
    sheet, _, name = key.rpartition(":")
    return f"there is no choice list '{name}' on the {sheet or CHOICES} sheet"


def _external(list_name: str) -> str:
    """The key of an external_choices list among the lists (a name may be on both)."""
    return f"{EXTERNAL_CHOICES}:{list_name}"


def _missing_file_message(name: str) -> str:
    if not name.lower().endswith(".csv"):
        return (
            f"'{name}': only .csv files can list choices here (not .xml or .geojson); "
            "save the list as a CSV with name and label columns"
        )
    return (
        f"the choices of '{name}' come from a file beside the form: import it with "
        f"`survey import FORM --media DIR`, DIR holding {name}"
    )


def _media_sheet(ctx: _Context, name: str, content: bytes) -> _Sheet:
    """A CSV imported beside the form as a choices sheet of one list, named by the file:
    a header row (`name`, `label` or `label::Language (xx)`, data columns for a
    choice_filter), then one choice per row, located by the file's own line numbers."""
    text = ""
    if len(content) > _MEDIA_CSV_LIMIT:
        ctx.add(Code.UNREADABLE_FILE, f"larger than {_MEDIA_CSV_LIMIT:,} bytes", name)
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            ctx.add(Code.UNREADABLE_FILE, "not a CSV in UTF-8: save it as 'CSV UTF-8'", name)
    try:
        reader = csv.DictReader(io.StringIO(text))
        headers = [h for h in (reader.fieldnames or []) if h]
        rows = [
            {"list_name": name, **{k: v for k, v in row.items() if k and isinstance(v, str)}}
            for row in reader
        ]
    except csv.Error as error:
        ctx.add(Code.UNREADABLE_FILE, f"not a CSV file: {error}", name)
        headers, rows = [], []
    double_colon = any("::" in h for h in headers)
    columns = [_parse_column(h, CHOICES, double_colon) for h in ["list_name", *headers]]
    return _Sheet(name, True, rows, columns)


class _Tables:
    """The lists an expression reads as data, by name (`instance('jobs')`,
    `pulldata('graduates', ...)`): a choice list of the form, else the CSV imported
    beside it (`graduates.csv`). Each is built once, when an expression first reads it."""

    def __init__(
        self, ctx: _Context, lists: Mapping[str, _ChoiceList], languages: _Languages
    ) -> None:
        self.ctx, self.lists, self.languages = ctx, lists, languages
        self.built: dict[str, Table | None] = {}

    def __call__(self, name: str) -> Table | None:
        if name not in self.built:
            self.built[name] = self.build(name)
        return self.built[name]

    def build(self, name: str) -> Table | None:
        if name in self.lists:
            return self.choice_table(self.lists[name])
        file = name if name.lower().endswith(".csv") else f"{name}.csv"
        if file not in self.ctx.media:
            return None
        self.ctx.media_read.add(file)
        sheet = _media_sheet(self.ctx, file, self.ctx.media[file])
        headers = [c.header for c in sheet.columns if c.header != "list_name"]
        rows = tuple({h: row.get(h, "").strip() for h in headers} for row in sheet.rows)
        return Table(rows, frozenset(headers))

    def choice_table(self, choice_list: _ChoiceList) -> Table:
        default = self.languages.default.code
        rows = []
        columns = {"name", "label"}
        for choice in choice_list.choices:
            row = {"name": choice.name, **choice.extra}
            row["label"] = choice.labels.get(default) or next(iter(choice.labels.values()), "")
            row.update({f"label::{code}": text for code, text in choice.labels.items()})
            columns.update(choice.extra)
            rows.append(row)
        return Table(tuple(rows), frozenset(columns), choice_list=True)


def _required_labels(
    ctx: _Context,
    sheet: _Sheet,
    number: int,
    row: Mapping[str, str],
    languages: _Languages,
    *,
    what: str,
) -> dict[str, tuple[str, str]]:
    labels = _cell_texts(row, sheet, "label", languages)
    default = languages.default
    for language in languages.ordered:
        header = languages.header(sheet, "label", language.code)
        if language.code in labels or header is None:
            continue
        if default.code in labels:
            # pyxform lets a translation be missing (with a warning): say the default
            # language's words rather than refuse a form the field already uses.
            labels[language.code] = labels[default.code]
            ctx.warn(
                FormWarningCode.MISSING_TRANSLATION,
                f"this {what} has no label in {language.name} ({language.code}): its "
                f"{default.name} label is used",
                sheet.title,
                number,
                header,
            )
        elif (
            language.code == default.code or languages.header(sheet, "label", default.code) is None
        ):
            ctx.add(
                Code.MISSING_LABEL,
                f"this {what} has no label in {language.name} ({language.code})",
                sheet.title,
                number,
                header,
            )
    return labels


# -- survey -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    row: int
    repeat: bool
    relevant: str  # source, "" when none
    relevant_header: str | None
    compiled: Expression | None = None
    broken: bool = False
    # A repeat's: its name, its repeat_count as written ("" none) and the groups around it.
    name: str = ""
    count: str = ""
    parents: tuple[_Group, ...] = ()
    loop: str = ""  # `begin loop over LIST`: one pass per choice of LIST


@dataclass(slots=True)
class _QuestionRow:
    number: int
    row: dict[str, str]
    name: str
    type: QuestionType
    list_name: str | None
    groups: tuple[_Group, ...]
    or_other: bool = False  # `select_one LIST or_other`: adds a choice and a question
    acknowledge: bool = False  # `acknowledge`/`trigger`: one choice, OK, as ODK stores it


@dataclass(slots=True)
class _ComputedRow:
    """A row the engine computes: `calculate`, `hidden`, a metadata type, or a row of
    another type with a `calculation`."""

    number: int
    row: dict[str, str]
    name: str
    kind: str  # "calculate", "hidden" or a Metadata value
    groups: tuple[_Group, ...]


def _read_survey(
    ctx: _Context,
    sheet: _Sheet,
    choices_sheet: _Sheet,
    languages: _Languages,
    lists: Mapping[str, _ChoiceList],
    *other_choices: _Sheet,
) -> tuple[list[Question], list[Calculation]]:
    if not sheet.present:
        ctx.add(Code.MISSING_SHEET, "the form has no 'survey' sheet", SURVEY)
        return [], []
    type_header, name_header = sheet.column("type"), sheet.column("name")
    if not sheet.rows:
        ctx.add(Code.EMPTY_SURVEY, "the survey sheet has no questions", sheet.title)
        return [], []
    for base, header in (("type", type_header), ("name", name_header)):
        if header is None:
            ctx.add(
                Code.MISSING_COLUMN,
                f"the survey sheet needs a '{base}' column",
                sheet.title,
                None,
                base,
            )
    if type_header is None or name_header is None:
        return [], []

    errors_before = ctx.count(sheet.title)
    written, groups, computed = _survey_rows(ctx, sheet, type_header, name_header)
    if not written and not (computed and ctx.count(sheet.title) == errors_before):
        if ctx.count(sheet.title) == errors_before:
            ctx.add(Code.EMPTY_SURVEY, "the survey sheet has no questions", sheet.title)
        return [], []
    if not written:
        ctx.warn(
            FormWarningCode.NOTHING_TO_ASK,
            "the survey sheet has no question to ask, only computed values: a response "
            "is complete as soon as it starts",
            sheet.title,
        )
    else:
        _check_label_columns(ctx, sheet, languages)
    choice_sheets = [s for s in (choices_sheet, *other_choices) if s.present]
    if any(r.type.has_choices and not r.acknowledge for r in written) and not choice_sheets:
        ctx.add(Code.MISSING_SHEET, "the form has select questions but no 'choices' sheet", CHOICES)
    repeats = _Repeats(ctx, sheet, written, computed, lists, languages)
    rows, computed = repeats.unrolled(written, computed)

    builder = _QuestionBuilder(
        ctx,
        sheet,
        languages,
        # A question left out by --skip-unaskable is still a name: its value is empty.
        names=frozenset(r.name for r in [*rows, *computed] if r.name)
        | ctx.left_out.keys()
        | {_other_name(r.name) for r in rows if isinstance(r, _QuestionRow) and r.or_other}
        | repeats.names,
        choice_columns=frozenset(
            {"name"} | {c.header for s in choice_sheets for c in s.columns if _is_choice_data(c)}
        ),
        tables=_Tables(ctx, lists, languages),
    )
    for group in [*groups, *repeats.pass_groups]:
        if not (group.repeat or any(g.repeat for g in group.parents)):  # else: per pass
            builder.check_group(group)
    # Rows with a bad name are built too, so that all their other problems are listed.
    questions = []
    for r in rows:
        if isinstance(r, _AddAnother):
            questions.append(builder.add_another(r))
            continue
        questions.append(builder.build(r, lists, choices_present=bool(choice_sheets)))
        if r.or_other and r.name:
            questions.append(builder.specify_other(r))
    calculations = [builder.calculation(c) for c in computed]
    return questions, _in_dependency_order(ctx, sheet, calculations)


# -- repeats ----------------------------------------------------------------------------

_POSITION_RE = re.compile(r"\bposition\s*\(\s*\.\.\s*\)")
_ACROSS_PASSES_RE = re.compile(r"\b(count|sum|min|max)\s*\(\s*\$\{(" + NAME_PATTERN + r")\}\s*\)")
# A calculate that is exactly count(${repeat}): in the repeat's own repeat_count it is
# the passes so far (ODK's "repeat until the user says no").
_COUNT_OF_RE = re.compile(r"\s*count\s*\(\s*\$\{(" + NAME_PATTERN + r")\}\s*\)\s*")
# The columns whose cells are expressions, where paths are read.
_EXPRESSION_COLUMNS = (
    *("relevant", "constraint", "calculation", "choice_filter", "default"),
    *("required", "readonly", "repeat_count"),
)
_Deciding = tuple[int, int]  # (id(repeat), k): its pass k is being decided
# indexed-repeat(${x}, ${repeat}, 2), the pass a number (position(..) already is one)
_INDEXED_RE = re.compile(
    r"\bindexed-repeat\s*\(\s*\$\{("
    + NAME_PATTERN
    + r")\}\s*,\s*\$\{"
    + NAME_PATTERN
    + r"\}\s*,\s*([1-9][0-9]{0,2})\s*\)"
)


def _other_name(name: str) -> str:
    """The 'please specify' question after `name` with or_other: `job_other[2]` in a pass."""
    base, bracket, index = name.partition("[")
    return f"{base}_other{bracket}{index}"


@dataclass(slots=True)
class _AddAnother:
    """ "Add another? 1 yes 2 no" after a pass of a repeat without a repeat_count, stored
    under the repeat's name and pass: `children[1]` is yes or no."""

    name: str
    repeat: _Group
    groups: tuple[_Group, ...]  # the pass's: around the repeat, the repeat, its guard


class _Repeats:
    """A repeat is unrolled into its passes when loaded: pass 2 of `child_age` is the
    question `child_age[2]`, with `${x}` of the body read as this pass's answer and
    `position(..)` as the pass number, relevant while its pass is (up to its
    repeat_count, or after 'yes' to "Add another?"). The engine walks them as any
    question, so going back, resuming and recovery land in the same pass. Outside the
    repeat, `count(${x})` (the passes where x has an answer), `sum(${x})`, `min(${x})`
    and `max(${x})` read every pass; `${x[2]}` reads one.

    Paths are rewritten here too (`survey_engine.paths`): `../x` is `${x}`, and
    `${people}[age < 18]/pets` is, pass by pass, "pass k exists and its age < 18",
    read by `sum()`, `count()`... or as the first pass that matches. A repeat_count that
    reads its own repeat (ODK's "repeat until the user says no") decides pass k with
    the passes so far, k - 1, as its count."""

    def __init__(
        self,
        ctx: _Context,
        sheet: _Sheet,
        rows: Sequence[_QuestionRow],
        computed: Sequence[_ComputedRow],
        lists: Mapping[str, _ChoiceList] | None = None,
        languages: _Languages | None = None,
    ) -> None:
        self.ctx, self.sheet = ctx, sheet
        self.lists = lists or {}
        # header -> language code of the sheet's translatable columns (a loop's
        # `%(label)s` says the choice's label in the column's language)
        self.header_language: dict[str, str] = {}
        self.default_language = ""
        if languages is not None:
            for by_code in languages.headers.get(sheet.title, {}).values():
                self.header_language.update({h: code for code, h in by_code.items()})
            self.default_language = languages.default.code
        self.passes: dict[int, int] = {}  # id(repeat) -> how many passes it is unrolled to
        self.body: dict[int, list[str]] = {}  # id(repeat) -> names of its rows
        self.names: set[str] = set()  # every name an expression may use
        self.pass_groups: list[_Group] = []  # to compile: groups of each pass, guards
        self._copies: dict[tuple[int, int], _Group] = {}
        self._count_header = sheet.column("repeat_count") or sheet.column("type")
        # name -> the group it is directly in (None: the form itself), for `../name`
        self.home: dict[str, _Group | None] = {}
        for r in [*rows, *computed]:
            repeat = _repeat_of(r.groups)
            if r.name:
                self.home[r.name] = r.groups[-1] if r.groups else None
            if repeat is not None and r.name:
                self.body.setdefault(id(repeat), []).append(r.name)
                if isinstance(r, _QuestionRow) and r.or_other:
                    self.body[id(repeat)].append(_other_name(r.name))
        self.repeat_of_name = {
            name: repeat_id for repeat_id, names in self.body.items() for name in names
        }
        self.repeats: dict[str, _Group] = {}  # by name, for count(${repeat})
        for r in [*rows, *computed]:
            repeat = _repeat_of(r.groups)
            if repeat is not None and id(repeat) not in self.passes:
                self.passes[id(repeat)] = self._pass_count(repeat)
                if repeat.name:
                    self.repeats[repeat.name] = repeat
        for repeat_id, names in self.body.items():
            for name in names:
                self.names.add(name)  # outside count()/sum(): a repeat_reference error
                self.names.update(f"{name}[{k}]" for k in range(1, self.passes[repeat_id] + 1))
        # calculate name -> the repeat it counts, when its calculation is count(${repeat})
        self.counters: dict[str, str] = {}
        for c in computed:
            match = _COUNT_OF_RE.fullmatch(c.row.get(sheet.column("calculation") or "", ""))
            if c.name and not c.groups and match and match.group(1) in self.repeats:
                self.counters[c.name] = match.group(1)
        self._read_paths(rows, computed)
        self._steps: dict[int, list[str]] = {}  # id(repeat) -> how each pass is decided
        self._building: list[_Group] = []  # repeats whose passes are being written, in turn
        self._cycles: set[int] = set()  # repeats whose cycle is reported

    def _pass_count(self, repeat: _Group) -> int:
        if repeat.loop:
            # One pass per choice, as pyxform's loop: a fixed count.
            choices = self.lists.get(repeat.loop)
            if choices is None:
                self.ctx.add(
                    Code.MISSING_CHOICE_LIST,
                    f"there is no choice list '{repeat.loop}' to loop over",
                    self.sheet.title,
                    repeat.row,
                    self.sheet.column("type"),
                )
                repeat.count = "0"
                return 0
            repeat.count = str(len(choices.choices))
        if not repeat.count or not _WHOLE_NUMBER.fullmatch(repeat.count):
            return MAX_REPEAT_PASSES  # computed, or "Add another?"
        count = int(float(repeat.count))
        if count > MAX_REPEAT_PASSES:
            self.ctx.add(
                Code.BAD_REPEAT_COUNT,
                f"repeat_count {count} is more than a phone call can ask: at most "
                f"{MAX_REPEAT_PASSES} passes",
                self.sheet.title,
                repeat.row,
                self._count_header,
            )
        return min(count, MAX_REPEAT_PASSES)

    # -- paths, read once per cell ------------------------------------------------------

    def _read_paths(self, rows: Sequence[_QuestionRow], computed: Sequence[_ComputedRow]) -> None:
        """`../x` becomes `${x}` in every expression cell, and each `${repeat}[...]/x` is
        checked, so that an error is said once, where it was written."""
        headers = {h for base in _EXPRESSION_COLUMNS if (h := self.sheet.column(base))}
        groups: dict[int, _Group] = {}
        for r in [*rows, *computed]:
            for group in r.groups:
                for g in (*group.parents, group):
                    groups.setdefault(id(g), g)
            r.row = {
                h: self._paths_read(r.number, h, v, r.groups) if h in headers else v
                for h, v in r.row.items()
            }
        for group in groups.values():
            if group.relevant and group.relevant_header:
                group.relevant = self._paths_read(
                    group.row, group.relevant_header, group.relevant, group.parents
                )
            if group.repeat and group.count and self._count_header:
                group.count = self._paths_read(
                    group.row, self._count_header, group.count, group.parents
                )

    def _paths_read(
        self, number: int, header: str, text: str, containers: tuple[_Group, ...]
    ) -> str:
        if "/" not in text and "[" not in text:
            return text
        try:
            text = self._relative(text, containers)
            for path in repeat_paths(text, self.repeats):
                self._check_path(path)
        except PathError as error:
            self.ctx.add(Code.BAD_EXPRESSION, error.message, self.sheet.title, number, header)
            return "''"  # said once: compiled as a blank, not reported again
        return text

    def _relative(self, text: str, containers: tuple[_Group, ...]) -> str:
        """`../x` from a question in `containers` (outermost first) as `${x}`, when the
        path leads where x is."""
        for path in reversed(relative_paths(text)):
            written = text[path.start : path.end].strip()
            if path.ups > len(containers) + 1:
                raise PathError(
                    f"'{written}' at position {path.start + 1} goes above the form; "
                    f"refer to the question as ${{{path.name}}}",
                    path.start + 1,
                )
            target = containers[-path.ups] if path.ups <= len(containers) else None
            if path.name in self.home and self.home[path.name] is not target:
                raise PathError(
                    f"'{written}' at position {path.start + 1} does not lead to the "
                    f"question '{path.name}' (each '../' goes out of one group); refer to "
                    f"it as ${{{path.name}}}",
                    path.start + 1,
                )
            # An unknown name is said by the compiler as any unknown ${name}.
            text = f"{text[: path.start]}${{{path.name}}}{text[path.end :]}"
        return text

    def _check_path(self, path: RepeatPath) -> None:
        repeat = self.repeats[path.repeat]
        body = self.body.get(id(repeat), [])
        at = path.position
        if path.question is not None and path.question not in body:
            raise PathError(
                f"'{path.question}' in the path at position {at} is not a question of "
                f"the repeat '{path.repeat}'",
                at,
            )
        if path.question is None and path.aggregate != "count":
            raise PathError(
                f"${{{path.repeat}}}[...] at position {at} is a set of passes, not a "
                f"value: count them, count(${{{path.repeat}}}[...]), or read one of their "
                f"questions, ${{{path.repeat}}}[...]/question",
                at,
            )
        for predicate in path.predicates:
            predicate_in_pass(predicate, body, 1)

    def _expand_paths(self, text: str, deciding: _Deciding | None) -> str:
        if "${" not in text:
            return text
        try:
            found = repeat_paths(text, self.repeats)
        except PathError:
            return text  # reported when the cell was read
        for path in reversed(found):
            text = text[: path.start] + self._path_value(path, deciding) + text[path.end :]
        return text

    def _path_value(self, path: RepeatPath, deciding: _Deciding | None) -> str:
        """The path as an expression on single answers: per pass, "the pass exists and
        its filters hold", and that pass's answer."""
        repeat = self.repeats[path.repeat]
        body = self.body.get(id(repeat), [])
        so_far = deciding is not None and deciding[0] == id(repeat)
        last = deciding[1] - 1 if deciding is not None and so_far else self.passes[id(repeat)]
        passes = list(range(1, last + 1))
        filters = []
        for predicate in path.predicates:
            fixed = fixed_pass(predicate)
            if fixed is None:
                filters.append(predicate)
            else:  # [2] or [position() = 2]: that pass only
                passes = [k for k in passes if k == fixed]
        terms: list[tuple[str, str]] = []  # (condition, "" for always; value)
        for k in passes:
            exists = None if so_far else self._exists(repeat, k)
            parts = [exists] if exists else []
            parts += [predicate_in_pass(p, body, k) for p in filters]
            condition = " and ".join(f"({p})" for p in parts)
            terms.append((condition, f"${{{path.question}[{k}]}}" if path.question else ""))
        if path.question is None:  # count(${repeat}[...]): the passes that match
            return f"sum({', '.join(c or 'true()' for c, _ in terms)})" if terms else "0"
        values = [f"if({c}, {v}, '')" if c else v for c, v in terms]
        if path.aggregate == "count":
            return f"count-non-empty({', '.join(values)})" if values else "0"
        if path.aggregate is not None:
            empty = "0" if path.aggregate == "sum" else "number('')"
            return f"{path.aggregate}({', '.join(values)})" if values else empty
        # A value: the first pass that matches, as XPath reads a node-set as a string.
        if not terms:
            return "''"
        if len(terms) == 1 and not terms[0][0]:
            return terms[0][1]
        pairs = ", ".join(f"{c or 'true()'}, {v}" for c, v in terms)
        return f"_first-match({pairs})"

    # -- passes -------------------------------------------------------------------------

    def unrolled(
        self, rows: Sequence[_QuestionRow], computed: Sequence[_ComputedRow]
    ) -> tuple[list[_QuestionRow | _AddAnother], list[_ComputedRow]]:
        out: list[_QuestionRow | _AddAnother] = []
        for group in {id(g): g for r in [*rows, *computed] for g in r.groups}.values():
            if not group.repeat and not any(g.repeat for g in group.parents):
                group.relevant = self._across(group.relevant)  # as the rows outside read
        index = 0
        while index < len(rows):
            repeat = _repeat_of(rows[index].groups)
            if repeat is None:
                out.append(self._outside(rows[index]))
                index += 1
                continue
            end = index
            while end < len(rows) and _repeat_of(rows[end].groups) is repeat:
                end += 1
            for k in range(1, self.passes[id(repeat)] + 1):
                out.extend(self._in_pass(r, repeat, k) for r in rows[index:end])
                if not repeat.count and k < MAX_REPEAT_PASSES and repeat.name:
                    another = f"{repeat.name}[{k}]"
                    self.names.add(another)
                    out.append(_AddAnother(another, repeat, self._groups(repeat, (), k)))
            index = end
        calculations: list[_ComputedRow] = []
        for c in computed:
            repeat = _repeat_of(c.groups)
            if repeat is None:
                calculations.append(self._outside(c))
            else:
                calculations.extend(
                    self._in_pass(c, repeat, k) for k in range(1, self.passes[id(repeat)] + 1)
                )
        return out, calculations

    def _counted_by_itself(self, repeat: _Group) -> bool:
        """Whether the repeat_count reads the repeat: its passes, answers or a count."""
        if not repeat.count or _WHOLE_NUMBER.fullmatch(repeat.count):
            return False
        for match in _PIPE_RE.finditer(repeat.count):
            name = match.group(1).partition("[")[0]
            if name == repeat.name or self.counters.get(name) == repeat.name:
                return True
            if self.repeat_of_name.get(name) == id(repeat):
                return True
        return False

    def _exists(self, repeat: _Group, k: int) -> str | None:
        """When pass k happens, as a condition; None for always (up to the passes)."""
        if repeat.count and _WHOLE_NUMBER.fullmatch(repeat.count):
            return None
        if self._counted_by_itself(repeat):
            return " and ".join(f"({step})" for step in self._decided(repeat)[:k])
        if repeat.count:
            return f"({self._within(repeat, lambda: self._across(repeat.count))}) >= {k}"
        if k > 1 and repeat.name:
            return f"${{{repeat.name}[{k - 1}]}} = 'yes'"
        return None

    def _decided(self, repeat: _Group) -> list[str]:
        """For each pass k, the repeat_count read with k - 1 passes so far (count(${it}),
        and a calculate that is exactly that, are k - 1) is at least k."""
        if id(repeat) not in self._steps:

            def steps() -> str:
                self._steps[id(repeat)] = [
                    f"({self._across(self._so_far(repeat, k - 1), (id(repeat), k))}) >= {k}"
                    for k in range(1, self.passes[id(repeat)] + 1)
                ]
                return ""

            self._within(repeat, steps)
        return self._steps.get(id(repeat), ["false()"])  # a cycle, reported

    def _so_far(self, repeat: _Group, passes: int) -> str:
        """The repeat_count with each calculate that counts the repeat read as `passes`."""

        def counted(match: re.Match[str]) -> str:
            counts_it = self.counters.get(match.group(1)) == repeat.name
            return str(passes) if counts_it else match.group(0)

        return _PIPE_RE.sub(counted, repeat.count)

    def _within(self, repeat: _Group, write: Callable[[], str]) -> str:
        """`write()` the passes of a repeat; a repeat_count that needs its own passes
        through other repeats' is a located error, not endless recursion."""
        ids = [id(g) for g in self._building]
        if id(repeat) in ids:
            cycle = [*self._building[ids.index(id(repeat)) :], repeat]
            if id(repeat) not in self._cycles:
                self._cycles.add(id(repeat))
                self.ctx.add(
                    Code.CALCULATION_CYCLE,
                    f"the repeat_count of '{repeat.name}' depends on its own passes through "
                    + " -> ".join(f"'{g.name}'" for g in cycle),
                    self.sheet.title,
                    repeat.row,
                    self._count_header,
                )
            return "0"
        self._building.append(repeat)
        try:
            return write()
        finally:
            self._building.pop()

    def _guard(self, repeat: _Group, k: int) -> _Group | None:
        """What makes pass k happen: its repeat_count, or 'yes' after the pass before."""
        source = self._exists(repeat, k)
        if source is None:
            return None
        return _Group(repeat.row, False, source, self._count_header)

    def _groups(self, repeat: _Group, groups: tuple[_Group, ...], k: int) -> tuple[_Group, ...]:
        """A row's groups in pass k: those inside the repeat read this pass's answers."""
        inside = groups[groups.index(repeat) + 1 :] if repeat in groups else ()
        copied = []
        for group in (repeat, *inside):
            key = (id(group), k)
            if key not in self._copies:
                relevant = self._rewrite(group.relevant, repeat, k)
                copy = _Group(group.row, False, relevant, group.relevant_header)
                self._copies[key] = copy
                self.pass_groups.append(copy)
            copied.append(self._copies[key])
        guard_key = (id(repeat), -k)
        if guard_key not in self._copies:
            guard = self._guard(repeat, k)
            if guard is not None:
                self._copies[guard_key] = guard
                self.pass_groups.append(guard)
        if guard_key in self._copies:
            copied.append(self._copies[guard_key])
        return (*repeat.parents, *copied)

    def _rewrite(self, text: str, repeat: _Group, k: int) -> str:
        body = self.body.get(id(repeat), [])

        def in_pass(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"${{{name}[{k}]}}" if name in body else match.group(0)

        text = _POSITION_RE.sub(str(k), _PIPE_RE.sub(in_pass, self._across(text)))
        return _INDEXED_RE.sub(lambda m: f"${{{m.group(1)}[{m.group(2)}]}}", text)

    def _loop_item(
        self, row: dict[str, str], choice: Choice, skip: set[str | None]
    ) -> dict[str, str]:
        """pyxform's loop placeholders: `%(name)s` is the pass's choice name and
        `%(label)s` its label, in the language of the column it stands in."""
        out = {}
        for header, value in row.items():
            if header not in skip and "%(" in value:
                language = self.header_language.get(header, self.default_language)
                label = choice.labels.get(language) or next(iter(choice.labels.values()), "")
                value = value.replace("%(label)s", label).replace("%(name)s", choice.name)
            out[header] = value
        return out

    def _passes_of(self, repeat: _Group, deciding: _Deciding | None = None) -> str:
        """count(${repeat}): how many passes it has (while pass k is being decided, the
        k - 1 before it)."""
        if deciding is not None and deciding[0] == id(repeat):
            return str(deciding[1] - 1)
        passes = self.passes[id(repeat)]
        if repeat.count and _WHOLE_NUMBER.fullmatch(repeat.count):
            return str(passes)
        if self._counted_by_itself(repeat):
            return f"_leading-true({', '.join(self._decided(repeat))})"
        if repeat.count:
            count = self._within(repeat, lambda: self._across(repeat.count))
            return f"min(max(int({count}), 0), {passes})"
        asked = ", ".join(f"${{{repeat.name}[{k}]}}" for k in range(1, passes))
        # One "Add another?" per pass but the last possible one.
        return f"(count-non-empty({asked}) + (${{{repeat.name}[{passes - 1}]}} = 'yes'))"

    def _across(self, text: str, deciding: _Deciding | None = None) -> str:
        text = self._expand_paths(text, deciding)

        def expand(match: re.Match[str]) -> str:
            function, name = match.groups()
            repeat_id = self.repeat_of_name.get(name)
            if function == "count" and name in self.repeats:
                return self._passes_of(self.repeats[name], deciding)
            if repeat_id is None:
                return match.group(0)
            passes = self.passes[repeat_id]
            if deciding is not None and deciding[0] == repeat_id:
                passes = deciding[1] - 1  # the passes so far
            if not passes:  # repeat_count 0
                return "number('')" if function in ("min", "max") else "0"
            names = ", ".join(f"${{{name}[{k}]}}" for k in range(1, passes + 1))
            return f"count-non-empty({names})" if function == "count" else f"{function}({names})"

        return _ACROSS_PASSES_RE.sub(expand, text)

    def _in_pass(self, r: _R, repeat: _Group, k: int) -> _R:
        skip = {self.sheet.column("type"), self.sheet.column("name")}
        row = {h: v if h in skip else self._rewrite(v, repeat, k) for h, v in r.row.items()}
        if repeat.loop and repeat.loop in self.lists:
            row = self._loop_item(row, self.lists[repeat.loop].choices[k - 1], skip)
        if k == 1:
            self._check_bare(r.number, row)
        name = f"{r.name}[{k}]" if r.name else ""
        return replace(r, row=row, name=name, groups=self._groups(repeat, r.groups, k))

    def _outside(self, r: _R) -> _R:
        skip = {self.sheet.column("type"), self.sheet.column("name")}
        row = {}
        for header, value in r.row.items():
            if header in skip or "${" not in value:
                row[header] = value
                continue
            value = self._across(value)
            row[header] = _INDEXED_RE.sub(lambda m: f"${{{m.group(1)}[{m.group(2)}]}}", value)
        self._check_bare(r.number, row)
        return replace(r, row=row)

    def _check_bare(self, number: int, row: Mapping[str, str]) -> None:
        """A repeat's question read outside it, as a single value: a located error."""
        for header, value in row.items():
            for match in _PIPE_RE.finditer(value):
                name = match.group(1)
                if name in self.repeat_of_name:
                    self.ctx.add(
                        Code.REPEAT_REFERENCE,
                        f"'${{{name}}}' is a question of a repeat: outside it, use "
                        f"count(${{{name}}}), sum(${{{name}}}) or one pass, ${{{name}[1]}}",
                        self.sheet.title,
                        number,
                        header,
                    )


_R = TypeVar("_R", "_QuestionRow", "_ComputedRow")


def _repeat_of(groups: Sequence[_Group]) -> _Group | None:
    """The (outermost) repeat a row is in."""
    return next((g for g in groups if g.repeat), None)


def _in_dependency_order(
    ctx: _Context, sheet: _Sheet, calculations: list[Calculation]
) -> list[Calculation]:
    """The calculations, each after the ones it refers to (else in form order), so one
    pass computes them all; those that depend on each other are a load error."""
    waiting = {c.name: c for c in calculations}
    ordered: list[Calculation] = []
    while waiting:
        ready = [
            c for c in waiting.values() if not any(n in waiting for n in c.references - {c.name})
        ]
        ready = [c for c in ready if c.name not in c.references]
        if not ready:
            break
        for calculation in ready:
            del waiting[calculation.name]
            ordered.append(calculation)
    for calculation in sorted(waiting.values(), key=lambda c: c.row):
        ctx.add(
            Code.CALCULATION_CYCLE,
            f"'{calculation.name}' depends on itself through "
            + ", ".join(sorted(f"${{{n}}}" for n in calculation.references & waiting.keys())),
            sheet.title,
            calculation.row,
            sheet.column("calculation") or sheet.column("default"),
        )
    return ordered


# -- question types as pyxform reads them ------------------------------------------------

# XLSForm's names for the types, as this module and its messages use them. pyxform's
# types with one definition (`gps`, `location`, `q geopoint`...) take the first of these
# names found among them: `q calculate` is calculate, not hidden.
_TYPE_NAMES = (
    *("text", "integer", "decimal", "date", "time", "datetime", "note"),
    *("calculate", "hidden", "acknowledge", "trigger", "range", "audit"),
    *("geopoint", "geotrace", "geoshape", "image", "audio", "video", "file", "barcode"),
    *("start", "end", "today", "deviceid", "phonenumber", "username", "email"),
    *("simserial", "subscriberid", "start-geopoint", "background-audio"),
    *("background-geopoint", "xml-external", "csv-external", "osm"),
)
# pyxform's select commands (`select one from`, `select_multiple`, `rank`...) -> ours.
_SELECT_NAMES = {
    "select one": "select_one",
    "select all that apply": "select_multiple",
    "select one external": "select_one_external",
    "rank": "rank",
}
_OR_OTHER = frozenset({"or_other", "or other", "or specify other"})


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len)[::-1])


_CONTROL_RE = re.compile(
    rf"(begin|end)[\s_]+({_alternation(pyxform_aliases.control)})(?:\s+(?:over\s+)?(\S+))?",
    re.IGNORECASE,
)
_SELECT_RE = re.compile(
    rf"({_alternation(pyxform_aliases.select)})(?:\s+(\S+))?(\s+(?:{_alternation(_OR_OTHER)}))?",
    re.IGNORECASE,
)


def _definition(spec: Mapping[str, Any]) -> str:
    """What makes two of pyxform's types one: the XForm control and bind they give, less
    a preset constraint (`phone number` is text, `percentage` an integer) and `uri:`."""
    bind = {k: str(v).removeprefix("uri:") for k, v in spec.get("bind", {}).items()}
    bind.pop("constraint", None)
    return repr((sorted(spec.get("control", {}).items()), sorted(bind.items())))


def _type_aliases() -> dict[str, str]:
    """Every simple type pyxform knows, case-folded -> its XLSForm name."""
    selects = {c.replace("_", " ") for c in pyxform_aliases.select}
    groups: dict[str, list[str]] = {}
    for written, spec in QUESTION_TYPE_DICT.items():
        tag = spec.get("control", {}).get("tag")
        if tag in ("select", "select1", "odk:rank") or written.replace("_", " ") in selects:
            continue  # a select command: it takes a list name (_SELECT_RE)
        groups.setdefault(_definition(spec), []).append(written.casefold())
    found: dict[str, str] = {}
    for group in groups.values():
        name = next((n for n in _TYPE_NAMES if n in group), None)
        for written in group:
            found[written] = written if written in _TYPE_NAMES else name or written
    return found


_TYPE_ALIASES = _type_aliases()


def _canonical_type(written: str) -> tuple[str, ...]:
    """The words of a type cell, every alias pyxform accepts named as XLSForm names it:
    `select one from jobs or specify other` -> (select_one, jobs, or_other), `begin_group`
    -> (begin, group), `lgroup` -> repeat, `int` -> (integer,), `gps` -> (geopoint,),
    `imei` -> (deviceid,). Anything else comes back as written, to be refused by name."""
    written = " ".join(written.split())
    control = _CONTROL_RE.fullmatch(written)
    if control:
        kind = pyxform_aliases.control[" ".join(control.group(2).lower().split())]
        over = (control.group(3),) if control.group(3) else ()
        return (control.group(1).lower(), kind, *over)
    select = _SELECT_RE.fullmatch(written)
    if select:
        command = " ".join(select.group(1).lower().replace("_", " ").split())
        original = next(c for c in pyxform_aliases.select if c.replace("_", " ") == command)
        name = _SELECT_NAMES[pyxform_aliases.select[original]]
        if original in pyxform_aliases.select_from_file:
            name += "_from_file"
        rest = (select.group(2),) if select.group(2) else ()
        return (name, *rest, *(("or_other",) if select.group(3) else ()))
    lowered = written.casefold()
    if lowered in _TYPE_ALIASES:
        return (_TYPE_ALIASES[lowered],)
    first, _, rest = written.partition(" ")
    if first.casefold() == "osm" and rest:
        return ("osm", *rest.split())
    return tuple(written.split())


_GROUP_ROWS = {
    "begin group": "begin group",
    "end group": "end group",
    "begin repeat": "begin repeat",
    "end repeat": "end repeat",
    "begin loop": "begin repeat",  # a repeat over a choice list
    "end loop": "end repeat",
}


def _survey_rows(
    ctx: _Context, sheet: _Sheet, type_header: str, name_header: str
) -> tuple[list[_QuestionRow], list[_Group], list[_ComputedRow]]:
    """First pass: types, names and groups. Names must all be known before expressions."""
    rows: list[_QuestionRow] = []
    computed: list[_ComputedRow] = []
    groups: list[_Group] = []
    stack: list[_Group] = []
    seen: dict[str, int] = {}
    relevant_header = sheet.column("relevant")
    calculation_header = sheet.column("calculation")

    def claim(name: str, number: int) -> str:
        """The row's name when it is usable and new, else '' (reported)."""
        report = partial(ctx.add, sheet=sheet.title, row=number, column=name_header)
        if not name:
            report(Code.INVALID_NAME, "every question needs a name")
        elif not _NAME_RE.fullmatch(name):
            report(Code.INVALID_NAME, _bad_name_message(name))
        elif name in seen:
            report(Code.DUPLICATE_NAME, f"'{name}' is already used on row {seen[name]}")
        else:
            seen[name] = number
            return name
        return ""

    for number, row in sheet.numbered_rows():
        report = partial(ctx.add, sheet=sheet.title, row=number)
        written = " ".join(row.get(type_header, "").split())
        words = _canonical_type(written)
        name = row.get(name_header, "").strip()
        if not words:
            report(Code.UNKNOWN_TYPE, "this row has content but no type", column=type_header)
            continue
        kind = _GROUP_ROWS.get(" ".join(words[:2]))
        loop = words[2] if words[:2] == ("begin", "loop") and len(words) > 2 else ""
        if kind in ("begin group", "begin repeat"):
            repeat = kind == "begin repeat"
            if repeat and any(g.repeat for g in stack):
                report(
                    Code.NESTED_REPEAT,
                    "a repeat inside a repeat cannot be asked over USSD or voice: make the "
                    "inner one a group, or a repeat of its own after the outer one",
                    column=type_header,
                )
            elif repeat:
                name = claim(name, number)  # its name[1], name[2]... hold "Add another?"
            if name and not _NAME_RE.fullmatch(name):
                report(Code.INVALID_NAME, _bad_name_message(name), column=name_header)
            relevant = row.get(relevant_header, "").strip() if relevant_header else ""
            group = _Group(number, repeat, relevant, relevant_header, parents=(*stack,))
            if repeat:
                group.name = name
                group.count = row.get(sheet.column("repeat_count") or "", "").strip()
                group.loop = loop
            groups.append(group)
            stack.append(group)
            continue
        if kind in ("end group", "end repeat"):
            if stack and stack[-1].repeat == (kind == "end repeat"):
                stack.pop()
            else:
                report(
                    Code.UNBALANCED_GROUP, f"'{kind}' without a matching begin", column=type_header
                )
            continue
        kind = words[0].lower() if len(words) == 1 else ""
        if kind in _METADATA_TYPES or kind in _COMPUTED_TYPES:
            if name or kind not in _METADATA_TYPES:  # a nameless metadata row: nothing
                computed.append(_ComputedRow(number, row, claim(name, number), kind, (*stack,)))
            continue
        if _left_out_unaskable(ctx, sheet, number, row, words, written, name, seen):
            continue
        acknowledge = len(words) == 1 and words[0].lower() in _ACKNOWLEDGE_TYPES
        question_type, list_name, problem = (
            (QuestionType.SELECT_ONE, None, None) if acknowledge else _question_type(words, written)
        )
        if problem is not None:
            report(problem[0], problem[1], column=type_header)
            continue
        assert question_type is not None
        if not name and question_type is QuestionType.NOTE:
            name = f"generated_note_name_{number}"  # as pyxform names it
        if list_name and words[0].lower() == "select_one_external":
            list_name = _external(list_name)  # its list is the external_choices sheet's
        name = claim(name, number)
        if calculation_header and row.get(calculation_header, "").strip():
            # ODK overwrites whatever is typed in it: a calculation, not a question.
            computed.append(_ComputedRow(number, row, name, "calculate", (*stack,)))
            continue
        or_other = question_type.has_choices and _has_or_other(words)
        if or_other and name:
            other = f"{name}_other"
            if other in seen:
                report(
                    Code.DUPLICATE_NAME,
                    f"'{other}', the question or_other adds, is already used on row {seen[other]}",
                    column=type_header,
                )
            seen.setdefault(other, number)
        rows.append(
            _QuestionRow(
                number, row, name, question_type, list_name, tuple(stack), or_other, acknowledge
            )
        )
    for group in stack:
        ctx.add(
            Code.UNBALANCED_GROUP,
            f"this '{'begin repeat' if group.repeat else 'begin group'}' is never ended",
            sheet.title,
            group.row,
            type_header,
        )
    return rows, groups, computed


def _left_out_unaskable(
    ctx: _Context,
    sheet: _Sheet,
    number: int,
    row: Mapping[str, str],
    words: list[str],
    as_written: str,
    name: str,
    seen: dict[str, int],
) -> bool:
    """True when the row asks what a phone cannot give: an error, or with
    --skip-unaskable a warning, and the question is left out. `words`: the type's
    canonical words; `as_written`: the cell, for messages ('gps' (geopoint))."""
    written = " ".join(words)
    shown_type = f"'{as_written}'"
    if as_written.casefold() != written.casefold():
        shown_type += f" ({written})"
    appearance = row.get(sheet.column("appearance") or "", "").lower().split()
    what = _UNASKABLE_TYPES.get(written.casefold()) or _UNASKABLE_TYPES.get(
        words[0].casefold() if words[0].casefold() == "osm" else ""
    )
    if what is None and _shows_only_media(sheet, row, words):
        what = "looking at a picture or video (the note has no words to show or say)"
    if what == "a photo" and "signature" in appearance:
        what = "a signature"
    elif written.casefold() == "range" and "picker" not in appearance:
        what = "a position on a slider"
    if what is None:
        return False
    header = sheet.column("type")
    if name and name not in seen:  # the name is taken, and known to expressions
        seen[name] = number
        ctx.left_out[name] = number
    if not ctx.skip_unaskable:
        ctx.add(
            Code.UNASKABLE_TYPE,
            f"type {shown_type} asks for {what}, which a phone cannot give over USSD or "
            "voice: remove the question, or import with --skip-unaskable to leave it out",
            sheet.title,
            number,
            header,
        )
        return True
    shown = f"'{name}'" if name else "this question"
    ctx.warn(
        FormWarningCode.UNASKABLE_SKIPPED,
        f"{shown} (type {shown_type}) is left out: it asks for {what}, which a phone cannot give",
        sheet.title,
        number,
        header,
    )
    return True


def _shows_only_media(sheet: _Sheet, row: Mapping[str, str], words: list[str]) -> bool:
    """A note of an image or video and no label or hint in any language."""
    if words[0].casefold() != "note":
        return False
    filled = {c.base for c in sheet.columns if row.get(c.header, "").strip()}
    return not filled & {"label", "hint"} and bool(filled & _MEDIA_COLUMNS)


_MEDIA_COLUMNS = frozenset({"image", "big-image", "video", "audio"})
_OR_OTHER = frozenset({("or_other",), ("or", "other"), ("or", "specify", "other")})


def _has_or_other(words: list[str]) -> bool:
    lowered = tuple(w.lower() for w in words)
    return any(len(words) > len(s) + 1 and lowered[-len(s) :] == s for s in _OR_OTHER)


def _question_type(
    words: Sequence[str], written: str
) -> tuple[QuestionType | None, str | None, tuple[FormErrorCode, str] | None]:
    """(type, list name, problem) from the canonical words of a type cell as `written`."""
    lowered = tuple(w.lower() for w in words)
    for prefix, select_type in _SELECT_TYPES.items():
        if lowered[: len(prefix)] == prefix:
            rest = words[len(prefix) :]
            if not rest:
                return None, None, (Code.MISSING_CHOICE_LIST, f"'{written}' needs a list name")
            if len(rest) > 1 and tuple(w.lower() for w in rest[1:]) in _OR_OTHER:
                return select_type, rest[0], None
            if len(rest) > 1:
                return None, None, (Code.UNKNOWN_TYPE, f"unknown type '{written}'")
            return select_type, rest[0], None
    if len(words) == 1 and lowered[0] in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[lowered[0]], None, None
    if lowered[0] in _UNSUPPORTED_TYPES:
        advice = _NOT_YET.get(lowered[0])
        shown = f"'{written}'" if len(words) == 1 else f"'{words[0]}'"
        if len(words) == 1 and written.casefold() != lowered[0]:
            shown += f" ({words[0]})"  # an alias: 'gps' (geopoint)
        message = f"type {shown} cannot be asked over USSD or voice"
        if advice:
            message = f"type {shown} is not supported yet: {advice}"
        return None, None, (Code.UNSUPPORTED_TYPE, message)
    return (
        None,
        None,
        (
            Code.UNKNOWN_TYPE,
            f"unknown type '{written}'; use select_one, select_multiple, integer, decimal, "
            "text, date, time, datetime or note",
        ),
    )


# pyxform's test of a dynamic default: a reference, or a function called.
_DYNAMIC_DEFAULT_RE = re.compile(r"\$\{|[A-Za-z][\w:-]*\s*\(")
_INTEGER_DEFAULT = re.compile(r"-?\d{1,9}")
_DECIMAL_DEFAULT = re.compile(r"-?\d{1,12}(?:\.\d{1,9})?")


def _iso_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _bad_name_message(name: str) -> str:
    return (
        f"name '{name}' must start with a letter or _ and contain only letters, digits, _, - and ."
    )


class _QuestionBuilder:
    """Second pass: texts, expressions and choices of each question row."""

    def __init__(
        self,
        ctx: _Context,
        sheet: _Sheet,
        languages: _Languages,
        names: frozenset[str],
        choice_columns: frozenset[str],
        tables: Callable[[str], Table | None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.sheet = sheet
        self.languages = languages
        self.names = names
        self.choice_columns = choice_columns
        self.tables = tables

    def build(
        self, r: _QuestionRow, lists: Mapping[str, _ChoiceList], *, choices_present: bool
    ) -> Question:
        labels = _required_labels(
            self.ctx, self.sheet, r.number, r.row, self.languages, what="question"
        )
        choices: tuple[Choice, ...] = ()
        choice_filter = None
        if r.list_name is not None or r.acknowledge:
            choices = self.choices(r, lists, choices_present=choices_present)
            choice_filter = self.expression(r.number, r.row, "choice_filter")
            if r.or_other:
                choices = self.with_other(choices)
                if choice_filter is not None:
                    self.ctx.add(
                        Code.OR_OTHER_WITH_CHOICE_FILTER,
                        "or_other cannot be used with a choice_filter (pyxform refuses it "
                        "too): add an 'other' choice to the list instead",
                        self.sheet.title,
                        r.number,
                        self.sheet.column("choice_filter"),
                    )
        default, default_expression = self.default(r, choices)
        return Question(
            name=r.name,
            type=r.type,
            labels=self.texts(r.number, labels),
            row=r.number,
            hints=self.optional_texts(r, "hint"),
            choices=choices,
            list_name=r.list_name,
            relevant=self.relevant(r),
            constraint=self.expression(r.number, r.row, "constraint"),
            constraint_messages=self.optional_texts(r, "constraint_message"),
            required=self.required(r),
            required_messages=self.optional_texts(r, "required_message"),
            choice_filter=choice_filter,
            appearance=r.row.get(self.sheet.column("appearance") or "", "").strip(),
            default=default,
            default_expression=default_expression,
        )

    # -- or_other ---------------------------------------------------------------------

    def with_other(self, choices: tuple[Choice, ...]) -> tuple[Choice, ...]:
        """The list with an `other` choice at its end, unless it has one."""
        if any(c.name == "other" for c in choices):
            return choices
        codes = [language.code for language in self.languages.ordered]
        return (*choices, Choice("other", {code: phrase("other", code) for code in codes}))

    def specify_other(self, r: _QuestionRow) -> Question:
        """The text question after a select with or_other, as pyxform adds it."""
        codes = [language.code for language in self.languages.ordered]
        return Question(
            name=_other_name(r.name),
            type=QuestionType.TEXT,
            labels={code: Text.plain(phrase("specify_other", code)) for code in codes},
            row=r.number,
            relevant=compile_expression(f"selected(${{{r.name}}}, 'other')"),
        )

    def add_another(self, a: _AddAnother) -> Question:
        """ "Add another?" after a pass of a repeat, a system phrase with yes and no."""
        codes = [language.code for language in self.languages.ordered]
        return Question(
            name=a.name,
            type=QuestionType.SELECT_ONE,
            labels={code: Text.plain(phrase("add_another", code)) for code in codes},
            row=a.repeat.row,
            choices=tuple(
                Choice(answer, {code: phrase(answer, code) for code in codes})
                for answer in ("yes", "no")
            ),
            relevant=self.relevant(_ComputedRow(a.repeat.row, {}, a.name, "", a.groups)),
            required=True,
        )

    def calculation(self, c: _ComputedRow) -> Calculation:
        """A computed row: its expression (or hidden value), relevant and references."""
        metadata = _METADATA_TYPES.get(c.kind)
        relevant = self.relevant(c)
        expression, value = None, ""
        if metadata is None:
            expression = self.expression(c.number, c.row, "calculation")
            header = self.sheet.column("calculation")
            written = c.row.get(header, "").strip() if header else ""
            if c.kind == "hidden" and not written:
                value, expression = self.dynamic_or_plain(c.number, c.row)
            elif c.kind == "calculate" and not written:
                self.ctx.add(
                    Code.MISSING_CALCULATION,
                    "a calculate row needs its expression in a 'calculation' column",
                    self.sheet.title,
                    c.number,
                    header or "calculation",
                )
        references: set[str] = set()
        for used in (expression, relevant):
            if used is not None:
                references |= used.references
        return Calculation(
            name=c.name,
            row=c.number,
            expression=expression,
            value=value,
            metadata=metadata,
            relevant=relevant,
            references=frozenset(references),
        )

    def dynamic_or_plain(
        self, number: int, row: Mapping[str, str]
    ) -> tuple[str, Expression | None]:
        """The `default` cell: a plain value as written, or an expression when it refers
        to a question or calls a function (as pyxform tells them apart)."""
        header = self.sheet.column("default")
        raw = row.get(header, "").strip() if header else ""
        if not raw or header is None:
            return "", None
        if _DYNAMIC_DEFAULT_RE.search(raw):
            return "", self.compile(number, header, raw, "default")
        return raw, None

    def default(self, r: _QuestionRow, choices: Sequence[Choice]) -> tuple[str, Expression | None]:
        value, expression = self.dynamic_or_plain(r.number, r.row)
        if not value:
            return "", expression
        names = {c.name for c in choices}
        problem = {
            QuestionType.INTEGER: None if _INTEGER_DEFAULT.fullmatch(value) else "a whole number",
            QuestionType.DECIMAL: None if _DECIMAL_DEFAULT.fullmatch(value) else "a number",
            QuestionType.DATE: None if _iso_date(value) else "a date written YYYY-MM-DD",
            QuestionType.TIME: None if canonical_time(value) else "a time written HH:MM",
            QuestionType.DATETIME: (
                None if canonical_datetime(value) else "a date and time written YYYY-MM-DDTHH:MM"
            ),
            QuestionType.SELECT_ONE: None if value in names else "the name of one of its choices",
            QuestionType.SELECT_MULTIPLE: (
                None if set(value.split()) <= names else "names of its choices"
            ),
            QuestionType.RANK: (
                None
                if set(value.split()) == names and len(value.split()) == len(names)
                else "the names of all its choices, in order"
            ),
        }.get(r.type)
        if problem is None:
            if r.type is QuestionType.TIME:  # 9:00 and 09:00:00 are stored as 09:00
                value = canonical_time(value) or value
            elif r.type is QuestionType.DATETIME:
                value = canonical_datetime(value) or value
            return value, None
        if choices or not r.type.has_choices:  # a missing list is reported already
            self.ctx.add(
                Code.BAD_DEFAULT,
                f"the default '{value}' of a {r.type.value} question must be {problem}",
                self.sheet.title,
                r.number,
                self.sheet.column("default"),
            )
        return "", None

    # -- texts ------------------------------------------------------------------------

    def texts(self, number: int, found: Mapping[str, tuple[str, str]]) -> dict[str, Text]:
        return {code: self.text(number, header, raw) for code, (raw, header) in found.items()}

    def optional_texts(self, r: _QuestionRow, base: str) -> dict[str, Text]:
        found = _cell_texts(r.row, self.sheet, base, self.languages)
        fallback = found.get(self.languages.default.code)
        for language in self.languages.ordered:
            if language.code not in found and fallback is not None:
                found[language.code] = fallback
        return self.texts(r.number, found)

    def text(self, number: int, header: str, raw: str) -> Text:
        parts: list[str | Pipe] = []
        position = 0
        for match in _PIPE_RE.finditer(raw):
            if match.start() > position:
                parts.append(raw[position : match.start()])
            name = match.group(1)
            if name not in self.names:
                self.ctx.add(
                    Code.UNDEFINED_REFERENCE,
                    f"'${{{name}}}' is not a question of this form",
                    self.sheet.title,
                    number,
                    header,
                )
            self.warn_left_out(number, header, [name])
            parts.append(Pipe(name))
            position = match.end()
        if position < len(raw):
            parts.append(raw[position:])
        return Text(tuple(parts))

    # -- expressions ------------------------------------------------------------------

    def expression(self, number: int, row: Mapping[str, str], base: str) -> Expression | None:
        header = self.sheet.column(base)
        source = row.get(header, "").strip() if header else ""
        if not source or header is None:
            return None
        return self.compile(number, header, source, base)

    def compile(self, number: int, header: str, source: str, role: str) -> Expression | None:
        def add(code: FormErrorCode, message: str) -> None:
            self.ctx.add(code, message, self.sheet.title, number, header)

        source = _as_xpath(source)
        try:
            # Compile permissively, then say precisely what is out of place.
            expression = compile_expression(
                source, allow_dot=True, allow_bare_names=True, tables=self.tables
            )
        except MissingTableError as error:
            add(Code.MISSING_MEDIA, str(error))
            return None
        except UnsupportedPatternError as error:
            add(Code.UNSUPPORTED_PATTERN, str(error))
            return None
        except UnsupportedFunctionError as error:
            if self.ctx.skip_unaskable and error.function in GEO_FUNCTIONS:
                self.ctx.warn(
                    FormWarningCode.UNASKABLE_REFERENCE,
                    f"{error.function}() reads a shape or point a phone cannot give: this "
                    f"{role} is left out (empty)",
                    self.sheet.title,
                    number,
                    header,
                )
                return None
            add(Code.UNSUPPORTED_FUNCTION, str(error))
            return None
        except ExpressionError as error:
            add(Code.BAD_EXPRESSION, str(error))
            return None
        ok = True
        if expression.uses_dot and role != "constraint":
            ok = False
            add(
                Code.DOT_OUTSIDE_CONSTRAINT,
                "'.' (the answer being checked) only means something in a constraint; "
                "refer to a question as ${name}",
            )
        if expression.bare_names and role != "choice_filter":
            ok = False
            shown = ", ".join(sorted(expression.bare_names))
            add(
                Code.BARE_NAME_OUTSIDE_CHOICE_FILTER,
                f"{shown}: write ${{name}} for a question or 'quotes' for text",
            )
        for name in sorted(expression.references - self.names):
            ok = False
            add(Code.UNDEFINED_REFERENCE, f"'${{{name}}}' is not a question of this form")
        self.warn_left_out(number, header, sorted(expression.references))
        if role == "choice_filter":
            for name in sorted(expression.bare_names - self.choice_columns):
                # XPath reads a column no choice has as empty, and pyxform lets it be.
                self.ctx.warn(
                    FormWarningCode.UNKNOWN_CHOICE_COLUMN,
                    f"'{name}' is not a column of the choices sheet: it reads as empty, so "
                    f"this filter may let no choice through; write '{name}' in quotes if "
                    "you meant the text",
                    self.sheet.title,
                    number,
                    header,
                )
        return expression if ok else None

    def warn_left_out(self, number: int, header: str, names: Iterable[str]) -> None:
        if not self.ctx.skip_unaskable:
            return  # the form is refused for the question itself
        for name in names:
            if name in self.ctx.left_out:
                self.ctx.warn(
                    FormWarningCode.UNASKABLE_REFERENCE,
                    f"'${{{name}}}' is left out (row {self.ctx.left_out[name]}: a phone cannot "
                    "ask it), so here it is always empty",
                    self.sheet.title,
                    number,
                    header,
                )

    def check_group(self, group: _Group) -> None:
        if group.relevant and group.relevant_header:
            group.compiled = self.compile(
                group.row, group.relevant_header, group.relevant, "relevant"
            )
            group.broken = group.compiled is None

    def relevant(self, r: _QuestionRow | _ComputedRow) -> Expression | None:
        """The question's own relevant ANDed with those of the groups around it."""
        own = self.expression(r.number, r.row, "relevant")
        header = self.sheet.column("relevant")
        if own is None and header and r.row.get(header, "").strip():
            return None  # the question's own relevant is broken (already reported)
        if any(g.broken for g in r.groups):
            return None
        parts = [g.compiled for g in r.groups if g.compiled is not None]
        if own is not None:
            parts.append(own)
        if len(parts) <= 1:
            return parts[0] if parts else None
        combined = " and ".join(f"({p.source})" for p in parts)
        try:
            return compile_expression(
                combined, allow_dot=True, allow_bare_names=True, tables=self.tables
            )
        except ExpressionError as error:  # only the nesting limits can get here
            self.ctx.add(Code.BAD_EXPRESSION, str(error), self.sheet.title, r.number, header)
            return None

    # -- required and choices ---------------------------------------------------------

    def required(self, r: _QuestionRow) -> bool:
        header = self.sheet.column("required")
        value = r.row.get(header, "").strip() if header else ""
        if value.lower() in _TRUE_WORDS:
            return True
        if value.lower() not in _FALSE_WORDS:
            self.ctx.add(
                Code.BAD_REQUIRED,
                f"required must be yes or no, not '{value}'",
                self.sheet.title,
                r.number,
                header,
            )
        return False

    def choices(
        self, r: _QuestionRow, lists: Mapping[str, _ChoiceList], *, choices_present: bool
    ) -> tuple[Choice, ...]:
        if r.acknowledge:
            codes = [language.code for language in self.languages.ordered]
            return (Choice("OK", {code: phrase("ok", code) for code in codes}),)
        type_header = self.sheet.column("type")
        choice_list = lists.get(r.list_name or "")
        if choice_list is None and _FILE_LIST.fullmatch(r.list_name or ""):
            self.ctx.add(
                Code.MISSING_CHOICE_LIST,
                _missing_file_message(r.list_name or ""),
                self.sheet.title,
                r.number,
                type_header,
            )
            return ()
        if choice_list is None:
            if choices_present:  # else the missing sheet itself was reported
                self.ctx.add(
                    Code.MISSING_CHOICE_LIST,
                    _missing_list_message(r.list_name or ""),
                    self.sheet.title,
                    r.number,
                    type_header,
                )
            return ()
        if r.type in (QuestionType.SELECT_MULTIPLE, QuestionType.RANK):
            for name, (sheet_title, row, column) in choice_list.spaced.items():
                self.ctx.add(
                    Code.INVALID_NAME,
                    f"choice name '{name}' contains a space; answers to "
                    f"{r.type.value} are choice names separated by spaces",
                    sheet_title,
                    row,
                    column,
                )
        if not choice_list.choices and not choice_list.has_errors:
            self.ctx.add(
                Code.EMPTY_CHOICE_LIST,
                f"choice list '{(r.list_name or '').rpartition(':')[2]}' has no choices",
                self.sheet.title,
                r.number,
                type_header,
            )
        return tuple(choice_list.choices)
