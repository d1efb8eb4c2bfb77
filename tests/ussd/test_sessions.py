"""Whole USSD sessions through the real app on a real socket, against SQLite with the
in-process session store and against PostgreSQL with Redis (the `service` fixture)."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from sqlalchemy import update

from interviews import session_key
from storage.schema import responses
from storage.surveys import import_survey
from survey_engine.events import ResponseStatus
from tests.ussd.phones import (
    ENGLISH_WORKING_PATH,
    TRACER_CODE,
    TRACER_XLSX,
    Handset,
    interrupted,
)
from ussd.gsm7 import screen_length


def fits(body: str) -> bool:
    length, limit = screen_length(body[4:])
    return length <= limit


async def test_a_graduate_answers_the_whole_survey_in_english_and_every_answer_is_in_sql(service):
    phone = Handset(service, "+254712345601")
    screen = await phone.dial()
    assert screen.startswith("CON ")
    assert "English" in screen and "Kiswahili" in screen and "العربية" in screen
    screen = await phone.send("1")  # English
    assert "agree" in screen
    for typed in ENGLISH_WORKING_PATH:
        screen = await phone.send(typed)
        assert fits(screen), screen
        assert screen.startswith("CON ")
    screen = await phone.send("More practical work")
    assert screen == "END Thank you for your answers!"

    walk_in = await service.store.find_respondent(service.organisation_id, phone.number)
    assert walk_in is not None and walk_in.on_roster is False  # flagged as not on the roster
    assert walk_in.language == "en"  # the choice on the menu is remembered
    stored = await service.answers_of(phone.number)
    assert stored["consent"] == "yes"
    assert stored["employed"] == "wage"
    assert stored["months_to_job"] == "4"
    assert stored["suggestion"] == "More practical work"
    assert "looking_for_work" not in stored  # skipped by the skip logic
    assert await service.status_of(phone.number) is ResponseStatus.COMPLETE


async def test_each_answer_is_committed_before_the_next_screen_is_sent(service):
    phone = Handset(service, "+254712345602")
    await phone.dial()
    await phone.send("1")
    await phone.send("1")
    assert await service.answers_of(phone.number) == {"consent": "yes"}
    await phone.send("1")
    assert await service.answers_of(phone.number) == {"consent": "yes", "employed": "wage"}


async def test_nonsense_is_reprompted_in_the_respondents_language(service):
    phone = Handset(service, "+254712345603")
    await phone.dial()
    await phone.send("4")  # Kiswahili
    screen = await phone.send("7")
    assert screen.startswith("CON Chaguo si sahihi.")
    screen = await phone.send("1")
    screen = await phone.send("1")
    screen = await phone.send("99")  # months: out of range
    assert screen.startswith("CON ")
    assert await service.answers_of(phone.number) == {"consent": "yes", "employed": "wage"}


async def test_arabic_screens_fit_80_characters_and_page_with_more(service):
    phone = Handset(service, "+254712345604")
    await phone.dial()
    screen = await phone.send("3")  # العربية
    assert "00." in screen  # the consent text does not fit one UCS-2 screen
    pages = [screen]
    while "00." in screen:
        screen = await phone.send("00")
        pages.append(screen)
    assert all(fits(p) for p in pages)
    assert all(p.startswith("CON ") for p in pages)
    assert len(pages) >= 2
    screen = await phone.send("0")  # back one page
    assert screen == pages[-2]
    screen = await phone.send("1")  # consent given from a later page
    assert await service.answers_of(phone.number) == {"consent": "yes"}


async def test_back_returns_to_the_previous_question_showing_the_answer_given(service):
    phone = Handset(service, "+254712345605")
    await phone.dial()
    await phone.send("1")
    await phone.send("1")
    first = await phone.send("3")  # not working
    screen = await phone.send("0")
    assert "Now: No\n" in screen  # the current answer is shown
    screen = await phone.send("1")  # now in wage work
    assert "month" in screen.lower()
    assert first != screen
    stored = await service.answers_of(phone.number)
    assert stored["employed"] == "wage"


async def test_a_redial_within_the_window_offers_to_continue_where_they_stopped(service):
    again = await interrupted(service, "+254712345606", ["2", "1", "1"])  # in French
    assert await service.status_of(again.number) is ResponseStatus.INTERRUPTED

    screen = await again.dial()
    assert screen.startswith("CON Vous avez un questionnaire inachevé.")
    screen = await again.send("1")  # continue
    assert "mois" in screen.lower()  # months to find work, in French
    await again.send("6")
    stored = await service.answers_of(again.number)
    assert stored == {"consent": "yes", "employed": "wage", "months_to_job": "6"}
    assert await service.response_count(again.number) == 1


async def test_three_wrong_answers_in_a_row_end_politely_and_a_redial_continues(service):
    phone = Handset(service, "+254712345630")
    await phone.dial()
    for key in ["1", "1", "1"]:  # English, consent, in wage work
        await phone.send(key)
    assert (await phone.send("99")).startswith("CON ")  # months: over 60
    assert (await phone.send("")).startswith("CON ")
    screen = await phone.send("abc")
    assert screen == (
        "END We did not get a valid answer. Dial again to continue where you stopped."
    )
    assert await service.status_of(phone.number) is ResponseStatus.INTERRUPTED

    again = Handset(service, phone.number)
    screen = await again.dial()
    assert screen.startswith("CON You have an unfinished survey.")
    screen = await again.send("1")  # continue: the question it stopped on
    assert "months" in screen
    assert await service.answers_of(again.number) == {"consent": "yes", "employed": "wage"}
    assert await service.response_count(again.number) == 1


async def test_starting_again_drops_the_earlier_answers(service):
    again = await interrupted(service, "+254712345607", ["1", "1"])
    await again.dial()
    screen = await again.send("2")  # start again
    assert "agree" in screen
    assert await service.answers_of(again.number) == {}


async def test_the_same_callback_twice_gives_the_same_screen_and_one_answer(service):
    phone = Handset(service, "+254712345608")
    await phone.dial()
    await phone.send("1")
    first = await phone.send("1")
    repeated = await phone.repeat()
    assert repeated == first
    assert await service.answer_rows(phone.number) == 1


async def test_a_session_whose_redis_record_was_lost_continues_from_sql(service):
    phone = Handset(service, "+254712345609")
    await phone.dial()
    await phone.send("1")
    await phone.send("1")
    await phone.send("1")
    await service.forget_sessions(phone)
    screen = await phone.send("12")  # months, sent after the session record vanished
    assert "related" in screen.lower()
    duplicate = await phone.repeat()
    await service.forget_sessions(phone)
    assert await phone.repeat() == duplicate
    stored = await service.answers_of(phone.number)
    assert stored == {"consent": "yes", "employed": "wage", "months_to_job": "12"}
    assert await service.answer_rows(phone.number) == 3


async def test_a_lost_record_while_the_resume_offer_is_shown_takes_the_key_as_the_choice(service):
    # English, consent, in wage work.
    again = await interrupted(service, "+254712345617", ["1", "1", "1"])
    assert (await again.dial()).startswith("CON You have an unfinished survey.")
    await service.forget_sessions(again)
    screen = await again.send("1")  # continue: an answer to the offer, not to a question
    assert "months" in screen.lower()
    stored = await service.answers_of(again.number)
    assert stored == {"consent": "yes", "employed": "wage"}
    await again.send("7")
    assert (await service.answers_of(again.number))["months_to_job"] == "7"


async def test_a_lost_record_after_a_wrong_key_at_the_resume_offer_still_answers_the_offer(
    service,
):
    again = await interrupted(service, "+254712345618", ["1", "1"])
    await again.dial()
    assert "Invalid choice" in await again.send("5")  # still on the offer
    await service.forget_sessions(again)
    screen = await again.send("2")  # start again
    assert "agree" in screen
    assert await service.answers_of(again.number) == {}


async def test_a_respondent_who_completed_gets_a_short_thank_you_and_nothing_is_stored(service):
    phone = Handset(service, "+254712345610")
    await phone.dial()
    for typed in ["1", *ENGLISH_WORKING_PATH, ""]:
        screen = await phone.send(typed)
    assert screen == "END Thank you for your answers!"
    rows = await service.answer_rows(phone.number)
    again = Handset(service, phone.number)
    screen = await again.dial()
    assert screen == "END You have already completed this survey. Thank you!"
    assert await service.response_count(phone.number) == 1
    assert await service.answer_rows(phone.number) == rows


async def test_refusing_consent_says_goodbye_and_marks_the_response_refused(service):
    phone = Handset(service, "+254712345611")
    await phone.dial()
    await phone.send("1")
    screen = await phone.send("2")
    assert screen == "END Thank you for your time. Goodbye."
    assert await service.status_of(phone.number) is ResponseStatus.REFUSED


async def test_the_roster_language_skips_the_language_menu(service):
    await service.add_respondent("+254712345612", language="sw")
    phone = Handset(service, "+254712345612")
    screen = await phone.dial()
    assert "Unakubali" in screen or "Je" in screen
    assert "English" not in screen


async def test_a_roster_only_survey_answers_unknown_numbers_with_a_polite_end(service):
    await service.bind("*384*99#", roster_only=True)
    phone = Handset(service, "+254712345613", code="*384*99#")
    screen = await phone.dial()
    assert screen == "END Sorry, this survey is only for registered graduates."
    assert await service.response_count(phone.number) == 0


async def test_an_extension_of_the_code_reaches_the_survey_bound_to_it(service):
    await service.bind("*384*123*2#", roster_only=False)
    phone = Handset(service, "+254712345614")
    screen = await phone.dial(first_text="2")
    assert "English" in screen
    screen = await phone.send("1")
    assert "agree" in screen


async def test_an_unknown_code_says_so(service):
    phone = Handset(service, "+254712345615", code="*999#")
    assert await phone.dial() == "END Sorry, this code is not in use."


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"serviceCode": "*384*123#", "phoneNumber": "+254712345678", "text": ""}, "sessionId"),
        ({"sessionId": "A1", "serviceCode": "*384*123#", "text": ""}, "phoneNumber"),
        ({"sessionId": "A1", "serviceCode": "*384*123#", "phoneNumber": "+254712345678"}, "text"),
        (
            {"sessionId": "A1", "serviceCode": "*384*123#", "phoneNumber": "12", "text": ""},
            "phoneNumber",
        ),
    ],
    ids=["no session id", "no phone", "no text", "bad phone"],
)
async def test_a_malformed_callback_is_answered_400_naming_the_field(service, form, field):
    response = await service.client.post("/ussd/africastalking", data=form)
    assert response.status == 400
    assert f"'{field}'" in await response.text()


async def test_health_reports_database_and_sessions(service):
    response = await service.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"database": True, "sessions": True, "agi": True}


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(b"\x80 not json", id="garbage"),
        # The record of the release before the interview layer: nine fields.
        pytest.param(
            b'["1","CON ...",1,1,{"p":"question","l":"en","i":0,"a":{},"s":"in_progress"},'
            b'0,1,"0","00"]',
            id="older-release",
        ),
        # A live record whose view is not the USSD channel's.
        pytest.param(
            b'["1",1,1,{"p":"question","l":"en","i":0,"a":{},"s":"in_progress"},["x"]]',
            id="foreign-view",
        ),
    ],
)
async def test_an_unreadable_session_record_is_treated_as_lost(service, record):
    phone = Handset(service, "+254712345616")
    await phone.dial()
    await phone.send("1")
    await service.forget_sessions(phone)  # this worker's own copy too
    await service.sessions.set(session_key("ussd", phone.session_id), record, 60)
    screen = await phone.send("1")  # consent, answered after the record became garbage
    assert "working" in screen
    assert await service.answers_of(phone.number) == {"consent": "yes"}


def tracer_version(version: str, employed_label: str) -> bytes:
    book = openpyxl.load_workbook(TRACER_XLSX)
    settings = book["settings"]
    header = [c.value for c in settings[1]]
    settings.cell(row=2, column=header.index("version") + 1, value=version)
    survey = book["survey"]
    header = [c.value for c in survey[1]]
    for row in survey.iter_rows(min_row=2):
        if row[header.index("name")].value == "employed":
            row[header.index("label::English (en)")].value = employed_label
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_a_new_version_never_breaks_a_session_in_flight(service):
    before = Handset(service, "+254712345617")
    await before.dial()
    await before.send("1")
    await import_survey(
        service.engine,
        tracer_version("2026.9", "Do you work now?"),
        filename="tracer_v9.xlsx",
        ussd_code=TRACER_CODE,
        roster_only=False,
    )
    service.store.forget_surveys()  # as an import in the admin site will
    screen = await before.send("1")  # continues on the version it started
    assert "Are you currently working" in screen
    after = Handset(service, "+254712345618")
    await after.dial()
    await after.send("1")
    assert "Do you work now?" in await after.send("1")


async def test_a_redial_after_the_resume_window_starts_afresh(service):
    again = await interrupted(service, "+254712345619", ["1", "1"])
    async with service.engine.begin() as conn:
        await conn.execute(
            update(responses).values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=73))
        )
    screen = await again.dial()
    # No offer to continue; the language chosen last time is remembered.
    assert screen.startswith("CON Your training centre is following up")
    assert await service.response_count(again.number) == 2
