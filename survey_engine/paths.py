"""XPath paths as XLSForm authors write them, found in an expression's text when a form
is loaded. The engine's expressions have no nodesets: the loader rewrites each path it
understands into references to single answers (`survey_engine.xlsform`, `_Repeats`),
and this module only reads the text.

Understood:

* `../total`, `../../total`, `current()/../total`: a question reached from the one the
  expression belongs to (names are unique in a form, so this is `${total}`, checked to
  be where the path leads).
* `${people}[age < 18]/pet_count`: a repeat's passes filtered by conditions on their
  own answers (bare names), `position()` being the pass number and a bare number `[2]`
  the pass itself, then one question of those passes; alone as the only argument of
  `count()`, `sum()`, `min()` or `max()`, or as a value (the first pass that matches).
  `count(${people}[age < 18])` counts the passes.

Positions in `PathError` count characters of the cell from 1.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from survey_engine.expressions import NAME_PATTERN

__all__ = [
    "AGGREGATES",
    "PathError",
    "RelativePath",
    "RepeatPath",
    "fixed_pass",
    "predicate_in_pass",
    "relative_paths",
    "repeat_paths",
]

AGGREGATES = ("count", "sum", "min", "max")

# Text in quotes is never a path; the scanners step over it.
_QUOTED_RE = re.compile(r"'[^']*'|\"[^\"]*\"")
_RELATIVE_RE = re.compile(
    r"(?<![\w.}\])])(current\s*\(\s*\)\s*/\s*)?((?:\.\.\s*/\s*)+)(" + NAME_PATTERN + r")?"
)
_STEP_RE = re.compile(r"\s*/\s*(" + NAME_PATTERN + r")")
_FILTERED_RE = re.compile(r"\$\{(" + NAME_PATTERN + r")\}(?=\s*[\[/])")
_AGGREGATE_BEFORE_RE = re.compile(r"\b(" + "|".join(AGGREGATES) + r")\s*\(\s*$")
_CLOSE_AFTER_RE = re.compile(r"\s*\)")
_PREDICATE_TOKEN_RE = re.compile(
    r"'[^']*'|\"[^\"]*\"|\$\{[^}]*\}"
    r"|(?P<position>\bposition\s*\(\s*\))"
    r"|(?P<name>(?<![\w.\-:])(?:jr:)?" + NAME_PATTERN + r")(?P<call>\s*\()?"
)
_OPERATOR_NAMES = frozenset({"and", "or", "div", "mod"})
_FIXED_PASS_RE = re.compile(
    r"\s*(?:position\s*\(\s*\)\s*=\s*(\d+)|(\d+)\s*=\s*position\s*\(\s*\)|(\d+))\s*"
)


class PathError(ValueError):
    """A path that is not understood; `str()` says what to write instead."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class RelativePath:
    """`../../total` at `start:end` of the text: `ups` steps up, then `name`."""

    start: int
    end: int
    ups: int
    name: str


@dataclass(frozen=True, slots=True)
class RepeatPath:
    """`${repeat}[filter]/question` at `start:end`; when `aggregate` is set the span is
    the whole call it is the only argument of, `count(${people}[age < 18])`. `position`
    is where `${` is, counted from 1."""

    start: int
    end: int
    position: int
    repeat: str
    predicates: tuple[str, ...]
    question: str | None
    aggregate: str | None


def _outside_quotes(text: str) -> Iterator[tuple[int, int]]:
    """The spans of `text` that are not quoted."""
    position = 0
    for match in _QUOTED_RE.finditer(text):
        yield position, match.start()
        position = match.end()
    yield position, len(text)


def _quoted(text: str, index: int) -> bool:
    return any(m.start() <= index < m.end() for m in _QUOTED_RE.finditer(text))


