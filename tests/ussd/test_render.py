"""Prompts as USSD screens: tables of prompts and the exact screens they give, and
properties over random prompts (every page fits; choices all shown, in order)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey_engine.events import InputHint, InputKind, Prompt, PromptChoice, PromptKind
from survey_engine.phrases import phrase
from ussd import render
from ussd.gsm7 import fits_screen, gsm7_length, screen_length
from ussd.render import (
    NavKeys,
    fit_end_screen,
    navigation_keys,
    page_count,
    paginate,
    render_page,
)


def choices(*labels: str) -> tuple[PromptChoice, ...]:
    return tuple(
        PromptChoice(key=str(number), name=f"c{number}", label=label)
        for number, label in enumerate(labels, 1)
    )


def question(
    text: str,
    kind: InputKind = InputKind.CHOICE,
    *labels: str,
    language: str = "en",
    **fields: object,
) -> Prompt:
    return Prompt(
        kind=PromptKind.QUESTION,
        key="q",
        language=language,
        text=text,
        input=InputHint(kind=kind, choice_count=len(labels)),
        choices=choices(*labels),
        **fields,  # type: ignore[arg-type]
    )


EMPLOYED = question(
    "Do you have a paid job now?",
    InputKind.CHOICE,
    "Yes, employed",
    "Yes, self-employed",
    "No",
    can_go_back=True,
)

LANGUAGE_MENU = Prompt(
    kind=PromptKind.LANGUAGE_MENU,
    key="system.language",
    language="en",
    text="Choose your language",
    input=InputHint(kind=InputKind.CHOICE, choice_count=4),
    choices=choices("English", "Français", "العربية", "Kiswahili"),
)

ARABIC_EMPLOYED = question(
    "هل وجدت عملاً بعد التدريب؟ نريد أن نعرف إذا كنت تعمل الآن بأجر أو لحسابك الخاص",
    InputKind.CHOICE,
    "نعم، بأجر",
    "نعم، لحسابي الخاص",
    "لا",
    language="ar",
    can_go_back=True,
)

TRADE = question(
    "Which trade did you train in at the centre? If you trained in more than one trade,"
    " choose the one you spent the most time on during your course.",
    InputKind.CHOICE,
    "Welding and fabrication",
    "Electrical installation",
    "Plumbing",
    "Motor vehicle mechanics",
    "Tailoring and fashion design",
    "Hairdressing and beauty",
    "Catering and hospitality",
    "Carpentry and joinery",
    "Masonry and construction",
    "ICT and computer repair",
    "Agriculture and agribusiness",
    "Solar installation",
)

MONTHS = question(
    "How many months after your training did you find your first job?",
    InputKind.INTEGER,
    can_go_back=True,
)

LONG_INTEGER = question(
    "Think about all the work you did in the last thirty days, paid or unpaid, for an"
    " employer, for your family or for yourself, including small jobs and casual work."
    " How many days in total did you work?",
    InputKind.INTEGER,
)

BRACKETS = Prompt(
    kind=PromptKind.NOTE,
    key="note",
    language="en",
    text=" ".join(["[ok]"] * 40),
    input=InputHint(kind=InputKind.ANY),
)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        pytest.param(
            EMPLOYED,
            (
                "Do you have a paid job now?\n"
                "1. Yes, employed\n2. Yes, self-employed\n3. No\n0. Back",
            ),
            id="english-choice-prompt-fits-one-page",
        ),
        pytest.param(
            LANGUAGE_MENU,
            ("Choose your language\n1. English\n2. Français\n3. العربية\n4. Kiswahili",),
            id="language-menu-fits-one-ucs2-page",
        ),
        pytest.param(
            ARABIC_EMPLOYED,
            (
                "هل وجدت عملاً بعد التدريب؟ نريد أن نعرف إذا كنت تعمل الآن\n00. المزيد\n0. رجوع",
                "بأجر أو لحسابك الخاص\n1. نعم، بأجر\n2. نعم، لحسابي الخاص\n3. لا\n0. رجوع",
            ),
            id="arabic-prompt-paged-at-80",
        ),
        pytest.param(
            TRADE,
            (
                "Which trade did you train in at the centre? If you trained in more than one"
                " trade, choose the one you spent the most time on during your course.\n"
                "1. Welding and fabrication\n00. More",
                "2. Electrical installation\n3. Plumbing\n4. Motor vehicle mechanics\n"
                "5. Tailoring and fashion design\n6. Hairdressing and beauty\n"
                "7. Catering and hospitality\n00. More\n0. Back",
                "8. Carpentry and joinery\n9. Masonry and construction\n"
                "10. ICT and computer repair\n11. Agriculture and agribusiness\n"
                "12. Solar installation\n0. Back",
            ),
            id="long-question-with-12-choices-paged-with-more-and-back",
        ),
        pytest.param(
            MONTHS,
            (
                "How many months after your training did you find your first job?\n"
                "Enter a number\n#. Back",
            ),
            id="integer-prompt-with-hint-and-hash-back",
        ),
        pytest.param(
            LONG_INTEGER,
            (
                "Think about all the work you did in the last thirty days, paid or unpaid, for"
                " an employer, for your family or for yourself, including small jobs and"
                " casual work. How many\n##. More",
                "days in total did you work?\nEnter a number\n#. Back",
            ),
            id="long-integer-prompt-pages-with-hash-keys",
        ),
        pytest.param(
            replace(EMPLOYED, error=phrase("invalid_choice", "en")),
            (
                "Invalid choice. Enter one of the numbers shown.\n"
                "Do you have a paid job now?\n1. Yes, employed\n2. Yes, self-employed\n3. No\n"
                "0. Back",
            ),
            id="error-line-first",
        ),
        pytest.param(
            replace(MONTHS, current_value="4"),
            (
                "How many months after your training did you find your first job?\n"
                "Enter a number\nNow: 4\n#. Back",
            ),
            id="current-answer-shown",
        ),
        pytest.param(
            BRACKETS,
            (
                " ".join(["[ok]"] * 24) + "\n00. More",
                " ".join(["[ok]"] * 16) + "\n0. Back",
            ),
            id="gsm7-extension-characters-counted-double",
        ),
        pytest.param(
            question("Where do you work?\n\n  In   which town?", InputKind.TEXT),
            ("Where do you work?\nIn which town?",),
            id="author-line-breaks-kept-blank-lines-and-space-runs-dropped",
        ),
        pytest.param(
            question("Tu travailles où ?", InputKind.CHOICE, "Ici", language="fr"),
            ("Tu travailles où ?\n1. Ici",),
            id="first-page-without-back-when-engine-forbids-it",
        ),
    ],
)
def test_paginate(prompt: Prompt, expected: tuple[str, ...]) -> None:
    pages = paginate(prompt)
    assert pages == expected
    assert all(fits_screen(page) for page in pages)


def test_arabic_pages_are_counted_against_80() -> None:
    for page in paginate(ARABIC_EMPLOYED):
        length, limit = screen_length(page)
        assert limit == 80
        assert length <= 80


def test_extension_characters_shorten_the_page() -> None:
    first = paginate(BRACKETS)[0]
    assert gsm7_length(first) <= 182
    assert len(first) < 182 - 40  # a count of characters alone would overfill it


def test_encoding_is_decided_per_page() -> None:
    english = " ".join(["Which sector is your work in?"] * 5)  # 149 GSM-7 characters
    prompt = question(english, InputKind.CHOICE, "الزراعة", "البناء")
    first, *rest = paginate(prompt)
    assert screen_length(first) == (len(english) + len("\n00. More"), 182)
    assert rest and all(screen_length(page)[1] == 80 for page in rest)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param(InputKind.CHOICE, NavKeys(back="0", more="00"), id="choice"),
        pytest.param(InputKind.CHOICES, NavKeys(back="0", more="00"), id="choices"),
        pytest.param(InputKind.ANY, NavKeys(back="0", more="00"), id="note"),
        pytest.param(InputKind.INTEGER, NavKeys(back="#", more="##"), id="integer"),
        pytest.param(InputKind.DECIMAL, NavKeys(back="#", more="##"), id="decimal"),
        pytest.param(InputKind.DATE, NavKeys(back="#", more="##"), id="date"),
        pytest.param(InputKind.TEXT, NavKeys(back="#", more="##"), id="text"),
    ],
)
def test_navigation_keys(kind: InputKind, expected: NavKeys) -> None:
    assert navigation_keys(question("Q", kind)) == expected


def test_language_menu_and_resume_offer_use_menu_keys() -> None:
    resume = Prompt(
        kind=PromptKind.RESUME_OFFER,
        key="system.resume",
        language="sw",
        text=phrase("resume_offer", "sw"),
        input=InputHint(kind=InputKind.CHOICE, choice_count=2),
        choices=choices(phrase("continue", "sw"), phrase("start_again", "sw")),
    )
    assert navigation_keys(LANGUAGE_MENU) == navigation_keys(resume) == NavKeys("0", "00")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        pytest.param(question("Q", InputKind.CHOICE, "A"), "Q\n1. A", id="choice-no-hint"),
        pytest.param(
            question("Q", InputKind.CHOICES, "A"), "Q\nSeveral: e.g. 1 3\n1. A", id="choices"
        ),
        pytest.param(question("Q", InputKind.INTEGER), "Q\nEnter a number", id="integer"),
        pytest.param(question("Q", InputKind.DECIMAL), "Q\nEnter a number, e.g. 2.5", id="decimal"),
        pytest.param(question("Q", InputKind.DATE), "Q\nDate as DDMMYYYY", id="date"),
        pytest.param(question("Q", InputKind.TEXT), "Q", id="text-no-hint"),
        pytest.param(question("Q", InputKind.ANY), "Q", id="note-no-hint"),
        pytest.param(
            question("Q", InputKind.INTEGER, language="fr"), "Q\nEntrez un nombre", id="french"
        ),
        pytest.param(
            question("Q", InputKind.INTEGER, hint="Months, e.g. 3"),
            "Q\nMonths, e.g. 3",
            id="survey-hint-wins",
        ),
        pytest.param(
            question("Q", InputKind.INTEGER, language="pt", can_go_back=True),
            "Q\nEnter a number\n#. Back",
            id="untranslated-language-falls-back-to-english",
        ),
    ],
)
def test_hints(prompt: Prompt, expected: str) -> None:
    assert paginate(prompt) == (expected,)


def test_choice_line_moves_whole_to_the_next_page() -> None:
    text = "x " * 70  # 140 characters of question
    prompt = question(text.strip(), InputKind.CHOICE, "Short", "A label of thirty-two characters")
    first, second = paginate(prompt)
    assert first.splitlines()[-2:] == ["1. Short", "00. More"]
    assert second.splitlines()[0] == "2. A label of thirty-two characters"


def test_choice_longer_than_any_page_is_still_shown_in_full() -> None:
    label = " ".join(f"word{n}" for n in range(60))  # about 400 characters
    prompt = question("Q", InputKind.CHOICE, "Yes", label, "No")
    pages = paginate(prompt)
    assert all(fits_screen(page) for page in pages)
    navigation = {"00. More", "0. Back"}
    shown = squeeze(
        "".join(line for page in pages for line in page.split("\n") if line not in navigation)
    )
    assert "".join(f"2.{label}".split()) in shown
    assert shown.index("1.Yes") < shown.index("2.word0") < shown.index("3.No")


def test_word_longer_than_a_page_is_cut_by_characters() -> None:
    prompt = question("x" * 400, InputKind.TEXT)
    pages = paginate(prompt)
    assert len(pages) == 3
    assert all(fits_screen(page) for page in pages)
    assert "".join(page.split("\n")[0] for page in pages) == "x" * 400


def test_empty_prompt_gives_one_screen() -> None:
    assert paginate(question("", InputKind.TEXT)) == ("",)


def test_render_page_and_page_count() -> None:
    pages = paginate(TRADE)
    assert page_count(TRADE) == 3
    assert [render_page(TRADE, n) for n in range(3)] == list(pages)


@pytest.mark.parametrize("page", [-1, -100], ids=["minus-one", "far-below"])
def test_render_page_clamps_below_to_first(page: int) -> None:
    assert render_page(TRADE, page) == paginate(TRADE)[0]


@pytest.mark.parametrize("page", [3, 100], ids=["one-past", "far-past"])
def test_render_page_clamps_above_to_last(page: int) -> None:
    assert render_page(TRADE, page) == paginate(TRADE)[-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Thank you for your answers!", "Thank you for your answers!", id="short-unchanged"
        ),
        pytest.param("a" * 182, "a" * 182, id="exactly-182-unchanged"),
        pytest.param(
            "Thank you " * 20,
            "Thank you " * 17 + "Thank you...",
            id="gsm7-cut-at-word-with-three-dots",
        ),
        pytest.param("شكراً " * 20, "شكراً " * 12 + "شكراً…", id="arabic-cut-at-80-with-ellipsis"),
        pytest.param("a" * 300, "a" * 179 + "...", id="one-long-word-cut-hard"),
    ],
)
def test_fit_end_screen(text: str, expected: str) -> None:
    assert fit_end_screen(text) == expected
    assert fits_screen(fit_end_screen(text))


def test_public_surface() -> None:
    assert sorted(render.__all__) == [
        "NavKeys",
        "fit_end_screen",
        "navigation_keys",
        "page_count",
        "paginate",
        "render_page",
    ]


# --- properties over random prompts -------------------------------------------------

ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي؟، "
GSM_TEXT = "abcdefghijklmnopqrstuvwxyz ABC 0123456789 .,?!€[]{}^~\\| éàü\n"

texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=ARABIC, max_size=300),
    st.text(alphabet=GSM_TEXT, max_size=400),
)
short_texts = st.one_of(st.text(max_size=40), st.text(alphabet=ARABIC + GSM_TEXT, max_size=40))
labels = st.one_of(
    st.text(max_size=250),
    st.text(alphabet=ARABIC, min_size=1, max_size=120),
    st.text(alphabet=GSM_TEXT, min_size=1, max_size=250),
)
# Labels whose line fits a page whatever the encoding: at most 25 characters, 50
# UTF-16 units, under 80 even with "40. " and both navigation lines.
fitting_labels = st.one_of(
    st.text(min_size=1, max_size=25), st.text(alphabet=ARABIC + GSM_TEXT, min_size=1, max_size=25)
)


@st.composite
def prompts(draw: st.DrawFn, label_strategy: st.SearchStrategy[str] = labels) -> Prompt:
    kind = draw(st.sampled_from(InputKind))
    drawn = draw(st.lists(label_strategy, max_size=40))
    return Prompt(
        kind=PromptKind.QUESTION,
        key="q",
        language=draw(st.sampled_from(["en", "fr", "ar", "sw", "pt"])),
        text=draw(texts),
        input=InputHint(kind=kind, choice_count=len(drawn)),
        hint=draw(st.one_of(st.just(""), short_texts)),
        choices=choices(*drawn),
        error=draw(st.one_of(st.just(""), short_texts)),
        can_go_back=draw(st.booleans()),
        current_value=draw(st.one_of(st.just(""), short_texts)),
    )


def expected_navigation(prompt: Prompt, page: int, pages: int) -> list[str]:
    keys = navigation_keys(prompt)
    more = [f"{keys.more}. {phrase('more', prompt.language)}"] if page < pages - 1 else []
    back = [f"{keys.back}. {phrase('back', prompt.language)}"]
    return more + (back if page > 0 or prompt.can_go_back else [])


def choice_line(choice: PromptChoice) -> str:
    return " ".join([f"{choice.key}.", *choice.label.split()])


def content_lines(prompt: Prompt) -> list[list[str]]:
    """Each page's lines without its navigation, checking the navigation on the way."""
    pages = paginate(prompt)
    contents = []
    for number, page in enumerate(pages):
        lines = page.split("\n") if page else []
        navigation = expected_navigation(prompt, number, len(pages))
        assert lines[len(lines) - len(navigation) :] == navigation
        contents.append(lines[: len(lines) - len(navigation)])
    return contents


