"""Loading XLSForms: each form is written inline as a markdown table beside what it must
give. Row numbers are spreadsheet rows: the header is row 1, the first question row 2."""

from __future__ import annotations

import hashlib
import re
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from survey_engine.errors import FormError, SurveyLoadError
from survey_engine.expressions import Expression
from survey_engine.model import Language, Pipe, QuestionType, Survey, Text
from survey_engine.xlsform import FormErrorCode, load_markdown, load_xlsform

YES_NO = """
| choices |
| | list_name | name | label |
| | yes_no | yes | Yes |
| | yes_no | no | No |
"""


def form_errors(form: str) -> list[FormError]:
    with pytest.raises(SurveyLoadError) as raised:
        load_markdown(form)
    return raised.value.errors


def located(form: str) -> list[tuple[str, str, int | None, str | None]]:
    """(code, sheet, row, column) of every error, in the order they are reported."""
    return [(e.code, e.sheet, e.row, e.column) for e in form_errors(form)]


def xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    """An .xlsx workbook, built in memory as a form author's Excel would save it."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------
# Question types
# --------------------------------------------------------------------------------------


def test_every_supported_question_type() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | select_one yes_no | consent | Do you agree? |
        | | select_multiple skills | used | Skills used? |
        | | integer | months | Months? |
        | | decimal | hours | Hours per day? |
        | | text | comment | Comment? |
        | | date | finished | Finished on? |
        | | note | thanks | Thank you |
        | choices |
        | | list_name | name | label |
        | | yes_no | yes | Yes |
        | | yes_no | no | No |
        | | skills | wiring | Wiring |
        | | skills | sales | Sales |
        """
    )
    assert [(q.name, q.type, q.row) for q in survey.questions] == [
        ("consent", QuestionType.SELECT_ONE, 2),
        ("used", QuestionType.SELECT_MULTIPLE, 3),
        ("months", QuestionType.INTEGER, 4),
        ("hours", QuestionType.DECIMAL, 5),
        ("comment", QuestionType.TEXT, 6),
        ("finished", QuestionType.DATE, 7),
        ("thanks", QuestionType.NOTE, 8),
    ]
    consent = survey.question("consent")
    assert consent.list_name == "yes_no"
    assert [(c.name, dict(c.labels)) for c in consent.choices] == [
        ("yes", {"en": "Yes"}),
        ("no", {"en": "No"}),
    ]
    assert [c.name for c in survey.question("used").choices] == ["wiring", "sales"]
    assert survey.question("months").choices == ()
    assert survey.question("months").list_name is None


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("select one yes_no", QuestionType.SELECT_ONE),
        ("select all that apply yes_no", QuestionType.SELECT_MULTIPLE),
        ("Select_One yes_no", QuestionType.SELECT_ONE),
        ("int", QuestionType.INTEGER),
        ("string", QuestionType.TEXT),
        ("INTEGER", QuestionType.INTEGER),
    ],
)
def test_type_aliases_that_xlsform_allows(written: str, expected: QuestionType) -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | label |
        | | {written} | q | Question |
        {YES_NO}
        """
    )
    assert survey.question("q").type is expected


def outcome(form: str) -> object:
    """What loading gives, comparable between two spellings of one form: its questions,
    or where and why it is refused."""
    try:
        return load_markdown(form).questions
    except SurveyLoadError as error:
        return [(e.code, e.sheet, e.row, e.column) for e in error.errors]


def one_row_form(written: str) -> str:
    return f"""
        | survey |
        | | type | name | label | calculation |
        | | text | first | First | |
        | | {written} | q | Question | 1 + 1 |
        | choices |
        | | list_name | name | label |
        | | yes_no | yes | Yes |
        | | yes_no | no | No |
        """


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("select one from yes_no", "select_one yes_no"),
        ("Select One yes_no", "select_one yes_no"),
        ("select1 yes_no", "select_one yes_no"),
        ("add select one prompt using yes_no", "select_one yes_no"),
        ("select all that apply from yes_no", "select_multiple yes_no"),
        ("add select multiple prompt using yes_no", "select_multiple yes_no"),
        ("select one from yes_no or specify other", "select_one yes_no or_other"),
        ("select_multiple yes_no or other", "select_multiple yes_no or_other"),
        ("select one from file towns.csv", "select_one_from_file towns.csv"),
        ("select multiple from file towns.csv", "select_multiple_from_file towns.csv"),
        ("q int", "integer"),
        ("add integer prompt", "integer"),
        ("percentage", "integer"),  # pyxform's preset 0-100 question
        ("q string", "text"),
        ("add text prompt", "text"),
        ("phone number", "text"),  # pyxform asks it: text of digits, not the metadata
        ("add decimal prompt", "decimal"),
        ("add date prompt", "date"),
        ("add note prompt", "note"),
        ("q calculate", "calculate"),
        ("add calculate prompt", "calculate"),
        ("dateTime", "datetime"),
        ("date time", "datetime"),
        ("gps", "geopoint"),
        ("location", "geopoint"),
        ("q geoshape", "geoshape"),
        ("photo", "image"),
        ("add image prompt", "image"),
        ("add audio prompt", "audio"),
        ("add video prompt", "video"),
        ("add file prompt", "file"),
        ("add barcode prompt", "barcode"),
        ("add acknowledge prompt", "acknowledge"),
        ("imei", "deviceid"),
        ("uri:deviceid", "deviceid"),
        ("get device id", "deviceid"),
        ("get phone number", "phonenumber"),
        ("uri:phonenumber", "phonenumber"),
        ("start time", "start"),
        ("get end time", "end"),
        ("get today", "today"),
        ("sim id", "simserial"),
        ("uri:username", "username"),
        ("uri:email", "email"),
    ],
)
def test_every_type_alias_pyxform_accepts_reads_as_its_xlsform_name(alias: str, name: str) -> None:
    assert outcome(one_row_form(alias)) == outcome(one_row_form(name))


@pytest.mark.parametrize(
    ("begin", "end"),
    [("begin group", "end group"), ("begin_group", "end_group"), ("BEGIN GROUP", "End Group")],
)
def test_group_rows_in_every_spelling(begin: str, end: str) -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | label | relevant |
        | | integer | age | Age? | |
        | | {begin} | adult | | ${{age}} >= 18 |
        | | text | job | Job? | |
        | | {end} | | | |
        """
    )
    job = survey.question("job")
    assert job.relevant is not None and job.relevant.source == "${age} >= 18"


