"""A small fake Asterisk Manager Interface on a real TCP port, for protocol-level tests
of the dialer: it writes the banner, accepts one secret, answers `Ping`, and answers each
`Originate` the way Asterisk 22 does (`Response: Success` "Originate successfully
queued", then an `OriginateResponse` event with the action's ActionID), recording every
action it received, header by header, as the wire carried it.

    peer = AmiPeer(secret="s3cret", reason=5)          # every call is busy
    port = await peer.start()
    ...
    assert peer.originates[0]["Channel"] == ["Local/+254712345678@callee"]

`hold=True` keeps each Originate unanswered until `answer(action, ...)`; `hangup(uid)`
sends the `Hangup` event of a channel; `drop()` closes every connection, as a restarting
Asterisk does. It is a stand-in for protocol details only: tests/e2e runs the real one.
"""

from __future__ import annotations

import asyncio
import contextlib

Action = dict[str, list[str]]


class AmiPeer:
    def __init__(
        self,
        *,
        secret: str = "s3cret",
        response: str = "Success",
        reason: int = 4,
        hold: bool = False,
        refuse_originate: str | None = None,
    ) -> None:
        self.secret = secret
        self.response = response
        self.reason = reason
        self.hold = hold
        self.refuse_originate = refuse_originate
        self.actions: list[Action] = []
        self.held: list[Action] = []
        self.logins = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def originates(self) -> list[Action]:
        return [a for a in self.actions if a["Action"] == ["Originate"]]

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        await self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def drop(self) -> None:
        """Close every connection, as Asterisk stopping does."""
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def answer(self, action: Action, *, response: str = "Success", reason: int = 4) -> None:
        """The OriginateResponse of a held call."""
        self.held.remove(action)
        await self._send(_originate_response(action, response, reason))

    async def hangup(self, unique_id: str, cause: int = 16) -> None:
        await self._send(
            f"Event: Hangup\r\nPrivilege: call,all\r\nUniqueid: {unique_id}\r\n"
            f"Cause: {cause}\r\n\r\n"
        )

    async def _send(self, text: str) -> None:
        for writer in self._writers:
            writer.write(text.encode())
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                action: Action = {}
                for line in block.decode().split("\r\n"):
                    if ": " in line:
                        name, value = line.split(": ", 1)
                        action.setdefault(name, []).append(value)
                self.actions.append(action)
                writer.write(self._reply(action).encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()
            self._handlers.discard(task)

    def _reply(self, action: Action) -> str:
        name = action["Action"][0]
        action_id = action.get("ActionID", [""])[0]
        head = f"ActionID: {action_id}\r\n"
        if name == "Login":
            if action.get("Secret") != [self.secret]:
                return f"Response: Error\r\n{head}Message: Authentication failed\r\n\r\n"
            self.logins += 1
            return (
                f"Response: Success\r\n{head}Message: Authentication accepted\r\n\r\n"
                "Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
            )
        if name == "Ping":
            return f"Response: Success\r\n{head}Ping: Pong\r\n\r\n"
        if name == "Originate":
            if self.refuse_originate is not None:
                return f"Response: Error\r\n{head}Message: {self.refuse_originate}\r\n\r\n"
            queued = f"Response: Success\r\n{head}Message: Originate successfully queued\r\n\r\n"
            if self.hold:
                self.held.append(action)
                return queued
            return queued + _originate_response(action, self.response, self.reason)
        return f"Response: Error\r\n{head}Message: Invalid/unknown command\r\n\r\n"


def _originate_response(action: Action, response: str, reason: int) -> str:
    channel = action["Channel"][0]
    if response == "Success":
        channel += "-00000001;1"
    return (
        "Event: OriginateResponse\r\nPrivilege: call,all\r\n"
        f"ActionID: {action['ActionID'][0]}\r\nResponse: {response}\r\n"
        f"Channel: {channel}\r\nContext: {action['Context'][0]}\r\n"
        f"Exten: {action['Exten'][0]}\r\nReason: {reason}\r\n"
        f"Uniqueid: {action.get('ChannelId', ['<unknown>'])[0]}\r\n"
        f"CallerIDNum: {action.get('CallerID', ['<unknown>'])[0]}\r\n"
        "CallerIDName: <unknown>\r\n\r\n"
    )
