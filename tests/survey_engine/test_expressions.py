"""The XLSForm expression language: every operator and function, XPath 1.0 value rules,
compile errors a form author can act on, and evaluation that never raises."""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey_engine.expressions import (
    FUNCTIONS,
    Environment,
    Expression,
    ExpressionError,
    Table,
    UnsupportedPatternError,
    compile_expression,
)

NAN = math.nan
INF = math.inf


def value_of(
    source: str,
    answers: dict[str, str] | None = None,
    current: str | None = None,
    columns: dict[str, str] | None = None,
) -> str | float | bool:
    expression = compile_expression(source, allow_dot=True, allow_bare_names=True)
    return expression.evaluate(answers or {}, current, columns)


def same(actual: object, expected: object) -> bool:
    """Equality that also holds for NaN, and that tells True from 1.0."""
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return type(actual) is type(expected) and actual == expected


# --------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2", 3.0),
        ("7 - 10", -3.0),
        ("2.5 * 4", 10.0),
        ("7 div 2", 3.5),
        ("7 mod 3", 1.0),
        ("-7 mod 3", -1.0),  # XPath mod keeps the dividend's sign
        ("7 mod -3", 1.0),
        ("-(2 + 3)", -5.0),
        ("- - 2", 2.0),
        ("1 + 2 * 3", 7.0),  # * binds tighter than +
        ("(1 + 2) * 3", 9.0),
        ("10 - 4 - 3", 3.0),  # left-associative
        ("12 div 2 div 3", 2.0),
        (".5 + 1.", 1.5),
        ("5 div 0", INF),
        ("-5 div 0", -INF),
        ("0 div 0", NAN),
        ("5 mod 0", NAN),
        ("'abc' + 1", NAN),
        ("'' * 2", NAN),
        ("' 4 ' + 1", 5.0),  # XPath number() ignores surrounding spaces
        ("'1e3' + 0", NAN),  # ... but has no exponents, unlike Python's float()
        ("'inf' + 0", NAN),
        ("true() + 1", 2.0),
    ],
)
def test_arithmetic(source: str, expected: float) -> None:
    assert same(value_of(source), expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 = 1", True),
        ("1 = 2", False),
        ("1 != 2", True),
        ("2 < 10", True),  # numbers, not strings: '2' < '10' would be false
        ("2 <= 2", True),
        ("3 > 2", True),
        ("3 >= 4", False),
        ("'a' = 'a'", True),
        ("'a' != 'b'", True),
        ("'1.0' = '1'", False),  # two strings compare as strings
        ("'1.0' = 1", True),  # a number on either side compares numerically
        ("'2' < '10'", True),  # < always compares numerically
        ("'abc' < 'abd'", False),  # ... so non-numbers are NaN and never ordered
        ("'2024-01-31' < '2024-02-01'", True),  # ISO dates order as strings
        ("'2024-12-01' >= '2024-02-01'", True),
        ("'2024-12-01' < '2024-02-01'", False),
        ("true() = 1", True),  # a boolean on either side compares as booleans
        ("false() = ''", True),
        ("true() = 'no'", True),  # non-empty text is true
        ("1 < 2 = true()", True),
        ("1 = 1 and 2 = 2", True),
        ("1 = 1 and 2 = 3", False),
        ("1 = 2 or 2 = 2", True),
        ("1 = 2 or 2 = 3", False),
        ("1 = 1 or 1 = 2 and 1 = 2", True),  # and binds tighter than or
        ("(1 = 1 or 1 = 2) and 1 = 2", False),
    ],
)
def test_comparison_and_logic(source: str, expected: bool) -> None:
    assert same(value_of(source), expected)


@pytest.mark.parametrize("operator", ["=", "<", "<=", ">", ">="])
@pytest.mark.parametrize("text", ["", "abc", "12abc"])
def test_text_that_is_not_a_number_against_a_number_is_false(operator: str, text: str) -> None:
    assert value_of(f"${{a}} {operator} 5", {"a": text}) is False
    assert value_of("${a} != 5", {"a": text}) is True


