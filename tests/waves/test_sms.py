"""SMS through the official africastalking SDK, pointed by AFRICASTALKING_BASE_URL at a
stand-in that speaks the SMS API: texts and recipients as sent, identical texts
batched, refusals per number, HTTP errors retryable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service_tracker.config import ConfigError, Settings
from tests.waves.at_standin import AtStandin
from waves.sms import AfricasTalkingSms, SmsError, SmsResult


@pytest.fixture
def standin() -> Iterator[AtStandin]:
    with AtStandin(username="sandbox", api_key="test-key") as running:
        yield running


def _sms(standin: AtStandin, **settings: str) -> AfricasTalkingSms:
    env = {
        "AFRICASTALKING_USERNAME": "sandbox",
        "AFRICASTALKING_API_KEY": "test-key",
        "AFRICASTALKING_BASE_URL": standin.url + "/",
        **settings,
    }
    found = AfricasTalkingSms.from_settings(Settings.from_env(env))
    assert found is not None
    return found


async def test_a_text_reaches_the_api_with_its_recipients_and_sender(standin: AtStandin) -> None:
    sms = _sms(standin, AFRICASTALKING_SENDER_ID="TVET")
    results = await sms.send("Hello Wanjiru, dial *384*123#", ["+254712300481"])
    assert [s.to for s in standin.sent] == [["+254712300481"]]
    seen = standin.sent[0]
    assert (seen.username, seen.message, seen.sender) == (
        "sandbox", "Hello Wanjiru, dial *384*123#", "TVET",
    )  # fmt: skip
    (result,) = results
    assert result.accepted and result.status == "Success" and result.status_code == 101
    assert result.message_id.startswith("ATXid_") and result.cost == "KES 0.8000"


async def test_identical_texts_share_a_request_and_a_refused_number_is_said(
    standin: AtStandin,
) -> None:
    standin.refuse["+254700000666"] = (403, "InvalidPhoneNumber")
    sms = _sms(standin)
    messages = [(f"+2547123{n:05d}", "Same text") for n in range(150)]
    messages.insert(3, ("+254700000666", "Same text"))
    messages.append(("+254712399999", "Hello Otieno"))
    results = await sms.send_each(messages)
    # 151 identical texts: two requests (100 and 51); the other text: a third.
    assert sorted(len(s.to) for s in standin.sent) == [1, 51, 100]
    assert all(isinstance(r, SmsResult) for r in results)
    refused = results[3]
    assert not refused.accepted and refused.status == "InvalidPhoneNumber"
    assert not refused.retryable
    assert sum(r.accepted for r in results) == 151


async def test_an_http_error_is_retryable_and_a_wrong_key_is_not_taken(standin: AtStandin) -> None:
    standin.fail_next(1, 500)
    sms = _sms(standin)
    with pytest.raises(SmsError) as failed:
        await sms.send("Hello", ["+254712300481"])
    assert failed.value.retryable
    assert len(await sms.send("Hello", ["+254712300481"])) == 1  # the next one goes

    wrong = _sms(standin, AFRICASTALKING_API_KEY="stolen")
    with pytest.raises(SmsError, match="authentication is invalid"):
        await wrong.send("Hello", ["+254712300481"])


def test_the_settings_need_a_username_and_key_and_a_real_base_url() -> None:
    assert AfricasTalkingSms.from_settings(Settings.from_env({})) is None
    with pytest.raises(ConfigError, match="AFRICASTALKING_BASE_URL must be an http"):
        Settings.from_env({"AFRICASTALKING_BASE_URL": "api.example.org"})
    assert "stolen" not in repr(Settings.from_env({"AFRICASTALKING_API_KEY": "stolen"}))
