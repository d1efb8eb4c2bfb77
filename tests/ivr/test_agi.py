"""The FastAGI layer: reply lines exactly as Asterisk writes them, the environment
block, argument quoting, hang-ups, and the server with a fake Asterisk on real sockets."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest

import ivr.agi
from ivr.agi import (
    AgiCommandError,
    AgiHangup,
    AgiLimits,
    AgiProtocolError,
    AgiReply,
    AgiSession,
    format_command,
    parse_reply,
    quote_argument,
    read_request,
)
from ivr.server import AgiServer
from service_tracker.logs import MaskingFilter
from tests.ivr.agi_peer import CLOSE, HANGUP, AgiPeer, agi_environment, environment_block

USAGE = [
    "520-Invalid command syntax.  Proper usage follows:",
    " Usage: WAIT FOR DIGIT <timeout>",
    "        Waits up to 'timeout' milliseconds for channel to receive a DTMF digit.",
    "520 End of proper usage.",
]

# (label, raw lines, code, result, data, endpos)
REPLIES = [
    ("success", ["200 result=0"], 200, "0", None, None),
    ("key 1 pressed", ["200 result=49"], 200, "49", None, None),
    ("digits then timeout", ["200 result=42 (timeout)"], 200, "42", "timeout", None),
    ("nothing typed", ["200 result= (timeout)"], 200, "", "timeout", None),
    ("failure", ["200 result=-1"], 200, "-1", None, None),
    ("record stopped by key", ["200 result=1 (dtmf) endpos=1234"], 200, "1", "dtmf", 1234),
    ("played to the end", ["200 result=0 endpos=8000"], 200, "0", None, 8000),
    ("missing file", ["200 result=-1 endpos=0"], 200, "-1", None, 0),
    ("record hang-up", ["200 result=-1 (hangup) endpos=800"], 200, "-1", "hangup", 800),
    ("variable with spaces", ["200 result=1 (en (fr) x)"], 200, "1", "en (fr) x", None),
    ("unknown command", ["510 Invalid or unknown command"], 510, None, None, None),
    (
        "dead channel",
        ["511 Command Not Permitted on a dead channel or intercept routine"],
        511,
        None,
        None,
        None,
    ),
    ("usage", USAGE, 520, None, None, None),
]


@pytest.mark.parametrize(
    ("lines", "code", "result", "data", "endpos"),
    [row[1:] for row in REPLIES],
    ids=[row[0] for row in REPLIES],
)
def test_reply_parser_reads_each_wire_form(lines, code, result, data, endpos):
    reply = parse_reply(lines)
    assert (reply.code, reply.result, reply.data, reply.endpos) == (code, result, data, endpos)
    assert reply.lines == tuple(lines)


def test_reply_helpers_name_the_key_and_the_timeout():
    assert parse_reply(["200 result=49"]).digit == "1"
    assert parse_reply(["200 result=35 (dtmf) endpos=10"]).digit == "#"
    assert parse_reply(["200 result=0"]).digit is None
    assert parse_reply(["200 result=007 (timeout)"]).timed_out
    assert parse_reply(["200 result=007"]).result == "007"  # GET DATA keeps leading zeros


def test_usage_reply_keeps_the_usage_text():
    reply = parse_reply(USAGE)
    assert "Usage: WAIT FOR DIGIT <timeout>" in reply.text
    assert reply.text.endswith("End of proper usage.")


@pytest.mark.parametrize(
    "lines",
    [["hello"], ["200 ok"], ["20 result=1"], ["200 result=1 endpos=x"], USAGE[:2]],
    ids=["not a reply", "200 without result", "short code", "bad endpos", "unended usage"],
)
def test_garbled_reply_is_a_protocol_error(lines):
    with pytest.raises(AgiProtocolError, match="expected"):
        parse_reply(lines)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("welcome", "welcome"),
        ("en/q1-intro", "en/q1-intro"),
        (5000, "5000"),
        ("s=2", "s=2"),
        ("#", '"#"'),
        ("12#", '"12#"'),
        ("", '""'),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
    ],
)
def test_arguments_are_quoted_as_asterisk_splits_them(value, written):
    assert quote_argument(value) == written


@pytest.mark.parametrize("value", ["a\nHANGUP", "a\r", "a\0"])
def test_an_argument_cannot_smuggle_a_second_command(value):
    with pytest.raises(ValueError, match="line break"):
        quote_argument(value)


def test_command_line_is_the_name_then_quoted_arguments():
    assert format_command("STREAM FILE", "welcome", "12#") == 'STREAM FILE welcome "12#"'
    with pytest.raises(ValueError, match="command name"):
        format_command("stream file\nHANGUP")


# --- the environment block -------------------------------------------------------


def _reader(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=4098)
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def test_environment_block_becomes_a_request():
    environment = agi_environment(
        "survey", caller_id="254712345678", extension="5000", args=["en", "wave 3"]
    )
    request = await read_request(_reader(environment_block(environment) + b"ANSWER\n"))
    assert request.script == "survey"
    assert request.args == ("en", "wave 3")
    assert request.caller_id == "254712345678"
    assert request.caller_id_name is None  # Asterisk writes "unknown"
    assert request.dnid is None
    assert request.extension == "5000"
    assert request.context == "survey"
    assert request.language == "en"
    assert request.unique_id == "1718000000.1"
    assert request.channel == "Local/s@respondent-00000001;2"
    assert request.environment["agi_accountcode"] == ""
    assert request.environment["agi_network"] == "yes"


async def test_script_comes_from_the_url_when_network_script_is_absent():
    environment = agi_environment()
    del environment["agi_network_script"]
    environment["agi_request"] = "agi://10.0.0.1:4573/survey?lang=fr"
    request = await read_request(_reader(environment_block(environment)))
    assert request.script == "survey"


async def test_arguments_are_ordered_by_number_not_arrival():
    block = b"agi_request: agi://h/survey\nagi_arg_10: j\nagi_arg_2: b\nagi_arg_1: a\n\n"
    assert (await read_request(_reader(block))).args == ("a", "b", "j")


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (b"agi_request: agi://h/survey\nagi_channel: x\n", "blank line"),
        (b"agi_request: agi://h/survey\nagi_callerid: " + b"9" * 5000 + b"\n\n", "at most"),
        (b"agi_request: agi://h/survey\nGET / HTTP/1.1\n\n", "agi_name: value"),
        (b"agi_channel: x\n\n", "agi_request"),
        (b"\n", "before the blank line"),
        (b"agi_request: agi://h/survey\nagi_arg_x: 1\n\n", "agi_arg_<number>"),
        (b"agi_request: \xff\xfe\n\n", "UTF-8"),
        (b"".join(b"agi_x%d: y\n" % i for i in range(300)) + b"\n", "within 256 lines"),
    ],
    ids=["no blank line", "line too long", "not agi", "no request", "empty", "bad arg",
         "not utf-8", "too many lines"],
)  # fmt: skip
async def test_malformed_environment_is_a_protocol_error(block, expected):
    with pytest.raises(AgiProtocolError, match=expected):
        await read_request(_reader(block))


async def test_environment_that_never_ends_times_out():
    reader = _reader(b"agi_request: agi://h/survey\n", eof=False)
    with pytest.raises(AgiProtocolError, match=r"within 0\.05 s"):
        await read_request(reader, AgiLimits(environment_timeout=0.05))


# --- commands over a real socket pair ----------------------------------------------


class Wire:
    """Our session on one end of a socket pair; the test plays Asterisk on the other."""

    def __init__(self, session: AgiSession, far: socket.socket):
        self.session = session
        self.far = far

    async def reply(self, *lines: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self.far, b"".join(f"{line}\n".encode() for line in lines))

    async def received(self) -> str:
        loop = asyncio.get_running_loop()
        data = b""
        while not data.endswith(b"\n"):
            chunk = await loop.sock_recv(self.far, 4096)
            if not chunk:
                break
            data += chunk
        return data.decode()


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    near, far = socket.socketpair()
    far.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=near)
    request = await read_request(_reader(environment_block(agi_environment())))
    yield Wire(AgiSession(reader, writer, request), far)
    writer.close()
    far.close()


async def _command_with_reply(wire: Wire, name: str, *args, reply: list[str]):
    await wire.reply(*reply)
    return await wire.session.command(name, *args)


@pytest.mark.parametrize(
    ("reply", "raised"),
    [
        (["510 Invalid or unknown command"], AgiCommandError),
        (USAGE, AgiCommandError),
        (["511 Command Not Permitted on a dead channel or intercept routine"], AgiHangup),
        (["HANGUP"], AgiHangup),
        (["HANGUP", "200 result=0"], AgiHangup),
    ],
    ids=["510", "520 usage", "511 dead channel", "HANGUP instead", "HANGUP before"],
)
async def test_error_replies_raise_their_own_exception(wire, reply, raised):
    with pytest.raises(raised):
        await _command_with_reply(wire, "WAIT FOR DIGIT", 5000, reply=reply)
    assert await wire.received() == "WAIT FOR DIGIT 5000\n"


async def test_usage_error_carries_the_usage_and_the_session_goes_on(wire):
    with pytest.raises(AgiCommandError, match="WAIT FOR DIGIT") as caught:
        await _command_with_reply(wire, "WAIT FOR DIGIT", reply=USAGE)
    assert caught.value.reply.code == 520
    assert "Usage" in caught.value.reply.text
    reply = await _command_with_reply(wire, "ANSWER", reply=["200 result=0"])
    assert reply == AgiReply(code=200, result="0", lines=("200 result=0",))


async def test_after_a_hangup_every_command_raises_without_writing(wire):
    with pytest.raises(AgiHangup):
        await _command_with_reply(wire, "STREAM FILE", "q1", "12", reply=["HANGUP"])
    assert await wire.received() == "STREAM FILE q1 12\n"
    assert wire.session.hung_up
    with pytest.raises(AgiHangup, match="before VERBOSE"):
        await wire.session.verbose("still there?")
    wire.far.setblocking(True)
    wire.far.settimeout(0.1)
    with pytest.raises(TimeoutError):
        wire.far.recv(100)  # nothing more was sent


async def test_connection_closed_mid_command_is_a_hangup(wire):
    await wire.reply("520-Invalid command syntax.  Proper usage follows:")
    task = asyncio.create_task(wire.session.command("GET DATA"))
    await asyncio.sleep(0.01)
    wire.far.close()
    with pytest.raises(AgiHangup, match="closed"):
        await task


async def test_failed_media_command_is_a_hangup_but_a_missing_file_is_not(wire):
    reply = await _command_with_reply(
        wire, "STREAM FILE", "nosuch", "", reply=["200 result=-1 endpos=0"]
    )
    assert reply.result == "-1"
    assert not wire.session.hung_up
    with pytest.raises(AgiHangup) as caught:
        await _command_with_reply(
            wire,
            "RECORD FILE",
            "/r/a",
            "wav",
            "#",
            9000,
            reply=["200 result=-1 (hangup) endpos=800"],
        )
    assert caught.value.reply is not None and caught.value.reply.endpos == 800


async def test_typed_helpers_send_asterisks_argument_order(wire):
    session = wire.session
    calls = [
        (session.answer(), "200 result=0", "ANSWER"),
        (session.stream_file("en/q1", "12*#"), "200 result=50 endpos=400", 'STREAM FILE en/q1 "12*#"'),
        (session.get_data("en/q2", 5000, 4), "200 result=0042", "GET DATA en/q2 5000 4"),
        (session.get_data("en/q3"), "200 result= (timeout)", "GET DATA en/q3"),
        (session.wait_for_digit(3000), "200 result=0", "WAIT FOR DIGIT 3000"),
        (session.record_file("/rec/a1", "wav", "#", 60000, silence_s=3),
         "200 result=35 (dtmf) endpos=16000", 'RECORD FILE /rec/a1 wav "#" 60000 0 BEEP s=3'),
        (session.record_file("/rec/a2", "wav", "#", 3000, beep=False),
         "200 result=0 (timeout) endpos=24000", 'RECORD FILE /rec/a2 wav "#" 3000 0'),
        (session.set_variable("SURVEY_LANG", "fr"), "200 result=1", "SET VARIABLE SURVEY_LANG fr"),
        (session.get_variable("RESPONDENT"), "200 result=1 (r 42)", "GET VARIABLE RESPONDENT"),
        (session.get_variable("NOPE"), "200 result=0", "GET VARIABLE NOPE"),
        (session.verbose("call for survey 3", 2), "200 result=1", 'VERBOSE "call for survey 3" 2'),
        (session.hangup(), "200 result=1", "HANGUP"),
    ]  # fmt: skip
    results = []
    for coroutine, reply, sent in calls:
        await wire.reply(reply)
        results.append(await coroutine)
        assert await wire.received() == sent + "\n"
    assert results[1].digit == "2"
    assert (results[2].digits, results[2].timed_out) == ("0042", False)
    assert (results[3].digits, results[3].timed_out) == ("", True)
    assert results[4] is None
    assert (results[5].digit, results[5].endpos) == ("#", 16000)
    assert (results[6].digit, results[6].endpos) == (None, 24000)
    assert results[8] == "r 42"
    assert results[9] is None


async def test_cancelled_command_propagates_and_retires_the_session(wire):
    task = asyncio.create_task(wire.session.wait_for_digit(-1))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(AgiProtocolError, match="cancelled"):
        await wire.session.answer()


async def test_reply_timeout_bounds_a_silent_peer():
    near, far = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=near)
    request = await read_request(_reader(environment_block(agi_environment())))
    session = AgiSession(reader, writer, request, AgiLimits(reply_timeout=0.05))
    with pytest.raises(AgiProtocolError, match=r"within 0\.05 s"):
        await session.answer()
    writer.close()
    far.close()


def test_public_surface_is_deliberate():
    assert sorted(ivr.agi.__all__) == [
        "AgiCommandError", "AgiDigits", "AgiError", "AgiHangup", "AgiLimits",
        "AgiProtocolError", "AgiRecording", "AgiReply", "AgiRequest", "AgiSession",
        "format_command", "parse_reply", "quote_argument", "read_request",
    ]  # fmt: skip


# --- the server with the fake Asterisk ---------------------------------------------


async def _stream_and_collect(session: AgiSession) -> None:
    await session.answer()
    played = await session.stream_file("en/welcome", "12")
    digit = played.digit or await session.wait_for_digit(5000)
    await session.set_variable("SURVEY_KEY", digit or "none")


async def test_server_plays_a_file_and_collects_a_digit():
    peer = AgiPeer(
        [
            ("ANSWER", "200 result=0"),
            ("STREAM FILE", "200 result=0 endpos=8000"),
            ("WAIT FOR DIGIT", "200 result=49"),
            ("SET VARIABLE", "200 result=1"),
        ]
    )
    async with AgiServer({"survey": _stream_and_collect}, port=0) as server:
        result = await peer.call(server.port)
    assert result.commands == [
        "ANSWER",
        "STREAM FILE en/welcome 12",
        "WAIT FOR DIGIT 5000",
        "SET VARIABLE SURVEY_KEY 1",
    ]
    assert result.unexpected == []
    assert result.closed_by_server


async def test_caller_hanging_up_mid_call_ends_it_quietly(caplog):
    caplog.set_level(logging.INFO, logger="ivr.server")
    caplog.handler.addFilter(MaskingFilter())
    peer = AgiPeer([("ANSWER", "200 result=0"), HANGUP])
    async with AgiServer({"survey": _stream_and_collect}, port=0) as server:
        result = await peer.call(server.port)
    assert result.commands == ["ANSWER", "STREAM FILE en/welcome 12"]
    assert result.closed_by_server
    [line] = [r.getMessage() for r in caplog.records if "AGI call" in r.getMessage()]
    assert "outcome=hung up" in line
    assert "script=survey" in line
    assert "254712345678" not in line and "caller=25471" in line  # masked, still tellable


async def test_unknown_script_is_told_and_hung_up(caplog):
    peer = AgiPeer(
        [("VERBOSE", "200 result=1"), ("HANGUP", "200 result=1")],
        agi_environment("quiz"),
    )
    async with AgiServer({"survey": _stream_and_collect}, port=0) as server:
        result = await peer.call(server.port)
    assert result.commands == [
        "VERBOSE \"service-tracker: no AGI script named 'quiz'\" 1",
        "HANGUP",
    ]
    assert result.closed_by_server
    assert "unknown script 'quiz'" in caplog.text


async def test_bad_environment_closes_the_connection(caplog):
    peer = AgiPeer(raw_block=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    async with AgiServer({"survey": _stream_and_collect}, port=0) as server:
        result = await peer.call(server.port)
    assert result.commands == []
    assert result.closed_by_server
    assert "protocol error: expected 'agi_name: value'" in caplog.text


async def test_a_handler_bug_ends_its_call_not_the_server(caplog):
    caplog.set_level(logging.INFO, logger="ivr.server")

    async def broken(session: AgiSession) -> None:
        await session.answer()
        raise RuntimeError("bug")

    async with AgiServer({"survey": broken}, port=0) as server:
        first = await AgiPeer([("ANSWER", "200 result=0")]).call(server.port)
        second = await AgiPeer([("ANSWER", "200 result=0")]).call(server.port)
    assert first.closed_by_server and second.commands == ["ANSWER"]
    assert "outcome=handler failed" in caplog.text


def _own_address() -> str | None:
    """An address of this machine that is not loopback, to connect from."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


