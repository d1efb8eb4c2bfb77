"""The XLSForm expression language (a small subset of XPath 1.0), compiled once, run safely.

An expression is parsed when the form is loaded (`compile_expression`), so a typo is a
load error for the form's author and never a surprise in the middle of a phone call.
Evaluation walks the parsed tree; there is no `eval`, and `Expression.evaluate` never
raises, whatever the answers are.

Grammar, loosest binding first (all binary operators are left-associative)::

    or  ->  and  ->  = !=  ->  < <= > >=  ->  + -  ->  * div mod  ->  unary -  ->  primary
    primary: ${name} | . | name | 'text' | "text" | 12 | 1.5 | ( expr ) | function(args)

Values follow XPath 1.0: every answer is a string ("" when unanswered), a select_multiple
answer is its choice names separated by spaces, a date is 'YYYY-MM-DD', a time of day
'HH:MM' (as a number, the fraction of a day it is, so `${t} < '12:00'` works). Numbers are
floats; arithmetic on text gives NaN and dividing by zero gives an infinity or NaN
instead of raising.

Comparison rules:
  * `=` / `!=`: if either side is a boolean, both are compared as booleans; else if either
    side is a number, both are compared as numbers (text that is not a number is NaN, so
    `=` is false and `!=` is true); else as strings.
  * `<` `<=` `>` `>=`: numerically, NaN making the result false. One addition to XPath:
    two ISO dates ('2024-01-31') compare as strings, which orders them by date.

`regex(value, pattern)` runs on RE2, whose matching time grows with the answer's length
only: a respondent's answer cannot stall the process however the author wrote the
pattern (`(a+)+$` included). RE2 has no back-references and no look-ahead or
look-behind; a pattern with one is a load error (`UnsupportedPatternError`). Like ODK
Collect's Java patterns, `\\d` and `\\w` mean ASCII digits and word characters.

Error positions in `ExpressionError` messages count characters from 1.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar, Protocol

import re2

__all__ = [
    "FUNCTIONS",
    "Environment",
    "Expression",
    "ExpressionError",
    "MissingTableError",
    "Table",
    "UnsupportedFunctionError",
    "UnsupportedPatternError",
    "Value",
    "compile_expression",
]

Value = str | float | bool

# Names as XLSForm allows them in ${...}; the same rule the loader applies to names.
NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_NAME_RE = re.compile(NAME_PATTERN)
# Inside ${...} a name may carry a repeat's pass, 1-based, as answers store it: ${child[2]}.
_REFERENCE_NAME_RE = re.compile(NAME_PATTERN + r"(?:\[[1-9][0-9]{0,2}\])?")

# Deep nesting would turn into RecursionError while parsing or evaluating; no form
# written by a person comes close to these.
_MAX_NESTING = 32  # parentheses, function calls and unary minus inside each other
_MAX_DEPTH = 120  # height of the parsed tree

_XPATH_NUMBER_RE = re.compile(r"\s*-?(?:\d+(?:\.\d*)?|\.\d+)\s*")
_ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_QUOTED_REFERENCE_RE = re.compile(r"\s*\$\{(" + _REFERENCE_NAME_RE.pattern + r")\}\s*")

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<ref>\$\{)
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op><=|>=|!=|=|<|>|\+|-|\*|\(|\)|,|/|\[|\])
  | (?P<dot>\.)
  | (?P<name>(?:jr:)?"""
    + NAME_PATTERN
    + r""")
    """,
    re.VERBOSE,
)