def test_unanswered_questions_are_empty_strings() -> None:
    assert value_of("${missing}") == ""
    assert value_of("${missing} = ''") is True
    assert value_of("string-length(${missing})") == 0.0


def test_answers_are_strings_and_compare_with_numbers() -> None:
    answers = {"age": "25", "employed": "wage"}
    assert value_of("${age} >= 18 and ${employed} = 'wage'", answers) is True
    assert value_of("${age} = '25'", answers) is True
    assert value_of("${age} + 1", answers) == 26.0


# --------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "answers", "expected"),
    [
        ("not(1 = 2)", {}, True),
        ("not(${a})", {"a": ""}, True),
        ("not('x')", {}, False),
        ("selected(${m}, 'b')", {"m": "a b c"}, True),
        ("selected(${m}, 'd')", {"m": "a b c"}, False),
        ("selected(${m}, 'a b')", {"m": "a b"}, False),  # one choice name at a time
        ("selected(${m}, 'a')", {"m": ""}, False),
        ("count-selected(${m})", {"m": "a  b c "}, 3.0),
        ("count-selected(${m})", {"m": ""}, 0.0),
        ("string-length('héllo')", {}, 5.0),
        ("string-length(12.50)", {}, 4.0),  # the number's string is "12.5"
        ("number('12.5')", {}, 12.5),
        ("number('-3')", {}, -3.0),
        ("number('twelve')", {}, NAN),
        ("number(true())", {}, 1.0),
        ("int(2.9)", {}, 2.0),
        ("int(-2.9)", {}, -2.0),
        ("int('7.5')", {}, 7.0),
        ("int('x')", {}, NAN),
        ("int(1 div 0)", {}, INF),
        ("true()", {}, True),
        ("false()", {}, False),
        ("if(${a} = 'yes', 'Y', 'N')", {"a": "yes"}, "Y"),
        ("if(${a} = 'yes', 'Y', 'N')", {"a": "no"}, "N"),
        ("if(1, 2, 3)", {}, 2.0),
        ("coalesce(${a}, 'default')", {"a": ""}, "default"),
        ("coalesce(${a}, 'default')", {"a": "given"}, "given"),
        ("concat('a')", {}, "a"),
        ("concat(${a}, '-', 3, '-', 2.5, '-', true())", {"a": "x"}, "x-3-2.5-true"),
        ("concat(1 div 0, ' ', 0 div 0, ' ', -0)", {}, "Infinity NaN 0"),
        ("concat(0.0000001)", {}, "0.0000001"),  # never exponent notation
        ("regex(${a}, '^[0-9]{10}$')", {"a": "0712345678"}, True),
        ("regex(${a}, '^[0-9]{10}$')", {"a": "071234567"}, False),
        ("regex(${a}, 'lo')", {"a": "hello"}, True),  # searches, like ODK Collect
        ("regex(., '^\\d+$')", {}, False),
    ],
)
def test_functions(source: str, answers: dict[str, str], expected: object) -> None:
    assert same(value_of(source, answers), expected)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("a" * 100_000 + "!", False),  # backtracking engines take ages over this one
        ("a" * 100_000, True),
        ("baa", True),  # searched for anywhere, as before
        ("", False),
    ],
)
def test_a_pattern_that_backtracks_exponentially_answers_at_once(answer: str, expected: bool):
    # `(a+)+$` on 30 a's and a '!' kept Python's re busy for minutes, stalling the worker.
    constraint = compile_expression("regex(., '(a+)+$')", allow_dot=True)
    started = time.perf_counter()
    assert constraint.is_true({}, current=answer) is expected
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("pattern", "answer", "expected"),
    [
        ("^.{3}$", "ملك", True),  # counts characters, not UTF-8 bytes
        ("^.{3}$", "Zoë", True),
        ("^[a-zé]+$", "josé", True),
        ("^\\d+$", "٣", False),  # \d is an ASCII digit, as in ODK Collect (Java)
        ("^.$", "\ud800", True),  # a lone surrogate neither raises nor vanishes
    ],
)
def test_regex_reads_answers_as_characters(pattern: str, answer: str, expected: bool) -> None:
    assert value_of(f"regex(., '{pattern}')", current=answer) is expected


