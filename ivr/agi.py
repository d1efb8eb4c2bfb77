"""FastAGI, the wire protocol between Asterisk and our IVR, over asyncio streams.

A call reaches us when the dialplan runs ``AGI(agi://HOST:4573/survey)``. Asterisk
opens a TCP connection and writes the request's environment, one ``agi_name: value``
line each, ended by a blank line::

    agi_network: yes
    agi_network_script: survey
    agi_request: agi://127.0.0.1:4573/survey
    agi_channel: PJSIP/trunk-00000001
    agi_callerid: 254712345678
    agi_extension: 5000
    agi_arg_1: en
    <blank line>

Then we write one command per line and Asterisk answers each, in order. The reply
forms seen on the wire (Asterisk 22, ``res/res_agi.c``), and what they become here:

    200 result=0                        success, nothing pressed   -> AgiReply
    200 result=49                       a key: '1' is ASCII 49     -> AgiReply.digit
    200 result=42 (timeout)             GET DATA: "42" typed, then the time ran out
    200 result= (timeout)               GET DATA: nothing typed
    200 result=1 (value)                GET VARIABLE: data is the value
    200 result=-1                       WAIT FOR DIGIT, GET DATA, ANSWER: the channel
                                        is gone                    -> AgiHangup
    200 result=0 endpos=8000            STREAM FILE played to the end (sample offset)
    200 result=-1 endpos=0              STREAM FILE: no such file (the call goes on)
    200 result=35 (dtmf) endpos=1234    RECORD FILE stopped by '#'
    200 result=0 (timeout) endpos=9600  RECORD FILE stopped by silence or max time
    200 result=-1 (hangup) endpos=800   RECORD FILE: the caller hung up -> AgiHangup
    510 Invalid or unknown command                                 -> AgiCommandError
    511 Command Not Permitted on a dead channel or intercept routine -> AgiHangup
    520-Invalid command syntax.  Proper usage follows:
    <usage text, any number of lines>
    520 End of proper usage.                                       -> AgiCommandError
    HANGUP                              sent once, unprompted, when the caller hangs
                                        up: before a reply or instead of one -> AgiHangup

A command line's arguments are split by Asterisk on spaces; a double-quoted argument
may hold spaces and a backslash escapes the next character (``parse_args`` in
res_agi.c). ``quote_argument`` writes arguments that way.

Exception tree::

    AgiError                     anything this module raises about the peer
    ├── AgiHangup                the caller is gone (HANGUP, 511, result=-1 from
    │                            ANSWER, GET DATA, WAIT FOR DIGIT or RECORD FILE, or
    │                            the connection closed); raised by
    │                            every later command too. `.reply` keeps the reply
    │                            that told us, if any (RECORD FILE's endpos).
    ├── AgiProtocolError         the peer did not speak FastAGI: a malformed or
    │                            oversized environment block or reply, or a read that
    │                            took longer than allowed; says what was expected
    └── AgiCommandError          Asterisk refused a command (510, 520, other codes);
                                 `.reply` holds the code and the usage text

``asyncio.CancelledError`` is never caught here: a cancelled command leaves the session
unusable (its reply is still on the way), and the cancellation goes on up.

Why not panoramisk: its FastAGI ``Application`` dispatches through a dict of routes,
reads lines without a length bound, turns a hang-up into a result dict rather than an
exception, and wraps handlers in ``except BaseException``, which swallows cancellation.
The protocol is small enough that plain asyncio streams meet every point directly.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "AgiCommandError",
    "AgiDigits",
    "AgiError",
    "AgiHangup",
    "AgiLimits",
    "AgiProtocolError",
    "AgiRecording",
    "AgiReply",
    "AgiRequest",
    "AgiSession",
    "format_command",
    "parse_reply",
    "quote_argument",
    "read_request",
]


class AgiError(Exception):
    """Base of every error this module raises about the peer or the call."""


class AgiHangup(AgiError):
    """The caller hung up (or the channel is otherwise gone). Not a failure: the IVR
    turns it into the engine's hang-up input and keeps the answers given so far."""

    def __init__(self, message: str = "the caller hung up", reply: AgiReply | None = None):
        super().__init__(message)
        self.reply = reply