class ExpressionError(ValueError):
    """The expression cannot be compiled; `str()` is a message for the form's author.

    `position` is the 1-based character position at fault, when there is one.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


class UnsupportedPatternError(ExpressionError):
    """A regex() pattern Java or Python would take but RE2 cannot run in linear time (a
    back-reference, look-ahead or look-behind, atomic group, possessive quantifier)."""


class MissingTableError(ExpressionError):
    """pulldata() or instance() names a list that is neither a choice list of the form
    nor a file imported beside it; `name` is the one named."""

    def __init__(self, message: str, position: int | None, name: str) -> None:
        super().__init__(message, position)
        self.name = name


class UnsupportedFunctionError(ExpressionError):
    """A function XLSForm knows that cannot work here (`uuid()` an id the engine does
    not make, `area()` a geoshape no phone gives); `function` is its name."""

    def __init__(self, message: str, position: int | None, function: str = "") -> None:
        super().__init__(message, position)
        self.function = function


class _Pattern(Protocol):
    def search(self, text: bytes) -> object | None: ...


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the load error says it; RE2 would also log to stderr

# What RE2 names at fault (the fragment ends its message) -> the feature in the form
# author's words, and how to do without it.
_LOOKAROUND_INSTEAD = "check each condition with its own regex() and join them with 'and'"
_UNSUPPORTED_FEATURES = (
    (re.compile(r"\\[1-9]$|\\k$|\(\?P$"), "a back-reference", "rewrite the pattern without it"),
    (re.compile(r"\(\?[=!]$"), "a look-ahead", _LOOKAROUND_INSTEAD),
    (re.compile(r"\(\?<[=!]$"), "a look-behind", _LOOKAROUND_INSTEAD),
    (re.compile(r"\(\?>$"), "an atomic group", "write the group as (...), without '?>'"),
    (re.compile(r"[*+?}]\+$"), "a possessive quantifier", "drop the '+' after the repetition"),
)


# --------------------------------------------------------------------------------------
# Value conversions (XPath 1.0 string(), number(), boolean())
# --------------------------------------------------------------------------------------


def _to_bool(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return not (value == 0 or math.isnan(value))
    return value != ""


def _to_number(value: Value) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    # Python's float() also takes '1e5', 'inf', 'nan' and '1_000'; XPath takes none.
    if _XPATH_NUMBER_RE.fullmatch(value):
        return float(value)
    # A date or a time is its number of days since 1970-01-01, as in ODK: `today() -
    # ${born}` is an age in days.
    days = _days(value)
    return math.nan if days is None else days


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ISO_START_RE = re.compile(r"\s*\d{4}-\d{2}-\d{2}")
_TIME_OF_DAY_RE = re.compile(r"\s*\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?\s*")


def _moment(value: str) -> dt.datetime | None:
    """An ISO date ('2026-06-15') or date and time ('2026-06-15T10:30:00+03:00'), as a
    time (a date is its midnight in UTC, a time without a zone is read as UTC). A time
    of day alone ('14:30', a `time` answer) is that time on 1970-01-01, as in ODK: it
    is a fraction of a day as a number, so times compare and format-date-time reads it."""
    if _TIME_OF_DAY_RE.fullmatch(value):
        try:
            time = dt.time.fromisoformat(value.strip())
        except ValueError:
            return None
        return dt.datetime.combine(_EPOCH.date(), time, time.tzinfo or dt.UTC)
    if not _ISO_START_RE.match(value):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _days(value: str) -> float | None:
    moment = _moment(value)
    if moment is None:
        return None
    return (moment - _EPOCH) / dt.timedelta(days=1)


def _format_number(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"  # also for -0, as XPath says
    # Plain decimal notation, never '1e-07' (XPath has no exponents).
    text = format(Decimal(repr(number)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _to_string(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _format_number(value)
    return value


def _as_text(raw: object) -> str:
    # Callers promise strings, but a None or a number from a sloppy caller must not
    # make an expression raise in the middle of a session.
    if isinstance(raw, str):
        return raw
    return "" if raw is None else str(raw)


# --------------------------------------------------------------------------------------
# The parsed tree
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Environment:
    """What an expression may know beyond the answers, given by the caller: the clock
    (`today()`, `now()`), and the label of a choice in the respondent's language
    (`jr:choice-name()`, `jr:itext()`). Without them `today()` is '' and a choice's name
    is its label: nothing here reads the system clock."""

    now: dt.datetime | None = None  # timezone-aware
    choice_label: Callable[[str, str], str] | None = None  # (question, choice) -> label
    language: str = ""  # the respondent's, for a choice list's labels read as data


_NO_ENVIRONMENT = Environment()


@dataclass(frozen=True, slots=True, eq=False)
class Table:
    """Rows an expression may look up: a choice list (`instance('list')/root/item`) or
    a CSV file beside the form (`pulldata('file', ...)`). A row maps each column to its
    text. In a choice list, `label` is the label in the default language and
    `label::<code>` in each language, so a lookup says it in the respondent's."""

    rows: tuple[Mapping[str, str], ...]
    columns: frozenset[str]
    choice_list: bool = False
    _first: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    def first(self, column: str, value: str) -> Mapping[str, str] | None:
        """The first row whose `column` is `value`, through an index made once per
        column: a 10,000-row file is not scanned on every turn."""
        index = self._first.get(column)
        if index is None:
            index = {}
            for number, row in enumerate(self.rows):
                index.setdefault(row.get(column, ""), number)
            self._first[column] = index
        number = index.get(value)
        return None if number is None else self.rows[number]

    def cell(self, row: Mapping[str, str], column: str, language: str) -> str:
        if self.choice_list and column in ("label", "itextId"):
            return row.get(f"label::{language}") or row.get("label", "")
        return row.get(column, "")


@dataclass(frozen=True, slots=True)
class _Scope:
    answers: Mapping[str, str]
    current: str | None
    columns: Mapping[str, str] | None
    environment: Environment = _NO_ENVIRONMENT


class _Node:
    __slots__ = ()
    depth: int

    def evaluate(self, scope: _Scope) -> Value:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _Literal(_Node):
    value: Value
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        return self.value


@dataclass(frozen=True, slots=True)
class _Reference(_Node):
    name: str
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        return _as_text(scope.answers.get(self.name))


@dataclass(frozen=True, slots=True)
class _Current(_Node):
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        return _as_text(scope.current)


@dataclass(frozen=True, slots=True)
class _Column(_Node):
    """A bare name in a choice_filter: a column of the choice being filtered."""

    name: str
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        if scope.columns is None:
            return ""
        return _as_text(scope.columns.get(self.name))


@dataclass(frozen=True, slots=True)
class _Negate(_Node):
    operand: _Node
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        return -_to_number(self.operand.evaluate(scope))


@dataclass(frozen=True, slots=True)
class _Logical(_Node):
    """`a and b and c` as one node, so long chains do not make a deep tree."""

    operator: str  # "and" | "or"
    operands: tuple[_Node, ...]
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        if self.operator == "and":
            return all(_to_bool(o.evaluate(scope)) for o in self.operands)
        return any(_to_bool(o.evaluate(scope)) for o in self.operands)


def _equal(left: Value, right: Value) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return _to_bool(left) == _to_bool(right)
    if isinstance(left, float) or isinstance(right, float):
        return _to_number(left) == _to_number(right)
    return left == right


_RELATIONS: Mapping[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _relate(relation: str, left: Value, right: Value) -> bool:
    compare = _RELATIONS[relation]
    if (
        isinstance(left, str)
        and isinstance(right, str)
        and _ISO_DATE_RE.fullmatch(left)
        and _ISO_DATE_RE.fullmatch(right)
    ):
        return compare(left, right)
    # NaN (text that is not a number) makes every comparison false, as XPath wants.
    return compare(_to_number(left), _to_number(right))


def _divide(x: float, y: float) -> float:
    if y == 0:
        if x == 0 or math.isnan(x):
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def _modulo(x: float, y: float) -> float:
    # XPath's mod keeps the dividend's sign, like C's fmod (Python's % does not).
    try:
        return math.fmod(x, y)
    except ValueError:  # y == 0 or x infinite
        return math.nan


_ARITHMETIC: Mapping[str, Callable[[float, float], float]] = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "div": _divide,
    "mod": _modulo,
}


@dataclass(frozen=True, slots=True)
class _Binary(_Node):
    operator: str
    left: _Node
    right: _Node
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        left = self.left.evaluate(scope)
        right = self.right.evaluate(scope)
        if self.operator == "=":
            return _equal(left, right)
        if self.operator == "!=":
            return not _equal(left, right)
        if self.operator in ("<", "<=", ">", ">="):
            return _relate(self.operator, left, right)
        return _ARITHMETIC[self.operator](_to_number(left), _to_number(right))


def _fn_int(value: Value) -> float:
    number = _to_number(value)
    if math.isfinite(number):
        return float(math.trunc(number))
    return number  # math.trunc raises on NaN and infinities


