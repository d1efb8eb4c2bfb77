"""Gateways retry, and a retry can arrive late: after the session has moved on. Only a
text that extends the applied history by one input is applied; anything else gets the
current screen back and stores nothing. Through the real endpoint, on SQLite with the
in-process session store and on PostgreSQL with Redis."""

from __future__ import annotations

import asyncio

from survey_engine.events import ResponseStatus
from tests.ussd.phones import ENGLISH_WORKING_PATH, Handset


async def test_a_late_retry_of_an_earlier_hop_is_not_stored_as_a_new_answer(service):
    # The fault as found: 1, 1*1, 1*1*1, then 1*1 once more stored months_to_job = 1.
    phone = Handset(service, "+254712345701")
    await phone.dial()
    await phone.send("1")  # English
    await phone.send("1")  # consent: yes
    current = await phone.send("1")  # in wage work: now asked how many months
    late = await phone._post("1*1")
    assert late == current
    assert await service.answers_of(phone.number) == {"consent": "yes", "employed": "wage"}
    # The session goes on from where it was.
    await phone.send("4")
    assert (await service.answers_of(phone.number))["months_to_job"] == "4"


async def test_every_earlier_hop_delivered_late_gets_the_current_screen_and_stores_nothing(
    service,
):
    phone = Handset(service, "+254712345702")
    texts = [""]
    await phone.dial()
    for typed in ["1", *ENGLISH_WORKING_PATH]:
        current = await phone.send(typed)
        texts.append("*".join(phone.inputs))
        stored = await service.answers_of(phone.number)
        rows = await service.answer_rows(phone.number)
        for earlier in texts[:-1]:
            assert await phone._post(earlier) == current, (earlier, texts[-1])
        assert await service.answers_of(phone.number) == stored
        assert await service.answer_rows(phone.number) == rows
    final = await phone.send("More practical work")
    assert final == "END Thank you for your answers!"
    for earlier in texts:
        assert await phone._post(earlier) == final


async def test_a_late_retry_after_the_live_record_was_lost_stores_nothing(service):
    phone = Handset(service, "+254712345703")
    await phone.dial()
    for typed in ["1", "1", "1"]:
        current = await phone.send(typed)
    await service.forget_sessions(phone)
    assert await phone._post("1*1") == current  # rebuilt from SQL, then recognised as late
    assert await service.answers_of(phone.number) == {"consent": "yes", "employed": "wage"}


async def test_a_late_retry_of_the_dial_after_the_live_record_was_lost_stores_nothing(service):
    phone = Handset(service, "+254712345707")
    await phone.dial()
    for typed in ["1", "1", "1"]:
        current = await phone.send(typed)
    await service.forget_sessions(phone)
    assert await phone._post("") == current  # not a new dial: no resume offer, no reset
    assert await service.response_count(phone.number) == 1
    await phone.send("4")  # and the session goes on where it was
    assert await service.answers_of(phone.number) == {
        "consent": "yes",
        "employed": "wage",
        "months_to_job": "4",
    }


async def test_a_late_retry_of_the_dial_of_a_finished_session_says_goodbye(service):
    phone = Handset(service, "+254712345708")
    await phone.dial()
    await phone.send("1")
    assert await phone.send("2") == "END Thank you for your time. Goodbye."
    await service.forget_sessions(phone)
    assert await phone._post("") == "END Thank you for your time. Goodbye."
    assert await service.response_count(phone.number) == 1


async def test_a_history_the_session_never_had_ends_politely_and_a_redial_resumes(service):
    phone = Handset(service, "+254712345704")
    await phone.dial()
    await phone.send("1")
    await phone.send("1")
    # Diverges from what was applied: later hops would extend it, not the session's.
    screen = await phone._post("2*2*7")
    assert screen == "END Your answers are saved. Dial again to continue."
    assert await service.answers_of(phone.number) == {"consent": "yes"}
    again = Handset(service, phone.number)
    assert (await again.dial()).startswith("CON You have an unfinished survey.")


async def test_the_same_hop_delivered_twice_at_once_stores_one_answer(service):
    phone = Handset(service, "+254712345705")
    await phone.dial()
    await phone.send("1")
    await phone.send("1")
    phone.inputs.append("1")
    first, second = await asyncio.gather(phone.repeat(), phone.repeat())
    assert first == second and "months" in first.lower()
    assert await service.answers_of(phone.number) == {"consent": "yes", "employed": "wage"}
    assert await service.answer_rows(phone.number) == 2


async def test_a_graduate_who_declined_hears_so_on_redial_and_can_take_part_now(service):
    phone = Handset(service, "+254712345706")
    await phone.dial()
    await phone.send("1")  # English
    assert await phone.send("2") == "END Thank you for your time. Goodbye."
    again = Handset(service, phone.number)
    screen = await again.dial()
    assert screen.startswith("CON Last time you chose not to take part.")
    assert "Do you agree" in screen and screen.endswith("00. More")
    more = await again.send("00")  # the rest of the same screen, notice included
    assert "1. Yes" in more and "Last time" not in more
    assert "Do you agree" in await again.send("0")  # back to the first page
    assert await service.response_count(phone.number) == 2
    await again.send("00")
    await again.send("1")  # yes, this time
    assert await service.answers_of(phone.number) == {"consent": "yes"}
    assert await service.status_of(phone.number) is ResponseStatus.IN_PROGRESS
