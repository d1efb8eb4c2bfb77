"""Repeats (issue 15): `begin repeat` asked a fixed or computed number of times, or
until "Add another?" is answered no; each pass's answers stored as `name[2]`. Driven
as production drives the engine, the state through its bytes between every input."""

from __future__ import annotations

import pytest

from audio.catalogue import catalogue
from survey_engine.errors import SurveyLoadError
from survey_engine.inputs import Back
from survey_engine.machine import resume_state
from survey_engine.model import MAX_REPEAT_PASSES
from survey_engine.xlsform import load_markdown
from tests.survey_engine.test_computed import Run

FIXED = """
| survey |
| | type | name | label | repeat_count |
| | begin repeat | job | Jobs | 2 |
| | text | employer | Employer? | |
| | integer | months | Months at ${employer}? | |
| | end repeat | | | |
| | note | done | ${employer} is not read here, count: | |
"""


def answers(run: Run) -> dict[str, str]:
    return {name: value for name, (value, _kind) in run.stored.items()}


def test_a_fixed_repeat_count_asks_the_body_that_many_times_each_pass_indexed():
    survey = load_markdown(FIXED.replace("${employer} is not read here, count:", "Done"))
    run = Run(survey)
    assert run.screen == "Employer?"
    assert run.send("Acme").screen == "Months at Acme?"
    assert run.send("7").screen == "Employer?"
    assert run.send("Bolt").screen == "Months at Bolt?"
    assert run.send("3").screen == "Done"
    assert answers(run) == {
        "employer[1]": "Acme",
        "months[1]": "7",
        "employer[2]": "Bolt",
        "months[2]": "3",
    }


COMPUTED = """
| survey |
| | type | name | label | repeat_count | calculation | relevant |
| | integer | children | How many children? | | | |
| | begin repeat | child | Child | ${children} | | |
| | integer | age | Age of child number ${number}? | | | |
| | calculate | number | | | position(..) | |
| | select_one yn | school | In school? | | | ${age} >= 6 |
| | end repeat | | | | | |
| | calculate | total_age | | | sum(${age}) | |
| | calculate | in_school | | | count(${school}) | |
| | note | done | Ages add to ${total_age}; ${in_school} answered. | | | |
| choices |
| | list_name | name | label |
| | yn | yes | Yes |
| | yn | no | No |
"""


def test_a_computed_repeat_count_position_and_sum_count_across_passes():
    run = Run(load_markdown(COMPUTED))
    assert run.send("2").screen == "Age of child number 1?"
    assert run.send("4").screen == "Age of child number 2?"  # 4: not asked about school
    assert run.send("9").screen == "In school?"
    assert run.send("1").screen == "Ages add to 13; 1 answered."
    assert answers(run) == {
        "children": "2",
        "number[1]": "1",
        "age[1]": "4",
        "number[2]": "2",
        "age[2]": "9",
        "school[2]": "yes",
        "total_age": "13",
        "in_school": "1",
    }  # passes that never happen store nothing, calculations included


def test_a_count_of_zero_asks_no_pass():
    run = Run(load_markdown(COMPUTED))
    assert run.send("0").screen == "Ages add to 0; 0 answered."


ANOTHER = """
| survey |
| | type | name | label |
| | begin repeat | course | Courses |
| | text | course_name | Course name? |
| | end repeat | | |
| | text | comment | Any comment? |
"""


def test_without_a_count_add_another_after_each_pass_until_no():
    run = Run(load_markdown(ANOTHER))
    assert run.screen == "Course name?"
    prompt = run.send("Welding").turns[-1].prompt
    assert prompt is not None
    assert prompt.text == "Add another?"
    assert [(c.key, c.label) for c in prompt.choices] == [("1", "Yes"), ("2", "No")]
    assert run.send("1").screen == "Course name?"
    assert run.send("Tailoring").screen == "Add another?"
    assert run.send("2").screen == "Any comment?"
    run.send("none")
    assert answers(run) == {
        "course_name[1]": "Welding",
        "course[1]": "yes",
        "course_name[2]": "Tailoring",
        "course[2]": "no",
        "comment": "none",
    }


def test_add_another_is_said_in_the_respondents_language():
    french = ANOTHER.replace("| label |", "| label::French (fr) |")
    run = Run(load_markdown(french))
    assert run.send("Soudure").screen == "En ajouter un autre ?"


def test_add_another_stops_at_the_most_passes():
    run = Run(load_markdown(ANOTHER))
    for k in range(1, MAX_REPEAT_PASSES):
        assert run.send(f"course {k}").screen == "Add another?"
        run.send("1")
    assert run.send("last").screen == "Any comment?"
    assert f"course_name[{MAX_REPEAT_PASSES}]" in answers(run)