def _fn_coalesce(first: Value, second: Value) -> Value:
    return first if _to_string(first) != "" else second


def _fn_round(value: Value, digits: Value = 0.0) -> float:
    number, places = _to_number(value), _to_number(digits)
    if not (math.isfinite(number) and math.isfinite(places)):
        return number if math.isfinite(places) else math.nan
    # Half away from zero, on the decimal the author sees (2.675 -> 2.68), as ODK.
    try:
        exponent = Decimal(1).scaleb(-int(places))
        return float(Decimal(repr(number)).quantize(exponent, rounding=ROUND_HALF_UP))
    except InvalidOperation:  # more places than a float holds
        return number


def _numbers(values: Sequence[Value]) -> list[float]:
    """Every number in the arguments: a select_multiple's answer is several ('1 3')."""
    found: list[float] = []
    for value in values:
        if isinstance(value, str):
            found.extend(_to_number(item) for item in value.split())
        else:
            found.append(_to_number(value))
    return found


def _fn_sum(*values: Value) -> float:
    return math.fsum(_numbers(values))


def _fn_extreme(pick: Callable[[list[float]], float]) -> Callable[..., float]:
    def extreme(*values: Value) -> float:
        numbers = _numbers(values)
        if not numbers or any(math.isnan(n) for n in numbers):
            return math.nan
        return pick(numbers)

    return extreme


def _fn_math(function: Callable[..., float]) -> Callable[..., float]:
    """A math function on XPath numbers: NaN instead of an exception."""

    def apply(*values: Value) -> float:
        try:
            return float(function(*(_to_number(v) for v in values)))
        except (ValueError, OverflowError, ZeroDivisionError):
            return math.nan

    return apply


def _fn_selected_at(answer: Value, index: Value) -> str:
    items, number = _to_string(answer).split(), _to_number(index)
    if not math.isfinite(number) or not 0 <= int(number) < len(items):
        return ""
    return items[int(number)]


def _fn_substr(text: Value, start: Value, end: Value | None = None) -> str:
    """ODK's substr: from `start` (counted from 0) to before `end`."""
    string = _to_string(text)
    first = _to_number(start)
    last = float(len(string)) if end is None else _to_number(end)
    if math.isnan(first) or math.isnan(last):
        return ""
    low = int(max(0.0, min(float(len(string)), first)))
    high = int(max(0.0, min(float(len(string)), last)))
    return string[low:high]


def _fn_before(text: Value, marker: Value) -> str:
    string, found = _to_string(text), _to_string(marker)
    return string.partition(found)[0] if found in string else ""


def _fn_after(text: Value, marker: Value) -> str:
    string, found = _to_string(text), _to_string(marker)
    return string.partition(found)[2] if found in string else ""


def _fn_translate(text: Value, source: Value, target: Value) -> str:
    old, new = _to_string(source), _to_string(target)
    table: dict[int, int | None] = {}
    for index, char in enumerate(old):
        table.setdefault(ord(char), ord(new[index]) if index < len(new) else None)
    return _to_string(text).translate(table)


def _as_moment(value: Value) -> dt.datetime | None:
    if isinstance(value, str):
        moment = _moment(value)
        if moment is not None or _to_string(value).strip() == "":
            return moment
    number = _to_number(value)
    if not math.isfinite(number) or abs(number) > 3_000_000:  # beyond year 9999
        return None
    return _EPOCH + dt.timedelta(days=number)


def _fn_date(value: Value) -> str:
    moment = _as_moment(value)
    return moment.date().isoformat() if moment else ""


def _fn_date_time(value: Value) -> str:
    moment = _as_moment(value)
    return moment.isoformat(timespec="milliseconds") if moment else ""


def _fn_decimal_date_time(value: Value) -> float:
    moment = _as_moment(value)
    return (moment - _EPOCH) / dt.timedelta(days=1) if moment else math.nan


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DATE_FORMATS: Mapping[str, Callable[[dt.datetime], str]] = {
    "Y": lambda m: f"{m.year:04d}",
    "y": lambda m: f"{m.year % 100:02d}",
    "m": lambda m: f"{m.month:02d}",
    "n": lambda m: str(m.month),
    "b": lambda m: _MONTHS[m.month - 1],
    "d": lambda m: f"{m.day:02d}",
    "e": lambda m: str(m.day),
    "a": lambda m: _WEEKDAYS[m.weekday()],
    "H": lambda m: f"{m.hour:02d}",
    "h": lambda m: str(m.hour),
    "M": lambda m: f"{m.minute:02d}",
    "S": lambda m: f"{m.second:02d}",
    "3": lambda m: f"{m.microsecond // 1000:03d}",
}
_FORMAT_RE = re.compile(r"%(.)")


def _fn_format_date(value: Value, pattern: Value) -> str:
    """ODK's format-date: %Y %y %m %n %b %d %e %a %H %h %M %S %3; '' for no date."""
    moment = _as_moment(value)
    if moment is None:
        return ""

    def field_of(match: re.Match[str]) -> str:
        code = match.group(1)
        return _DATE_FORMATS[code](moment) if code in _DATE_FORMATS else match.group(0)

    return _FORMAT_RE.sub(field_of, _to_string(pattern))


def _fn_boolean_from_string(value: Value) -> bool:
    return _to_string(value).strip() in ("true", "1")


