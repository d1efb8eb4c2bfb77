"""The corpus of real XLSForms against the issue's target (issue 15): every form pyxform
converts, and that a phone can ask, imports and is completed over USSD; a form with
what a phone cannot ask is refused naming it, and imports with --skip-unaskable.

The forms that still fail are listed below with what they lack. The lists are kept
honest both ways: a listed form that passes fails the test (take it off the list), as
does a form off the list that fails. `python -m tests.xlsform_corpus.run_corpus`
prints the whole picture."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.xlsform_corpus.run_corpus import (
    COMPLETED,
    CRASHED,
    REFUSED,
    STUCK,
    FormResult,
    run_corpus,
)

NESTED_REPEAT = "a repeat inside a repeat (nested repeats)"
FLAT_NAMES = "one name in two repeats or groups (names are flat here, paths in ODK)"

# Forms pyxform converts, holding nothing a phone cannot ask, that do not yet import
# and complete: what each lacks.
TARGET_FAILURES: dict[str, str] = {
    "kobocat/kobocat__household.xls": f"{FLAT_NAMES}; {NESTED_REPEAT}",
}

# Forms pyxform converts that hold what a phone cannot ask, and that do not yet import
# and complete with --skip-unaskable: what each lacks besides.
SKIPPING_FAILURES: dict[str, str] = {
    "getodk-web-forms/getodk-web-forms__all-question-types-v2024091201-3.xlsx": (
        "range with a picker (an integer between bounds) not supported"
    ),
    "kobocat/kobocat__childrens_survey_unicode.xls": FLAT_NAMES,
    "kobocat/kobocat__groups_in_repeats.xls": FLAT_NAMES,
    "kobocat/kobocat__nested_repeats.xls": NESTED_REPEAT,
    "pyxform/pyxform__UCL_Biomass_Plot_Form.xlsx": (
        f"{NESTED_REPEAT}; UCL_regions.csv is not in the corpus (the form's own media)"
    ),
}


@pytest.fixture(scope="module")
def corpus() -> list[FormResult]:
    return run_corpus(today=dt.date(2026, 6, 15))


def _check(results: dict[str, str], expected_failures: dict[str, str]) -> None:
    """`results`: form -> outcome (with its message when not completed)."""
    failing = {f: outcome for f, outcome in results.items() if not outcome.startswith(COMPLETED)}
    newly_failing = {f: failing[f] for f in failing.keys() - expected_failures.keys()}
    now_passing = sorted(expected_failures.keys() - failing.keys())
    assert not newly_failing, f"forms that no longer import and complete: {newly_failing}"
    assert not now_passing, f"forms that now pass: take them off the list: {now_passing}"


# Refused by pyxform 4.5 but read here on purpose: type names are read without regard to
# case (pyxform reads `Select one from` as unknown; we already read `INTEGER`).
PYXFORM_REFUSES_WE_READ = {
    "kobocat/kobocat__MCH_v1.xls": "'Select one from source'",
    # pyxform 4.5 crashes on its `text:` headers (AttributeError); we read them, and
    # its labels missing in one language are said in the default one, with a warning.
    "kobocat/kobocat__Agriculture.xls": "pyxform crashes on it",
}


def test_every_form_pyxform_converts_that_a_phone_can_ask_imports_and_completes(corpus):
    target = {r.file: f"{r.run.outcome} {r.run.message}" for r in corpus if r.target}
    assert len(target) == 43  # the corpus's own count (README.md)
    _check(target, TARGET_FAILURES)


def test_forms_with_what_a_phone_cannot_ask_complete_with_skip_unaskable(corpus):
    with_unaskable = [r for r in corpus if r.pyxform_ok and r.phone_impossible]
    assert len(with_unaskable) == 25
    skipping = {}
    for result in with_unaskable:
        assert result.skipping is not None
        skipping[result.file] = f"{result.skipping.outcome} {result.skipping.message}"
    _check(skipping, SKIPPING_FAILURES)


def test_forms_with_what_a_phone_cannot_ask_are_refused_naming_it(corpus):
    for result in corpus:
        if not result.phone_impossible:
            continue
        assert result.run.outcome == REFUSED, result.file
        if result.run.codes != ("unreadable_file",):  # else the file itself is not read yet
            assert "unaskable_type" in result.run.codes, (result.file, result.run.message)


def test_forms_pyxform_refuses_are_refused_and_nothing_crashes_or_hangs(corpus):
    for result in corpus:
        runs = [result.run] + ([result.skipping] if result.skipping else [])
        for run in runs:
            assert run.outcome not in (CRASHED, STUCK), (result.file, run)
        if not result.pyxform_ok and result.file not in PYXFORM_REFUSES_WE_READ:
            assert result.run.outcome == REFUSED, result.file
