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


# -- paths over repeats: filters, relative paths, a count that reads its own passes --

PEOPLE = """
| survey |
| | type | name | label | calculation | repeat_count |
| | integer | which | Which person to recall? | | |
| | begin repeat | people | People | | 3 |
| | text | first_name | Name? | | |
| | integer | age | Age? | | |
| | integer | pet_count | Pets? | | |
| | end repeat | | | | |
| | calculate | kids_pets | | sum(${people}[age < 18]/pet_count) | |
| | calculate | kids | | count(${people}[age < 18]) | |
| | calculate | second | | ${people}[position() = 2]/first_name | |
| | calculate | chosen | | ${people}[position() = ${which}]/first_name | |
| | calculate | eldest_kid | | max(${people}[age < 18]/age) | |
| | note | done | ${kids} children own ${kids_pets} pets; second ${second}, chosen ${chosen}, eldest child ${eldest_kid}. | | |
"""


def test_a_filter_on_a_repeat_sums_and_counts_the_passes_that_match():
    run = Run(load_markdown(PEOPLE))
    run.send("3", "Amina", "12", "2", "Baraka", "40", "5", "Chausiku", "9", "1")
    assert run.screen == "2 children own 3 pets; second Baraka, chosen Chausiku, eldest child 12."
    stored = answers(run)
    assert (stored["kids_pets"], stored["kids"], stored["second"]) == ("3", "2", "Baraka")


def test_a_position_filter_past_the_passes_reads_empty():
    run = Run(load_markdown(PEOPLE))
    run.send("7", "Amina", "12", "2", "Baraka", "40", "5", "Chausiku", "9", "1")
    assert "chosen ," in run.screen
    assert answers(run)["chosen"] == ""


def test_a_filter_counts_only_the_passes_that_happen():
    form = """
    | survey |
    | | type | name | label | calculation |
    | | begin repeat | people | People | |
    | | integer | age | Age? | |
    | | end repeat | | | |
    | | calculate | adults | | count(${people}[not(age < 18)]) |
    | | note | done | ${adults} adults | |
    """
    run = Run(load_markdown(form))
    # not('' < 18) is true for a pass never asked: only passes that happen are counted.
    assert run.send("30", "1", "12", "2").screen == "1 adults"


LOOP = """
| survey |
| | type | name | label | constraint | constraint_message |
| | begin loop over types | vehicles | | | |
| | integer | total | How many %(label)s? | | |
| | integer | working | How many %(label)s work? | . <= ../total | No more than you have. |
| | end loop | | | | |
| | note | done | Thanks | | |
| choices |
| | list_name | name | label |
| | types | car | cars |
| | types | bike | bikes |
"""


def error(run: Run) -> tuple[str, str]:
    prompt = run.turns[-1].prompt
    assert prompt is not None
    return prompt.text, prompt.error


def test_a_relative_path_in_a_constraint_reads_the_same_pass():
    run = Run(load_markdown(LOOP))
    assert run.send("2").screen == "How many cars work?"
    assert error(run.send("3")) == ("How many cars work?", "No more than you have.")
    assert run.send("2").screen == "How many bikes?"
    assert run.send("1").screen == "How many bikes work?"
    assert error(run.send("2")) == ("How many bikes work?", "No more than you have.")  # 1 bike
    assert run.send("1").screen == "Thanks"
    assert answers(run) == {"total[1]": "2", "working[1]": "2", "total[2]": "1", "working[2]": "1"}


def test_dot_dot_twice_goes_out_of_a_group():
    form = """
    | survey |
    | | type | name | label | relevant |
    | | integer | adults | Adults? | |
    | | begin group | more | | |
    | | integer | children | Children? | |
    | | note | many | Big household | ../../adults + current()/../children > 4 |
    | | end group | | | |
    | | note | done | Thanks | |
    """
    run = Run(load_markdown(form))
    assert run.send("3", "2").screen == "Big household"
    assert Run(load_markdown(form)).send("1", "2").screen == "Thanks"