# name -> (minimum arguments, maximum or None for any, implementation, what it does, an
# example); the README's table of functions is written from this one.
_Function = tuple[int, int | None, Callable[..., Value], str, str]
_FUNCTIONS: Mapping[str, _Function] = {
    # -- logic
    "not": (1, 1, lambda x: not _to_bool(x), "the opposite of a condition", "not(${a} = 1)"),
    "true": (0, 0, lambda: True, "true", "true()"),
    "false": (0, 0, lambda: False, "false", "false()"),
    "boolean": (1, 1, _to_bool, "a value as true or false ('' and 0 are false)", "boolean(${a})"),
    "boolean-from-string": (
        1,
        1,
        _fn_boolean_from_string,
        "true for 'true' or '1', else false",
        "boolean-from-string(${a})",
    ),
    "coalesce": (
        2,
        2,
        _fn_coalesce,
        "the first value that is not empty",
        "coalesce(${nickname}, ${name})",
    ),
    # -- choices
    "selected": (
        2,
        2,
        lambda answer, name: _to_string(name) in _to_string(answer).split(),
        "whether a choice is among the answer's",
        "selected(${tools}, 'drill')",
    ),
    "count-selected": (
        1,
        1,
        lambda answer: float(len(_to_string(answer).split())),
        "how many choices were picked",
        "count-selected(${tools})",
    ),
    "selected-at": (
        2,
        2,
        _fn_selected_at,
        "the choice picked at a place, counted from 0 ('' past the last)",
        "selected-at(${tools}, 0)",
    ),
    # -- numbers
    "number": (1, 1, _to_number, "a value as a number (a date: days since 1970)", "number(${a})"),
    "int": (1, 1, _fn_int, "the whole part of a number", "int(${days} div 7)"),
    "round": (
        1,
        2,
        _fn_round,
        "rounded, half away from zero, to a number of decimals (default 0)",
        "round(${pay} div 3, 2)",
    ),
    "floor": (1, 1, _fn_math(math.floor), "the whole number at or below", "floor(2.7)"),
    "ceiling": (1, 1, _fn_math(math.ceil), "the whole number at or above", "ceiling(2.1)"),
    "abs": (1, 1, _fn_math(abs), "the number without its sign", "abs(${change})"),
    "pow": (2, 2, _fn_math(math.pow), "a number to a power", "pow(${side}, 2)"),
    "sqrt": (1, 1, _fn_math(math.sqrt), "the square root", "sqrt(${area})"),
    "exp": (1, 1, _fn_math(math.exp), "e to a power", "exp(1)"),
    "exp10": (1, 1, _fn_math(lambda x: 10.0**x), "10 to a power", "exp10(3)"),
    "log": (1, 1, _fn_math(math.log), "the natural logarithm", "log(${a})"),
    "log10": (1, 1, _fn_math(math.log10), "the base-10 logarithm", "log10(${a})"),
    "pi": (0, 0, lambda: math.pi, "pi", "2 * pi() * ${radius}"),
    "sin": (1, 1, _fn_math(math.sin), "sine (radians)", "sin(${angle})"),
    "cos": (1, 1, _fn_math(math.cos), "cosine (radians)", "cos(${angle})"),
    "tan": (1, 1, _fn_math(math.tan), "tangent (radians)", "tan(${angle})"),
    "asin": (1, 1, _fn_math(math.asin), "arc sine (radians)", "asin(${a})"),
    "acos": (1, 1, _fn_math(math.acos), "arc cosine (radians)", "acos(${a})"),
    "atan": (1, 1, _fn_math(math.atan), "arc tangent (radians)", "atan(${slope} div 100)"),
    "atan2": (2, 2, _fn_math(math.atan2), "arc tangent of y/x (radians)", "atan2(${y}, ${x})"),
    "sum": (
        1,
        None,
        _fn_sum,
        "the sum of the numbers in its arguments (a select_multiple's picked names count one each)",
        "sum(${scores})",
    ),
    "min": (1, None, _fn_extreme(min), "the smallest number in its arguments", "min(${a}, ${b})"),
    "max": (1, None, _fn_extreme(max), "the largest number in its arguments", "max(${a}, ${b})"),
    "count": (
        1,
        1,
        lambda _value: 1.0,
        "how many values: 1 for a question (of a repeat's question: the passes it is answered in)",
        "count(${a})",
    ),
    "count-non-empty": (
        1,
        None,
        lambda *values: float(sum(1 for v in values if _to_string(v) != "")),
        "how many of its arguments are not empty",
        "count-non-empty(${a}, ${b})",
    ),
    # -- text
    "string": (1, 1, _to_string, "a value as text (a number without '.0')", "string(${a})"),
    "concat": (
        1,
        None,
        lambda *parts: "".join(_to_string(p) for p in parts),
        "texts joined together",
        "concat(${first}, ' ', ${last})",
    ),
    "join": (
        2,
        None,
        lambda separator, *parts: _to_string(separator).join(_to_string(p) for p in parts),
        "texts joined with a separator",
        "join(', ', ${town}, ${region})",
    ),
    "string-length": (
        1,
        1,
        lambda x: float(len(_to_string(x))),
        "how many characters",
        "string-length(${name}) > 2",
    ),
    "substr": (
        2,
        3,
        _fn_substr,
        "part of a text, from a place (counted from 0) to before another",
        "substr(${id}, 0, 4)",
    ),
    "substring-before": (
        2,
        2,
        _fn_before,
        "the text before the first place another occurs",
        "substring-before(${email}, '@')",
    ),
    "substring-after": (
        2,
        2,
        _fn_after,
        "the text after the first place another occurs",
        "substring-after(${email}, '@')",
    ),
    "contains": (
        2,
        2,
        lambda x, y: _to_string(y) in _to_string(x),
        "whether a text holds another",
        "contains(${job}, 'weld')",
    ),
    "starts-with": (
        2,
        2,
        lambda x, y: _to_string(x).startswith(_to_string(y)),
        "whether a text starts with another",
        "starts-with(${phone}, '+254')",
    ),
    "ends-with": (
        2,
        2,
        lambda x, y: _to_string(x).endswith(_to_string(y)),
        "whether a text ends with another",
        "ends-with(${email}, '.org')",
    ),
    "normalize-space": (
        1,
        1,
        lambda x: " ".join(_to_string(x).split()),
        "the text with spaces trimmed and runs of them made one",
        "normalize-space(${name})",
    ),
    "translate": (
        3,
        3,
        _fn_translate,
        "characters replaced one by one (dropped when the third text is shorter)",
        "translate(${code}, 'abc', 'ABC')",
    ),
    # -- dates and times (the clock is the engine's, given by the caller)
    "date": (
        1,
        1,
        _fn_date,
        "a date, from a number of days since 1970 or a date and time",
        "date(${born} + 365)",
    ),
    "date-time": (
        1,
        1,
        _fn_date_time,
        "a date and time, from a number of days since 1970",
        "date-time(0.5)",
    ),
    "decimal-date-time": (
        1,
        1,
        _fn_decimal_date_time,
        "a date or time as days since 1970 (a fraction for the time of day)",
        "decimal-date-time(${start})",
    ),
    "format-date": (
        2,
        2,
        _fn_format_date,
        "a date written with %Y %y %m %n %b %d %e %a (and %H %h %M %S %3 for times)",
        "format-date(${born}, '%d/%m/%Y')",
    ),
    "format-date-time": (
        2,
        2,
        _fn_format_date,
        "the same as format-date",
        "format-date-time(${start}, '%H:%M')",
    ),
}
_FUNCTIONS_WITH_SCOPE: Mapping[str, tuple[int, int, str, str]] = {
    # name -> (minimum, maximum, what it does, an example): evaluated by their own nodes
    "if": (3, 3, "one value or the other, by a condition", "if(${age} >= 18, 'adult', 'young')"),
    "regex": (
        2,
        2,
        "whether the text matches a pattern (anywhere; ^...$ for all of it)",
        "regex(., '^[0-9]{10}$')",
    ),
    "today": (0, 0, "the date of the turn, from the engine's clock (UTC)", "${born} < today()"),
    "now": (0, 0, "the date and time of the turn, from the engine's clock (UTC)", "now()"),
    "once": (
        1,
        1,
        "in a calculation: its value, computed once and then kept",
        "once(now())",
    ),
    "jr:choice-name": (
        2,
        2,
        "the label of a choice of a question, in the respondent's language",
        "jr:choice-name(${job}, '${job}')",
    ),
    "pulldata": (
        4,
        4,
        "a column of the first row of a CSV beside the form whose key column matches",
        "pulldata('graduates', 'name', 'id', ${id})",
    ),
    "instance": (
        1,
        1,
        "a choice list (or CSV beside the form) as data: the first item matching",
        "instance('jobs')/root/item[name = ${job}]/sector",
    ),
    "jr:itext": (
        1,
        1,
        "the label of a choice read with instance(), in the respondent's language",
        "jr:itext(instance('jobs')/root/item[name = ${job}]/itextId)",
    ),
}
# Functions of XLSForm that need what the engine does not have yet: a load error that
# says so, rather than "unknown function".
# Functions of values no phone gives: with --skip-unaskable, what uses them is left out.
GEO_FUNCTIONS = frozenset({"area", "enclosed-area", "distance"})
_UNSUPPORTED_FUNCTIONS: Mapping[str, str] = {
    "position": "a repeat: position(..) is the pass number inside a repeat only",
    "indexed-repeat": "repeats, which are not supported yet",
    "uuid": "a unique id made on the device; a response's id is its response_id",
    "random": "a random number, which would differ between channels and on resume",
    "randomize": "a random order, which would differ between channels and on resume",
    "digest": "a hash function, which is not supported",
    "area": "a geoshape, which a phone cannot capture",
    "enclosed-area": "a geoshape, which a phone cannot capture",
    "distance": "geo points, which a phone cannot capture",
    "current": "paths, which are not supported; refer to a question as ${name}",
}