def test_if_evaluates_only_the_branch_taken() -> None:
    # The untaken branch would be NaN text; if() must not care.
    assert value_of("if(true(), 'ok', 1 div 0)") == "ok"


# --------------------------------------------------------------------------------------
# The current answer (.) and choice columns (bare names)
# --------------------------------------------------------------------------------------


def test_dot_is_the_answer_being_checked_in_a_constraint() -> None:
    constraint = compile_expression(". >= 0 and . <= 60", allow_dot=True)
    assert constraint.uses_dot
    assert constraint.is_true({}, current="12")
    assert not constraint.is_true({}, current="61")
    assert not constraint.is_true({}, current="")
    assert not constraint.is_true({})  # no current value at all


def test_bare_names_are_columns_of_the_choice_in_a_choice_filter() -> None:
    choice_filter = compile_expression(
        "county = ${county} or name = 'other'", allow_bare_names=True
    )
    assert choice_filter.bare_names == frozenset({"county", "name"})
    assert choice_filter.references == frozenset({"county"})
    answers = {"county": "nairobi"}
    assert choice_filter.is_true(answers, columns={"county": "nairobi", "name": "westlands"})
    assert not choice_filter.is_true(answers, columns={"county": "mombasa", "name": "nyali"})
    assert choice_filter.is_true(answers, columns={"name": "other"})
    assert not choice_filter.is_true(answers)  # no columns given


def test_references_lists_every_question_used() -> None:
    expression = compile_expression("${a} = 1 and (selected(${b}, 'x') or ${a} > ${c})")
    assert expression.references == frozenset({"a", "b", "c"})
    assert expression.bare_names == frozenset()
    assert not expression.uses_dot


def test_names_may_contain_dots_dashes_and_digits() -> None:
    expression = compile_expression("${q1.a-b_2} = 'x'")
    assert expression.references == frozenset({"q1.a-b_2"})
    assert expression.is_true({"q1.a-b_2": "x"})


def test_operator_words_are_names_where_an_operand_is_expected() -> None:
    # In XPath `and`, `or`, `div`, `mod` are operators only after an operand.
    expression = compile_expression("mod = 'x' and div != ''", allow_bare_names=True)
    assert expression.bare_names == frozenset({"mod", "div"})
    assert expression.is_true({}, columns={"mod": "x", "div": "y"})


def test_expressions_are_values() -> None:
    assert compile_expression("${a} = 1") == compile_expression("${a} = 1")
    assert hash(compile_expression("${a} = 1")) == hash(compile_expression("${a} = 1"))
    assert compile_expression("${a} = 1") != compile_expression("${a}=1")
    assert str(compile_expression("${a} = 1")) == "${a} = 1"
    assert isinstance(compile_expression("1"), Expression)


def test_is_true_follows_xpath_boolean_rules() -> None:
    assert compile_expression("'x'").is_true({})
    assert not compile_expression("''").is_true({})
    assert compile_expression("-1").is_true({})
    assert not compile_expression("0").is_true({})
    assert not compile_expression("0 div 0").is_true({})


def test_long_and_chains_stay_shallow() -> None:
    # A constraint listing many values is ordinary; it must not hit the depth limit.
    source = " and ".join(f". != 'v{i}'" for i in range(300))
    assert compile_expression(source, allow_dot=True).is_true({}, current="w")