@pytest.mark.parametrize(
    ("begin", "end"),
    [("begin lgroup", "end lgroup"), ("begin looped group", "end looped group")],
)
def test_old_names_of_a_repeat_read_as_a_repeat(begin: str, end: str) -> None:
    form = """
        | survey |
        | | type | name | label |
        | | {} | jobs | Jobs |
        | | text | employer | Employer? |
        | | {} | | |
        """
    assert outcome(form.format(begin, end)) == outcome(form.format("begin repeat", "end repeat"))


def test_a_loop_over_a_list_reads_as_a_repeat_of_one_pass_per_choice() -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | label |
        | | begin loop over yes_no | each | Each |
        | | text | why | Why %(label)s? |
        | | end loop | | |
        {YES_NO}
        """
    )
    assert [q.name for q in survey.questions] == ["why[1]", "why[2]"]
    assert survey.question("why[2]").labels["en"].source == "Why No?"


def test_metadata_rows_are_filled_by_the_system_not_asked() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | start | start | |
        | | end | end | |
        | | today | today | |
        | | deviceid | deviceid | |
        | | phonenumber | phonenumber | |
        | | username | username | |
        | | audit | audit | |
        | | simserial | simserial | |
        | | subscriberid | subscriberid | |
        | | email | email | |
        | | text | q | Question |
        """
    )
    assert [q.name for q in survey.questions] == ["q"]
    assert survey.question("q").row == 12
    assert [(c.name, c.metadata and c.metadata.value) for c in survey.calculations] == [
        (name, name)
        for name in (
            "start", "end", "today", "deviceid", "phonenumber",
            "username", "audit", "simserial", "subscriberid", "email",
        )
    ]  # fmt: skip


@pytest.mark.parametrize(
    "written",
    [
        "csv-external",
        "xml-external",
    ],
)
def test_types_we_do_not_ask_yet_are_unsupported(written: str) -> None:
    errors = form_errors(
        f"""
        | survey |
        | | type | name | label | calculation |
        | | text | first | First | |
        | | {written} | q | Question | 1 + 1 |
        {YES_NO}
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("unsupported_type", "survey", 3, "type")
    ]
    assert written.split()[0] in errors[0].message


def test_repeats_are_balanced_like_groups() -> None:
    assert located(
        """
        | survey |
        | | type | name | label |
        | | begin repeat | jobs | Jobs |
        | | text | employer | Employer? |
        | | end group | | |
        """
    ) == [
        ("unbalanced_group", "survey", 2, "type"),
        ("unbalanced_group", "survey", 4, "type"),
    ]


@pytest.mark.parametrize("written", ["textt", "select_won yes_no", "integer extra"])
def test_unknown_type(written: str) -> None:
    errors = form_errors(
        f"""
        | survey |
        | | type | name | label |
        | | {written} | q | Question |
        """
    )
    assert [(e.code, e.row, e.column) for e in errors] == [("unknown_type", 2, "type")]
    assert written in errors[0].message


def test_a_row_with_content_but_no_type_is_an_unknown_type() -> None:
    assert located(
        """
        | survey |
        | | type | name | label |
        | | text | q | Question |
        | | | forgotten | A label without a type |
        """
    ) == [("unknown_type", "survey", 3, "type")]


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["1st", "has space", "ça", "a/b", "${a}"])
def test_invalid_question_names(name: str) -> None:
    assert located(
        f"""
        | survey |
        | | type | name | label |
        | | text | {name} | Question |
        """
    ) == [("invalid_name", "survey", 2, "name")]


def test_valid_names_may_use_underscore_dot_dash_and_digits() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | text | _q1.a-b | Question |
        """
    )
    assert survey.has_question("_q1.a-b")


def test_a_question_needs_a_name() -> None:
    errors = form_errors(
        """
        | survey |
        | | type | name | label |
        | | text | | Question |
        """
    )
    assert [(e.code, e.row, e.column) for e in errors] == [("invalid_name", 2, "name")]


def test_duplicate_names_point_at_the_second_row_and_name_the_first() -> None:
    errors = form_errors(
        """
        | survey |
        | | type | name | label |
        | | text | q | One |
        | | integer | other | Two |
        | | date | q | Three |
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("duplicate_name", "survey", 4, "name")
    ]
    assert "row 2" in errors[0].message


# --------------------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------------------


def test_groups_are_flattened_and_their_relevant_is_anded_into_each_child() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | relevant |
        | | select_one yes_no | employed | Working? | |
        | | begin group | job | Your job | ${employed} = 'yes' |
        | | integer | months | Months? | |
        | | begin_group | pay | Pay | ${months} > 0 |
        | | integer | salary | Salary? | ${months} < 100 |
        | | end_group | | | |
        | | end group | | | |
        | | text | comment | Comment? | |
        {YES_NO}
        """.replace("{YES_NO}", YES_NO)
    )
    assert [q.name for q in survey.questions] == ["employed", "months", "salary", "comment"]
    months = survey.question("months").relevant
    salary = survey.question("salary").relevant
    assert isinstance(months, Expression) and isinstance(salary, Expression)
    assert months.source == "${employed} = 'yes'"
    assert salary.source == "(${employed} = 'yes') and (${months} > 0) and (${months} < 100)"
    assert salary.references == {"employed", "months"}
    assert salary.is_true({"employed": "yes", "months": "5"})
    assert not salary.is_true({"employed": "no", "months": "5"})
    assert survey.question("comment").relevant is None
    assert survey.question("salary").row == 6


def test_group_without_relevant_adds_nothing() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | relevant |
        | | begin group | g | Group | |
        | | text | a | A | |
        | | text | b | B | ${a} != '' |
        | | end group | | | |
        """
    )
    assert survey.question("a").relevant is None
    assert survey.question("b").relevant is not None
    assert survey.question("b").relevant.source == "${a} != ''"


def test_end_group_without_begin_is_unbalanced() -> None:
    assert located(
        """
        | survey |
        | | type | name | label |
        | | text | a | A |
        | | end group | | |
        """
    ) == [("unbalanced_group", "survey", 3, "type")]


def test_group_never_ended_is_reported_at_its_begin_row() -> None:
    assert located(
        """
        | survey |
        | | type | name | label |
        | | text | a | A |
        | | begin group | g | G |
        | | text | b | B |
        """
    ) == [("unbalanced_group", "survey", 3, "type")]


def test_a_broken_group_relevant_is_reported_once_at_the_group_row() -> None:
    assert located(
        """
        | survey |
        | | type | name | label | relevant |
        | | begin group | g | G | ${a} = |
        | | text | a | A | |
        | | text | b | B | |
        | | end group | | | |
        """
    ) == [("bad_expression", "survey", 2, "relevant")]


# --------------------------------------------------------------------------------------
# Languages
# --------------------------------------------------------------------------------------


def test_languages_come_from_label_columns_in_column_order() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label::Français (fr) | label::English (en) | label::العربية (ar) |
        | | text | q | Nom ? | Name? | الاسم؟ |
        """
    )
    assert survey.languages == (
        Language("fr", "Français"),
        Language("en", "English"),
        Language("ar", "العربية"),
    )
    assert survey.default_language == "fr"  # the first, with no default_language setting
    assert survey.question("q").labels == {
        "fr": Text(("Nom ?",)),
        "en": Text(("Name?",)),
        "ar": Text(("الاسم؟",)),
    }


