"""The FastAGI server: Asterisk connects, we read the request and hand an AgiSession to
the handler registered for the script name (``agi://HOST:4573/survey`` -> ``survey``).

What it guarantees, whatever the handler does:
- A connection from an address outside the allow-list is closed before a line is read
  (FastAGI carries no authentication); loopback is always allowed.
- At most `max_calls` calls are served at once; a connection beyond that is closed at
  once, so Asterisk's AGI() fails and the dialplan goes on (AGISTATUS=FAILURE) instead
  of leaving a caller in silence behind a queue.
- The environment block is read within AgiLimits (time, lines, line length).
- An unknown script gets a VERBOSE line (visible in Asterisk's console) and HANGUP.
- The connection is closed after every call, and one log line says how it ended, with
  the caller ID masked.
- Cancellation (`close()`, shutdown) reaches the handler and is not swallowed.

Plain asyncio streams rather than panoramisk: see the docstring of `ivr.agi`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType

from ivr.agi import (
    AgiCommandError,
    AgiError,
    AgiHangup,
    AgiLimits,
    AgiProtocolError,
    AgiRequest,
    AgiSession,
    read_request,
)
from survey_engine.phones import mask_phones_in

__all__ = ["AgiHandler", "AgiServer"]

log = logging.getLogger(__name__)

AgiHandler = Callable[[AgiSession], Awaitable[None]]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AgiServer:
    """A FastAGI listener. Use ``async with AgiServer(...) as server`` or
    ``await start()`` / ``await close()``; `port` is the bound port (useful with 0).

    handlers: script name -> coroutine taking the call's AgiSession.
    allow: addresses or networks (``10.0.0.5``, ``10.0.0.0/24``) allowed to connect,
        besides loopback; empty means loopback only.
    """

    def __init__(
        self,
        handlers: Mapping[str, AgiHandler],
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        allow: Iterable[str] = (),
        max_calls: int = 200,
        limits: AgiLimits | None = None,
        reuse_port: bool = False,
    ) -> None:
        if max_calls < 1:
            raise ValueError(f"max_calls must be at least 1, got {max_calls}")
        self._handlers = dict(handlers)
        self._host = host
        self._port = port
        self._allow = tuple(_network(entry) for entry in allow)
        self._max_calls = max_calls
        self._limits = limits or AgiLimits()
        self._reuse_port = reuse_port
        self._server: asyncio.Server | None = None
        self._calls: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the AGI server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def listening(self) -> bool:
        """Whether the listener accepts connections (for /healthz)."""
        return self._server is not None and self._server.is_serving()

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connected,
            self._host,
            self._port,
            # Bounds every readuntil() below: a longer line is an error, not a buffer.
            limit=self._limits.line_bytes + 2,
            reuse_port=self._reuse_port or None,
        )

    async def close(self) -> None:
        """Stop listening, cancel the calls in progress and wait for them to end."""
        if self._server is not None:
            self._server.close()
        calls = list(self._calls)
        for task in calls:
            task.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> AgiServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def allows(self, host: str | None) -> bool:
        """Whether a connection from `host` may speak to us."""
        if host is None:
            return False
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_loopback or any(address in network for network in self._allow)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) and peer else None
        if not self.allows(host):
            log.warning("AGI connection from %s refused: not in the allow-list", host)
            await _close(writer)
            return
        if len(self._calls) >= self._max_calls:
            log.warning("AGI connection from %s refused: %d calls already", host, self._max_calls)
            await _close(writer)
            return
        # Each call runs in a task of its own, which close() cancels; the task asyncio
        # runs per connection only waits for it, so a cancelled call ends as cancelled
        # without asyncio reporting it as an error of the connection callback.
        call = asyncio.create_task(self._serve(reader, writer))
        self._calls.add(call)
        call.add_done_callback(self._calls.discard)
        try:
            await asyncio.wait({call})
        except asyncio.CancelledError:
            call.cancel()
            raise

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        request: AgiRequest | None = None
        session: AgiSession | None = None
        outcome = "failed"
        try:
            request = await read_request(reader, self._limits)
            session = AgiSession(reader, writer, request, self._limits)
            handler = self._handlers.get(request.script)
            if handler is None:
                outcome = "unknown script"
                await _refuse_script(session)
            else:
                await handler(session)
                outcome = "completed"
        except AgiHangup:
            outcome = "hung up"
        except AgiProtocolError as error:
            outcome = f"protocol error: {error}"
        except AgiCommandError as error:
            outcome = f"command refused: {error}"
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception:
            # The edge of one call: a handler's bug ends that call, not the server.
            log.exception("AGI handler for %r failed", request.script if request else None)
            outcome = "handler failed"
        finally:
            await _close(writer)
            _log_call(request, session, outcome, loop.time() - started)


async def _refuse_script(session: AgiSession) -> None:
    script = session.request.script
    log.warning("AGI request for unknown script %r", script)
    with contextlib.suppress(AgiError):
        await session.verbose(f"service-tracker: no AGI script named {script!r}", 1)
        await session.hangup()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    # The peer may be gone already; closing is all we wanted.
    with contextlib.suppress(ConnectionError, TimeoutError):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()


def _log_call(
    request: AgiRequest | None, session: AgiSession | None, outcome: str, seconds: float
) -> None:
    if request is None:
        log.warning("AGI call without a valid request: %s (%.2f s)", outcome, seconds)
        return
    caller = mask_phones_in(request.caller_id or "-")
    log.info(
        "AGI call script=%s channel=%s caller=%s commands=%d outcome=%s (%.2f s)",
        request.script,
        request.channel or "-",
        caller,
        session.commands_sent if session else 0,
        outcome,
        seconds,
    )


def _network(entry: str) -> _Network:
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"expected an IP address or network such as 10.0.0.5 or 10.0.0.0/24 "
            f"in the AGI allow-list, got {entry!r}"
        ) from None
