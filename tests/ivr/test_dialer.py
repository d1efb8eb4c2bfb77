"""The dialer at the protocol level, against a fake AMI on a real TCP port
(tests/ivr/ami_peer.py): what an Originate carries, how each outcome is read and
recorded, the bound on calls, a lost connection, a refused login, and masked logs.
The same behaviour against the real Asterisk 22 is in tests/e2e/test_dialer.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
from collections.abc import AsyncIterator, Callable

import pytest

import ivr.dialer
from ivr.dialer import (
    FAILURE_REASONS,
    AmiLoginRefused,
    AmiUnavailable,
    CallOutcome,
    CallRequest,
    Dialer,
    DialerSettings,
    outcome_of,
)
from storage.memory import MemoryCallLog
from tests.ivr.ami_peer import AmiPeer

PHONE = "+254712345678"
ENTRY = "+254201234567"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves: every reading is one second after the last."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


def settings(port: int, **changes: object) -> DialerSettings:
    values: dict[str, object] = {
        "username": "dialer",
        "secret": "s3cret",
        "trunk": "PJSIP/{number}@trunk",
        "port": port,
        "ring_seconds": 2,
        "connect_seconds": 2,
        "reconnect_seconds": 1,
        "answer_grace_seconds": 2,
    }
    values.update(changes)
    return DialerSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def peer() -> AsyncIterator[AmiPeer]:
    peer = AmiPeer()
    await peer.start()
    yield peer
    await peer.close()


# -- the outcome table: one row per reason Asterisk reports ---------------------------


@pytest.mark.parametrize(
    ("response", "reason", "outcome", "detail"),
    [
        pytest.param("Success", 4, CallOutcome.ANSWERED, "answered", id="4-answered"),
        pytest.param("Failure", 5, CallOutcome.BUSY, "busy", id="5-busy"),
        pytest.param("Failure", 3, CallOutcome.NO_ANSWER, "no answer", id="3-rang-out"),
        pytest.param("Failure", 8, CallOutcome.FAILED, "congestion", id="8-congestion"),
        pytest.param(
            "Failure",
            0,
            CallOutcome.FAILED,
            "failed (no such number, unreachable, or declined)",
            id="0-failed-no-such-number",
        ),
        pytest.param("Failure", 1, CallOutcome.FAILED, "hung up before answering", id="1-hangup"),
        pytest.param("Failure", 2, CallOutcome.FAILED, "failed (reason 2)", id="2-unknown"),
        pytest.param("Failure", None, CallOutcome.FAILED, "failed (no reason given)", id="none"),
    ],
)
def test_an_originate_response_is_read_by_its_reason(
    response: str, reason: int | None, outcome: CallOutcome, detail: str
) -> None:
    assert outcome_of(response, reason) == (outcome, detail)


def test_the_failure_table_covers_the_reasons_asterisk_reports() -> None:
    assert sorted(FAILURE_REASONS) == [0, 1, 3, 5, 8]


def test_public_surface() -> None:
    assert sorted(ivr.dialer.__all__) == [
        "AmiLoginRefused",
        "AmiUnavailable",
        "CALL_VARIABLE",
        "CallOutcome",
        "CallRequest",
        "CallResult",
        "Dialer",
        "DialerError",
        "DialerSettings",
        "ENTRY_VARIABLE",
        "FAILURE_REASONS",
        "PHONE_VARIABLE",
        "outcome_of",
    ]


# -- values that cannot be sent --------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trunk": "PJSIP/trunk"}, "trunk"),
        ({"trunk": "PJSIP/{number} @trunk"}, "trunk"),
        ({"secret": "s3cret\r\nAction: Command"}, "secret"),
        ({"username": "dialer\nEvents: off"}, "username"),
        ({"context": "survey\r\nX: y"}, "context"),
        ({"exten": ""}, "exten"),
        ({"max_calls": 0}, "max_calls"),
        ({"ring_seconds": 0}, "ring_seconds"),
        ({"reconnect_seconds": 0}, "reconnect_seconds"),
    ],
)
def test_settings_that_cannot_be_sent_are_refused_naming_the_field(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        settings(5038, **changes)


def test_the_secret_is_not_in_the_settings_repr() -> None:
    assert "s3cret" not in repr(settings(5038))


@pytest.mark.parametrize(
    ("survey_id", "phone", "entry"),
    [
        (1, "0712345678", ENTRY),  # not E.164
        (1, PHONE + "\r\nAction: Hangup", ENTRY),
        (1, PHONE, "4000\r\nChannel: x"),
        (1, PHONE, "*384#"),
        (0, PHONE, ENTRY),
    ],
)
def test_a_call_request_holds_only_what_can_be_dialled(
    survey_id: int, phone: str, entry: str
) -> None:
    with pytest.raises(ValueError):
        CallRequest(survey_id, phone, entry)


# -- against the fake AMI ---------------------------------------------------------------


async def test_an_originate_carries_the_trunk_the_ivr_and_the_variables(peer: AmiPeer) -> None:
    calls = MemoryCallLog()
    clock = Clock()
    async with Dialer(
        settings(peer.port, context="survey", exten="s", ring_seconds=45), calls, clock=clock
    ) as dialer:
        result = await dialer.place(CallRequest(7, PHONE, ENTRY))

    [sent] = peer.originates
    unique_id = sent["ChannelId"][0]
    assert unique_id.startswith(f"st-{result.call_id}-")
    assert sent == {
        "Action": ["Originate"],
        "ActionID": [f"originate-{unique_id}"],
        "Async": ["true"],
        "CallerID": [ENTRY],
        "Channel": [f"PJSIP/{PHONE}@trunk"],
        "ChannelId": [unique_id],
        "Context": ["survey"],
        "Exten": ["s"],
        "Priority": ["1"],
        "Timeout": ["45000"],
        "Variable": [f"ST_PHONE={PHONE}", f"ST_ENTRY={ENTRY}", f"ST_CALL={result.call_id}"],
    }
    assert result.outcome is CallOutcome.ANSWERED
    assert result.reason == 4
    assert result.reached_asterisk
    assert result.unique_id == unique_id
    assert result.channel == f"PJSIP/{PHONE}@trunk-00000001;1"
    record = await calls.get_call(result.call_id)
    assert record is not None
    assert (record.survey_id, record.phone, record.outcome, record.reason) == (
        7,
        PHONE,
        CallOutcome.ANSWERED,
        4,
    )
    assert record.placed_at == T0 + dt.timedelta(seconds=1)
    assert record.ended_at is None  # answered, and no hang-up seen


async def test_the_login_asks_only_for_call_events(peer: AmiPeer) -> None:
    async with Dialer(settings(peer.port), MemoryCallLog()):
        pass
    [login] = [a for a in peer.actions if a["Action"] == ["Login"]]
    assert login["Username"] == ["dialer"]
    assert login["Events"] == ["call"]


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [(5, CallOutcome.BUSY), (3, CallOutcome.NO_ANSWER), (8, CallOutcome.FAILED)],
)
async def test_a_call_not_answered_is_recorded_as_ended_with_its_reason(
    peer: AmiPeer, reason: int, outcome: CallOutcome
) -> None:
    peer.response, peer.reason = "Failure", reason
    calls = MemoryCallLog()
    clock = Clock()
    async with Dialer(settings(peer.port), calls, clock=clock) as dialer:
        result = await dialer.place(CallRequest(7, PHONE, ENTRY))
    record = await calls.get_call(result.call_id)
    assert record is not None
    assert (record.outcome, record.reason, record.error) == (outcome, reason, None)
    assert record.ended_at == record.placed_at + dt.timedelta(seconds=1)
    assert record.channel == f"PJSIP/{PHONE}@trunk"


async def test_an_answered_call_ends_at_its_hangup(peer: AmiPeer) -> None:
    calls = MemoryCallLog()
    async with Dialer(settings(peer.port), calls) as dialer:
        result = await dialer.place(CallRequest(7, PHONE, ENTRY))
        assert dialer.active_calls == 1  # the answered call holds its slot
        await peer.hangup(f"{result.unique_id};2")  # the other half of a Local pair: not it
        await peer.hangup("st-999-00000000")  # someone else's call
        await asyncio.sleep(0.1)
        assert dialer.active_calls == 1
        await peer.hangup(result.unique_id or "")
        await _until(lambda: dialer.active_calls == 0)
    record = await calls.get_call(result.call_id)
    assert record is not None and record.ended_at is not None


async def test_calls_beyond_the_bound_wait_for_a_hangup(peer: AmiPeer) -> None:
    calls = MemoryCallLog()
    async with Dialer(settings(peer.port, max_calls=2), calls) as dialer:
        placing = [
            asyncio.create_task(dialer.place(CallRequest(7, PHONE, ENTRY))) for _ in range(3)
        ]
        await _until(lambda: sum(t.done() for t in placing) == 2)
        await asyncio.sleep(0.2)
        assert len(peer.originates) == 2  # the third waits its turn
        assert dialer.active_calls == 2
        first = next(t for t in placing if t.done()).result()
        await peer.hangup(first.unique_id or "")
        third = await asyncio.wait_for(asyncio.gather(*placing), 5)
    assert len(peer.originates) == 3
    assert all(r.outcome is CallOutcome.ANSWERED for r in third)


async def test_an_originate_asterisk_refuses_fails_with_its_message(peer: AmiPeer) -> None:
    peer.refuse_originate = "Permission denied"
    calls = MemoryCallLog()
    async with Dialer(settings(peer.port), calls) as dialer:
        result = await dialer.place(CallRequest(7, PHONE, ENTRY))
        assert dialer.active_calls == 0
    assert result.outcome is CallOutcome.FAILED
    assert result.reason is None and not result.reached_asterisk
    assert result.error == "Asterisk refused the Originate: Permission denied"
    record = await calls.get_call(result.call_id)
    assert record is not None and record.error == result.error and record.ended_at is not None


async def test_no_outcome_in_time_fails_the_call(peer: AmiPeer) -> None:
    peer.hold = True
    calls = MemoryCallLog()
    async with Dialer(
        settings(peer.port, ring_seconds=0.2, answer_grace_seconds=0.2), calls
    ) as dialer:
        result = await dialer.place(CallRequest(7, PHONE, ENTRY))
        assert dialer.active_calls == 0
    assert result.outcome is CallOutcome.FAILED
    assert result.error == "no outcome from Asterisk within 0.4 s"


async def test_a_call_in_flight_when_ami_drops_fails_and_is_never_sent_again(
    peer: AmiPeer,
) -> None:
    peer.hold = True
    calls = MemoryCallLog()
    async with Dialer(settings(peer.port, ring_seconds=30), calls) as dialer:
        placing = asyncio.create_task(dialer.place(CallRequest(7, PHONE, ENTRY)))
        await _until(lambda: len(peer.held) == 1)
        await peer.drop()
        result = await asyncio.wait_for(placing, 5)
        assert result.outcome is CallOutcome.FAILED
        assert result.error == "the AMI connection was lost before Asterisk's outcome"
        assert dialer.active_calls == 0
        # panoramisk logs in again (and the peer says FullyBooted, after which panoramisk
        # re-sends what had no reply): the lost call is not placed a second time.
        await _until(lambda: peer.logins == 2 and dialer.connected)
        await asyncio.sleep(0.3)
        assert len(peer.originates) == 1
        peer.hold = False
        again = await dialer.place(CallRequest(7, PHONE, ENTRY))
    assert again.outcome is CallOutcome.ANSWERED
    assert len(peer.originates) == 2


async def test_an_answered_call_whose_hangup_was_lost_frees_its_slot(peer: AmiPeer) -> None:
    calls = MemoryCallLog()
    async with Dialer(settings(peer.port, max_calls=1), calls) as dialer:
        result = await dialer.place(CallRequest(7, PHONE, ENTRY))
        await peer.drop()
        await _until(lambda: dialer.active_calls == 0)
        await _until(lambda: dialer.connected)
        assert (await dialer.place(CallRequest(7, PHONE, ENTRY))).outcome is CallOutcome.ANSWERED
    record = await calls.get_call(result.call_id)
    assert record is not None and record.ended_at is None  # nobody saw it end


async def test_a_call_while_ami_is_down_waits_then_fails_unplaced(peer: AmiPeer) -> None:
    calls = MemoryCallLog()
    async with Dialer(settings(peer.port, connect_seconds=0.5), calls) as dialer:
        port = peer.port
        await peer.close()
        await _until(lambda: not dialer.connected)
        result = await dialer.place(CallRequest(7, PHONE, ENTRY))
        assert result.outcome is CallOutcome.FAILED and result.reason is None
        assert result.error == (
            f"no AMI connection to 127.0.0.1:{port} within 0.5 s; the call was not placed"
        )
        # Asterisk is back on the same port: the next call goes through.
        await peer.start(port)
        assert (await dialer.place(CallRequest(7, PHONE, ENTRY))).outcome is CallOutcome.ANSWERED
    assert len(peer.originates) == 1


async def test_a_refused_login_is_a_configuration_error(peer: AmiPeer) -> None:
    with pytest.raises(AmiLoginRefused, match="refused the login of user 'dialer'"):
        await Dialer(settings(peer.port, secret="wrong"), MemoryCallLog()).start()


async def test_no_ami_at_all_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AmiUnavailable, match=f"127.0.0.1:{port} did not answer within 0.5 s"):
        await Dialer(settings(port, connect_seconds=0.5), MemoryCallLog()).start()


async def test_the_dialer_logs_calls_with_the_number_masked(
    peer: AmiPeer, caplog: pytest.LogCaptureFixture
) -> None:
    peer.response, peer.reason = "Failure", 5
    caplog.set_level(logging.INFO, logger="ivr.dialer")
    async with Dialer(settings(peer.port), MemoryCallLog()) as dialer:
        await dialer.place(CallRequest(7, PHONE, ENTRY))
    lines = [r.getMessage() for r in caplog.records if r.name == "ivr.dialer"]
    assert "call 1 to +2547•••••678 for survey 7: busy (reason 5)" in "\n".join(lines)
    assert not any(PHONE in line for line in lines)


async def test_a_dialer_places_calls_only_once_started(peer: AmiPeer) -> None:
    dialer = Dialer(settings(peer.port), MemoryCallLog())
    with pytest.raises(ivr.dialer.DialerError, match="start"):
        await dialer.place(CallRequest(7, PHONE, ENTRY))


async def _until(condition: Callable[[], bool], seconds: float = 5) -> None:
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still not so after {seconds} s")