def test_the_default_language_setting_picks_among_the_languages() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label::Français (fr) | label::Kiswahili (sw) |
        | | text | q | Nom ? | Jina? |
        | settings |
        | | default_language |
        | | Kiswahili (sw) |
        """
    )
    assert survey.default_language == "sw"
    assert survey.language_codes == ("fr", "sw")


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("label::English", Language("en", "English")),
        ("label::Français", Language("fr", "Français")),
        ("label::french", Language("fr", "french")),
        ("label::العربية", Language("ar", "العربية")),
        ("label::Kiswahili", Language("sw", "Kiswahili")),
        ("label::Swahili", Language("sw", "Swahili")),
        ("label::Amharic", Language("am", "Amharic")),
        ("label::Kinyarwanda", Language("rw", "Kinyarwanda")),
        ("label::en", Language("en", "English")),
        ("label :: English (EN)", Language("en", "English")),
        ("label::English(en)", Language("en", "English")),
        ("label::\u200fالعربية (ar)\u200f", Language("ar", "العربية")),
        ("label::Brazilian (pt-BR)", Language("pt-BR", "Brazilian")),
    ],
)
def test_language_columns_without_a_code_are_accepted_for_well_known_languages(
    header: str, language: Language
) -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | {header} |
        | | text | q | Name? |
        """
    )
    assert survey.languages == (language,)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("label::Kiswahili", Language("sw", "Kiswahili")),
        ("label::中文", Language("zh", "中文")),
        ("label::chinese", Language("zh", "chinese")),
        ("label::english", Language("en", "english")),
        ("label::EN", Language("en", "English")),
        ("label::eng", Language("en", "English")),
        ("label::Dholuo", Language("luo", "Dholuo")),
        ("label::Tetun", Language("tet", "Tetun")),
        ("label::haitian creole", Language("ht", "haitian creole")),
        ("label::Kreyòl", Language("ht", "Kreyòl")),
        ("label::Yorùbá", Language("yo", "Yorùbá")),
        ("label::Afaan Oromoo", Language("om", "Afaan Oromoo")),
        ("label::ትግርኛ", Language("ti", "ትግርኛ")),
        ("label::Twi", Language("tw", "Twi")),
        ("label::Akan", Language("ak", "Akan")),
    ],
)
def test_a_language_name_the_registry_knows_needs_no_code(header: str, language: Language) -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | {header} |
        | | text | q | Name? |
        """
    )
    assert survey.languages == (language,)
    assert survey.warnings == ()


def test_a_language_the_registry_does_not_know_loads_with_a_warning_and_a_safe_code() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label::English | label::Local language | hint::Local language |
        | | text | q | Name? | Nyingi? | Andika |
        | choices |
        | | list_name | name | label::English | label::Local language |
        | | yes_no | yes | Yes | Ee |
        """
    )
    local = Language("x-local", "Local language")
    assert survey.languages == (Language("en", "English"), local)
    assert not local.has_code and survey.languages[0].has_code
    q = survey.question("q")
    assert q.labels["x-local"] == Text(("Nyingi?",))
    assert q.hints["x-local"] == Text(("Andika",))
    [warning] = survey.warnings
    assert (warning.code, warning.sheet, warning.row, warning.column) == (
        "unregistered_language",
        "survey",
        None,
        "label::Local language",
    )
    assert "'Local language'" in warning.message and "label::Local language (xx)" in warning.message


def hashed(name: str) -> str:
    return "x-" + hashlib.sha256(name.casefold().encode()).hexdigest()[:6]


@pytest.mark.parametrize(
    ("headers", "codes"),
    [
        (["label::Lugha ya Nyumbani"], ("x-lugha",)),
        (["label::Très-Local 2"], ("x-tres",)),
        (["label::Kinyumbanikabisa"], ("x-kinyum",)),
        (["label::ꦧꦱꦗꦮ ꦏꦿꦩ"], (hashed("ꦧꦱꦗꦮ ꦏꦿꦩ"),)),
        (["label::Local A", "label::Local B"], ("x-local", hashed("Local B"))),
    ],
)
def test_the_code_of_an_unregistered_language_fits_storage_and_folder_names(
    headers: list[str], codes: tuple[str, ...]
) -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | {" | ".join(headers)} |
        | | text | q | {" | ".join("Name?" for _ in headers)} |
        """
    )
    assert survey.language_codes == codes
    assert all(re.fullmatch(r"x-[a-z0-9]{1,6}", code) for code in codes)


def test_a_language_only_the_choices_sheet_has_is_set_aside_with_a_warning() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label::english |
        | | select_one yes_no | q | Agree? |
        | choices |
        | | list_name | name | label | label::chinese |
        | | yes_no | yes | Yes | 是 |
        | | yes_no | no | No | 没有 |
        """
    )
    assert survey.language_codes == ("en",)
    assert survey.question("q").choices[0].labels == {"en": "Yes"}
    assert [(w.code, w.sheet, w.column) for w in survey.warnings] == [
        ("ignored_column", "choices", "label::chinese")
    ]


def test_a_single_plain_label_column_is_english_by_default() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | text | q | Name? |
        """
    )
    assert survey.languages == (Language("en", "English"),)
    assert survey.default_language == "en"
    assert survey.question("q").labels == {"en": Text(("Name?",))}


@pytest.mark.parametrize(
    ("setting", "language"),
    [
        ("Français (fr)", Language("fr", "Français")),
        ("fr", Language("fr", "French")),
        ("French", Language("fr", "French")),
        ("English (en)", Language("en", "English")),
    ],
)
def test_a_plain_label_column_takes_its_language_from_the_setting(
    setting: str, language: Language
) -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | label |
        | | text | q | Nom ? |
        | settings |
        | | default_language |
        | | {setting} |
        """
    )
    assert survey.languages == (language,)
    assert survey.default_language == language.code


