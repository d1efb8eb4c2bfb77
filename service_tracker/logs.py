"""Log setup for the command line and the server.

A USSD hop writes one log line. Written and flushed one by one, those lines cost a
`write` system call each, which measured about 7 % of a hop's CPU under load. The
server therefore buffers its lines and flushes them at least every `FLUSH_SECONDS`,
at once for a warning or worse, and at exit; commands log unbuffered.

Whoever writes a line, the handler's `MaskingFilter` makes it safe to keep: phone
numbers masked, `token=` values hidden, and control characters escaped, so a gateway
field holding a newline cannot forge a line of its own.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import threading
import time
from typing import TextIO

from survey_engine.phones import mask_phones_in

FLUSH_SECONDS = 0.5
_BUFFER_BYTES = 1 << 16

# C0 and C1 controls and the Unicode line separators: each could end or rewrite a line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_CONTROLS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A secret in a URL's query (the gateway token), wherever a line quotes one.
_TOKEN_PARAM = re.compile(r"(?i)(token=)[^&\s]+")


def scrub_log_text(text: str) -> str:
    """`text` fit for one log line: phone numbers masked, token values hidden,
    control characters escaped (`\\n`, `\\x1b`)."""
    text = mask_phones_in(text)
    # Cheap tests first: every hop writes a line, and most lines hold neither.
    if "token=" in text.lower():
        text = _TOKEN_PARAM.sub(r"\1***", text)
    return text if text.isprintable() else _CONTROL.sub(_escape_control, text)


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED_CONTROLS:
        return _NAMED_CONTROLS[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class MaskingFilter(logging.Filter):
    """Rewrites each record's final message with `scrub_log_text`. A traceback keeps
    its lines, with numbers and tokens masked. Installed on the service's handler, so
    no caller has to remember to mask."""

    def __init__(self) -> None:
        super().__init__()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # Arguments that do not fit the format: logged without them (they could
            # hold a number) rather than raised into the hop.
            message = f"{record.msg} [log arguments did not fit this format]"
        record.msg = scrub_log_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _TOKEN_PARAM.sub(r"\1***", mask_phones_in(record.exc_text))
        if record.stack_info:
            record.stack_info = _TOKEN_PARAM.sub(r"\1***", mask_phones_in(record.stack_info))
        return True


class _Formatter(logging.Formatter):
    """`2026-11-23 14:02:23,431 INFO name message`, formatting the time once a second:
    strftime per line was a visible share of a hop."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(record.created))
        return f"{self._stamp},{int(record.msecs):03d}"


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes records into a buffer that a daemon thread flushes every `interval`
    seconds; a record at `flush_level` or above is flushed at once."""

    def __init__(
        self,
        stream: TextIO,
        *,
        interval: float = FLUSH_SECONDS,
        flush_level: int = logging.WARNING,
    ) -> None:
        super().__init__(stream)
        self._flush_level = flush_level
        self._dirty = False
        self._stopped = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_every, args=(interval,), name="log-flush", daemon=True
        )
        self._flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            with self.lock:  # type: ignore[union-attr]
                self.stream.write(line)
                self._dirty = True
            if record.levelno >= self._flush_level:
                self.flush()
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._dirty:
                self._dirty = False
                self.stream.flush()

    def _flush_every(self, interval: float) -> None:
        while not self._stopped.wait(interval):
            try:
                self.flush()
            except Exception:  # a closed stream at exit: nothing left to log to
                continue

    def close(self) -> None:
        self._stopped.set()
        try:
            self.flush()
        finally:
            super().close()


def configure_logging(level: str, *, buffered: bool = False) -> None:
    """Log to standard error at `level`; `buffered` for a server's busy log."""
    # Our format uses none of these, and gathering them costs on every USSD hop's line
    # (the optimisations the logging HOWTO lists).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler: logging.Handler
    if buffered:
        # Standard error is line-buffered: give the handler its own buffered writer on
        # the same file descriptor.
        stream = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(sys.stderr.fileno(), "w", closefd=False), _BUFFER_BYTES),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=False,
        )
        handler = BufferedStreamHandler(stream)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    handler.addFilter(MaskingFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
