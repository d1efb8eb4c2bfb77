"""`ivr_address`: one address for a dialled number, whether staff typed it at import
or Asterisk reported it on a call."""

from __future__ import annotations

import pytest

from survey_engine.phones import PhoneNumberError, caller_phone, ivr_address


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        # The same Nairobi number, as staff or a trunk may write it.
        ("+254201234567", "KE", "+254201234567"),
        ("254201234567", "KE", "+254201234567"),  # E.164 without its +, from a trunk
        ("0201234567", "KE", "+254201234567"),  # national, in DEFAULT_PHONE_REGION
        ("00254201234567", "KE", "+254201234567"),
        (" +254 20 123-4567 ", "KE", "+254201234567"),
        ("254201234567", None, "+254201234567"),
        ("447700900123", "KE", "+447700900123"),  # another country's, without +
        # PBX extensions are no possible number: their digits, as dialled.
        ("4000", "KE", "4000"),
        ("4000", None, "4000"),
        ("0201234567", None, "0201234567"),  # national, but no region to read it in
    ],
)
def test_a_dialled_number_has_one_address(raw: str, region: str | None, expected: str) -> None:
    assert ivr_address(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "  ", "+", "*384#", "4000#", "tel:4000", "1" * 21, "+12"])
def test_what_is_no_dialled_number_is_refused_naming_it(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        ivr_address(raw, "KE")
    assert str(caught.value).startswith(f"IVR number '{raw}' is not")


@pytest.mark.parametrize(
    ("caller_id", "region", "expected"),
    [
        pytest.param("+254712345678", None, "+254712345678", id="e164"),
        pytest.param("254712345678", None, "+254712345678", id="trunk-dropped-the-plus"),
        pytest.param("00254712345678", None, "+254712345678", id="international-prefix"),
        pytest.param("0712345678", "KE", "+254712345678", id="national-with-region"),
        pytest.param("anonymous", None, None, id="hidden"),
        pytest.param("", None, None, id="empty"),
        pytest.param(None, None, None, id="absent"),
        pytest.param("4001", None, None, id="pbx-extension"),
    ],
)
def test_a_callers_number_is_read_like_a_dialled_one(caller_id, region, expected):
    assert caller_phone(caller_id, region) == expected