UNTIL_NO = """
| survey |
| | type | name | label | calculation | repeat_count |
| | calculate | count | | count(${plant}) | |
| | begin_repeat | plant | Plant | | if(${count} = 0 or ${plant}[position()=${count}]/more_plants = 'yes', ${count} + 1, ${count}) |
| | text | species | Species? | | |
| | select_one yes_no | more_plants | More plants? | | |
| | end_repeat | | | | |
| | note | done | ${count} plants | | |
| choices |
| | list_name | name | label |
| | yes_no | yes | Yes |
| | yes_no | no | No |
"""


def test_a_repeat_count_that_reads_its_own_passes_asks_another_while_yes():
    run = Run(load_markdown(UNTIL_NO))
    assert run.screen == "Species?"
    assert run.send("baobab", "1").screen == "Species?"
    assert run.send("acacia", "1").screen == "Species?"
    assert run.send("neem").screen.startswith("More plants?")
    assert run.send("2").screen == "3 plants"  # no "Add another?": the form's own question
    assert answers(run) == {
        "count": "3",
        "species[1]": "baobab",
        "more_plants[1]": "yes",
        "species[2]": "acacia",
        "more_plants[2]": "yes",
        "species[3]": "neem",
        "more_plants[3]": "no",
    }


def test_going_back_to_a_yes_and_saying_no_drops_the_later_passes():
    run = Run(load_markdown(UNTIL_NO))
    run.send("baobab", "1", "acacia", "1", "neem", "2")
    assert run.send(Back(), Back(), Back()).screen == "More plants?"  # of pass 2
    assert run.send("2").screen == "2 plants"
    assert answers(run) == {
        "count": "2",
        "species[1]": "baobab",
        "more_plants[1]": "yes",
        "species[2]": "acacia",
        "more_plants[2]": "no",
    }


def test_a_repeat_count_may_count_its_own_passes_directly_and_filter_them():
    form = UNTIL_NO.replace(
        "if(${count} = 0 or ${plant}[position()=${count}]/more_plants = 'yes', ${count} + 1, "
        "${count})",
        "if(count(${plant}) = 0, 1, count(${plant}[more_plants = 'yes']) + 1)",
    )
    run = Run(load_markdown(form))
    assert run.send("baobab", "1", "acacia", "2").screen == "2 plants"


def test_repeats_whose_counts_read_each_other_are_a_located_cycle():
    form = """
    | survey |
    | | type | name | label | repeat_count |
    | | begin repeat | a | A | count(${b}) |
    | | text | x | X? | |
    | | end repeat | | | |
    | | begin repeat | b | B | count(${a}) |
    | | text | y | Y? | |
    | | end repeat | | | |
    """
    found = located(form)
    assert ("calculation_cycle", 2, "repeat_count") in found


def path_errors(form: str) -> list[tuple[str, int | None, str | None, str]]:
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(form)
    return [(e.code, e.row, e.column, e.message) for e in raised.value.errors]


@pytest.mark.parametrize(
    ("calculation", "said"),
    [
        (
            "/data/people/age",
            "the path '/data/people/age' at position 1 is not understood: "
            "refer to the question as ${age}",
        ),
        ("${age}[1]", "'${age}' at position 1 is not a repeat"),
        ("${people}[age < 18]", "is a set of passes, not a value: count them"),
        (
            "sum(${people}[height > 1]/age)",
            "'height' in the filter [height > 1] is not a "
            "question of the repeat; refer to another question as ${height}",
        ),
        (
            "sum(${people}/shoe)",
            "'shoe' in the path at position 5 is not a question of the repeat 'people'",
        ),
        ("../age", "'../age' at position 1 does not lead to the question 'age'"),
        ("../../../age", "goes above the form"),
    ],
)
def test_a_path_that_is_not_understood_says_what_to_write(calculation: str, said: str):
    form = f"""
    | survey |
    | | type | name | label | calculation |
    | | begin repeat | people | People | |
    | | integer | age | Age? | |
    | | end repeat | | | |
    | | calculate | result | | {calculation} |
    """
    [(code, row, column, message)] = path_errors(form)
    assert (code, row, column) == ("bad_expression", 5, "calculation")
    assert said in message