def test_evaluate_tolerates_non_string_answers_from_a_sloppy_caller() -> None:
    answers: dict[str, object] = {"a": None, "b": 3}
    assert value_of("concat(${a}, ${b})", answers) == "3"  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Compile errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("${a} = 'yes')", "unexpected ')' at position 13"),
        ("(${a} = 1", "missing ')' at the end"),
        ("${a} =", "the expression ends too early"),
        ("", "the expression is empty"),
        ("   ", "the expression is empty"),
        ("${a} = = 1", "unexpected '=' at position 8"),
        ("1 2", "unexpected '2' at position 3"),
        ("${a", "'${' at position 1 has no closing '}'"),
        ("${1a} = 1", "'${1a}' at position 1 is not a valid question name"),
        ("${} = 1", "'${}' at position 1 is not a valid question name"),
        ("'abc", "text starting at position 1 has no closing '"),
        ('${a} = "abc', 'text starting at position 8 has no closing "'),
        (
            "/data/a = 1",
            "the path '/data/a' at position 1 is not understood: refer to the question as ${a}",
        ),
        ("${a}/b = 1", "paths are understood as ../name"),
        ("${a}[1] = 1", "a filter [...] is understood after a repeat only"),
        ("${a} # 1", "unexpected '#' at position 6"),
        ("pulldata('a', 'b', 'c', 'd')", "pulldata() at position 1 reads 'a', which is neither"),
        ("position(..)", "position() at position 1 needs a repeat: position(..) is the pass"),
        ("jr:choice-name(${a}, ${a})", "needs the question as quoted text, e.g. '${job}'"),
        ("not(1, 2)", "not() at position 1 takes 1 argument, not 2"),
        ("selected(${a})", "selected() at position 1 takes 2 arguments, not 1"),
        ("true(1)", "true() at position 1 takes 0 arguments, not 1"),
        ("if(1, 2)", "if() at position 1 takes 3 arguments, not 2"),
        ("concat()", "concat() at position 1 takes at least 1 argument, not 0"),
        ("regex(${a}, '[')", "bad regular expression '[' at position 13"),
        ("regex(${a}, ${b})", "regex() at position 13 needs its pattern as quoted text"),
        (". > 1", "'.' (the answer being checked) at position 1 is only allowed in a constraint"),
        ("yes = 1", "'yes' at position 1 is not understood: write ${yes}"),
        ("${a} = 1 and", "the expression ends too early"),
        ("f(", "unknown function 'f()' at position 1"),
        ("not(1", "missing ')' at the end"),
        ("(" * 40 + "1" + ")" * 40, "nested too deeply"),
        ("+".join(["1"] * 300), "too long"),
    ],
)
def test_compile_errors_say_what_and_where(source: str, message: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        compile_expression(source)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("pattern", "feature", "hint"),
    [
        ("(a)\\1", "a back-reference (\\1)", "rewrite the pattern without it"),
        ("(?P<x>a)(?P=x)", "a back-reference", "rewrite the pattern without it"),
        ("^(?=.*[0-9]).{8,}$", "a look-ahead ((?=)", "with its own regex() and join them"),
        ("^(?!0)[0-9]+$", "a look-ahead ((?!)", "with its own regex() and join them"),
        ("(?<=\\+)254", "a look-behind ((?<=)", "with its own regex() and join them"),
        ("(?>ab)c", "an atomic group", "without '?>'"),
        ("a++b", "a possessive quantifier (++)", "drop the '+'"),
    ],
)
def test_a_pattern_the_linear_engine_cannot_run_is_a_compile_error_saying_why(
    pattern: str, feature: str, hint: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UnsupportedPatternError) as raised:
        compile_expression(f"${{a}} = 1 and regex(${{a}}, '{pattern}')")
    message = str(raised.value)
    assert message.startswith(f"regular expression '{pattern}' at position 26 uses {feature}")
    assert "not supported" in message and hint in message
    assert raised.value.position == 26
    assert isinstance(raised.value, ExpressionError)
    # The error is the form's to report: RE2 writes nothing of its own to stderr.
    assert capfd.readouterr().err == ""


def test_expression_error_is_a_value_error_with_a_position() -> None:
    with pytest.raises(ValueError) as raised:
        compile_expression("1 +* 2")
    assert isinstance(raised.value, ExpressionError)
    assert raised.value.position == 4


def test_dot_and_bare_names_are_allowed_only_when_asked_for() -> None:
    with pytest.raises(ExpressionError):
        compile_expression(". > 1")
    with pytest.raises(ExpressionError):
        compile_expression("county = 'x'")
    assert compile_expression(". > 1", allow_dot=True).uses_dot
    assert compile_expression("county = 'x'", allow_bare_names=True).bare_names == {"county"}


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