def squeeze(text: str) -> str:
    return "".join(text.split())


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(prompts())
def test_every_page_fits_and_nothing_is_lost(prompt: Prompt) -> None:
    contents = content_lines(prompt)
    for page in paginate(prompt):
        assert fits_screen(page)
    body = [prompt.error, prompt.text, prompt.hint, prompt.current_value]
    body += [choice_line(choice) for choice in prompt.choices]
    shown = squeeze("".join(line for lines in contents for line in lines))
    # Hints and "Now: ..." add system words; everything the prompt holds must be there,
    # in order, and every page but an empty prompt's single one shows something.
    position = 0
    for part in body:
        found = shown.find(squeeze(part), position)
        assert found >= 0
        position = found + len(squeeze(part))
    if len(contents) > 1:
        assert all(lines and all(lines) for lines in contents)


@SETTINGS
@given(prompts())
def test_choices_that_fit_a_page_are_never_split(prompt: Prompt) -> None:
    keys = navigation_keys(prompt)
    navigation = [
        f"{keys.more}. {phrase('more', prompt.language)}",
        f"{keys.back}. {phrase('back', prompt.language)}",
    ]
    all_lines = [line for lines in content_lines(prompt) for line in lines]
    position = 0
    for choice in prompt.choices:
        line = choice_line(choice)
        if fits_screen("\n".join([line, *navigation])):
            assert line in all_lines[position:]
            position = all_lines.index(line, position) + 1


@SETTINGS
@given(prompts(fitting_labels))
def test_pages_show_all_choices_in_order(prompt: Prompt) -> None:
    all_lines = [line for lines in content_lines(prompt) for line in lines]
    expected = [choice_line(choice) for choice in prompt.choices]
    assert all_lines[len(all_lines) - len(expected) :] == expected
    for page in paginate(prompt):
        assert fits_screen(page)


@SETTINGS
@given(texts)
def test_end_screen_always_fits_and_keeps_the_start(text: str) -> None:
    screen = fit_end_screen(text)
    assert fits_screen(screen)
    if screen != text:
        assert screen.endswith(("...", "…"))
        assert text.startswith(screen.removesuffix("...").removesuffix("…"))