def _fn_first_match(*pairs: Value) -> Value:
    for condition, value in zip(pairs[::2], pairs[1::2], strict=False):
        if _to_bool(condition):
            return value
    return ""


def _fn_leading_true(*conditions: Value) -> float:
    count = 0
    for condition in conditions:
        if not _to_bool(condition):
            break
        count += 1
    return float(count)


# What the loader writes when it unrolls a repeat's paths (survey_engine.xlsform), flat
# where a chain of if() would be too deep: not XLSForm's, so not listed for authors.
_INTERNAL_FUNCTIONS: Mapping[str, _Function] = {
    # ${people}[age < 18]/name as a value: the first pass that matches, '' if none
    "_first-match": (2, None, _fn_first_match, "(condition, value)...: the first matching", ""),
    # count(${plant}) when its repeat_count reads it: passes while each was decided
    "_leading-true": (1, None, _fn_leading_true, "how many conditions hold before one fails", ""),
}
_CALLABLE: Mapping[str, _Function] = {**_FUNCTIONS, **_INTERNAL_FUNCTIONS}
FUNCTIONS: Mapping[str, tuple[str, str]] = {
    name: (spec[-2], spec[-1]) for name, spec in {**_FUNCTIONS, **_FUNCTIONS_WITH_SCOPE}.items()
}
"""Every function expressions may call: name -> (what it does, an example)."""


@dataclass(frozen=True, slots=True)
class _Call(_Node):
    function: str
    arguments: tuple[_Node, ...]
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        implementation = _CALLABLE[self.function][2]
        return implementation(*(a.evaluate(scope) for a in self.arguments))


@dataclass(frozen=True, slots=True)
class _Clock(_Node):
    """today() or now(): the environment's clock; '' when the caller gave none."""

    date_only: bool
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        now = scope.environment.now
        if now is None:
            return ""
        return now.date().isoformat() if self.date_only else now.isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class _Once(_Node):
    """once(x): the value already computed (`current`) if there is one, else x."""

    operand: _Node
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        kept = _as_text(scope.current)
        return kept if kept != "" else self.operand.evaluate(scope)


@dataclass(frozen=True, slots=True)
class _ChoiceName(_Node):
    """jr:choice-name(value, '${question}'): the label of the question's choice(s)."""

    value: _Node
    question: str
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        names = _to_string(self.value.evaluate(scope)).split()
        label = scope.environment.choice_label
        if label is None:
            return " ".join(names)
        return " ".join(label(self.question, name) for name in names)


@dataclass(frozen=True, slots=True)
class _Lookup(_Node):
    """A value of the first row of a table that matches: `key_column` equal to `key`
    (an index lookup), else the first row where `predicate` holds, its bare names read
    as the row's columns. '' when no row matches."""

    table: Table
    column: str
    key_column: str = ""
    key: _Node | None = None
    predicate: _Node | None = None
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        row: Mapping[str, str] | None = None
        if self.key is not None:
            row = self.table.first(self.key_column, _to_string(self.key.evaluate(scope)))
        elif self.predicate is not None:
            for candidate in self.table.rows:
                inner = _Scope(scope.answers, scope.current, candidate, scope.environment)
                if _to_bool(self.predicate.evaluate(inner)):
                    row = candidate
                    break
        elif self.table.rows:
            row = self.table.rows[0]
        if row is None:
            return ""
        return self.table.cell(row, self.column, scope.environment.language)