QUESTIONS = ("a", "b", "c")

answer_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "0", "-0", "1", "12.5", " 7 ", "NaN", "Infinity", "1e400", "a b"]),
    st.sampled_from(["2024-01-31", "9" * 400, "-", ".", "1.", ".5", "yes", "no"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
)

leaves = st.one_of(
    st.sampled_from([f"${{{q}}}" for q in QUESTIONS]),
    st.just("."),
    st.sampled_from(["county", "name"]),
    st.integers(min_value=0, max_value=10**30).map(str),
    st.sampled_from(["0", "0.5", "1.", ".25", "''", "'x'", "'2024-01-31'", '"a b"']),
    st.sampled_from(["true()", "false()"]),
)

OPERATORS = ("or", "and", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "div", "mod")
CALLS = {
    "not": 1,
    "selected": 2,
    "count-selected": 1,
    "string-length": 1,
    "number": 1,
    "int": 1,
    "if": 3,
    "coalesce": 2,
    "concat": 3,
}


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(OPERATORS), children).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"
    )
    calls = st.sampled_from(sorted(CALLS)).flatmap(
        lambda name: st.lists(children, min_size=CALLS[name], max_size=CALLS[name]).map(
            lambda args: f"{name}({', '.join(args)})"
        )
    )
    regex = children.map(lambda c: f"regex({c}, '^(a|b)+[0-9]*$')")
    return st.one_of(binary, calls, regex, children.map(lambda c: f"-({c})"))


expressions = st.recursive(leaves, _extend, max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(
    source=expressions,
    answers=st.dictionaries(st.sampled_from(QUESTIONS), answer_text),
    current=st.one_of(st.none(), answer_text),
    columns=st.one_of(st.none(), st.dictionaries(st.sampled_from(["county", "name"]), answer_text)),
)
def test_evaluate_never_raises(
    source: str,
    answers: dict[str, str],
    current: str | None,
    columns: dict[str, str] | None,
) -> None:
    expression = compile_expression(source, allow_dot=True, allow_bare_names=True)
    result = expression.evaluate(answers, current, columns)
    assert isinstance(result, str | float | bool)
    assert isinstance(expression.is_true(answers, current, columns), bool)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("${}.()'\"ab1 =<>!-+*,/#divmodandor"), max_size=40))
def test_compiling_any_text_gives_an_expression_or_an_expression_error(source: str) -> None:
    try:
        compile_expression(source, allow_dot=True, allow_bare_names=True)
    except ExpressionError as error:
        assert str(error)


# --------------------------------------------------------------------------------------
# The functions real forms use (issue 15), and the clock they get from the caller
# --------------------------------------------------------------------------------------

