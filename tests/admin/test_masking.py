"""Phone numbers as staff see them: masked in one shape for every country, shown in full
as the country writes them."""

from __future__ import annotations

import pytest

from admin.masking import masked_phone, phone, shown_phone


@pytest.mark.parametrize(
    ("e164", "masked", "shown"),
    [
        ("+254712300481", "+254 7•• ••• 481", "+254 712 300481"),  # Kenya
        ("+221776142358", "+221 7•• ••• 358", "+221 77 614 23 58"),  # Senegal
        ("+9613518274", "+961 3••• 274", "+961 3 518 274"),  # Lebanon, 7 digits
        ("+12025550123", "+1 2•• •••• 123", "+1 202-555-0123"),
    ],
)
def test_a_number_is_masked_in_the_middle_and_shown_grouped(
    e164: str, masked: str, shown: str
) -> None:
    assert masked_phone(e164) == masked
    assert shown_phone(e164) == shown
    assert phone(e164) == masked and phone(e164, shown=True) == shown


def test_what_is_not_a_number_is_still_never_shown_whole() -> None:
    assert masked_phone("+2541") == "•••••"
    assert "5550123" not in masked_phone("not+12025550123")
    assert masked_phone("") == ""