def test_a_plain_label_beside_coded_ones_belongs_to_the_default_language() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | label::Français (fr) | hint | hint::Français (fr) |
        | | text | q | Name? | Nom ? | Your name | Votre nom |
        | settings |
        | | default_language |
        | | English (en) |
        """
    )
    assert survey.languages == (Language("en", "English"), Language("fr", "Français"))
    q = survey.question("q")
    assert q.labels == {"en": Text(("Name?",)), "fr": Text(("Nom ?",))}
    assert q.hints == {"en": Text(("Your name",)), "fr": Text(("Votre nom",))}


def test_the_language_keeps_the_name_its_label_column_gives_it() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | label::Kiswahili (sw) |
        | | text | q | Nom ? | Jina? |
        | settings |
        | | default_language |
        | | French |
        """
    )
    assert survey.languages == (Language("fr", "French"), Language("sw", "Kiswahili"))
    assert survey.default_language == "fr"


def test_a_fallback_text_with_a_bad_pipe_is_reported_once() -> None:
    assert located(
        """
        | survey |
        | | type | name | label::English (en) | label::Français (fr) | hint::English (en) |
        | | text | q | Name? | Nom ? | See ${nobody} |
        """
    ) == [("undefined_reference", "survey", 2, "hint::English (en)")]


def test_without_a_setting_a_plain_label_after_coded_ones_is_the_first_language() -> None:
    # The coded column wins; the plain one fills its blank cells.
    survey = load_markdown(
        """
        | survey |
        | | type | name | label::Français (fr) | label |
        | | text | a | Nom ? | Name? |
        | | text | b | | Age? |
        """
    )
    assert survey.languages == (Language("fr", "Français"),)
    assert survey.question("a").labels == {"fr": Text(("Nom ?",))}
    assert survey.question("b").labels == {"fr": Text(("Age?",))}


def test_a_default_language_that_is_not_a_language_is_a_bad_setting() -> None:
    assert located(
        """
        | survey |
        | | type | name | label::English (en) |
        | | text | q | Name? |
        | settings |
        | | form_id | default_language |
        | | tracer | Klingon |
        """
    ) == [("bad_setting", "settings", 2, "default_language")]


def test_a_default_language_without_label_column_is_a_bad_setting() -> None:
    errors = form_errors(
        """
        | survey |
        | | type | name | label::English (en) |
        | | text | q | Name? |
        | settings |
        | | default_language |
        | | Français (fr) |
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("bad_setting", "settings", 2, "default_language")
    ]
    assert "English (en)" in errors[0].message


def test_a_hint_in_a_language_without_labels_is_reported() -> None:
    assert located(
        """
        | survey |
        | | type | name | label::English (en) | hint::Deutsch (de) |
        | | text | q | Name? | Ihr Name |
        """
    ) == [("unknown_language", "survey", None, "hint::Deutsch (de)")]


# --------------------------------------------------------------------------------------
# Labels, hints and messages
# --------------------------------------------------------------------------------------


def test_every_question_needs_a_label_in_the_default_language() -> None:
    # A translation may be missing (its default label is said: a warning, tested in
    # test_xlsform_field_habits.py); the default language's label may not.
    errors = form_errors(
        """
        | survey |
        | | type | name | label::English (en) | label::Français (fr) | label::العربية (ar) |
        | | text | a | Name? | Nom ? | الاسم؟ |
        | | note | b | Thanks | | شكراً |
        | | integer | c | | Âge ? | |
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("missing_label", "survey", 4, "label::English (en)"),
    ]
    assert "English (en)" in errors[0].message


def test_every_choice_needs_a_label_in_the_default_language() -> None:
    assert located(
        """
        | survey |
        | | type | name | label::English (en) | label::Français (fr) |
        | | select_one yes_no | consent | Agree? | D'accord ? |
        | choices |
        | | list_name | name | label::English (en) | label::Français (fr) |
        | | yes_no | yes | Yes | Oui |
        | | yes_no | no | | Non |
        """
    ) == [("missing_label", "choices", 3, "label::English (en)")]


def test_a_language_missing_from_the_choices_sheet_is_one_missing_column() -> None:
    assert located(
        """
        | survey |
        | | type | name | label::English (en) | label::Français (fr) |
        | | select_one yes_no | consent | Agree? | D'accord ? |
        | choices |
        | | list_name | name | label::English (en) |
        | | yes_no | yes | Yes |
        | | yes_no | no | No |
        """
    ) == [("missing_column", "choices", None, "label::Français (fr)")]


def test_a_survey_without_any_label_column() -> None:
    assert located(
        """
        | survey |
        | | type | name |
        | | text | q |
        """
    ) == [("missing_column", "survey", None, "label")]


def test_hints_and_messages_fall_back_to_the_default_language() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label::English (en) | label::Français (fr) | hint::English (en) | constraint | constraint_message::English (en) | constraint_message::Français (fr) | required | required_message::Français (fr) |
        | | integer | months | Months? | Mois ? | 0 to 60 | . <= 60 | Too many | Trop | yes | Obligatoire |
        | | text | other | Other? | Autre ? | | | | | no | |
        """
    )
    months = survey.question("months")
    assert months.hints == {"en": Text(("0 to 60",)), "fr": Text(("0 to 60",))}
    assert months.constraint_messages == {"en": Text(("Too many",)), "fr": Text(("Trop",))}
    # No English text and no default-language text to fall back to: left to the engine.
    assert months.required_messages == {"fr": Text(("Obligatoire",))}
    other = survey.question("other")
    assert other.hints == {}
    assert other.constraint_messages == {}
    assert other.required_messages == {}


def test_message_column_aliases() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | constraint | jr:constraintMsg | required | jr:requiredMsg |
        | | integer | n | N? | . > 0 | Positive please | yes | Needed |
        """
    )
    q = survey.question("n")
    assert q.constraint_messages == {"en": Text(("Positive please",))}
    assert q.required_messages == {"en": Text(("Needed",))}