NOON = Environment(now=dt.datetime(2026, 6, 15, 12, 30, 5, 250000, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("source", "answers", "expected"),
    [
        ("round(2.675, 2)", {}, 2.68),  # half away from zero, on the decimal written
        ("round(-2.5)", {}, -3.0),
        ("round(${a} div 3, 1)", {"a": "10"}, 3.3),
        ("floor(-2.5) + ceiling(2.1)", {}, 0.0),
        ("abs(-4) + pow(2, 3) + sqrt(9)", {}, 15.0),
        ("sqrt(-1)", {}, NAN),
        ("sum(${picked})", {"picked": "1 3 5"}, 9.0),  # a select_multiple's numeric names
        ("sum(${a}, 2)", {"a": "x"}, NAN),
        ("min(${a}, ${b}, 7)", {"a": "3", "b": "9"}, 3.0),
        ("max(${picked})", {"picked": "1 3 5"}, 5.0),
        ("count(${a})", {}, 1.0),
        ("count-non-empty(${a}, ${b}, 'x')", {"a": "1"}, 2.0),
        ("selected-at(${picked}, 1)", {"picked": "weld wire"}, "wire"),
        ("selected-at(${picked}, 2)", {"picked": "weld wire"}, ""),
        ("substr('Nairobi', 0, 4)", {}, "Nair"),
        ("substr('Nairobi', 4)", {}, "obi"),
        ("substr('Nairobi', -3, 99)", {}, "Nairobi"),
        ("substring-before('a@b.org', '@')", {}, "a"),
        ("substring-after('a@b.org', '@')", {}, "b.org"),
        (
            "contains('welding', 'eld') and starts-with('+254', '+') and ends-with('x.org', 'org')",
            {},
            True,
        ),
        ("normalize-space('  a   b ')", {}, "a b"),
        ("translate('abc', 'ab', 'A')", {}, "Ac"),
        ("string(4) = '4' and boolean('x') and not(boolean(''))", {}, True),
        ("boolean-from-string('1')", {}, True),
        ("join(', ', 'a', ${b})", {"b": "c"}, "a, c"),
        ("date(0)", {}, "1970-01-01"),
        ("date(${born} + 1)", {"born": "2024-02-28"}, "2024-02-29"),
        ("${d} - ${born}", {"born": "2024-02-28", "d": "2024-03-01"}, 2.0),  # days apart
        ("decimal-date-time('1970-01-02T12:00:00Z')", {}, 1.5),
        ("date-time(0.5)", {}, "1970-01-01T12:00:00.000+00:00"),
        ("format-date('2026-06-05', '%d/%m/%Y %e %n %b %a %y')", {}, "05/06/2026 5 6 Jun Fri 26"),
        ("format-date('not a date', '%Y')", {}, ""),
        (
            "format-date-time('2026-06-05T07:08:09.010+03:00', '%H:%M:%S.%3 %h')",
            {},
            "07:08:09.010 7",
        ),
    ],
)
def test_functions_real_forms_use(source: str, answers: dict[str, str], expected: object) -> None:
    actual = value_of(source, answers)
    assert same(actual, expected), (source, actual)


def test_today_and_now_come_from_the_callers_clock_never_the_systems() -> None:
    today = compile_expression("today()")
    now = compile_expression("now()")
    assert today.evaluate({}, environment=NOON) == "2026-06-15"
    assert now.evaluate({}, environment=NOON) == "2026-06-15T12:30:05.250+00:00"
    assert today.evaluate({}) == ""  # no clock given: no date, not the machine's
    age = compile_expression("int((today() - ${born}) div 365.25)")
    assert age.text({"born": "2000-06-16"}, environment=NOON) == "25"


def test_once_keeps_the_value_already_computed() -> None:
    once = compile_expression("once(now())")
    assert once.text({}, current="", environment=NOON) == "2026-06-15T12:30:05.250+00:00"
    assert once.text({}, current="earlier", environment=NOON) == "earlier"


def test_choice_name_says_the_label_the_caller_knows() -> None:
    expression = compile_expression("jr:choice-name(${job}, '${job}')")
    assert expression.references == frozenset({"job"})
    labels = {("job", "weld"): "Welding", ("job", "wire"): "Wiring"}
    environment = Environment(choice_label=lambda q, c: labels[q, c])
    assert expression.evaluate({"job": "weld"}, environment=environment) == "Welding"
    assert expression.evaluate({"job": ""}, environment=environment) == ""


def test_every_function_is_documented_with_an_example_that_compiles() -> None:
    # The lists the examples read (instance(), pulldata()), as a form would have them.
    tables = {
        "graduates": Table(({"id": "G-1", "name": "Amina"},), frozenset({"id", "name"})),
        "jobs": Table(
            ({"name": "weld", "label": "Welding", "sector": "building"},),
            frozenset({"name", "label", "sector"}),
            choice_list=True,
        ),
    }
    for name, (what, example) in FUNCTIONS.items():
        assert what and name in example, name
        compile_expression(example, allow_dot=True, tables=tables.get)


def test_the_readme_lists_every_function_once() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([\w:-]+)\(\)` \|", readme, re.MULTILINE)
    assert sorted(listed) == sorted(FUNCTIONS)