def test_going_back_across_a_pass_lands_in_the_earlier_pass_and_no_drops_later_ones():
    run = Run(load_markdown(ANOTHER))
    run.send("Welding", "1", "Tailoring")
    assert run.screen == "Add another?"
    assert run.send(Back()).screen == "Course name?"
    assert run.turns[-1].prompt.current_value == "Tailoring"  # type: ignore[union-attr]
    assert run.send(Back()).screen == "Add another?"
    assert run.send(Back()).screen == "Course name?"
    assert run.turns[-1].prompt.current_value == "Welding"  # type: ignore[union-attr]
    # Forward again: back where they were, after pass 2.
    assert run.send("Welding").screen == "Add another?"
    assert "course[2]" not in answers(run) and answers(run)["course[1]"] == "yes"
    # Back to after pass 1 and "no": pass 2 is dropped.
    run.send(Back(), Back())
    assert run.turns[-1].prompt.current_value == "Yes"  # type: ignore[union-attr]
    assert run.send("2").screen == "Any comment?"
    assert answers(run) == {"course_name[1]": "Welding", "course[1]": "no"}


def test_resume_from_sql_lands_in_the_same_pass():
    survey = load_markdown(FIXED.replace("${employer} is not read here, count:", "Done"))
    state = resume_state(survey, {"employer[1]": "Acme", "months[1]": "7"}, "en")
    assert survey.questions[state.position].name == "employer[2]"
    state = resume_state(
        survey, {"employer[1]": "Acme", "months[1]": "7", "employer[2]": "B"}, "en"
    )
    assert survey.questions[state.position].name == "months[2]"


def test_every_pass_shares_its_prompts_in_the_audio_catalogue():
    keys = [entry.key for entry in catalogue(load_markdown(ANOTHER))]
    assert keys.count("course_name.label") == 1
    assert keys.count("course.label") == 1  # "Add another?"
    assert {"course.choice.yes", "course.choice.no"} <= set(keys)
    assert not [key for key in keys if "[" in key]


def located(form: str) -> list[tuple[str, int | None, str | None]]:
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(form)
    return [(e.code, e.row, e.column) for e in raised.value.errors]


def test_a_repeat_question_outside_its_repeat_is_refused_unless_counted_or_summed():
    assert located(FIXED) == [("repeat_reference", 6, "label")]


def test_nested_repeats_are_refused_where_the_inner_one_begins():
    assert located(
        """
        | survey |
        | | type | name | label |
        | | begin repeat | household | Households |
        | | begin repeat | member | Members |
        | | text | member_name | Name? |
        | | end repeat | | |
        | | end repeat | | |
        """
    ) == [("nested_repeat", 3, "type")]


def test_a_fixed_count_above_the_most_passes_is_refused_on_its_cell():
    assert located(FIXED.replace("| 2 |", f"| {MAX_REPEAT_PASSES + 1} |")) == [
        ("bad_repeat_count", 2, "repeat_count"),
        ("repeat_reference", 6, "label"),
    ]


def test_position_outside_a_repeat_is_still_refused():
    assert located(
        """
        | survey |
        | | type | name | label | calculation |
        | | calculate | where | | position(..) |
        | | note | n | Hi | |
        """
    ) == [("unsupported_function", 2, "calculation")]


PARALLEL = """
| survey |
| | type | name | label | repeat_count | calculation |
| | begin repeat | person | Members | | |
| | text | member | Name? | | |
| | end repeat | | | | |
| | begin repeat | details | Details | count(${person}) | |
| | calculate | who | | | indexed-repeat(${member}, ${person}, position(..)) |
| | integer | age | Age of ${who}? | | |
| | end repeat | | | | |
| | note | done | ${member[2]} is the second of ${people}. | | |
| | calculate | people | | | count(${person}) |
"""


def test_count_of_a_repeat_is_its_passes_and_indexed_repeat_reads_the_same_pass():
    run = Run(load_markdown(PARALLEL))
    run.send("Amina", "1", "Baraka", "2")
    assert run.screen == "Age of Amina?"
    assert run.send("30").screen == "Age of Baraka?"
    assert run.send("4").screen == "Baraka is the second of 2."
    assert answers(run)["age[2]"] == "4" and "age[3]" not in answers(run)


def test_or_other_in_a_repeat_asks_please_specify_in_the_same_pass():
    form = """
    | survey |
    | | type | name | label | repeat_count | calculation |
    | | begin repeat | job | Jobs | 2 | |
    | | select_one trades or_other | trade | Trade? | | |
    | | end repeat | | | | |
    | | note | done | ${others} | | |
    | | calculate | others | | | count(${trade_other}) |
    | choices |
    | | list_name | name | label |
    | | trades | weld | Welding |
    """
    run = Run(load_markdown(form))
    assert run.send("2").screen == "Please specify."
    assert run.send("boda").screen == "Trade?"
    assert run.send("1").screen == "1"
    assert answers(run)["trade_other[1]"] == "boda" and answers(run)["trade[2]"] == "weld"