async def test_peer_outside_the_allow_list_is_refused_before_a_line_is_read(caplog):
    address = _own_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    peer = AgiPeer([("ANSWER", "200 result=0")])
    async with AgiServer({"survey": _stream_and_collect}, host="0.0.0.0", port=0) as server:
        refused = await peer.call(server.port, host=address)
    assert refused.commands == [] and refused.closed_by_server
    assert f"AGI connection from {address} refused" in caplog.text
    assert "AGI call" not in caplog.text  # nothing was read: no request to log

    peer = AgiPeer([("ANSWER", "200 result=0"), CLOSE])
    async with AgiServer(
        {"survey": _stream_and_collect}, host="0.0.0.0", port=0, allow=[f"{address}/32"]
    ) as server:
        allowed = await peer.call(server.port, host=address)
    assert allowed.commands == ["ANSWER"]


def test_allow_list_always_admits_loopback_and_rejects_the_rest():
    server = AgiServer({}, allow=["10.1.0.0/16", "192.0.2.7"])
    assert server.allows("127.0.0.1") and server.allows("::1")
    assert server.allows("10.1.200.3") and server.allows("::ffff:10.1.0.9")
    assert server.allows("192.0.2.7")
    assert not server.allows("192.0.2.8")
    assert not server.allows("10.2.0.1")
    assert not server.allows(None)
    with pytest.raises(ValueError, match="allow-list"):
        AgiServer({}, allow=["asterisk.example"])