class AgiProtocolError(AgiError):
    """The peer wrote something that is not FastAGI; the message says what was expected
    and what arrived (shortened)."""


class AgiCommandError(AgiError):
    """Asterisk answered a command with an error code (510 unknown command, 520 bad
    syntax with its usage text, ...): a bug on our side, not the caller's."""

    def __init__(self, command: str, reply: AgiReply):
        super().__init__(f"{command!r} refused: {reply.code} {reply.text}".rstrip())
        self.command = command
        self.reply = reply


@dataclass(frozen=True)
class AgiLimits:
    """Bounds on what a peer may send, so a bad one can neither flood nor hold us.

    line_bytes: longest line accepted (Asterisk's own command buffer is 2048 bytes;
        environment values such as a caller name are short).
    environment_lines: most lines in the environment block (Asterisk sends about 25
        plus one per AGI argument).
    environment_timeout: seconds allowed for the whole block to arrive.
    reply_lines: most lines in one reply (a 520 usage text is about 10).
    reply_timeout: seconds to wait for a reply, or None: a RECORD FILE or GET DATA
        legitimately takes as long as the caller does, so the default leaves it to the
        caller's own timeouts and to Asterisk's hang-up.
    """

    line_bytes: int = 4096
    environment_lines: int = 256
    environment_timeout: float = 5.0
    reply_lines: int = 64
    reply_timeout: float | None = None


