"""A local stand-in for Google Translate's text-to-speech endpoint, reached as an HTTPS proxy.

The unmodified gTTS library is pointed at it with `HTTPS_PROXY=<standin.url>`: requests sends
`CONNECT translate.google.com:443`, the stand-in answers `200 Connection established`, speaks
TLS with a throwaway certificate (gTTS does not verify), reads the HTTP/1.1
`POST /_/TranslateWebserverUi/data/batchexecute` with its `f.req=` body and answers as
batchexecute does. Nothing about gTTS is patched, so the tests exercise the real protocol.

    with GttsStandin() as standin:             # mode "ok"
        monkeypatch.setenv("HTTPS_PROXY", standin.url)
        ...
        standin.requests                       # [SeenRequest(text, lang, ...), ...]
        standin.mode = "error500"              # switch behaviour for later connections

Modes:
    ok              every chunk is answered with `standin.mp3` (a real, short MP3), or
                    with `audio_for(text, lang)` when that was given
    no_audio        200 with a batchexecute body that holds no jQ1olc line
    error500        the POST is answered `500 Internal Server Error`
    hang            the connection is accepted and never answered, not even the CONNECT
    hang_response   CONNECT and TLS succeed, the POST is read, no answer ever comes
    refuse          the connection is closed as soon as it is accepted
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import socket
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import trustme

Mode = Literal["ok", "no_audio", "error500", "hang", "hang_response", "refuse"]

RPC_ID = "jQ1olc"
BATCHEXECUTE_PATH = "/_/TranslateWebserverUi/data/batchexecute"
# Every translate.google.<tld> gTTS might be told to use; the client ignores the name anyway.
_HOSTNAMES = ("translate.google.com", "translate.google.co.uk", "translate.google.fr")
_IO_TIMEOUT = 10.0


@dataclass(frozen=True)
class SeenRequest:
    """One POST as the stand-in decoded it from gTTS's `f.req` body."""

    text: str
    lang: str
    speed: object  # None for normal speed, True for slow
    host: str  # the Host header
    connect_target: str  # what the CONNECT line asked for, e.g. "translate.google.com:443"


@functools.cache
def sample_mp3() -> bytes:
    """0.6 s of a 300 Hz tone as MP3, made once per test session."""
    return subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error",
            "-f", "lavfi", "-i", "sine=frequency=300:duration=0.6",
            "-f", "mp3", "pipe:1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout  # fmt: skip


def batchexecute_body(audio: bytes) -> bytes:
    """The body Google sends back: an XSSI guard, then length-prefixed JSON envelopes."""
    payload = json.dumps([base64.b64encode(audio).decode("ascii")], separators=(",", ":"))
    envelope = json.dumps(
        [["wrb.fr", RPC_ID, payload, None, None, None, "generic"]], separators=(",", ":")
    )
    trailer = '[["di",57],["af.httprm",56,"-6224150938418813765",7]]'
    parts = [")]}'", ""]
    for chunk in (envelope, trailer, f'[["e",4,null,null,{len(envelope) + 64}]]'):
        parts += [str(len(chunk) + 1), chunk]
    return ("\n".join(parts) + "\n").encode("utf-8")


def decode_freq(body: bytes) -> tuple[str, str, object]:
    """(text, lang, speed) out of a `f.req=<urlquoted JSON>&` body; ValueError if malformed."""
    fields = urllib.parse.parse_qs(body.decode("utf-8"))
    (freq,) = fields["f.req"]
    ((rpc,),) = json.loads(freq)
    rpc_id, inner, _, kind = rpc
    if rpc_id != RPC_ID or kind != "generic":
        raise ValueError(f"unexpected rpc {rpc_id!r}/{kind!r}")
    text, lang, speed, _ = json.loads(inner)
    return text, lang, speed


class GttsStandin:
    """Threaded HTTPS-proxy stand-in; use as a context manager (start/stop)."""

    def __init__(
        self,
        mode: Mode = "ok",
        *,
        mp3: bytes | None = None,
        audio_for: Callable[[str, str], bytes] | None = None,
    ) -> None:
        self.mode: Mode = mode
        self.mp3 = mp3 if mp3 is not None else sample_mp3()
        self.audio_for = audio_for
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        trustme.CA().issue_cert(*_HOSTNAMES).configure_cert(self._tls)

    @property
    def url(self) -> str:
        assert self._listener is not None, "stand-in not started"
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> GttsStandin:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            _close_quietly(conn)
        for thread in self._threads:
            thread.join(timeout=2)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> GttsStandin:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._serve_connection(conn)
        except (OSError, ValueError, EOFError):
            pass  # the client gave up or spoke nonsense; its test will say so
        finally:
            _close_quietly(conn)

    def _serve_connection(self, conn: socket.socket) -> None:
        mode = self.mode
        if mode == "refuse":
            return
        if mode == "hang":
            self._stop.wait()
            return
        conn.settimeout(_IO_TIMEOUT)
        plain = conn.makefile("rb")
        request_line, _ = _read_head(plain)
        method, target, _ = request_line.split(" ", 2)
        if method != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        # wrap_socket detaches `conn`, so the TLS socket is what must be closed from now on
        tls = self._tls.wrap_socket(conn, server_side=True)
        with self._lock:
            self._conns.append(tls)
        try:
            self._serve_tls(tls, target, mode)
        finally:
            _close_quietly(tls)

    def _serve_tls(self, tls: ssl.SSLSocket, target: str, mode: Mode) -> None:
        stream = tls.makefile("rb")
        while True:  # gTTS opens a connection per chunk, but keep-alive costs nothing
            try:
                request_line, headers = _read_head(stream)
            except EOFError:
                return
            body = stream.read(int(headers.get("content-length", "0")))
            method, path, _ = request_line.split(" ", 2)
            try:
                if method != "POST" or urllib.parse.urlsplit(path).path != BATCHEXECUTE_PATH:
                    raise ValueError(f"{method} {path}")
                text, lang, speed = decode_freq(body)
            except (ValueError, KeyError, TypeError) as error:
                _respond(tls, 400, "Bad Request", str(error).encode())
                continue
            with self._lock:
                self.requests.append(
                    SeenRequest(text, lang, speed, headers.get("host", ""), target)
                )
            if mode == "hang_response":
                self._stop.wait()
                return
            if mode == "error500":
                _respond(tls, 500, "Internal Server Error", b"<html>Error 500</html>")
                continue
            if mode == "no_audio":
                body = b""")]}'\n\n23\n[["di",57],["e",4]]\n"""
            else:
                audio = self.audio_for(text, lang) if self.audio_for else self.mp3
                body = batchexecute_body(audio)
            _respond(tls, 200, "OK", body, "application/json; charset=utf-8")


def _read_head(stream) -> tuple[str, dict[str, str]]:
    """The request line and lower-cased headers; EOFError if the peer closed first."""
    line = stream.readline(65536)
    if not line:
        raise EOFError
    request_line = line.decode("latin-1").rstrip("\r\n")
    headers: dict[str, str] = {}
    while True:
        line = stream.readline(65536).decode("latin-1").rstrip("\r\n")
        if not line:
            return request_line, headers
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()


def _respond(
    sock: socket.socket,
    status: int,
    reason: str,
    body: bytes,
    content_type: str = "text/html; charset=utf-8",
) -> None:
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    sock.sendall(head.encode("latin-1") + body)


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