@dataclass(frozen=True, slots=True)
class _If(_Node):
    condition: _Node
    then: _Node
    otherwise: _Node
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        if _to_bool(self.condition.evaluate(scope)):
            return self.then.evaluate(scope)
        return self.otherwise.evaluate(scope)


@dataclass(frozen=True, slots=True)
class _Regex(_Node):
    value: _Node
    pattern: _Pattern
    depth: int = 1

    def evaluate(self, scope: _Scope) -> Value:
        # JavaRosa (ODK Collect) looks for the pattern anywhere, like re.search;
        # authors anchor with ^...$ when they mean the whole answer. RE2 reads UTF-8
        # bytes: encoding here spares its own str round trip, and `surrogatepass` keeps
        # a lone surrogate in an answer from raising.
        text = _to_string(self.value.evaluate(scope)).encode("utf-8", "surrogatepass")
        return self.pattern.search(text) is not None


# --------------------------------------------------------------------------------------
# Tokenizer and parser
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ref | number | string | op | dot | name | end
    text: str
    position: int  # 1-based

    def describe(self) -> str:
        return "end of expression" if self.kind == "end" else f"'{self.text}'"


_ABSOLUTE_PATH_RE = re.compile(r"/\s*(?:" + NAME_PATTERN + r"\s*/\s*)*(" + NAME_PATTERN + r")")


def _path_message(source: str, index: int) -> str:
    """A '/' left after the loader read the paths it understands: say what to write."""
    absolute = _ABSOLUTE_PATH_RE.match(source, index)
    before = source[:index].rstrip()[-1:]
    if absolute is not None and not (before and (before.isalnum() or before in "_.})]-")):
        return (
            f"the path '{absolute.group(0)}' at position {index + 1} is not understood: "
            f"refer to the question as ${{{absolute.group(1)}}}"
        )
    return (
        f"unexpected '/' at position {index + 1}: paths are understood as ../name (a "
        "question near this one) and ${repeat}[filter]/name; refer to a question as ${name}"
    )


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(source):
        match = _TOKEN_RE.match(source, index)
        if match is None:
            char = source[index]
            if char in "'\"":
                raise ExpressionError(
                    f"text starting at position {index + 1} has no closing {char}", index + 1
                )
            raise ExpressionError(f"unexpected '{char}' at position {index + 1}", index + 1)
        kind = match.lastgroup or ""
        if kind == "ref":
            end = source.find("}", match.end())
            if end < 0:
                raise ExpressionError(
                    f"'${{' at position {index + 1} has no closing '}}'", index + 1
                )
            name = source[match.end() : end]
            if not _REFERENCE_NAME_RE.fullmatch(name):
                raise ExpressionError(
                    f"'${{{name}}}' at position {index + 1} is not a valid question name",
                    index + 1,
                )
            tokens.append(_Token("ref", name, index + 1))
            index = end + 1
            continue
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), index + 1))
        index = match.end()
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


