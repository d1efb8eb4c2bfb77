"""An engine `Prompt` as USSD screens: pure functions, no I/O, no session state.

A screen holds 182 GSM-7 septets, or 80 UTF-16 units when any character on it needs
UCS-2 (`ussd.gsm7`). The encoding is decided per page, so an English question with
one Arabic choice pays the UCS-2 price only on the page that shows that choice.

Layout of a page, one item per line::

    error                      first page only, when the last input was refused
    question text              first page; continues on later pages if long
    hint                       the survey's hint, else the system hint for the input
    Now: <current answer>      when the respondent came back to an answered question
    1. Label                   the choices, in order, never split between pages
    00. More                   when a next page exists
    0. Back                    on every page after the first; on the first only
                               when the engine allows going back

Navigation keys never collide with an answer. Menus (input CHOICE, CHOICES, ANY: the
questions with choices, the language menu, the resume offer, notes) use "0" for back
and "00" for more: choice numbers start at 1 and never have a leading zero. Open
questions (INTEGER, DECIMAL, DATE, TEXT) take 0 as a real answer, so they use "#" for
back and "##" for more. The route turns those keys into engine input or a page turn;
this module only shows them.

Pages are filled greedily, always leaving room for their navigation lines. Text breaks
between pages at a space (a single word longer than a page is cut by characters); a
choice line moves whole to the next page, and is broken like text only when it cannot
fit on any page by itself. Runs of whitespace in labels are collapsed, since every
character costs screen space; line breaks the author wrote in the question are kept.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from survey_engine.events import InputKind, Prompt, PromptChoice
from survey_engine.phrases import phrase
from ussd.gsm7 import GSM7_SCREEN_LIMIT, fits_screen, is_gsm7

__all__ = [
    "NavKeys",
    "fit_end_screen",
    "navigation_keys",
    "page_count",
    "paginate",
    "render_page",
]


@dataclass(frozen=True, slots=True)
class NavKeys:
    """What the respondent types to page back or forward on a prompt."""

    back: str
    more: str


_MENU_KEYS = NavKeys(back="0", more="00")
_OPEN_KEYS = NavKeys(back="#", more="##")
_MENU_INPUTS = frozenset({InputKind.CHOICE, InputKind.CHOICES, InputKind.RANK, InputKind.ANY})

# The system hint shown when the survey gives none. A single choice and free text
# explain themselves (the numbered list, the open screen), so they get no hint.
_SYSTEM_HINTS = {
    InputKind.INTEGER: "hint_integer",
    InputKind.DECIMAL: "hint_decimal",
    InputKind.DATE: "hint_date",
    InputKind.TIME: "hint_time",
    InputKind.DATETIME: "hint_datetime",
    InputKind.CHOICES: "hint_choices",
    InputKind.RANK: "hint_rank",
}


def navigation_keys(prompt: Prompt) -> NavKeys:
    """The reserved back/more keys for `prompt`: "0"/"00" on menus, "#"/"##" on open
    questions where 0 is an answer."""
    return _MENU_KEYS if prompt.input.kind in _MENU_INPUTS else _OPEN_KEYS


@dataclass(frozen=True, slots=True)
class _Words:
    """A line of text that may break between pages at a space."""

    words: tuple[str, ...]

    @property
    def line(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True, slots=True)
class _ChoiceLine:
    """A numbered choice: shown whole on one page."""

    line: str


_Item = _Words | _ChoiceLine


def _choice_line(choice: PromptChoice) -> str:
    return " ".join([f"{choice.key}.", *choice.label.split()])


def _text_items(text: str) -> list[_Item]:
    return [_Words(tuple(words)) for line in text.splitlines() if (words := line.split())]


def _body(prompt: Prompt) -> list[_Item]:
    """Everything the prompt shows, in page order, before navigation."""
    hint = prompt.hint
    if not hint and prompt.input.kind in _SYSTEM_HINTS:
        hint = phrase(_SYSTEM_HINTS[prompt.input.kind], prompt.language)
    current = (
        phrase("current_answer", prompt.language, value=prompt.current_value)
        if prompt.current_value
        else ""
    )
    items: list[_Item] = []
    for text in (prompt.error, prompt.text, hint, current):
        items.extend(_text_items(text))
    items.extend(_ChoiceLine(_choice_line(choice)) for choice in prompt.choices)
    return items


def _fits(lines: Iterable[str]) -> bool:
    text = "\n".join(lines)
    # Every character costs at least one unit in either encoding, so a long text is
    # rejected before the per-character look at its encoding.
    return len(text) <= GSM7_SCREEN_LIMIT and fits_screen(text)


def _longest(upper: int, fits: Callable[[int], bool]) -> int:
    """The largest n in 0..upper with fits(n), for a `fits` that turns false and stays
    false as n grows (a longer prefix is never shorter, and turning UCS-2 only lowers
    the limit); 0 when none fits."""
    low, high = 0, upper
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _replace_head(pending: deque[_Item], words: tuple[str, ...]) -> None:
    remaining = tuple(word for word in words if word)
    if remaining:
        pending[0] = _Words(remaining)
    else:
        pending.popleft()


def _break_words(
    words: tuple[str, ...], lines: list[str], navigation: list[str]
) -> tuple[str, tuple[str, ...]]:
    """The head of `words` that still fits between `lines` and `navigation`, and the
    rest. The head is "" when the next word should start the next page instead."""
    taken = _longest(len(words), lambda n: _fits([*lines, " ".join(words[:n]), *navigation]))
    if taken:
        return " ".join(words[:taken]), words[taken:]
    if lines:
        return "", words
    # One word longer than a page: cut it by characters, at least one so paging
    # always moves on.
    word = words[0]
    cut = max(1, _longest(len(word), lambda n: _fits([word[:n], *navigation])))
    return word[:cut], (word[cut:], *words[1:])


def _fill_page(pending: deque[_Item], navigation: list[str]) -> list[str]:
    """Take from `pending` the lines of one page that also shows `navigation`."""
    lines: list[str] = []
    while pending and _fits([*lines, pending[0].line, *navigation]):
        lines.append(pending.popleft().line)
    if not pending:
        return lines
    item = pending[0]
    if isinstance(item, _ChoiceLine):
        if lines:
            return lines  # the choice starts the next page, whole
        # Longer than any page: breaking it is the only way to show it at all.
        item = _Words(tuple(item.line.split()))
    head, rest = _break_words(item.words, lines, navigation)
    if head:
        lines.append(head)
        _replace_head(pending, rest)
    return lines


@lru_cache(maxsize=512)
def paginate(prompt: Prompt) -> tuple[str, ...]:
    """Every screen of `prompt`, in order; each fits its own limit (182 GSM-7 or 80
    UCS-2). A prompt with nothing to show gives one screen."""
    keys = navigation_keys(prompt)
    more_line = f"{keys.more}. {phrase('more', prompt.language)}"
    back_line = f"{keys.back}. {phrase('back', prompt.language)}"
    pending: deque[_Item] = deque(_body(prompt))
    pages: list[str] = []
    while True:
        back = [back_line] if pages or prompt.can_go_back else []
        rest = [item.line for item in pending]
        # Checked first so the last page does not keep room for a "More" it won't show.
        if _fits([*rest, *back]):
            pages.append("\n".join([*rest, *back]))
            return tuple(pages)
        lines = _fill_page(pending, [more_line, *back])
        pages.append("\n".join([*lines, more_line, *back]))


def page_count(prompt: Prompt) -> int:
    """How many screens `prompt` takes."""
    return len(paginate(prompt))


def render_page(prompt: Prompt, page: int) -> str:
    """Screen `page` (from 0) of `prompt`; a page out of range gives the first or last,
    so a stale page number in the session never fails a request."""
    pages = paginate(prompt)
    return pages[min(max(page, 0), len(pages) - 1)]


_WORD_END = re.compile(r"(?<=\S)\s")


def _with_ellipsis(prefix: str) -> str:
    # "…" is not GSM-7: on a GSM-7 screen it would switch the whole screen to UCS-2 and
    # cut it from 182 to 80, so GSM-7 text ends with "..." instead.
    return prefix + ("..." if is_gsm7(prefix) else "…")


def fit_end_screen(text: str) -> str:
    """`text` as one END screen: unchanged when it fits, else cut at a word boundary
    with an ellipsis. END screens close the session, so they cannot be paged."""
    if fits_screen(text):
        return text
    ends = [match.start() for match in _WORD_END.finditer(text)]
    taken = _longest(len(ends), lambda n: fits_screen(_with_ellipsis(text[: ends[n - 1]])))
    if taken:
        return _with_ellipsis(text[: ends[taken - 1]])
    # The first word alone is too long: cut it by characters.
    cut = _longest(len(text), lambda n: fits_screen(_with_ellipsis(text[:n])))
    return _with_ellipsis(text[:cut])
