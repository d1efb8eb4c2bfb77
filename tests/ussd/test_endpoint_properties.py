"""Random keypad input through the real endpoint: never a crash, never an answer that
breaks its own rules, and the log never shows a full phone number."""

from __future__ import annotations

import itertools
import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey_engine.xlsform import load_xlsform
from tests.ussd.phones import TRACER_XLSX, Handset

TRACER = load_xlsform(TRACER_XLSX)
_numbers = itertools.count(100)

keypad = st.lists(
    st.one_of(
        st.sampled_from(["1", "2", "3", "4", "5", "0", "00", "#", "##", "", "12", "99"]),
        st.text(alphabet="0123456789*#", max_size=6),
        st.text(max_size=12).filter(lambda t: "\x00" not in t),
    ),
    max_size=25,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(inputs=keypad)
async def test_random_keypad_input_never_crashes_and_stored_answers_keep_the_rules(
    sqlite_service, inputs
):
    phone = Handset(sqlite_service, f"+2547120{next(_numbers):05d}")
    screen = await phone.dial()
    for typed in inputs:
        assert screen.startswith(("CON ", "END "))
        if screen.startswith("END "):
            break
        screen = await phone.send(typed)
    stored = await sqlite_service.answers_of(phone.number)
    for name, value in stored.items():
        question = TRACER.question(name)
        assert question.relevant is None or question.relevant.is_true(stored), name
        if question.constraint is not None and value:
            assert question.constraint.is_true(stored, current=value), (name, value)
        if question.type.has_choices and value:
            assert all(question.choice(v) is not None for v in value.split()), (name, value)
    assert await sqlite_service.answer_rows(phone.number) == len(stored)


async def test_the_hop_log_masks_the_phone_number(sqlite_service, caplog):
    caplog.set_level(logging.INFO, logger="service_tracker.ussd")
    phone = Handset(sqlite_service, "+254712345678")
    await phone.dial()
    await phone.send("1")
    await phone.send("1")
    hops = [r.getMessage() for r in caplog.records if r.getMessage().startswith("hop ")]
    assert len(hops) == 3
    assert all("+254712345678" not in line for line in caplog.messages)
    assert "phone=+2547•••••678 question=consent outcome=answered" in hops[-1]
    assert "ms=" in hops[-1] and f"session={phone.session_id}" in hops[-1]