class _Parser:
    _LEVELS: ClassVar[tuple[frozenset[str], ...]] = (
        frozenset({"=", "!="}),
        frozenset({"<", "<=", ">", ">="}),
        frozenset({"+", "-"}),
        frozenset({"*", "div", "mod"}),
    )

    def __init__(
        self,
        source: str,
        *,
        allow_dot: bool,
        allow_bare_names: bool,
        tables: Callable[[str], Table | None] | None = None,
    ) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.nesting = 0
        self.allow_dot = allow_dot
        self.allow_bare_names = allow_bare_names
        self.tables = tables
        self.item: Table | None = None  # inside item[...]: bare names are its columns
        self.references: set[str] = set()
        self.bare_names: set[str] = set()
        self.uses_dot = False

    # -- helpers ---------------------------------------------------------------------

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_operator(self, token: _Token, operators: frozenset[str]) -> bool:
        # `and`, `or`, `div`, `mod` are names in the token stream; here, after an
        # operand, they can only be operators.
        return token.kind in ("op", "name") and token.text in operators

    def unexpected(self, token: _Token) -> ExpressionError:
        if token.kind == "end":
            return ExpressionError("the expression ends too early", token.position)
        if token.text == "/":
            return ExpressionError(_path_message(self.source, token.position - 1), token.position)
        if token.text == "[":
            return ExpressionError(
                f"unexpected '[' at position {token.position}: a filter [...] is understood "
                "after a repeat only, as in ${people}[age < 18]/pet_count",
                token.position,
            )
        return ExpressionError(
            f"unexpected {token.describe()} at position {token.position}", token.position
        )

    def expect(self, text: str) -> _Token:
        token = self.advance()
        if token.kind != "op" or token.text != text:
            if token.kind == "end":
                raise ExpressionError(f"missing '{text}' at the end", token.position)
            raise ExpressionError(
                f"expected '{text}' at position {token.position}, found {token.describe()}",
                token.position,
            )
        return token

    def enter(self, token: _Token) -> None:
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise ExpressionError("the expression is nested too deeply", token.position)

    def node(self, node: _Node, children: Sequence[_Node], token: _Token) -> _Node:
        """Record the new node's height (set once, before the node is shared) and refuse
        trees so tall that evaluating them could exhaust Python's stack."""
        depth = 1 + max((c.depth for c in children), default=0)
        if depth > _MAX_DEPTH:
            raise ExpressionError("the expression is too long to evaluate", token.position)
        object.__setattr__(node, "depth", depth)
        return node

    # -- grammar ---------------------------------------------------------------------

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise ExpressionError("the expression is empty", 1)
        root = self.logical("or")
        token = self.peek()
        if token.kind != "end":
            raise self.unexpected(token)
        return root

    def logical(self, operator: str) -> _Node:
        operand = self.logical("and") if operator == "or" else self.binary(0)
        operands = [operand]
        first = self.peek()
        while self.peek().kind == "name" and self.peek().text == operator:
            self.advance()
            operands.append(self.logical("and") if operator == "or" else self.binary(0))
        if len(operands) == 1:
            return operand
        return self.node(_Logical(operator, tuple(operands)), operands, first)

    def binary(self, level: int) -> _Node:
        if level == len(self._LEVELS):
            return self.unary()
        operators = self._LEVELS[level]
        left = self.binary(level + 1)
        while self.is_operator(self.peek(), operators):
            token = self.advance()
            right = self.binary(level + 1)
            left = self.node(_Binary(token.text, left, right), (left, right), token)
        return left

    def unary(self) -> _Node:
        token = self.peek()
        if token.kind == "op" and token.text == "-":
            self.advance()
            self.enter(token)
            operand = self.unary()
            self.nesting -= 1
            return self.node(_Negate(operand), (operand,), token)
        return self.primary()

    def primary(self) -> _Node:
        token = self.advance()
        if token.kind == "number":
            return _Literal(float(token.text))
        if token.kind == "string":
            return _Literal(token.text[1:-1])
        if token.kind == "ref":
            self.references.add(token.text)
            return _Reference(token.text)
        if token.kind == "dot":
            if not self.allow_dot:
                raise ExpressionError(
                    f"'.' (the answer being checked) at position {token.position} "
                    "is only allowed in a constraint",
                    token.position,
                )
            self.uses_dot = True
            return _Current()
        if token.kind == "op" and token.text == "(":
            self.enter(token)
            inner = self.logical("or")
            self.expect(")")
            self.nesting -= 1
            return inner
        if token.kind == "name":
            following = self.peek()
            if following.kind == "op" and following.text == "(":
                if token.text == "instance":
                    return self.instance(token)
                return self.call(token)
            if self.item is not None:
                if token.text not in self.item.columns:
                    raise ExpressionError(
                        f"'{token.text}' at position {token.position} is not a column of "
                        "the list being read",
                        token.position,
                    )
                return _Column(token.text)
            if not self.allow_bare_names:
                raise ExpressionError(
                    f"'{token.text}' at position {token.position} is not understood: "
                    f"write ${{{token.text}}} for a question, or quote it as "
                    f"'{token.text}' for text",
                    token.position,
                )
            self.bare_names.add(token.text)
            return _Column(token.text)
        raise self.unexpected(token)

    def call(self, name: _Token) -> _Node:
        function = name.text
        if function in _UNSUPPORTED_FUNCTIONS:
            raise UnsupportedFunctionError(
                f"{function}() at position {name.position} needs "
                f"{_UNSUPPORTED_FUNCTIONS[function]}",
                name.position,
                function,
            )
        if function not in _CALLABLE and function not in _FUNCTIONS_WITH_SCOPE:
            raise ExpressionError(
                f"unknown function '{function}()' at position {name.position}", name.position
            )
        self.enter(self.expect("("))
        arguments: list[_Node] = []
        argument_tokens: list[_Token] = []
        if not (self.peek().kind == "op" and self.peek().text == ")"):
            while True:
                argument_tokens.append(self.peek())
                arguments.append(self.logical("or"))
                if self.peek().kind == "op" and self.peek().text == ",":
                    self.advance()
                    continue
                break
        self.expect(")")
        self.nesting -= 1
        self.check_arity(name, len(arguments))
        if function == "if":
            condition, then, otherwise = arguments
            return self.node(_If(condition, then, otherwise), arguments, name)
        if function == "regex":
            value, pattern = arguments
            compiled = self.compile_pattern(pattern, argument_tokens[1])
            return self.node(_Regex(value, compiled), (value,), name)
        if function in ("today", "now"):
            return _Clock(date_only=function == "today")
        if function == "once":
            return self.node(_Once(arguments[0]), arguments, name)
        if function == "pulldata":
            return self.pulldata(name, arguments, argument_tokens)
        if function == "jr:itext":
            (argument,) = arguments
            if not (isinstance(argument, _Lookup) and argument.table.choice_list):
                raise ExpressionError(
                    f"jr:itext() at position {name.position} reads the label of a choice: "
                    "jr:itext(instance('list')/root/item[name = ${q}]/itextId)",
                    name.position,
                )
            return argument  # a choice list's itextId is already its label, translated
        if function == "jr:choice-name":
            value, question = arguments
            target = self.choice_question(question, argument_tokens[1])
            return self.node(_ChoiceName(value, target), (value,), name)
        return self.node(_Call(function, tuple(arguments)), arguments, name)

    def table(self, name: str, token: _Token, what: str) -> Table:
        table = self.tables(name) if self.tables is not None else None
        if table is None:
            raise MissingTableError(
                f"{what} at position {token.position} reads '{name}', which is neither a "
                f"choice list of the form nor a file beside it: import {name}.csv with "
                "`survey import FORM --media DIR`",
                token.position,
                name,
            )
        return table

    def text_argument(self, argument: _Node, token: _Token, function: str) -> str:
        if isinstance(argument, _Literal) and isinstance(argument.value, str):
            return argument.value
        raise ExpressionError(
            f"{function}() at position {token.position} needs quoted text here, not "
            f"{token.describe()}",
            token.position,
        )

    def column(self, table: Table, column: str, token: _Token, name: str) -> str:
        if column in table.columns or (table.choice_list and column == "itextId"):
            return column
        raise ExpressionError(
            f"'{column}' at position {token.position} is not a column of '{name}'",
            token.position,
        )

    def pulldata(self, name: _Token, arguments: Sequence[_Node], tokens: Sequence[_Token]) -> _Node:
        """pulldata('file', 'column', 'key_column', key): from the file beside the form."""
        file, column, key_column = (
            self.text_argument(arguments[i], tokens[i], "pulldata") for i in range(3)
        )
        table = self.table(file, name, "pulldata()")
        self.column(table, column, tokens[1], file)
        self.column(table, key_column, tokens[2], file)
        key = arguments[3]
        return self.node(_Lookup(table, column, key_column, key), (key,), name)

    def instance(self, name: _Token) -> _Node:
        """instance('list')/root/item[predicate]/column: a choice list (or a file beside
        the form) read as data, as ODK forms look up a choice's label or column."""
        self.enter(self.expect("("))
        argument = self.advance()
        if argument.kind != "string":
            raise ExpressionError(
                f"instance() at position {name.position} needs the list's name in quotes",
                name.position,
            )
        self.expect(")")
        self.nesting -= 1
        list_name = argument.text[1:-1]
        table = self.table(list_name, argument, "instance()")
        for step in ("root", "item"):
            self.expect("/")
            token = self.advance()
            if token.kind != "name" or token.text != step:
                raise ExpressionError(
                    f"expected '{step}' at position {token.position}: a list is read as "
                    f"instance('{list_name}')/root/item[...]/column",
                    token.position,
                )
        predicate: _Node | None = None
        if self.peek().text == "[" and self.peek().kind == "op":
            self.enter(self.advance())
            outer, self.item = self.item, table
            try:
                predicate = self.logical("or")
            finally:
                self.item = outer
            self.expect("]")
            self.nesting -= 1
        self.expect("/")
        token = self.advance()
        if token.kind != "name":
            raise ExpressionError(
                f"expected a column of '{list_name}' at position {token.position}",
                token.position,
            )
        column = self.column(table, token.text, token, list_name)
        children = (predicate,) if predicate is not None else ()
        key = _key_of(predicate)
        if key is not None:
            return self.node(_Lookup(table, column, key[0], key[1]), (key[1],), name)
        return self.node(_Lookup(table, column, predicate=predicate), children, name)

    def choice_question(self, argument: _Node, token: _Token) -> str:
        """The question named by jr:choice-name's second argument, quoted: '${job}'."""
        text = argument.value if isinstance(argument, _Literal) else None
        match = _QUOTED_REFERENCE_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ExpressionError(
                f"jr:choice-name() at position {token.position} needs the question as "
                "quoted text, e.g. '${job}'",
                token.position,
            )
        self.references.add(match.group(1))
        return match.group(1)

    def check_arity(self, name: _Token, count: int) -> None:
        if name.text in _FUNCTIONS_WITH_SCOPE:
            low, high, *_ = _FUNCTIONS_WITH_SCOPE[name.text]
        else:
            low, high, *_ = _CALLABLE[name.text]
        if low <= count and (high is None or count <= high):
            return
        if high is None:
            wanted = f"at least {low} argument{'s' if low != 1 else ''}"
        else:
            wanted = f"{low} argument{'s' if low != 1 else ''}"
        raise ExpressionError(
            f"{name.text}() at position {name.position} takes {wanted}, not {count}",
            name.position,
        )

    def compile_pattern(self, pattern: _Node, token: _Token) -> _Pattern:
        if not (isinstance(pattern, _Literal) and isinstance(pattern.value, str)):
            raise ExpressionError(
                f"regex() at position {token.position} needs its pattern as quoted text",
                token.position,
            )
        try:
            return re2.compile(pattern.value, options=_RE2_OPTIONS)  # type: ignore[no-any-return]
        except re2.error as error:
            reason = _re2_reason(error)
        for at_fault, feature, instead in _UNSUPPORTED_FEATURES:
            if at_fault.search(reason):
                fragment = reason.rsplit(": ", 1)[-1]
                raise UnsupportedPatternError(
                    f"regular expression {token.text} at position {token.position} uses "
                    f"{feature} ({fragment}), which is not supported: answers are checked "
                    f"with a pattern engine that never takes long, and it has none; {instead}",
                    token.position,
                )
        raise ExpressionError(
            f"bad regular expression {token.text} at position {token.position}: {reason}",
            token.position,
        )