def test_old_single_colon_headers_as_kobo_and_pyxform_first_wrote_them() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label:English | text:Français | bind:relevant | bind:constraint | bind:jr:constraintMsg | bind:required | control:appearance |
        | | integer | age | Age? | Âge ? | | . > 14 | Over 14 please | yes | numbers |
        | | text | job | Job? | Métier ? | ${age} > 17 | | | | |
        """
    )
    assert survey.languages == (Language("en", "English"), Language("fr", "Français"))
    age, job = survey.questions
    assert age.labels["fr"] == Text(("Âge ?",))
    assert age.constraint is not None and age.constraint.source == ". > 14"
    assert age.constraint_messages["en"] == Text(("Over 14 please",))
    assert age.required and age.appearance == "numbers"
    assert job.relevant is not None and job.relevant.source == "${age} > 17"
    assert survey.warnings == ()


def test_header_aliases_pyxform_accepts() -> None:
    survey = load_markdown(
        """
        | survey |
        | | Type | Name | caption::English (en) | Relevance | Constraint message::English (en) | requiredMsg::English (en) | Required | Appearance | media::audio::English (en) | read_only |
        | | integer | age | Age? | | Too young | Needed | yes | numbers | age.mp3 | no |
        | | select_one yn | ok | OK? | ${age} > 1 | | | | | | |
        | choices |
        | | list name | value | caption::English (en) | image |
        | | yn | yes | Yes | yes.png |
        | | yn | no | No | |
        | settings |
        | | set form id | Form Title |
        | | aliased | Aliased form |
        """
    )
    assert (survey.form_id, survey.title) == ("aliased", "Aliased form")
    age, ok = survey.questions
    assert age.labels == {"en": Text(("Age?",))}
    assert age.constraint_messages == {"en": Text(("Too young",))}
    assert age.required_messages == {"en": Text(("Needed",))}
    assert age.required and age.appearance == "numbers"
    assert ok.relevant is not None and ok.relevant.source == "${age} > 1"
    assert [(c.name, dict(c.labels), dict(c.extra)) for c in ok.choices] == [
        ("yes", {"en": "Yes"}, {}),
        ("no", {"en": "No"}, {}),
    ]


def test_two_headers_for_one_column_are_refused_as_pyxform_refuses_them() -> None:
    assert located(
        """
        | survey |
        | | type | name | label | caption | relevant | bind:relevant |
        | | text | q | Q | Q | | |
        """
    ) == [
        ("duplicate_column", "survey", None, "caption"),
        ("duplicate_column", "survey", None, "bind:relevant"),
    ]


def test_an_old_spelling_beside_the_current_one_is_ignored_with_a_warning() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | constraint | constraint-msg | constraint_message |
        | | integer | n | N? | . > 0 | Old message | Positive please |
        """
    )
    assert survey.question("n").constraint_messages == {"en": Text(("Positive please",))}
    assert [(w.code, w.sheet, w.column) for w in survey.warnings] == [
        ("ignored_column", "survey", "constraint-msg")
    ]
    alone = load_markdown(
        """
        | survey |
        | | type | name | label | constraint | constraint-msg |
        | | integer | n | N? | . > 0 | Old message |
        """
    )
    assert alone.question("n").constraint_messages == {"en": Text(("Old message",))}


def test_labels_pipe_earlier_answers() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | hint |
        | | text | name | Your name? | |
        | | integer | months | ${name}, after ${months_x} months? | Since ${name} |
        | | integer | months_x | ${name} | |
        """
    )
    label = survey.question("months").labels["en"]
    assert label.parts == (Pipe("name"), ", after ", Pipe("months_x"), " months?")
    assert label.source == "${name}, after ${months_x} months?"
    assert survey.question("months").hints["en"].parts == ("Since ", Pipe("name"))
    assert survey.question("months_x").labels["en"].parts == (Pipe("name"),)


def test_a_pipe_to_something_that_is_not_a_question() -> None:
    errors = form_errors(
        """
        | survey |
        | | type | name | label::English (en) | hint::English (en) |
        | | text | name | Your name? | |
        | | text | q | Hello ${nmae} | See ${nobody} |
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("undefined_reference", "survey", 3, "label::English (en)"),
        ("undefined_reference", "survey", 3, "hint::English (en)"),
    ]
    assert "${nmae}" in errors[0].message


def test_appearance_is_kept() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | appearance |
        | | select_one yes_no | q | Q | horizontal |
        | | text | t | T | |
        {YES_NO}
        """.replace("{YES_NO}", YES_NO)
    )
    assert survey.question("q").appearance == "horizontal"
    assert survey.question("t").appearance == ""


# --------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------


def test_relevant_constraint_and_choice_filter_are_compiled() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | relevant | constraint | choice_filter |
        | | select_one counties | county | County? | | | |
        | | select_one towns | town | Town? | ${county} != '' | | county = ${county} |
        | | integer | age | Age? | | . >= 15 and . < 100 | |
        | choices |
        | | list_name | name | label | county |
        | | counties | nairobi | Nairobi | |
        | | counties | mombasa | Mombasa | |
        | | towns | westlands | Westlands | nairobi |
        | | towns | nyali | Nyali | mombasa |
        """
    )
    town = survey.question("town")
    assert town.relevant is not None and town.relevant.references == {"county"}
    assert town.choice_filter is not None and town.choice_filter.bare_names == {"county"}
    assert [c.extra for c in town.choices] == [{"county": "nairobi"}, {"county": "mombasa"}]
    shown = [
        c.name
        for c in town.choices
        if town.choice_filter.is_true({"county": "nairobi"}, columns=c.extra)
    ]
    assert shown == ["westlands"]
    age = survey.question("age").constraint
    assert age is not None and age.uses_dot
    assert age.is_true({}, current="30") and not age.is_true({}, current="10")
    assert survey.question("county").choices[0].extra == {}


def test_a_syntax_error_is_a_bad_expression_with_the_parser_message() -> None:
    errors = form_errors(
        """
        | survey |
        | | type | name | label | relevant | constraint |
        | | integer | a | A | | . > 0) |
        | | text | b | B | ${a} > | |
        | | text | c | C | unknown(${a}) | |
        """
    )
    assert [(e.code, e.row, e.column) for e in errors] == [
        ("bad_expression", 2, "constraint"),
        ("bad_expression", 3, "relevant"),
        ("bad_expression", 4, "relevant"),
    ]
    assert errors[0].message == "unexpected ')' at position 6"
    assert "unknown function 'unknown()'" in errors[2].message