async def test_calls_beyond_the_bound_are_refused_at_once():
    release = asyncio.Event()
    answered = asyncio.Event()

    async def slow(session: AgiSession) -> None:
        await session.answer()
        answered.set()
        await release.wait()

    async with AgiServer({"survey": slow}, port=0, max_calls=1) as server:
        first = asyncio.create_task(AgiPeer([("ANSWER", "200 result=0")]).call(server.port))
        await asyncio.wait_for(answered.wait(), 5)
        second = await AgiPeer([("ANSWER", "200 result=0")]).call(server.port)
        release.set()
        first_result = await first
    assert second.commands == [] and second.closed_by_server
    assert first_result.commands == ["ANSWER"]


async def test_many_concurrent_calls_are_all_served():
    async def handler(session: AgiSession) -> None:
        await session.answer()
        digits = await session.get_data("en/q1", 5000, 4)
        await session.verbose(f"got {digits.digits} for {session.request.args[0]}")

    async with AgiServer({"survey": handler}, port=0, max_calls=250) as server:
        peers = [
            AgiPeer(
                [
                    ("ANSWER", "200 result=0"),
                    ("GET DATA", f"200 result={n}"),
                    ("VERBOSE", "200 result=1"),
                ],
                agi_environment(args=[f"call-{n}"]),
            )
            for n in range(200)
        ]
        results = await asyncio.gather(*(peer.call(server.port, within=30) for peer in peers))
    for n, result in enumerate(results):
        assert result.unexpected == []
        assert result.commands[-1] == f'VERBOSE "got {n} for call-{n}" 1'


async def test_closing_the_server_cancels_calls_in_progress():
    seen: list[str] = []
    started = asyncio.Event()

    async def waits(session: AgiSession) -> None:
        try:
            started.set()
            await session.wait_for_digit(-1)  # the fake Asterisk never answers
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    peer = AgiPeer([("WAIT FOR DIGIT", None)])
    server = AgiServer({"survey": waits}, port=0)
    await server.start()
    call = asyncio.create_task(peer.call(server.port))
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.sleep(0.01)
    await server.close()
    result = await call
    assert seen == ["cancelled"]
    assert result.closed_by_server
    assert server.active_calls == 0