@dataclass(frozen=True)
class AgiRequest:
    """One FastAGI request: what Asterisk told us about the call before any command.

    `script` is the path of the AGI URL without the leading slash or query
    (``agi://host:4573/survey?x=1`` -> ``survey``); `args` are ``agi_arg_1..N`` in
    order. Caller fields that Asterisk reports as ``unknown`` or empty are None.
    `environment` is the whole block as received (read-only).
    """

    script: str
    args: tuple[str, ...]
    channel: str
    language: str | None
    caller_id: str | None
    caller_id_name: str | None
    dnid: str | None
    extension: str | None
    context: str | None
    unique_id: str | None
    environment: Mapping[str, str] = field(compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class AgiReply:
    """One parsed reply.

    code: 200 for success, 5xx for errors.
    result: the text after ``result=`` as sent (``"49"``, ``"-1"``, ``"42"``, ``""``);
        a string because GET DATA's digits may start with 0.
    data: the text in parentheses after the result (``timeout``, ``dtmf``, a
        variable's value), or None.
    endpos: the sample offset where playback or recording stopped, or None.
    text: for an error code, its message plus any usage lines; empty for 200.
    lines: the raw lines, for logs and tests.
    """

    code: int
    result: str | None = None
    data: str | None = None
    endpos: int | None = None
    text: str = ""
    lines: tuple[str, ...] = ()

    @property
    def number(self) -> int | None:
        """`result` as an integer, or None when it is not one (GET DATA's ``"*1"``)."""
        if self.result is None:
            return None
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"

    @property
    def digit(self) -> str | None:
        """The key a STREAM FILE / WAIT FOR DIGIT / RECORD FILE result stands for
        (its ASCII code), or None when nothing was pressed."""
        number = self.number
        if number is None or number <= 0:
            return None
        return chr(number)


@dataclass(frozen=True)
class AgiDigits:
    """What GET DATA collected: the digits typed (``#`` not included) and whether the
    time ran out rather than the caller ending with ``#`` or reaching the maximum."""

    digits: str
    timed_out: bool


@dataclass(frozen=True)
class AgiRecording:
    """How RECORD FILE ended: `digit` is the escape key pressed (None when silence or
    the maximum length stopped it); `endpos` is the length in samples."""

    digit: str | None
    endpos: int | None


# `200 result=VALUE [(DATA)] [key=value ...]`; DATA may hold spaces (a variable's value).
_SUCCESS = re.compile(r"result=(?P<result>\S*)(?: \((?P<data>.*)\))?(?P<rest>(?: \S+)*)")
_CODE = re.compile(r"(?P<code>\d{3})(?P<sep>[ -]|$)(?P<text>.*)")
_COMMAND_NAME = re.compile(r"[A-Z][A-Z ]*[A-Z]")
# Arguments made only of these are sent bare; anything else is quoted (escape digits
# such as `#` included, as Asterisk's own examples write them).
_BARE_ARGUMENT = re.compile(r"[A-Za-z0-9_./:=+@,-]+")
# Commands whose `result=-1` can only mean the channel is gone. Not STREAM FILE: it
# answers `200 result=-1 endpos=0` for a file that does not exist too, and the call
# goes on (a real hang-up is followed by HANGUP, which the next command raises).
_HANGUP_ON_FAILURE = frozenset({"ANSWER", "GET DATA", "WAIT FOR DIGIT", "RECORD FILE"})


def parse_reply(lines: list[str] | tuple[str, ...]) -> AgiReply:
    """The reply made of `lines` (without line ends): one line, or a ``520-`` block
    ending with its ``520 `` line. Raises AgiProtocolError for anything else.
    ``HANGUP`` is not a reply; the session handles it before calling this."""
    if not lines:
        raise AgiProtocolError("expected a reply line such as '200 result=0', got nothing")
    first = lines[0]
    match = _CODE.fullmatch(first)
    if match is None:
        raise AgiProtocolError(f"expected a reply like '200 result=0', got {_shorten(first)!r}")
    code = int(match["code"])
    if match["sep"] == "-":
        last = lines[-1]
        if len(lines) < 2 or not last.startswith(f"{code} "):
            raise AgiProtocolError(f"expected the multi-line {code} reply to end with '{code} '")
        body = [line.removeprefix(f"{code}-") for line in lines[1:-1]]
        text = "\n".join([match["text"], *body, last[4:]])
        return AgiReply(code=code, text=text, lines=tuple(lines))
    if len(lines) != 1:
        raise AgiProtocolError(f"expected one line for a {code} reply, got {len(lines)}")
    if code != 200:
        return AgiReply(code=code, text=match["text"], lines=(first,))
    success = _SUCCESS.fullmatch(match["text"])
    if success is None:
        raise AgiProtocolError(f"expected '200 result=...', got {_shorten(first)!r}")
    endpos = None
    for item in success["rest"].split():
        key, _, value = item.partition("=")
        if key == "endpos":
            if not value.lstrip("-").isdigit():
                raise AgiProtocolError(f"expected a number after endpos=, got {_shorten(first)!r}")
            endpos = int(value)
    return AgiReply(
        code=200, result=success["result"], data=success["data"], endpos=endpos, lines=(first,)
    )


def quote_argument(value: str | int) -> str:
    """`value` written as one AGI argument: bare when it is a plain word or number,
    else in double quotes with ``"`` and ``\\`` escaped. A line break or NUL cannot be
    sent inside a command (it would end it), so it is a ValueError."""
    text = str(value)
    if any(ch in text for ch in "\r\n\0"):
        raise ValueError(f"an AGI argument cannot hold a line break or NUL: {text!r}")
    if _BARE_ARGUMENT.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_command(name: str, *args: str | int) -> str:
    """The command line (without its newline): ``STREAM FILE welcome "12#"``."""
    if not _COMMAND_NAME.fullmatch(name):
        raise ValueError(f"expected an AGI command name in capitals, e.g. 'STREAM FILE': {name!r}")
    return " ".join([name, *(quote_argument(arg) for arg in args)])


async def _read_line(reader: asyncio.StreamReader, limits: AgiLimits, what: str) -> str | None:
    """One line without its end, or None at a clean end of stream. A line longer than
    the limit, or not UTF-8, is a protocol error."""
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            return None
        raise AgiProtocolError(f"connection closed in the middle of {what}") from None
    except asyncio.LimitOverrunError:
        raise AgiProtocolError(
            f"expected {what} of at most {limits.line_bytes} bytes, got a longer line"
        ) from None
    if len(raw) > limits.line_bytes + 1:
        raise AgiProtocolError(
            f"expected {what} of at most {limits.line_bytes} bytes, got {len(raw)}"
        )
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise AgiProtocolError(f"expected {what} in UTF-8") from None


async def read_request(reader: asyncio.StreamReader, limits: AgiLimits | None = None) -> AgiRequest:
    """Read the environment block up to its blank line into an AgiRequest, within
    `limits` (lines, line length, and environment_timeout for the whole block)."""
    limits = limits or AgiLimits()
    try:
        async with asyncio.timeout(limits.environment_timeout):
            environment = await _read_environment(reader, limits)
    except TimeoutError:
        raise AgiProtocolError(
            f"expected the agi_* block and its blank line within {limits.environment_timeout:g} s"
        ) from None
    return _request_from(environment)


async def _read_environment(reader: asyncio.StreamReader, limits: AgiLimits) -> dict[str, str]:
    environment: dict[str, str] = {}
    for _ in range(limits.environment_lines):
        line = await _read_line(reader, limits, "an agi_* line")
        if line is None:
            raise AgiProtocolError("connection closed before the blank line ending the agi_* block")
        if line == "":
            if not environment:
                raise AgiProtocolError("expected agi_* lines before the blank line, got none")
            return environment
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")  # `agi_rdnis:` with an empty value
        if not sep or not key.startswith("agi_") or not key[4:].replace("_", "").isalnum():
            raise AgiProtocolError(f"expected 'agi_name: value', got {_shorten(line)!r}")
        environment[key] = value
    raise AgiProtocolError(
        f"expected the agi_* block to end with a blank line within {limits.environment_lines} lines"
    )


def _request_from(environment: dict[str, str]) -> AgiRequest:
    request = environment.get("agi_request")
    if not request:
        raise AgiProtocolError("expected an agi_request line in the agi_* block")
    script = environment.get("agi_network_script") or _script_of(request)
    script = script.split("?", 1)[0].strip("/")
    numbered = {}
    for key, value in environment.items():
        if key.startswith("agi_arg_"):
            index = key.removeprefix("agi_arg_")
            if not index.isdigit():
                raise AgiProtocolError(f"expected agi_arg_<number>, got {key!r}")
            numbered[int(index)] = value
    return AgiRequest(
        script=script,
        args=tuple(numbered[index] for index in sorted(numbered)),
        channel=environment.get("agi_channel", ""),
        language=_known(environment.get("agi_language")),
        caller_id=_known(environment.get("agi_callerid")),
        caller_id_name=_known(environment.get("agi_calleridname")),
        dnid=_known(environment.get("agi_dnid")),
        extension=_known(environment.get("agi_extension")),
        context=_known(environment.get("agi_context")),
        unique_id=_known(environment.get("agi_uniqueid")),
        environment=MappingProxyType(dict(environment)),
    )


def _script_of(request: str) -> str:
    # agi://host:port/path -> path
    if "://" in request:
        request = request.split("://", 1)[1]
        return request.partition("/")[2]
    return request


def _known(value: str | None) -> str | None:
    return None if value is None or value in ("", "unknown") else value


def _shorten(text: str, size: int = 80) -> str:
    return text if len(text) <= size else text[:size] + "…"


class AgiSession:
    """The command side of one call: send a command, get its parsed reply.

    Commands run one at a time (a lock keeps concurrent callers in order). Once the
    caller has hung up, every command raises AgiHangup without writing anything. If a
    command is cancelled while waiting, its reply would be read as the next command's,
    so the session refuses further commands (AgiProtocolError).
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: AgiRequest,
        limits: AgiLimits | None = None,
    ) -> None:
        self.request = request
        self._reader = reader
        self._writer = writer
        self._limits = limits or AgiLimits()
        self._lock = asyncio.Lock()
        self._hung_up: AgiHangup | None = None
        self._broken = False
        self.commands_sent = 0

    @property
    def hung_up(self) -> bool:
        return self._hung_up is not None

    async def command(self, name: str, *args: str | int) -> AgiReply:
        """Send one command and return its 200 reply. Raises AgiHangup when the caller
        is gone, AgiCommandError for an error code, AgiProtocolError for a garbled one."""
        line = format_command(name, *args)
        async with self._lock:
            if self._hung_up is not None:
                raise AgiHangup(f"the caller hung up before {name}", self._hung_up.reply)
            if self._broken:
                raise AgiProtocolError(f"{name} after a cancelled command: the session is unusable")
            try:
                self.commands_sent += 1
                self._writer.write(line.encode("utf-8") + b"\n")
                await self._writer.drain()
                if self._limits.reply_timeout is None:
                    reply = await self._read_reply(name)
                else:
                    async with asyncio.timeout(self._limits.reply_timeout):
                        reply = await self._read_reply(name)
            except AgiHangup as hangup:
                self._hung_up = hangup
                raise
            except (ConnectionError, BrokenPipeError):
                self._hung_up = AgiHangup(f"the connection closed during {name}")
                raise self._hung_up from None
            except TimeoutError:
                self._broken = True
                raise AgiProtocolError(
                    f"expected a reply to {name} within {self._limits.reply_timeout:g} s"
                ) from None
            except (asyncio.CancelledError, AgiProtocolError):
                # Its reply may still come and would be read as the next command's.
                self._broken = True
                raise
        if reply.code == 511:
            self._hung_up = AgiHangup(f"{name}: {reply.text}", reply)
            raise self._hung_up
        if reply.code != 200:
            raise AgiCommandError(line, reply)
        if name in _HANGUP_ON_FAILURE and reply.result == "-1":
            self._hung_up = AgiHangup(f"{name} failed: the channel is gone", reply)
            raise self._hung_up
        return reply

    async def _read_reply(self, name: str) -> AgiReply:
        what = f"the reply to {name}"
        first = await _read_line(self._reader, self._limits, what)
        if first is None:
            raise AgiHangup(f"the connection closed while waiting for {what}")
        if first == "HANGUP":
            raise AgiHangup(f"HANGUP while waiting for {what}")
        lines = [first]
        if re.match(r"\d{3}-", first):
            end = first[:3] + " "
            while not lines[-1].startswith(end):
                if len(lines) >= self._limits.reply_lines:
                    raise AgiProtocolError(
                        f"expected {what} to end within {self._limits.reply_lines} lines"
                    )
                line = await _read_line(self._reader, self._limits, what)
                if line is None:
                    raise AgiHangup(f"the connection closed in the middle of {what}")
                lines.append(line)
        return parse_reply(lines)

    # Typed helpers: what the IVR needs, with the arguments in Asterisk's order.

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def hangup(self) -> None:
        """Ask Asterisk to hang up this channel (``200 result=1``). Asterisk then sends
        ``HANGUP``, which the next command would raise; the server closes the
        connection after the handler returns."""
        await self.command("HANGUP")

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", message, level)

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        """The channel variable's value, or None when it is not set."""
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def stream_file(self, name: str, escape_digits: str = "") -> AgiReply:
        """Play `name` (path without extension); a key among `escape_digits` stops it
        at once and is `reply.digit` (barge-in). A file Asterisk cannot open returns
        ``result=-1 endpos=0`` (it logs "does not exist") and the call goes on; if the
        channel is gone instead, the next command raises AgiHangup."""
        return await self.command("STREAM FILE", name, escape_digits)

    async def get_data(
        self, file: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> AgiDigits:
        """Play `file` and collect digits until ``#``, `max_digits` or the timeout."""
        args: list[str | int] = [file]
        if timeout_ms is not None:
            args.append(timeout_ms)
        if max_digits is not None:
            if timeout_ms is None:
                args.append(0)  # positional: 0 keeps Asterisk's default timeout
            args.append(max_digits)
        reply = await self.command("GET DATA", *args)
        return AgiDigits(digits=reply.result or "", timed_out=reply.timed_out)

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """The key pressed within `timeout_ms` (-1 waits for ever), or None."""
        reply = await self.command("WAIT FOR DIGIT", timeout_ms)
        return reply.digit

    async def record_file(
        self,
        path: str,
        format: str,
        escape_digits: str,
        timeout_ms: int,
        *,
        beep: bool = True,
        silence_s: int | None = None,
    ) -> AgiRecording:
        """Record into `path`.`format` until a key in `escape_digits`, `timeout_ms`, or
        `silence_s` seconds of silence. The sample offset 0 is always sent because
        Asterisk reads BEEP and ``s=`` only after it."""
        args: list[str | int] = [path, format, escape_digits, timeout_ms, 0]
        if beep:
            args.append("BEEP")
        if silence_s is not None:
            args.append(f"s={silence_s}")
        reply = await self.command("RECORD FILE", *args)
        if reply.data in ("randomerror", "writefile", "waitfor"):
            raise AgiCommandError(format_command("RECORD FILE", *args), reply)
        digit = reply.digit if reply.data == "dtmf" else None
        return AgiRecording(digit=digit, endpos=reply.endpos)