def test_a_regex_the_linear_engine_cannot_run_is_located_and_explained() -> None:
    errors = form_errors(
        r"""
        | survey |
        | | type | name | label | relevant | constraint |
        | | text | pin | PIN | | regex(., '^(\d)\1{3}$') |
        | | text | code | Code | regex(${pin}, '^(?!0)') | regex(., '[') |
        | | text | ok | OK | | regex(., '(a+)+$') |
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("unsupported_pattern", "survey", 2, "constraint"),
        ("unsupported_pattern", "survey", 3, "relevant"),
        ("bad_expression", "survey", 3, "constraint"),
    ]
    assert "uses a back-reference (\\1), which is not supported" in errors[0].message
    assert "uses a look-ahead ((?!)" in errors[1].message
    assert "join them with 'and'" in errors[1].message
    assert FormErrorCode.UNSUPPORTED_PATTERN == "unsupported_pattern"


def test_expressions_may_only_refer_to_questions_of_the_form() -> None:
    errors = form_errors(
        """
        | survey |
        | | type | name | label | relevant | constraint |
        | | integer | a | A | ${b} > 0 and ${zz} = 1 | . > ${yy} |
        | | integer | b | B | | |
        """
    )
    assert [(e.code, e.row, e.column) for e in errors] == [
        ("undefined_reference", 2, "relevant"),
        ("undefined_reference", 2, "constraint"),
    ]
    assert "${zz}" in errors[0].message and "${yy}" in errors[1].message


def test_dot_outside_a_constraint() -> None:
    assert located(
        """
        | survey |
        | | type | name | label | relevant |
        | | integer | a | A | . > 0 |
        """
    ) == [("dot_outside_constraint", "survey", 2, "relevant")]


def test_dot_in_a_choice_filter_is_outside_a_constraint() -> None:
    assert located(
        """
        | survey |
        | | type | name | label | choice_filter |
        | | select_one yes_no | a | A | . = 'yes' |
        {YES_NO}
        """.replace("{YES_NO}", YES_NO)
    ) == [("dot_outside_constraint", "survey", 2, "choice_filter")]


def test_bare_names_outside_a_choice_filter() -> None:
    errors = form_errors(
        """
        | survey |
        | | type | name | label | relevant | constraint |
        | | select_one yes_no | consent | Agree? | | |
        | | integer | a | A | consent = 'yes' | . > minimum |
        {YES_NO}
        """.replace("{YES_NO}", YES_NO)
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("bare_name_outside_choice_filter", "survey", 3, "relevant"),
        ("bare_name_outside_choice_filter", "survey", 3, "constraint"),
    ]
    assert "consent" in errors[0].message


def test_a_choice_filter_naming_no_column_of_the_choices_sheet_is_warned_of() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label | choice_filter |
        | | select_one towns | town | Town? | district = 'x' and name != 'y' |
        | choices |
        | | list_name | name | label | county |
        | | towns | westlands | Westlands | nairobi |
        """
    )
    assert [(w.code, w.sheet, w.row, w.column) for w in survey.warnings] == [
        ("unknown_choice_column", "survey", 2, "choice_filter")
    ]
    assert "'district' is not a column of the choices sheet" in survey.warnings[0].message


# --------------------------------------------------------------------------------------
# required
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("yes", True),
        ("Yes", True),
        ("true", True),
        ("TRUE", True),
        ("true()", True),
        ("1", True),
        ("y", True),
        ("no", False),
        ("false", False),
        ("FALSE", False),
        ("false()", False),
        ("0", False),
        ("", False),
    ],
)
def test_required_values(written: str, expected: bool) -> None:
    survey = load_markdown(
        f"""
        | survey |
        | | type | name | label | required |
        | | text | q | Q | {written} |
        """
    )
    assert survey.question("q").required is expected


def test_bad_required() -> None:
    errors = form_errors(
        """
        | survey |
        | | type | name | label | required |
        | | text | q | Q | sometimes |
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("bad_required", "survey", 2, "required")
    ]
    assert "sometimes" in errors[0].message


# --------------------------------------------------------------------------------------
# Choices
# --------------------------------------------------------------------------------------


def test_choice_names_may_be_digits_and_list_name_may_be_spelled_with_a_space() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | select_one scale | q | Rate |
        | choices |
        | | list name | name | label |
        | | scale | 1 | Poor |
        | | scale | 2 | Good |
        """
    )
    assert [c.name for c in survey.question("q").choices] == ["1", "2"]


def test_a_select_needs_an_existing_choice_list() -> None:
    assert located(
        """
        | survey |
        | | type | name | label |
        | | select_one yes_no | a | A |
        | | select_multiple nope | b | B |
        | | select_one | c | C |
        {YES_NO}
        """.replace("{YES_NO}", YES_NO)
    ) == [
        ("missing_choice_list", "survey", 3, "type"),
        ("missing_choice_list", "survey", 4, "type"),
    ]


def test_a_declared_list_without_choices_is_empty() -> None:
    assert located(
        """
        | survey |
        | | type | name | label |
        | | select_one later | a | A |
        | choices |
        | | list_name | name | label |
        | | later | | |
        """
    ) == [("empty_choice_list", "survey", 2, "type")]


def test_duplicate_and_invalid_choices() -> None:
    errors = form_errors(
        """
        | survey |
        | | type | name | label |
        | | select_multiple skills | a | A |
        | choices |
        | | list_name | name | label |
        | | skills | wiring | Wiring |
        | | skills | two words | Two words |
        | | skills | wiring | Wiring again |
        | | | orphan | No list |
        | | skills | | No name |
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("invalid_name", "choices", 3, "name"),
        ("duplicate_choice", "choices", 4, "name"),
        ("invalid_name", "choices", 5, "list_name"),
        ("invalid_name", "choices", 6, "name"),
    ]
    assert "row 2" in errors[1].message


def test_the_same_choice_name_in_two_lists_is_fine() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | select_one a | x | X |
        | | select_one b | y | Y |
        | choices |
        | | list_name | name | label |
        | | a | yes | Yes |
        | | b | yes | Yes |
        """
    )
    assert survey.question("y").choices[0].name == "yes"


def test_select_questions_need_a_choices_sheet() -> None:
    assert located(
        """
        | survey |
        | | type | name | label |
        | | select_one yes_no | a | A |
        | | select_one yes_no | b | B |
        """
    ) == [("missing_sheet", "choices", None, None)]


def test_the_choices_sheet_needs_list_name_and_name_columns() -> None:
    assert located(
        """
        | survey |
        | | type | name | label |
        | | text | a | A |
        | choices |
        | | list | key | label |
        | | yes_no | yes | Yes |
        """
    ) == [
        ("missing_column", "choices", None, "list_name"),
        ("missing_column", "choices", None, "name"),
    ]


# --------------------------------------------------------------------------------------
# Sheets and settings
# --------------------------------------------------------------------------------------


def test_settings_give_id_version_and_title() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | text | q | Q |
        | settings |
        | | form_id | version | form_title |
        | | tracer | 2026.1 | Graduate tracer |
        """
    )
    assert (survey.form_id, survey.version, survey.title) == (
        "tracer",
        "2026.1",
        "Graduate tracer",
    )


def test_without_settings_the_id_is_the_fallback_and_the_version_a_content_hash() -> None:
    form = """
        | survey |
        | | type | name | label |
        | | text | q | Q |
        """
    survey = load_markdown(form, fallback_form_id="uploaded_name")
    assert survey.form_id == "uploaded_name"
    assert survey.title == "uploaded_name"
    assert survey.version == hashlib.sha256(form.encode()).hexdigest()[:10]
    assert load_markdown(form).version == survey.version  # same bytes, same version
    assert load_markdown(form + " ").version != survey.version


def test_a_form_id_with_nothing_usable_is_a_bad_setting() -> None:
    assert located(
        """
        | survey |
        | | type | name | label |
        | | text | q | Q |
        | settings |
        | | form_id |
        | | ((( ))) |
        """
    ) == [("bad_setting", "settings", 2, "form_id")]


@pytest.mark.parametrize("value", ["0", "-2", "three", "2.5", "100"])
def test_max_attempts_that_is_not_a_whole_number_from_1_is_a_bad_setting(value: str) -> None:
    errors = form_errors(
        f"""
        | survey |
        | | type | name | label |
        | | text | q | Q |
        | settings |
        | | form_id | max_attempts |
        | | tracer | {value} |
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("bad_setting", "settings", 2, "max_attempts")
    ]
    assert f"max_attempts '{value}'" in errors[0].message