def _key_of(predicate: _Node | None) -> tuple[str, _Node] | None:
    """`column = ${q}` (or 'text'), either way round: an index lookup, not a scan.
    Numbers are left to the scan, which compares them as XPath does."""
    if not (isinstance(predicate, _Binary) and predicate.operator == "="):
        return None
    for column, key in ((predicate.left, predicate.right), (predicate.right, predicate.left)):
        plain = isinstance(key, _Reference) or (
            isinstance(key, _Literal) and isinstance(key.value, str)
        )
        if isinstance(column, _Column) and plain:
            return column.name, key
    return None


def _re2_reason(error: Exception) -> str:
    # RE2's message is UTF-8 bytes ("missing ]: ["), in its only argument.
    reason = error.args[0] if error.args else "not understood"
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


# --------------------------------------------------------------------------------------
# Public surface
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled expression. Equal (and hashed) by its source and what it refers to."""

    source: str
    references: frozenset[str]  # question names used as ${name}
    bare_names: frozenset[str]  # choices-sheet columns (only in a choice_filter)
    uses_dot: bool  # refers to the answer being checked (only in a constraint)
    _root: _Node = field(repr=False, compare=False)

    def evaluate(
        self,
        answers: Mapping[str, str],
        current: str | None = None,
        columns: Mapping[str, str] | None = None,
        environment: Environment = _NO_ENVIRONMENT,
    ) -> Value:
        """The value of the expression; `current` is `.` (in a calculation, its value so
        far, for once()), `columns` are the bare names."""
        return self._root.evaluate(_Scope(answers, current, columns, environment))

    def is_true(
        self,
        answers: Mapping[str, str],
        current: str | None = None,
        columns: Mapping[str, str] | None = None,
        environment: Environment = _NO_ENVIRONMENT,
    ) -> bool:
        return _to_bool(self.evaluate(answers, current, columns, environment))

    def text(
        self,
        answers: Mapping[str, str],
        current: str | None = None,
        environment: Environment = _NO_ENVIRONMENT,
    ) -> str:
        """The value as text, as a calculation stores it ('4', not '4.0'; 'true')."""
        return _to_string(self.evaluate(answers, current, None, environment))

    def __str__(self) -> str:
        return self.source


def compile_expression(
    source: str,
    *,
    allow_dot: bool = False,
    allow_bare_names: bool = False,
    tables: Callable[[str], Table | None] | None = None,
) -> Expression:
    """Parse `source` once; raise ExpressionError with a message for the form's author.

    `allow_dot` is for constraints (`.` is the answer being checked); `allow_bare_names`
    is for choice filters (a plain name is a column of the choices sheet). `tables`
    gives the lists `instance('name')` and `pulldata('name', ...)` read, by name.
    """
    parser = _Parser(source, allow_dot=allow_dot, allow_bare_names=allow_bare_names, tables=tables)
    root = parser.parse()
    return Expression(
        source=source,
        references=frozenset(parser.references),
        bare_names=frozenset(parser.bare_names),
        uses_dot=parser.uses_dot,
        _root=root,
    )
