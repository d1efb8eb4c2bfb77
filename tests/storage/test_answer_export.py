"""Exporting answers as CSV, one row per answer."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.exports import EXPORT_COLUMNS, export_answers
from storage.recordings import RecordingFolder
from storage.respondents import import_respondents
from storage.responses import SqlResponseStore
from storage.surveys import ImportedSurvey, find_survey, import_survey
from survey_engine.events import AnswerGiven, AnswerKind, Ended, LanguageChosen, ResponseStatus
from survey_engine.ports import ResponseRecord

FORM = """
| survey |
|        | type    | name   | label::English (en) | label::Kiswahili (sw) |
|        | integer | months | Months?             | Miezi?                |
|        | text    | job    | Job?                | Kazi?                 |
| settings |
|          | form_id   | version |
|          | {form_id} | 2026.1  |
"""

T0 = dt.datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=dt.UTC)


async def _import(
    engine: AsyncEngine, xlsx_from_markdown: Callable[[str], bytes], form_id: str
) -> ImportedSurvey:
    return await import_survey(
        engine,
        xlsx_from_markdown(FORM.format(form_id=form_id)),
        filename=f"{form_id}.xlsx",
        ussd_code=None,
        roster_only=False,
    )


async def _start(
    store: SqlResponseStore,
    respondent_id: int,
    version_id: int,
    channel: str,
    session: str,
    *,
    language: str | None = None,
) -> ResponseRecord:
    """A response begun at T0 on `channel`, its first turn still to come."""
    return await store.start_response(
        respondent_id=respondent_id,
        version_id=version_id,
        channel=channel,
        session_ref=session,
        language=language,
        turn_ref="",
        now=T0,
    )


async def test_answers_are_exported_one_row_each_with_their_context(
    engine: AsyncEngine, xlsx_from_markdown: Callable[[str], bytes]
) -> None:
    tracer = await _import(engine, xlsx_from_markdown, "tracer")
    other = await _import(engine, xlsx_from_markdown, "other")
    await import_respondents(
        engine,
        b"phone,programme,cohort\n+254712300481,Tailoring,2025-B\n",
        filename="r.csv",
        default_region=None,
    )
    store = SqlResponseStore(engine)
    graduate = await store.find_respondent(tracer.organisation_id, "+254712300481")
    walk_in = await store.create_respondent(tracer.organisation_id, "+255754218733", None)
    assert graduate is not None

    first = (await _start(store, graduate.id, tracer.version_id, "ussd", "s1")).id
    await store.record_turn(
        first, [LanguageChosen("sw"), AnswerGiven("months", "3")], turn_ref="2*3", now=T0
    )
    await store.record_turn(
        first,
        [AnswerGiven('job, "fundi"', "Fundi wa nguo, Kisumu"), Ended(ResponseStatus.COMPLETE, "")],
        turn_ref="2*3*x",
        now=T0 + dt.timedelta(minutes=1),
    )
    second = (await _start(store, walk_in.id, tracer.version_id, "ussd", "s2")).id
    await store.record_turn(second, [AnswerGiven("months", "0")], turn_ref="0", now=T0)
    elsewhere = (await _start(store, graduate.id, other.version_id, "ussd", "s3")).id
    await store.record_turn(elsewhere, [AnswerGiven("months", "9")], turn_ref="9", now=T0)

    out = io.StringIO()
    ref = await find_survey(engine, "tracer")
    assert ref is not None
    assert await export_answers(engine, ref, out, organisation_id=tracer.organisation_id) == 3

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert rows[0][:6] == [
        "respondent",
        "question",
        "value",
        "channel",
        "response_status",
        "answered_at",
    ]
    assert rows[1:] == [
        ["+254712300481", "months", "3", "ussd", "complete", "2026-03-02T09:30:15Z",
         str(first), "2026.1", "sw", "Tailoring", "2025-B", "text"],
        ["+254712300481", 'job, "fundi"', "Fundi wa nguo, Kisumu", "ussd", "complete",
         "2026-03-02T09:31:15Z", str(first), "2026.1", "sw", "Tailoring", "2025-B", "text"],
        ["+255754218733", "months", "0", "ussd", "in_progress", "2026-03-02T09:30:15Z",
         str(second), "2026.1", "", "", "", "text"],
    ]  # fmt: skip

    # A survey id works as well as a reference.
    again = io.StringIO()
    await export_answers(engine, tracer.survey_id, again, organisation_id=tracer.organisation_id)
    assert again.getvalue() == out.getvalue()


async def test_a_survey_without_answers_exports_the_header_only(engine: AsyncEngine) -> None:
    out = io.StringIO()
    assert await export_answers(engine, 12345, out, organisation_id=None) == 0
    assert out.getvalue().splitlines() == [",".join(EXPORT_COLUMNS)]


async def test_answers_a_spreadsheet_would_run_as_formulas_are_exported_as_text(
    engine: AsyncEngine, xlsx_from_markdown: Callable[[str], bytes]
) -> None:
    tracer = await _import(engine, xlsx_from_markdown, "tracer")
    await import_respondents(
        engine,
        b"phone,programme,cohort\n+254712300482,=cmd|' /C calc'!A0,@SUM(1)\n",
        filename="r.csv",
        default_region=None,
    )
    store = SqlResponseStore(engine)
    graduate = await store.find_respondent(tracer.organisation_id, "+254712300482")
    assert graduate is not None
    response = await _start(store, graduate.id, tracer.version_id, "ussd", "s9")
    typed = {"months": "-2", "job": '=HYPERLINK("http://evil.example","pay")'}
    await store.record_turn(
        response.id, [AnswerGiven(q, v) for q, v in typed.items()], turn_ref="x", now=T0
    )
    out = io.StringIO()
    await export_answers(engine, tracer.survey_id, out, organisation_id=tracer.organisation_id)
    rows = {row[1]: row for row in csv.reader(io.StringIO(out.getvalue()))}
    assert rows["months"][2] == "-2"  # a number stays a number
    assert rows["job"][2] == "'" + typed["job"]
    assert rows["job"][0] == "+254712300482"  # the E.164 number is not touched
    assert rows["job"][9:11] == ["'=cmd|' /C calc'!A0", "'@SUM(1)"]


async def test_a_voice_answer_is_exported_as_its_path_under_recordings_dir_in_the_same_columns(
    engine: AsyncEngine, xlsx_from_markdown: Callable[[str], bytes], tmp_path: Path
) -> None:
    tracer = await _import(engine, xlsx_from_markdown, "tracer")
    store = SqlResponseStore(engine)
    graduate = await store.create_respondent(tracer.organisation_id, "+254712300483", "en")
    response = await _start(store, graduate.id, tracer.version_id, "ivr", "call-1", language="en")
    recordings = RecordingFolder(tmp_path / "recordings")
    made = await recordings.new(tracer.form_id, response.id, "job")
    # What Asterisk's RECORD FILE leaves: the path it was given, plus the format.
    await asyncio.to_thread(Path(made.path + ".wav").write_bytes, b"RIFF")
    await store.record_turn(
        response.id,
        [AnswerGiven("months", "4"), AnswerGiven("job", made.ref, AnswerKind.RECORDING)],
        turn_ref="4",
        now=T0,
    )

    out = io.StringIO()
    await export_answers(engine, tracer.survey_id, out, organisation_id=tracer.organisation_id)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == [
        "respondent", "question", "value", "channel", "response_status", "answered_at",
        "response_id", "survey_version", "language", "programme", "cohort", "kind",
    ]  # fmt: skip
    values = {row[1]: row[2] for row in rows[1:]}
    assert values == {"months": "4", "job": f"tracer/{response.id}/{made.ref.rsplit('/')[-1]}"}
    # The value leads to the file from RECORDINGS_DIR; where that is stays on the server.
    exported = tmp_path / "recordings" / f"{values['job']}.wav"
    assert await asyncio.to_thread(exported.read_bytes) == b"RIFF"
    assert str(tmp_path) not in out.getvalue()


async def test_a_recording_reference_a_spreadsheet_would_run_is_still_exported_as_text(
    engine: AsyncEngine, xlsx_from_markdown: Callable[[str], bytes]
) -> None:
    tracer = await _import(engine, xlsx_from_markdown, "tracer")
    store = SqlResponseStore(engine)
    graduate = await store.create_respondent(tracer.organisation_id, "+254712300484", None)
    response = await _start(store, graduate.id, tracer.version_id, "ivr", "call-2")
    ref = "=HYPERLINK(1)/2/job-3"
    answer = AnswerGiven("job", ref, AnswerKind.RECORDING)
    await store.record_turn(response.id, [answer], turn_ref="", now=T0)
    out = io.StringIO()
    await export_answers(engine, tracer.survey_id, out, organisation_id=tracer.organisation_id)
    (row,) = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert row[2] == "'" + ref


async def test_each_answer_exports_the_channel_it_was_given_on(
    engine: AsyncEngine, xlsx_from_markdown: Callable[[str], bytes]
) -> None:
    # Started over USSD, cut off, finished by voice after a redial (issue 14).
    tracer = await _import(engine, xlsx_from_markdown, "tracer")
    store = SqlResponseStore(engine)
    walk_in = await store.create_respondent(tracer.organisation_id, "+254712300481", None)
    response = await _start(store, walk_in.id, tracer.version_id, "ussd", "ussd-1")
    await store.record_turn(response.id, [AnswerGiven("months", "3")], turn_ref="3", now=T0)
    later = T0 + dt.timedelta(minutes=5)
    await store.attach_session(
        response.id, channel="ivr", session_ref="call-1", turn_ref="", now=later
    )
    # One answer alone (PostgreSQL's one-statement turn), then with an ending (the
    # transaction path on both databases).
    await store.record_turn(response.id, [AnswerGiven("job", "Welder")], turn_ref="1", now=later)
    await store.record_turn(
        response.id,
        [AnswerGiven("job", "Tailor"), Ended(ResponseStatus.COMPLETE, "")],
        turn_ref="2",
        now=later,
    )

    out = io.StringIO()
    assert (
        await export_answers(engine, tracer.survey_id, out, organisation_id=tracer.organisation_id)
        == 2
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["question"], r["value"], r["channel"]) for r in rows] == [
        ("months", "3", "ussd"),
        ("job", "Tailor", "ivr"),
    ]
    assert {r["response_status"] for r in rows} == {"complete"}


async def test_an_answer_changed_on_another_channel_takes_that_channel(
    engine: AsyncEngine, xlsx_from_markdown: Callable[[str], bytes]
) -> None:
    tracer = await _import(engine, xlsx_from_markdown, "tracer")
    store = SqlResponseStore(engine)
    walk_in = await store.create_respondent(tracer.organisation_id, "+254712300481", None)
    response = await _start(store, walk_in.id, tracer.version_id, "ussd", "ussd-1")
    await store.record_turn(response.id, [AnswerGiven("months", "3")], turn_ref="3", now=T0)
    await store.attach_session(
        response.id, channel="ivr", session_ref="call-1", turn_ref="", now=T0
    )
    await store.record_turn(response.id, [AnswerGiven("months", "4")], turn_ref="4", now=T0)

    out = io.StringIO()
    await export_answers(engine, tracer.survey_id, out, organisation_id=tracer.organisation_id)
    [row] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert (row["value"], row["channel"]) == ("4", "ivr")