def test_max_attempts_is_read_from_the_settings_sheet_even_as_a_number_cell() -> None:
    sheets: dict[str, list[list[object]]] = {
        "survey": [["type", "name", "label"], ["text", "q", "Q"]],
        "settings": [["form_id", "max_attempts"], ["tracer", 5]],
    }
    assert load_xlsform(xlsx(sheets)).max_attempts == 5
    sheets["settings"] = [["form_id"], ["tracer"]]
    assert load_xlsform(xlsx(sheets)).max_attempts == 3


def test_a_form_without_a_survey_sheet() -> None:
    assert located(
        """
        | choices |
        | | list_name | name | label |
        | | yes_no | yes | Yes |
        | settings |
        | | form_id |
        | | x |
        """
    ) == [("missing_sheet", "survey", None, None)]


def test_a_survey_without_questions_loads_as_pyxform_converts_it_with_a_warning() -> None:
    survey = load_markdown(
        """
        | survey |
        | | type | name | label |
        | | start | start | |
        | | end | end | |
        """
    )
    assert survey.questions == ()
    assert [(w.code, w.sheet, w.row) for w in survey.warnings] == [
        ("nothing_to_ask", "survey", None)
    ]


def test_a_survey_sheet_of_empty_rows_has_no_questions() -> None:
    assert located(
        """
        | survey |
        | | type | name | label |
        | | | | |
        """
    ) == [("empty_survey", "survey", None, None)]


def test_the_survey_sheet_needs_type_and_name_columns() -> None:
    assert located(
        """
        | survey |
        | | kind | label |
        | | text | Q |
        """
    ) == [
        ("missing_column", "survey", None, "type"),
        ("missing_column", "survey", None, "name"),
    ]


def test_every_problem_is_listed_at_once_in_sheet_and_row_order() -> None:
    errors = form_errors(
        """
        | survey |
        | | type | name | label::English (en) | label::Français (fr) | relevant | required |
        | | select_one nolist | a | A | A | | |
        | | textt | b | B | B | | |
        | | integer | c | | C | ${nobody} = 1 | maybe |
        | | integer | a | A again | A encore | | |
        | choices |
        | | list_name | name | label::English (en) | label::Français (fr) |
        | | yes_no | yes | | Oui |
        | settings |
        | | default_language |
        | | Deutsch (de) |
        """
    )
    assert [(e.code, e.sheet, e.row, e.column) for e in errors] == [
        ("missing_choice_list", "survey", 2, "type"),
        ("unknown_type", "survey", 3, "type"),
        ("missing_label", "survey", 4, "label::English (en)"),
        ("undefined_reference", "survey", 4, "relevant"),
        ("bad_required", "survey", 4, "required"),
        ("duplicate_name", "survey", 5, "name"),
        ("missing_label", "choices", 2, "label::English (en)"),
        ("bad_setting", "settings", 2, "default_language"),
    ]
    assert str(errors[0]).startswith("[missing_choice_list] sheet 'survey', row 2, column 'type':")


def test_error_codes_are_a_stable_catalogue() -> None:
    assert {code.value for code in FormErrorCode} >= {
        "unreadable_file",
        "missing_sheet",
        "missing_column",
        "unknown_type",
        "unsupported_type",
        "invalid_name",
        "duplicate_name",
        "undefined_reference",
        "missing_choice_list",
        "empty_choice_list",
        "duplicate_choice",
        "bad_expression",
        "missing_label",
        "language_code_missing",
        "bad_required",
        "bad_setting",
        "dot_outside_constraint",
        "bare_name_outside_choice_filter",
        "unbalanced_group",
        "empty_survey",
    }
    assert FormErrorCode.MISSING_LABEL == "missing_label"  # a str, as FormError.code is


def test_the_public_surface() -> None:
    from survey_engine import expressions, xlsform

    assert sorted(xlsform.__all__) == [
        "FormErrorCode",
        "FormWarningCode",
        "load_markdown",
        "load_xlsform",
    ]
    assert sorted(expressions.__all__) == [
        "Environment",
        "Expression",
        "ExpressionError",
        "FUNCTIONS",
        "MissingTableError",
        "Table",
        "UnsupportedFunctionError",
        "UnsupportedPatternError",
        "Value",
        "compile_expression",
    ]


def test_unreadable_markdown() -> None:
    assert located("no tables here") == [("unreadable_file", "", None, None)]


# --------------------------------------------------------------------------------------
# Real .xlsx files
# --------------------------------------------------------------------------------------

LABELS = [
    "label::English (en)",
    "label::Français (fr)",
    "label::العربية (ar)",
    "label::Kiswahili (sw)",
]
CONSENT = ["Do you agree?", "Acceptez-vous ?", "هل توافق؟", "Unakubali?"]
MONTHS = ["Months?", "Mois ?", "كم شهراً؟", "Miezi?"]
TRACER_SHEETS: dict[str, list[list[object]]] = {
    "survey": [
        ["type", "name", *LABELS, "relevant", "constraint", "required"],
        ["select_one yes_no", "consent", *CONSENT, None, None, True],  # a real boolean cell
        [],  # a blank row: later row numbers must still match the sheet
        ["integer", "months", *MONTHS, "${consent} = 'yes'", ". <= 60", "yes"],
        ["start", "start"],
    ],
    "choices": [
        ["list_name", "name", *LABELS],
        ["yes_no", "yes", "Yes", "Oui", "نعم", "Ndiyo"],
        ["yes_no", "no", "No", "Non", "لا", "Hapana"],
    ],
    "settings": [
        ["form_id", "version", "default_language"],
        ["graduate_tracer", 2026.1, "English (en)"],  # a number cell, as Excel stores it
    ],
}


def test_an_xlsx_tracer_survey_in_four_languages() -> None:
    data = xlsx(TRACER_SHEETS)
    survey = load_xlsform(data)
    assert isinstance(survey, Survey)
    assert (survey.form_id, survey.version, survey.title) == (
        "graduate_tracer",
        "2026.1",
        "graduate_tracer",
    )
    assert survey.languages == (
        Language("en", "English"),
        Language("fr", "Français"),
        Language("ar", "العربية"),
        Language("sw", "Kiswahili"),
    )
    assert survey.default_language == "en"
    consent = survey.question("consent")
    assert consent.type is QuestionType.SELECT_ONE and consent.required
    assert consent.labels["ar"] == Text(("هل توافق؟",))
    assert consent.choices[0].labels == {
        "en": "Yes",
        "fr": "Oui",
        "ar": "نعم",
        "sw": "Ndiyo",
    }
    months = survey.question("months")
    assert months.row == 4  # after the blank row 3
    assert months.relevant is not None and months.relevant.is_true({"consent": "yes"})


