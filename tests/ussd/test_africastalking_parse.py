"""Africa's Talking callbacks, as raw forms exactly as the gateway posts them."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.imports import absolute_imports
from ussd.gateways import africastalking
from ussd.gateways.africastalking import (
    MAX_HISTORY,
    GatewayError,
    UssdRequest,
    UssdSessionEnd,
    con,
    end,
    form_sizes_for_log,
    latest_input,
    parse_callback,
    parse_form,
    parse_session_end,
)

SESSION = "ATUid_5c6a1f0e2b9d4c7a8e3f"
PHONE = "+254712345678"


def callback(**fields: str) -> dict[str, str]:
    """A callback form as Africa's Talking posts it, with `fields` changed; a field
    set to the string "<absent>" is left out."""
    form = {
        "sessionId": SESSION,
        "serviceCode": "*384*123#",
        "phoneNumber": PHONE,
        "networkCode": "63902",
        "text": "",
    }
    form.update(fields)
    return {key: value for key, value in form.items() if value != "<absent>"}


def request(**fields: str) -> UssdRequest:
    values = {
        "session_id": SESSION,
        "service_code": "*384*123#",
        "phone": PHONE,
        "network_code": "63902",
        "text": "",
    }
    values.update(fields)
    return UssdRequest(**values)


@pytest.mark.parametrize(
    ("form", "default_region", "expected"),
    [
        pytest.param(callback(), None, request(), id="first-request-of-a-session"),
        pytest.param(callback(text="1"), None, request(text="1"), id="first-answer"),
        pytest.param(
            callback(text="1*2*Nairobi"),
            None,
            request(text="1*2*Nairobi"),
            id="history-joined-with-star",
        ),
        pytest.param(
            callback(text="2"), None, request(text="2"), id="extension-dialled-*384*123*2#"
        ),
        pytest.param(
            callback(text="1*2*"), None, request(text="1*2*"), id="empty-input-after-history"
        ),
        pytest.param(
            callback(text=" Nairobi "),
            None,
            request(text=" Nairobi "),
            id="text-kept-as-sent",
        ),
        pytest.param(
            callback(networkCode="99999"), None, request(network_code="99999"), id="sandbox"
        ),
        pytest.param(
            callback(networkCode="<absent>"), None, request(network_code=""), id="no-networkCode"
        ),
        pytest.param(
            callback(networkCode=""), None, request(network_code=""), id="empty-networkCode"
        ),
        pytest.param(
            callback(phoneNumber="0712345678"),
            "KE",
            request(),
            id="national-number-read-in-default-region",
        ),
        pytest.param(
            callback(phoneNumber="254712345678"),
            "KE",
            request(),
            id="international-number-without-plus",
        ),
        pytest.param(
            callback(phoneNumber="+254 712 345 678"), None, request(), id="phone-with-spaces"
        ),
        pytest.param(
            callback(phoneNumber="+2348031234567"),
            None,
            request(phone="+2348031234567"),
            id="nigerian-number",
        ),
        pytest.param(
            callback(serviceCode="*384*123*2#"),
            None,
            request(service_code="*384*123*2#"),
            id="service-code-with-extension",
        ),
        pytest.param(
            callback(serviceCode=" *384*123# ", sessionId=f" {SESSION} "),
            None,
            request(),
            id="surrounding-spaces-trimmed",
        ),
        pytest.param(
            callback(text="*".join(["1", "a" * 500, "b" * 500, "c" * 500, "d" * 500, "2"])),
            None,
            request(text="*".join(["1", "a" * 500, "b" * 500, "c" * 500, "d" * 500, "2"])),
            id="history-of-several-long-answers",
        ),
        pytest.param(
            callback(text="1" * MAX_HISTORY),
            None,
            request(text="1" * MAX_HISTORY),
            id="history-at-its-bound",
        ),
        pytest.param(
            callback(phoneNumber="+254812345678"),
            None,
            request(phone="+254812345678"),
            id="number-in-a-range-the-metadata-does-not-list",
        ),
        pytest.param(
            callback(phoneNumber="0812345678"),
            "KE",
            request(phone="+254812345678"),
            id="unlisted-range-national-number",
        ),
        pytest.param(
            callback(sessionId="s" * 128), None, request(session_id="s" * 128), id="id-at-128"
        ),
        pytest.param(
            {**callback(), "date": "2024-05-01 10:00:00", "hopsCount": "1"},
            None,
            request(),
            id="unknown-fields-ignored",
        ),
    ],
)
def test_parse_callback_accepts(
    form: dict[str, str], default_region: str | None, expected: UssdRequest
) -> None:
    assert parse_callback(form, default_region=default_region) == expected


@pytest.mark.parametrize(
    ("form", "default_region", "field"),
    [
        pytest.param(callback(sessionId="<absent>"), None, "sessionId", id="no-sessionId"),
        pytest.param(callback(sessionId=""), None, "sessionId", id="empty-sessionId"),
        pytest.param(callback(sessionId="   "), None, "sessionId", id="blank-sessionId"),
        pytest.param(callback(sessionId="s" * 129), None, "sessionId", id="sessionId-too-long"),
        pytest.param(callback(serviceCode="<absent>"), None, "serviceCode", id="no-serviceCode"),
        pytest.param(callback(serviceCode=""), None, "serviceCode", id="empty-serviceCode"),
        pytest.param(callback(serviceCode="384123"), None, "serviceCode", id="code-no-star-hash"),
        pytest.param(callback(serviceCode="*384*123"), None, "serviceCode", id="code-no-hash"),
        pytest.param(callback(serviceCode="*38a#"), None, "serviceCode", id="code-with-letter"),
        pytest.param(callback(serviceCode="*#"), None, "serviceCode", id="code-without-digits"),
        pytest.param(callback(phoneNumber="<absent>"), None, "phoneNumber", id="no-phoneNumber"),
        pytest.param(callback(phoneNumber=""), None, "phoneNumber", id="empty-phoneNumber"),
        pytest.param(callback(phoneNumber="unknown"), None, "phoneNumber", id="not-a-number"),
        pytest.param(callback(phoneNumber="+2541"), None, "phoneNumber", id="too-short"),
        pytest.param(
            callback(phoneNumber="+25481234567890"), None, "phoneNumber", id="too-long-for-KE"
        ),
        pytest.param(callback(phoneNumber="+999123456789"), None, "phoneNumber", id="no-country"),
        pytest.param(
            callback(phoneNumber="0712345678"), None, "phoneNumber", id="national-without-region"
        ),
        pytest.param(callback(text="<absent>"), None, "text", id="no-text"),
        pytest.param(callback(text="1" * (MAX_HISTORY + 1)), None, "text", id="history-too-long"),
        pytest.param(callback(text="1*\x00"), None, "text", id="text-with-nul"),
        pytest.param(callback(networkCode="6" * 33), None, "networkCode", id="networkCode-long"),
    ],
)
def test_parse_callback_rejects_naming_the_field(
    form: dict[str, str], default_region: str | None, field: str
) -> None:
    with pytest.raises(GatewayError) as caught:
        parse_callback(form, default_region=default_region)
    error = caught.value
    assert error.field == field
    assert f"field '{field}'" in error.message
    assert (error.status, error.retryable) == (400, False)


def test_missing_field_message_is_exact() -> None:
    with pytest.raises(GatewayError, match=r"^field 'sessionId' required$"):
        parse_callback(callback(sessionId="<absent>"))


def test_bad_phone_error_does_not_repeat_the_number() -> None:
    with pytest.raises(GatewayError) as caught:
        parse_callback(callback(phoneNumber="+25471234"))
    assert "25471234" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_request_is_frozen() -> None:
    record = parse_callback(callback())
    with pytest.raises(AttributeError):
        record.text = "1"  # type: ignore[misc]


def session_end(**fields: str) -> dict[str, str]:
    form = {
        "date": "2024-05-01 10:02:31",
        "sessionId": SESSION,
        "serviceCode": "*384*123#",
        "networkCode": "63902",
        "phoneNumber": PHONE,
        "status": "Success",
        "cost": "KES 0.0000",
        "durationInMillis": "41235",
        "hopsCount": "4",
        "input": "1*2*Nairobi",
        "lastAppResponse": "END Thank you for your answers!",
        "errorMessage": "",
    }
    form.update(fields)
    return {key: value for key, value in form.items() if value != "<absent>"}


def ended(**fields: object) -> UssdSessionEnd:
    values: dict[str, object] = {
        "session_id": SESSION,
        "service_code": "*384*123#",
        "phone": PHONE,
        "status": "Success",
        "duration_ms": 41235,
        "error_message": "",
        "last_input": "1*2*Nairobi",
    }
    values.update(fields)
    return UssdSessionEnd(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        pytest.param(session_end(), ended(), id="completed-session"),
        pytest.param(
            session_end(status="Incomplete", input="1", durationInMillis="180000"),
            ended(status="Incomplete", last_input="1", duration_ms=180000),
            id="respondent-walked-away",
        ),
        pytest.param(
            session_end(status="Failed", errorMessage="Session timed out", input=""),
            ended(status="Failed", error_message="Session timed out", last_input=""),
            id="network-failure",
        ),
        pytest.param(
            session_end(durationInMillis="<absent>"), ended(duration_ms=None), id="no-duration"
        ),
        pytest.param(
            session_end(durationInMillis=""), ended(duration_ms=None), id="empty-duration"
        ),
        pytest.param(
            session_end(phoneNumber="<absent>", serviceCode="<absent>"),
            ended(phone="", service_code=""),
            id="minimal-notice",
        ),
    ],
)
def test_parse_session_end_accepts(form: dict[str, str], expected: UssdSessionEnd) -> None:
    assert parse_session_end(form) == expected


@pytest.mark.parametrize(
    ("form", "field"),
    [
        pytest.param(session_end(sessionId="<absent>"), "sessionId", id="no-sessionId"),
        pytest.param(session_end(sessionId=""), "sessionId", id="empty-sessionId"),
        pytest.param(session_end(status="<absent>"), "status", id="no-status"),
        pytest.param(session_end(status="success"), "status", id="status-wrong-case"),
        pytest.param(session_end(status="Timeout"), "status", id="unknown-status"),
        pytest.param(session_end(durationInMillis="4.5"), "durationInMillis", id="fraction"),
        pytest.param(session_end(durationInMillis="-1"), "durationInMillis", id="negative"),
        pytest.param(session_end(durationInMillis="1_000"), "durationInMillis", id="underscore"),
        pytest.param(session_end(phoneNumber="unknown"), "phoneNumber", id="bad-phone"),
        pytest.param(session_end(serviceCode="384"), "serviceCode", id="bad-service-code"),
    ],
)
def test_parse_session_end_rejects_naming_the_field(form: dict[str, str], field: str) -> None:
    with pytest.raises(GatewayError) as caught:
        parse_session_end(form)
    assert caught.value.field == field
    assert f"field '{field}'" in caught.value.message


@pytest.mark.parametrize(
    ("text", "previous_text", "expected"),
    [
        pytest.param("", None, "", id="plain-dial"),
        pytest.param("2", None, "2", id="extension-dialled-first-request"),
        pytest.param("1*2", None, "1*2", id="first-request-with-history"),
        pytest.param("", "", None, id="duplicate-of-plain-dial"),
        pytest.param("1*2", "1*2", None, id="duplicate-delivery"),
        pytest.param("1", "", "1", id="first-answer"),
        pytest.param("1*2", "1", "2", id="next-answer"),
        pytest.param("1*2*Nairobi", "1*2", "Nairobi", id="text-answer"),
        pytest.param("1*3*4", "1", "3*4", id="answer-containing-star"),
        pytest.param("1*2*", "1*2", "", id="empty-answer"),
        pytest.param("1*", "1", "", id="empty-answer-after-one"),
        # Not one new input after what was applied: stores nothing (late or reordered).
        pytest.param("1*1", "1*1*1", None, id="late-retry-of-an-earlier-hop"),
        pytest.param("1", "1*1*1", None, id="late-retry-of-the-first-answer"),
        pytest.param("3", "1*2", None, id="history-restarted-by-network"),
        pytest.param("1*5*7", "1*2", None, id="history-rewritten"),
        pytest.param("12", "1", None, id="prefix-without-star-is-not-an-extension"),
    ],
)
def test_latest_input(text: str, previous_text: str | None, expected: str | None) -> None:
    assert latest_input(text, previous_text) == expected


def test_con_and_end_replies() -> None:
    assert con("Choose your language\n1. English") == "CON Choose your language\n1. English"
    assert end("Thank you for your answers!") == "END Thank you for your answers!"


def test_log_of_a_rejected_form_names_fields_and_sizes_never_values() -> None:
    form = callback(text="1*my salary is 30000", sessionId="s" * 129)
    shown = form_sizes_for_log(form)
    assert shown == "networkCode:5 phoneNumber:13 serviceCode:9 sessionId:129 text:20"
    assert "salary" not in shown and "712345" not in shown and "sss" not in shown


def test_log_of_a_rejected_form_bounds_what_the_sender_controls() -> None:
    form = {f"{'x' * 100}{n:03d}": "v" for n in range(40)}
    shown = form_sizes_for_log(form)
    assert shown.count(":1") == 12 and shown.endswith("(+28 more)")
    assert "x" * 33 not in shown
    assert form_sizes_for_log({}) == "(no fields)"


def test_unlisted_range_is_logged_once_per_range_without_the_number(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="service_tracker.ussd")
    for phone in ("+254822345678", "+254822999888", "+254712345678"):
        parse_callback(callback(phoneNumber=phone))
    assert [r.getMessage() for r in caplog.records if "+254 822" in r.getMessage()] == [
        "accepted a caller in the range +254 822..., which the phonenumbers package does "
        "not list: consider upgrading it"
    ]
    assert len(caplog.records) == 1
    assert not any("2345678" in line or "999888" in line for line in caplog.messages)


def test_public_surface() -> None:
    assert sorted(africastalking.__all__) == [
        "GatewayError",
        "MAX_BODY_BYTES",
        "MAX_HISTORY",
        "SESSION_END_STATUSES",
        "UssdRequest",
        "UssdSessionEnd",
        "con",
        "dialled_address",
        "end",
        "form_sizes_for_log",
        "latest_input",
        "parse_callback",
        "parse_form",
        "parse_session_end",
        "provably_current",
    ]


FORBIDDEN = {"storage", "ivr", "admin", "audio", "service_tracker"}


def test_ussd_imports_only_the_engine_and_libraries() -> None:
    offenders = [
        f"{path}: {name}"
        for path, name in absolute_imports("ussd")
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab=&%+2AaFf07g \u00e9\u0627*#", max_size=60))
def test_parse_form_reads_a_body_exactly_as_the_standard_library_does(body: str) -> None:
    assert parse_form(body) == dict(parse_qsl(body, keep_blank_values=True))


def test_parse_form_reads_what_the_gateway_sends() -> None:
    body = (
        "sessionId=ATUid_1&phoneNumber=%2B254712345678&serviceCode=%2A384%2A123%23"
        "&networkCode=63902&text=1%2A2%2A%D9%86%D8%B9%D9%85+%C3%A9t%C3%A9"
    )
    assert parse_form(body) == {
        "sessionId": "ATUid_1",
        "phoneNumber": "+254712345678",
        "serviceCode": "*384*123#",
        "networkCode": "63902",
        "text": "1*2*نعم été",
    }
