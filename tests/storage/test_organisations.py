"""Every survey and respondent belongs to an organisation: imports choose one, callers
are kept within the survey's, and staff of one organisation get nothing of another's by
id. On SQLite and PostgreSQL (the `engine` fixture)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from interviews import Closed, Interviews, InterviewSettings, Notice, Step
from storage.memory import MemoryResponseStore
from storage.organisations import OrganisationError
from storage.respondents import import_respondents
from storage.responses import SqlResponseStore
from storage.schema import organisations, respondents, surveys
from storage.scoped import (
    SurveyNotFound,
    export_answers,
    list_surveys,
    recording_of,
    respondent_of,
    response_of,
    survey_of,
)
from storage.sessions import MemorySessionStore
from storage.surveys import ImportedSurvey, OtherOrganisationError, import_survey
from survey_engine.events import AnswerGiven, AnswerKind, ResponseStatus
from survey_engine.machine import Turn
from survey_engine.ports import NewResponse

Xlsx = Callable[[str], bytes]
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
PHONE = "+254712345678"

FORM = """
| survey |
|        | type    | name   | label::English (en) | label::Kiswahili (sw) |
|        | integer | months | Months?             | Miezi?                |
|        | text    | job    | Job?                | Kazi?                 |
| settings |
|          | form_id   | version |
|          | {form_id} | 1       |
"""


async def _survey(
    engine: AsyncEngine,
    xlsx: Xlsx,
    form_id: str,
    organisation: int | str | None = None,
    *,
    code: str | None = None,
    roster_only: bool = False,
    ivr_numbers: tuple[str, ...] = (),
) -> ImportedSurvey:
    return await import_survey(
        engine,
        _workbook(xlsx, form_id),
        filename=f"{form_id}.xlsx",
        ussd_code=code,
        roster_only=roster_only,
        ivr_numbers=ivr_numbers,
        organisation=organisation,
    )


_WORKBOOKS: dict[str, bytes] = {}


def _workbook(xlsx: Xlsx, form_id: str) -> bytes:
    """One file per form_id: a workbook written again a second later has other bytes
    (its timestamps), which an import of the same version rightly refuses."""
    if form_id not in _WORKBOOKS:
        _WORKBOOKS[form_id] = xlsx(FORM.format(form_id=form_id))
    return _WORKBOOKS[form_id]


async def _roster(engine: AsyncEngine, rows: str, organisation: int | str | None = None):
    report = await import_respondents(
        engine,
        f"phone,name,language\n{rows}".encode(),
        filename="roster.csv",
        default_region=None,
        organisation=organisation,
    )
    assert not report.errors, report.errors
    return report


async def _count(engine: AsyncEngine, table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


# -- which organisation an import goes to -------------------------------------------------


async def test_the_first_import_makes_the_default_organisation_and_later_ones_join_it(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    tracer = await _survey(engine, xlsx_from_markdown, "tracer")
    assert tracer.organisation == "Default"
    roster = await _roster(engine, f"{PHONE},Wanjiru,sw\n")
    assert (roster.organisation_id, roster.organisation) == (tracer.organisation_id, "Default")
    assert await _count(engine, organisations) == 1


async def test_the_only_organisation_is_chosen_whatever_it_is_called(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    named = await _survey(engine, xlsx_from_markdown, "tracer", "  Kenya   TVET ")
    assert named.organisation == "Kenya TVET"  # spaces tidied, as `users create` does
    unnamed = await _survey(engine, xlsx_from_markdown, "baseline")
    assert unnamed.organisation_id == named.organisation_id
    assert (await _roster(engine, f"{PHONE},W,sw\n")).organisation == "Kenya TVET"


async def test_with_several_organisations_an_import_must_name_one_and_stores_nothing(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    await _survey(engine, xlsx_from_markdown, "tracer", "Kenya TVET")
    await _survey(engine, xlsx_from_markdown, "baseline", "Uganda Skills")
    with pytest.raises(OrganisationError, match=r"several organisations.*--organisation NAME"):
        await _survey(engine, xlsx_from_markdown, "endline")
    with pytest.raises(OrganisationError, match="several organisations"):
        await _roster(engine, f"{PHONE},W,sw\n")
    assert await _count(engine, surveys) == 2
    assert await _count(engine, respondents) == 0
    # Named, or by id (as the admin site passes its user's), it goes where it is told.
    by_id = await _survey(engine, xlsx_from_markdown, "endline", 1)
    assert by_id.organisation == "Kenya TVET"
    with pytest.raises(OrganisationError, match="no organisation with id 99"):
        await _survey(engine, xlsx_from_markdown, "midline", 99)


async def test_a_form_id_of_another_organisation_is_refused_and_the_survey_stays(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    theirs = await _survey(engine, xlsx_from_markdown, "tracer", "Kenya TVET")
    with pytest.raises(OtherOrganisationError) as refused:
        await _survey(engine, xlsx_from_markdown, "tracer", "Uganda Skills", code="*384*9#")
    message = str(refused.value)
    assert "'tracer' is already used by a survey of another organisation" in message
    assert "change `form_id` on the settings sheet" in message
    assert "Kenya" not in message  # staff of one agency never learn another's name
    async with engine.connect() as conn:
        owners = (await conn.execute(select(surveys.c.organisation_id))).scalars().all()
    assert owners == [theirs.organisation_id]
    assert await SqlResponseStore(engine).entry_point("ussd", "*384*9#") is None
    # The owner imports it again as before.
    again = await _survey(engine, xlsx_from_markdown, "tracer", "Kenya TVET")
    assert (again.survey_id, again.created) == (theirs.survey_id, False)


@pytest.mark.parametrize(
    ("binding", "message"),
    [
        ({"code": "*384*123#"}, "the USSD code \\*384\\*123# reaches a survey of another"),
        ({"ivr_numbers": ("4000",)}, "the IVR number 4000 reaches a survey of another"),
    ],
)
async def test_a_code_or_number_of_another_organisation_is_not_taken_from_it(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx, binding: dict, message: str
) -> None:
    theirs = await _survey(
        engine, xlsx_from_markdown, "tracer", "Kenya TVET", code="*384*123#", ivr_numbers=("4000",)
    )
    with pytest.raises(OtherOrganisationError, match=message):
        await _survey(engine, xlsx_from_markdown, "baseline", "Uganda Skills", **binding)
    store = SqlResponseStore(engine)
    for channel, address in (("ussd", "*384*123#"), ("ivr", "4000")):
        entry = await store.entry_point(channel, address)
        assert entry is not None and entry.survey_id == theirs.survey_id
    assert await _count(engine, surveys) == 1  # the refused import stored nothing


async def test_two_organisations_keep_their_own_record_of_the_same_graduate(
    engine: AsyncEngine,
) -> None:
    kenya = await _roster(engine, f"{PHONE},Wanjiru Kamau,sw\n", "Kenya TVET")
    uganda = await _roster(engine, f"{PHONE},W. Kamau,en\n", "Uganda Skills")
    assert (kenya.created, uganda.created) == (1, 1)
    # A re-import matches by (organisation, phone): it updates its own record only.
    again = await _roster(engine, f"{PHONE},Wanjiru K.,\n", "Kenya TVET")
    assert (again.created, again.updated) == (0, 1)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(organisations.c.name, respondents.c.name, respondents.c.language)
                .join_from(respondents, organisations)
                .order_by(organisations.c.name)
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("Kenya TVET", "Wanjiru K.", "sw"),
        ("Uganda Skills", "W. Kamau", "en"),
    ]


# -- callers are kept within the survey's organisation -------------------------------------


def _render(turn: Turn, notice: Notice | None) -> str:
    return turn.prompt.key if turn.prompt is not None else "END"


async def test_a_caller_is_found_and_kept_among_the_survey_organisations_respondents(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    kenya = await _survey(engine, xlsx_from_markdown, "tracer", "Kenya TVET", code="*384*1#")
    uganda = await _survey(engine, xlsx_from_markdown, "baseline", "Uganda Skills", code="*384*2#")
    await _survey(
        engine,
        xlsx_from_markdown,
        "endline",
        "Uganda Skills",
        code="*384*3#",
        roster_only=True,
    )
    await _roster(engine, f"{PHONE},Wanjiru,sw\n", "Kenya TVET")
    store = SqlResponseStore(engine)
    interviews = Interviews(store, MemorySessionStore(), InterviewSettings(), clock=lambda: T0)
    try:
        # On Uganda's roster-only code, Kenya's roster does not let the number in.
        refused = await interviews.open("ussd", ("*384*3#",), PHONE, "S0", "", _render)
        assert isinstance(refused, Closed) and refused.phrase == "not_on_roster"

        # Kenya's graduate is asked in the language Kenya's roster gives (no menu).
        step = await interviews.open("ussd", ("*384*1#",), PHONE, "S1", "", _render)
        assert isinstance(step, Step) and step.live.view == "months"
        # Uganda does not know the number: a walk-in of its own, at the language menu.
        step = await interviews.open("ussd", ("*384*2#",), PHONE, "S2", "", _render)
        assert isinstance(step, Step) and step.live.view == "system.language"

        graduate = await store.find_respondent(kenya.organisation_id, PHONE)
        walk_in = await store.find_respondent(uganda.organisation_id, PHONE)
        assert graduate is not None and walk_in is not None
        assert (graduate.on_roster, graduate.language) == (True, "sw")
        assert (walk_in.on_roster, walk_in.language) == (False, None)
        assert graduate.id != walk_in.id
        assert await store.latest_response(graduate.id, kenya.survey_id) is not None
        assert await store.latest_response(walk_in.id, uganda.survey_id) is not None
        assert await store.latest_response(graduate.id, uganda.survey_id) is None
    finally:
        await store.close()


async def test_the_same_number_dials_in_once_per_organisation_on_every_store(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    kenya = await _survey(engine, xlsx_from_markdown, "tracer", "Kenya TVET")
    uganda = await _survey(engine, xlsx_from_markdown, "baseline", "Uganda Skills")
    sql = SqlResponseStore(engine)
    memory = MemoryResponseStore()
    memory_versions = {
        organisation: memory.add_survey(
            await sql.load_survey(version), organisation_id=organisation
        ).version_id
        for organisation, version in (
            (kenya.organisation_id, kenya.version_id),
            (uganda.organisation_id, uganda.version_id),
        )
    }
    sql_versions = {
        kenya.organisation_id: kenya.version_id,
        uganda.organisation_id: uganda.version_id,
    }
    try:
        for store, versions in ((sql, sql_versions), (memory, memory_versions)):
            made = {}
            for organisation, version in versions.items():
                new = NewResponse(version, "ussd", f"S{organisation}", None, "", T0)
                respondent, started = await store.dial_in(organisation, PHONE, new)
                assert started is not None  # new to this organisation
                made[organisation] = respondent.id
                again, none = await store.dial_in(organisation, PHONE, new)
                assert (again.id, none) == (respondent.id, None)
            assert len(set(made.values())) == 2
    finally:
        await sql.close()


# -- staff read only their own organisation's ---------------------------------------------


async def _answered(
    engine: AsyncEngine, xlsx: Xlsx, form_id: str, organisation: str
) -> tuple[ImportedSurvey, int, int, int, int]:
    """A survey of `organisation` with one response: (survey, respondent id, response
    id, typed answer id, recorded answer id)."""
    imported = await _survey(engine, xlsx, form_id, organisation)
    store = SqlResponseStore(engine)
    try:
        respondent = await store.create_respondent(imported.organisation_id, PHONE, "en")
        response = await store.start_response(
            respondent_id=respondent.id,
            version_id=imported.version_id,
            channel="ivr",
            session_ref=f"call-{form_id}",
            language="en",
            turn_ref="",
            now=T0,
        )
        await store.record_turn(response.id, [AnswerGiven("months", "3")], turn_ref="1", now=T0)
        recorded = AnswerGiven("job", f"{form_id}/{response.id}/job-1a2b", AnswerKind.RECORDING)
        await store.record_turn(response.id, [recorded], turn_ref="2", now=T0)
    finally:
        await store.close()
    stored = await response_of(engine, imported.organisation_id, response.id)
    assert stored is not None
    typed, spoken = (answer.id for answer in stored.answers)
    return imported, respondent.id, response.id, typed, spoken


async def test_staff_of_one_organisation_get_nothing_of_another_by_id(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    mine, my_person, my_response, my_typed, my_spoken = await _answered(
        engine, xlsx_from_markdown, "tracer", "Kenya TVET"
    )
    theirs, their_person, their_response, _, their_spoken = await _answered(
        engine, xlsx_from_markdown, "baseline", "Uganda Skills"
    )
    me = mine.organisation_id

    summary = await survey_of(engine, me, mine.survey_id)
    assert summary is not None and (summary.form_id, summary.organisation_id) == ("tracer", me)
    assert await survey_of(engine, me, theirs.survey_id) is None
    assert [s.form_id for s in await list_surveys(engine, me)] == ["tracer"]

    person = await respondent_of(engine, me, my_person)
    assert person is not None and (person.phone, person.organisation_id) == (PHONE, me)
    assert await respondent_of(engine, me, their_person) is None

    response = await response_of(engine, me, my_response)
    assert response is not None
    assert (response.survey_id, response.version, response.status) == (
        mine.survey_id,
        "1",
        ResponseStatus.IN_PROGRESS,
    )
    assert [(a.question, a.value, a.kind) for a in response.answers] == [
        ("months", "3", AnswerKind.TEXT),
        ("job", f"tracer/{my_response}/job-1a2b", AnswerKind.RECORDING),
    ]
    assert await response_of(engine, me, their_response) is None

    recording = await recording_of(engine, me, my_spoken)
    assert recording is not None
    assert (recording.response_id, recording.question, recording.ref) == (
        my_response,
        "job",
        f"tracer/{my_response}/job-1a2b",
    )
    assert await recording_of(engine, me, their_spoken) is None
    assert await recording_of(engine, me, my_typed) is None  # typed text is not a file

    out = io.StringIO()
    assert await export_answers(engine, mine.survey_id, out, organisation_id=me) == 2
    refused = io.StringIO()
    with pytest.raises(SurveyNotFound):
        await export_answers(engine, theirs.survey_id, refused, organisation_id=me)
    assert refused.getvalue() == ""  # not even the header


@pytest.mark.parametrize("object_id", [0, -1, 2**31, 10**12])
async def test_an_id_no_row_can_have_finds_nothing(engine: AsyncEngine, object_id: int) -> None:
    # Ids come from URLs: one beyond an INTEGER column is not found, never a crash.
    assert await survey_of(engine, 1, object_id) is None
    assert await respondent_of(engine, 1, object_id) is None
    assert await response_of(engine, 1, object_id) is None
    assert await recording_of(engine, 1, object_id) is None


async def test_scoped_reads_see_the_callers_transaction(
    engine: AsyncEngine, xlsx_from_markdown: Xlsx
) -> None:
    imported = await _survey(engine, xlsx_from_markdown, "tracer", "Kenya TVET")
    async with engine.begin() as conn:
        await conn.execute(surveys.update().values(title="Renamed in this transaction"))
        summary = await survey_of(conn, imported.organisation_id, imported.survey_id)
        assert summary is not None and summary.title == "Renamed in this transaction"
