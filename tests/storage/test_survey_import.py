"""Importing XLSForm files as survey versions, and binding USSD codes and IVR numbers to them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.responses import SqlResponseStore
from storage.schema import entry_points, survey_versions, surveys
from storage.surveys import (
    SurveyVersionConflict,
    UssdCodeError,
    dialled_code,
    find_survey,
    import_survey,
    list_surveys,
    parse_ussd_code,
    unloadable_versions,
)
from survey_engine.errors import SurveyLoadError
from survey_engine.phones import PhoneNumberError, ivr_address
from survey_engine.ports import EntryPoint

FORM = """
| survey |
|        | type    | name   | label::English (en) | label::Français (fr) |
|        | integer | months | {label}             | Mois ?               |
| settings |
|          | form_id   | version   | form_title   |
|          | {form_id} | {version} | Tracer study |
"""

Xlsx = Callable[[str], bytes]


def form(
    xlsx: Xlsx, *, form_id: str = "tracer", version: str = "1", label: str = "Months?"
) -> bytes:
    return xlsx(FORM.format(form_id=form_id, version=version, label=label))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("*384*123#", ("*384*123#", "")),
        ("*384*123*2#", ("*384*123#", "2")),
        ("*384*123*2*5#", ("*384*123#", "2*5")),
        (" *384*123# ", ("*384*123#", "")),
        ("*123#", ("*123#", "")),
    ],
)
def test_a_dialled_code_splits_into_service_code_and_extension(
    code: str, expected: tuple[str, str]
) -> None:
    assert parse_ussd_code(code) == expected
    assert dialled_code(*expected) == code.strip()


def test_a_dedicated_short_code_has_a_one_number_base() -> None:
    assert parse_ussd_code("*544*2#", base_segments=1) == ("*544#", "2")


@pytest.mark.parametrize("code", ["384*123#", "*384*123", "*384*abc#", "**#", "*#", "", "*384**1#"])
def test_a_malformed_code_is_refused_with_an_example(code: str) -> None:
    with pytest.raises(UssdCodeError, match=r"\*384\*123#"):
        parse_ussd_code(code)


async def test_import_stores_the_file_as_a_version_and_binds_the_code(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    source = form(xlsx_from_markdown)
    imported = await import_survey(
        engine, source, filename="tracer.xlsx", ussd_code="*384*123*2#", roster_only=True
    )
    assert (imported.form_id, imported.version, imported.created) == ("tracer", "1", True)

    store = SqlResponseStore(engine)
    assert await store.entry_point("ussd", "*384*123*2#") == EntryPoint(
        "ussd", "*384*123*2#", imported.survey_id, True, imported.organisation_id
    )
    async with engine.connect() as conn:
        row = (await conn.execute(select(survey_versions))).one()
    assert (row.source, row.languages, len(row.source_sha256)) == (source, "en,fr", 64)
    survey = await store.load_survey(imported.version_id)
    assert survey.title == "Tracer study"


async def test_importing_the_same_file_again_changes_nothing(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    source = form(xlsx_from_markdown)
    first = await import_survey(
        engine, source, filename="tracer.xlsx", ussd_code=None, roster_only=False
    )
    again = await import_survey(
        engine, source, filename="tracer.xlsx", ussd_code=None, roster_only=False
    )
    assert again.created is False
    assert (again.survey_id, again.version_id) == (first.survey_id, first.version_id)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(survey_versions))).scalar() == 1


async def test_a_different_file_with_the_same_version_is_refused(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    await import_survey(
        engine, form(xlsx_from_markdown), filename="tracer.xlsx", ussd_code=None, roster_only=False
    )
    changed = form(xlsx_from_markdown, label="How many months?")
    with pytest.raises(SurveyVersionConflict, match="raise `version`") as caught:
        await import_survey(
            engine, changed, filename="tracer.xlsx", ussd_code=None, roster_only=False
        )
    assert isinstance(caught.value, ValueError)
    assert "'tracer' version '1'" in str(caught.value)


async def test_a_new_version_becomes_current(engine: AsyncEngine, xlsx_from_markdown: Xlsx) -> None:
    v1 = await import_survey(
        engine,
        form(xlsx_from_markdown),
        filename="a.xlsx",
        ussd_code="*384*123#",
        roster_only=False,
    )
    v2 = await import_survey(
        engine,
        form(xlsx_from_markdown, version="2", label="How many months?"),
        filename="a.xlsx",
        ussd_code=None,
        roster_only=False,
    )
    assert v2.survey_id == v1.survey_id and v2.version_id != v1.version_id and v2.created
    current = await SqlResponseStore(engine).current_version(v1.survey_id)
    assert (current.version_id, current.version) == (v2.version_id, "2")
    found = await find_survey(engine, "tracer")
    assert found == current
    assert await find_survey(engine, str(v1.survey_id)) == current

    [summary] = await list_surveys(engine, None)
    assert (summary.form_id, summary.version, summary.versions, summary.ussd_codes) == (
        "tracer",
        "2",
        2,
        ("*384*123#",),
    )
    assert summary.languages == ("en", "fr")


async def test_find_survey_by_id_or_form_id(engine: AsyncEngine, xlsx_from_markdown: Xlsx) -> None:
    imported = await import_survey(
        engine, form(xlsx_from_markdown), filename="x.xlsx", ussd_code=None, roster_only=False
    )
    by_id = await find_survey(engine, f" {imported.survey_id} ")
    assert by_id is not None and by_id.form_id == "tracer"
    assert await find_survey(engine, "tracer") == by_id
    assert await find_survey(engine, "unknown") is None
    assert await find_survey(engine, str(imported.survey_id + 1)) is None
    assert await find_survey(engine, "99999999999999999999") is None


async def test_rebinding_a_code_moves_it_to_the_other_survey(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    first = await import_survey(
        engine,
        form(xlsx_from_markdown),
        filename="a.xlsx",
        ussd_code="*384*123#",
        roster_only=False,
    )
    second = await import_survey(
        engine,
        form(xlsx_from_markdown, form_id="baseline"),
        filename="b.xlsx",
        ussd_code="*384*123#",
        roster_only=True,
    )
    assert second.survey_id != first.survey_id
    binding = await SqlResponseStore(engine).entry_point("ussd", "*384*123#")
    assert binding == EntryPoint(
        "ussd", "*384*123#", second.survey_id, True, second.organisation_id
    )
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(entry_points))).scalar() == 1


async def test_a_form_without_form_id_is_named_after_its_file(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    source = xlsx_from_markdown(
        """
        | survey |
        |        | type    | name   | label   |
        |        | integer | months | Months? |
        """
    )
    imported = await import_survey(
        engine, source, filename="uploads/cohort_2026.xlsx", ussd_code=None, roster_only=False
    )
    assert imported.form_id == "cohort_2026"


async def test_a_broken_form_or_code_stores_nothing(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    with pytest.raises(SurveyLoadError):
        await import_survey(
            engine, b"not a workbook", filename="x.xlsx", ussd_code=None, roster_only=False
        )
    with pytest.raises(UssdCodeError):
        await import_survey(
            engine, form(xlsx_from_markdown), filename="x.xlsx", ussd_code="384", roster_only=False
        )
    assert await list_surveys(engine, None) == []


async def test_a_stored_version_this_release_cannot_compile_is_named(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    # A form imported before regex() ran on RE2 could use a look-ahead; it is stored as
    # it was uploaded, so write it as an earlier release would have.
    good = await import_survey(
        engine, form(xlsx_from_markdown), filename="t.xlsx", ussd_code=None, roster_only=False
    )
    assert await unloadable_versions(engine) == []
    lookahead = xlsx_from_markdown(
        """
        | survey   |
        |          | type | name | label | constraint                   |
        |          | text | code | Code? | regex(., '^(?=.*[0-9]).{4}$') |
        | settings |
        |          | form_id | version |
        |          | old     | 7       |
        """
    )
    async with engine.begin() as conn:
        survey_id = (
            await conn.execute(
                surveys.insert()
                .values(
                    form_id="old",
                    title="",
                    organisation_id=good.organisation_id,
                    created_at=dt.datetime.now(dt.UTC),
                )
                .returning(surveys.c.id)
            )
        ).scalar_one()
        await conn.execute(
            survey_versions.insert().values(
                survey_id=survey_id,
                version="7",
                source=lookahead,
                source_sha256="0" * 64,
                languages="",
                imported_at=dt.datetime.now(dt.UTC),
            )
        )
    problems = await unloadable_versions(engine)
    assert len(problems) == 1 and problems[0].startswith("survey old version 7: ")
    assert "look-ahead" in problems[0]
    assert good.form_id not in problems[0]


async def test_ivr_numbers_become_entry_points_in_the_form_a_call_looks_up(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    imported = await import_survey(
        engine,
        form(xlsx_from_markdown),
        filename="t.xlsx",
        ussd_code="*384*123#",
        roster_only=True,
        ivr_numbers=["0201234567", "4000", "+254 20 1234567"],
        default_region="KE",
    )
    # The national number and its E.164 form are one number: bound once.
    assert imported.ivr_numbers == ("+254201234567", "4000")
    store = SqlResponseStore(engine)
    # What Asterisk may report for the same number, read the way the IVR will.
    for dialled in ("254201234567", "+254201234567", "0201234567"):
        assert await store.entry_point("ivr", ivr_address(dialled, "KE")) == EntryPoint(
            "ivr", "+254201234567", imported.survey_id, True, imported.organisation_id
        )
    assert await store.entry_point("ivr", "4000") == EntryPoint(
        "ivr", "4000", imported.survey_id, True, imported.organisation_id
    )
    assert await store.entry_point("ussd", "4000") is None
    [summary] = await list_surveys(engine, None)
    assert (summary.ussd_codes, summary.ivr_numbers) == (("*384*123#",), ("+254201234567", "4000"))


async def test_rebinding_an_ivr_number_moves_it_to_the_other_survey(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    common = {"ussd_code": None, "default_region": "KE"}
    first = await import_survey(
        engine,
        form(xlsx_from_markdown),
        filename="a.xlsx",
        roster_only=False,
        ivr_numbers=["4000", "4001"],
        **common,
    )
    second = await import_survey(
        engine,
        form(xlsx_from_markdown, form_id="baseline"),
        filename="b.xlsx",
        roster_only=True,
        ivr_numbers=["4000"],
        **common,
    )
    store = SqlResponseStore(engine)
    assert await store.entry_point("ivr", "4000") == EntryPoint(
        "ivr", "4000", second.survey_id, True, second.organisation_id
    )
    assert await store.entry_point("ivr", "4001") == EntryPoint(
        "ivr", "4001", first.survey_id, False, first.organisation_id
    )
    numbers = {s.form_id: s.ivr_numbers for s in await list_surveys(engine, None)}
    assert numbers == {"baseline": ("4000",), "tracer": ("4001",)}


async def test_a_bad_ivr_number_stores_nothing(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    with pytest.raises(PhoneNumberError, match="IVR number '40#00'"):
        await import_survey(
            engine,
            form(xlsx_from_markdown),
            filename="x.xlsx",
            ussd_code="*384*123#",
            roster_only=False,
            ivr_numbers=["4000", "40#00"],
            default_region="KE",
        )
    assert await list_surveys(engine, None) == []
    assert await SqlResponseStore(engine).entry_point("ivr", "4000") is None


FROM_FILE_FORM = """
| survey |
| | type | name | label |
| | select_one_from_file districts.csv | district | District? |
| settings |
| | form_id | version |
| | listed | 1 |
"""


async def test_the_csv_a_form_lists_from_is_kept_with_the_version(engine) -> None:
    """Imported with the form, stored with its version, and read back wherever the
    version is compiled (a session on another worker, after a restart)."""
    media = {
        "districts.csv": b"name,label\nkisumu,Kisumu\nnakuru,Nakuru\n",
        "unrelated.csv": b"name,label\nx,X\n",
    }
    survey, stored = await _import_and_reload(engine, FROM_FILE_FORM, media)
    assert [c.name for c in survey.question("district").choices] == ["kisumu", "nakuru"]
    assert stored == ["districts.csv"]  # only what the form names


async def _import_and_reload(engine, form: str, media: dict[str, bytes]):
    """Import the form with its media, compile the stored version back as a worker
    does, and list the files stored with it."""
    from tests.conftest import markdown_to_xlsx

    imported = await import_survey(
        engine,
        markdown_to_xlsx(form),
        filename="form.xlsx",
        ussd_code=None,
        roster_only=False,
        media=media,
    )
    store = SqlResponseStore(engine)
    try:
        survey = await store.load_survey(imported.version_id)
    finally:
        await store.close()
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM survey_media"))).scalars().all()
    return survey, list(names)


PULLDATA_FORM = """
| survey |
| | type | name | label | calculation |
| | text | grad_id | Your id? | |
| | calculate | first | | pulldata('graduates', 'first_name', 'id', ${grad_id}) |
| | note | hello | Hello ${first} | |
| settings |
| | form_id | version |
| | preloaded | 1 |
"""


async def test_the_csv_pulldata_reads_is_kept_with_the_version(engine) -> None:
    media = {"graduates.csv": b"id,first_name\nG-1,Amina\n", "unrelated.csv": b"a\n1\n"}
    survey, stored = await _import_and_reload(engine, PULLDATA_FORM, media)
    first = survey.calculation("first")
    assert first is not None and first.expression is not None
    assert first.expression.text({"grad_id": "G-1"}) == "Amina"
    assert stored == ["graduates.csv"]