def relative_paths(text: str) -> list[RelativePath]:
    """Every `../name` (with `current()/` before it or not) outside quotes."""
    found = []
    for start, end in _outside_quotes(text):
        for match in _RELATIVE_RE.finditer(text, start, end):
            name = match.group(3)
            shown = match.group(0).strip()
            if name is None:
                raise PathError(
                    f"'{shown}' at position {match.start() + 1} names no question; "
                    "refer to a question as ${name}",
                    match.start() + 1,
                )
            deeper = _STEP_RE.match(text, match.end())
            if deeper is not None or text[match.end() : match.end() + 1] == "[":
                raise PathError(
                    f"the path at position {match.start() + 1} goes into '{name}': only a "
                    f"question is understood after '../'; refer to it as ${{question}}",
                    match.start() + 1,
                )
            ups = match.group(2).count("..")
            found.append(RelativePath(match.start(), match.end(), ups, name))
    return found


def _closing_bracket(text: str, opening: int) -> int:
    """The index of the `]` that closes the `[` at `opening` (quotes and brackets inside
    skipped), or -1."""
    depth = 0
    index = opening
    while index < len(text):
        char = text[index]
        if char in "'\"":
            close = text.find(char, index + 1)
            if close < 0:
                return -1
            index = close
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def repeat_paths(text: str, repeats: Collection[str]) -> list[RepeatPath]:
    """Every `${name}[...]` or `${name}/...` outside quotes; `name` must be a repeat."""
    found = []
    for match in _FILTERED_RE.finditer(text):
        if _quoted(text, match.start()):
            continue
        repeat, at = match.group(1), match.start() + 1
        if repeat not in repeats:
            raise PathError(
                f"'${{{repeat}}}' at position {at} is not a repeat: a filter [...] or a "
                f"/question after a name is understood for a repeat only; refer to a "
                "question as ${name}",
                at,
            )
        index = match.end()
        predicates = []
        while True:
            while index < len(text) and text[index].isspace():
                index += 1
            if index >= len(text) or text[index] != "[":
                break
            close = _closing_bracket(text, index)
            if close < 0:
                raise PathError(f"the '[' at position {index + 1} is never closed", index + 1)
            predicates.append(text[index + 1 : close])
            index = close + 1
        question = None
        step = _STEP_RE.match(text, index)
        if step is not None:
            question, index = step.group(1), step.end()
        if _STEP_RE.match(text, index) or text[index : index + 1] in ("[", "/"):
            raise PathError(
                f"the path at position {at} goes deeper than one question of "
                f"'{repeat}': write ${{{repeat}}}[...]/question",
                at,
            )
        start, end, aggregate = match.start(), index, None
        before = _AGGREGATE_BEFORE_RE.search(text, 0, start)
        after = _CLOSE_AFTER_RE.match(text, end)
        if before is not None and after is not None:
            start, end, aggregate = before.start(), after.end(), before.group(1)
        found.append(RepeatPath(start, end, at, repeat, tuple(predicates), question, aggregate))
    return found


def fixed_pass(predicate: str) -> int | None:
    """The pass a filter picks when it is one number: `[2]`, `[position() = 2]`."""
    match = _FIXED_PASS_RE.fullmatch(predicate)
    if match is None:
        return None
    return int(next(g for g in match.groups() if g is not None))


def predicate_in_pass(predicate: str, body: Collection[str], k: int) -> str:
    """A filter as a condition on pass k: its bare names are that pass's answers
    (`age` -> `${age[k]}`) and `position()` is k. `${x}` is left for the caller."""

    def in_pass(match: re.Match[str]) -> str:
        if match.group("position"):
            return str(k)
        name = match.group("name")
        if name is None or match.group("call") or name in _OPERATOR_NAMES:
            return match.group(0)
        if name not in body:
            raise PathError(
                f"'{name}' in the filter [{predicate}] is not a question of the repeat; "
                f"refer to another question as ${{{name}}}",
                match.start() + 1,
            )
        return f"${{{name}[{k}]}}"

    return _PREDICATE_TOKEN_RE.sub(in_pass, predicate)