def test_an_xlsx_error_names_the_row_after_blank_rows_and_the_sheet_as_written() -> None:
    sheets = {
        "Survey": [
            ["type", "name", "label::English (en)", "label::Français (fr)"],
            ["text", "a", "A", "A"],
            [],
            [],
            ["text", "b", "", "B"],
        ]
    }
    with pytest.raises(SurveyLoadError) as raised:
        load_xlsform(xlsx(sheets))
    assert [(e.code, e.sheet, e.row, e.column) for e in raised.value.errors] == [
        ("missing_label", "Survey", 5, "label::English (en)")
    ]


def test_an_xlsx_loads_from_a_path_and_keeps_its_version_stable(tmp_path: Path) -> None:
    sheets = {key: value for key, value in TRACER_SHEETS.items() if key != "settings"}
    data = xlsx(sheets)
    path = tmp_path / "tracer.xlsx"
    path.write_bytes(data)
    from_path = load_xlsform(path)
    from_string = load_xlsform(str(path))
    from_bytes = load_xlsform(data, fallback_form_id="tracer")
    assert from_path.version == from_bytes.version == hashlib.sha256(data).hexdigest()[:10]
    assert from_path == from_string
    assert from_bytes.form_id == "tracer"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01garbage\xff" * 50, "not an Excel workbook"),
        (b"type,name,label\ntext,q,Q\n", "not an Excel workbook"),
        (b"PK\x03\x04 a truncated zip", "not an Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "not an Excel workbook"),
        (b"", "not an Excel workbook"),
    ],
)
def test_bytes_that_are_not_an_xlsx_are_unreadable(data: bytes, message: str) -> None:
    with pytest.raises(SurveyLoadError) as raised:
        load_xlsform(data)
    [error] = raised.value.errors
    assert (error.code, error.sheet, error.row, error.column) == ("unreadable_file", "", None, None)
    assert message in error.message


def test_a_text_file_renamed_xlsx_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "form.xlsx"
    path.write_text("| survey |\n| | type | name |\n", encoding="utf-8")
    with pytest.raises(SurveyLoadError) as raised:
        load_xlsform(path)
    assert [e.code for e in raised.value.errors] == ["unreadable_file"]


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(SurveyLoadError) as raised:
        load_xlsform(tmp_path / "nowhere.xlsx")
    assert [e.code for e in raised.value.errors] == ["unreadable_file"]


def test_a_duplicate_column_header_in_xlsx_is_reported() -> None:
    data = xlsx({"survey": [["type", "name", "label", "label"], ["text", "q", "Q", "Q"]]})
    with pytest.raises(SurveyLoadError) as raised:
        load_xlsform(data)
    [error] = raised.value.errors
    assert error.code == "unreadable_file"
    assert "Duplicate column header: label" in error.message


CORPUS = Path(__file__).resolve().parents[1] / "xlsform_corpus"


def test_an_old_excel_xls_loads_through_pyxforms_reader() -> None:
    survey = load_xlsform(CORPUS / "kobocat" / "kobocat__dhisform.xls")
    assert survey.form_id == "dhis2form"
    assert [(q.name, q.type) for q in survey.questions] == [
        ("population_under_5", QuestionType.INTEGER),
        ("total_population", QuestionType.INTEGER),
        ("location", QuestionType.TEXT),
        ("period", QuestionType.DATE),
    ]
    languages = load_xlsform(CORPUS / "pyxform" / "pyxform__settings.xls").languages
    assert languages == (Language("en", "english"),)


@pytest.mark.parametrize(
    "path",
    sorted(
        p.relative_to(CORPUS).as_posix()
        for p in CORPUS.glob("*/*.xls")
        if p.name != "kobocat__enumerator_weekly.xls"  # two 'label' headers: pyxform refuses
    ),
)
def test_every_xls_of_the_corpus_is_read(path: str) -> None:
    try:
        load_xlsform(CORPUS / path)
    except SurveyLoadError as error:
        assert "unreadable_file" not in {e.code for e in error.errors}


def test_an_xls_with_two_headers_alike_is_refused_as_pyxform_refuses_it() -> None:
    with pytest.raises(SurveyLoadError) as raised:
        load_xlsform(CORPUS / "kobocat" / "kobocat__enumerator_weekly.xls")
    [error] = raised.value.errors
    assert (error.code, error.message) == ("unreadable_file", "Duplicate column header: label.")


XLS = (CORPUS / "kobocat" / "kobocat__tutorial_arabic_labels.xls").read_bytes()


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=8, max_value=len(XLS) - 1),
    st.binary(min_size=1, max_size=64),
    st.booleans(),
)
def test_a_damaged_xls_is_refused_politely_never_with_a_traceback(
    at: int, junk: bytes, truncate: bool
) -> None:
    data = XLS[:at] if truncate else XLS[:at] + junk + XLS[at + len(junk) :]
    try:
        load_xlsform(data)
    except SurveyLoadError as error:
        assert error.errors and all(isinstance(e, FormError) for e in error.errors)


# --------------------------------------------------------------------------------------
# Property: whatever the cells say, the loader answers with a Survey or a list of errors
# --------------------------------------------------------------------------------------

cells = st.one_of(
    st.sampled_from(["", "text", "integer", "select_one yes_no", "select_multiple x", "note"]),
    st.sampled_from(["begin group", "end group", "begin repeat", "calculate", "yes", "no"]),
    st.sampled_from(["${a}", "${b} = 1", ". > 1", "a = ", "regex(., '[')", "label", "1 div 0"]),
    st.text(alphabet=st.characters(blacklist_characters="|\n\r\\"), max_size=12),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(cells, min_size=7, max_size=7), min_size=1, max_size=6))
def test_any_table_loads_or_lists_errors(rows: list[list[str]]) -> None:
    table = "\n".join("| | " + " | ".join(row) + " |" for row in rows)
    form = f"""
| survey |
| | type | name | label::English (en) | label::Français (fr) | relevant | constraint | required |
{table}
{YES_NO}
"""
    try:
        survey = load_markdown(form)
    except SurveyLoadError as error:
        assert error.errors
        assert all(isinstance(e, FormError) and e.code in set(FormErrorCode) for e in error.errors)
    else:
        assert survey.questions
