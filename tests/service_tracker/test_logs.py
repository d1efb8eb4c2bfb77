"""The server's log: lines are not lost, warnings are not delayed, and no line shows a
full phone number or a token, or lets a gateway field forge a line of its own."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import pytest

from service_tracker.logs import (
    BufferedStreamHandler,
    MaskingFilter,
    configure_logging,
    scrub_log_text,
)


class Recorder(io.StringIO):
    """A stream that remembers what had been flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed = ""

    def flush(self) -> None:
        self.flushed = self.getvalue()


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"test.logs.{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def test_info_lines_are_flushed_within_the_interval_and_warnings_at_once():
    stream = Recorder()
    handler = BufferedStreamHandler(stream, interval=0.1)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = _logger(handler)
    try:
        logger.info("hop one")
        logger.info("hop two")
        assert stream.flushed == ""  # buffered, not one write per line
        logger.warning("rejected callback")
        assert stream.flushed == "INFO hop one\nINFO hop two\nWARNING rejected callback\n"
        logger.info("hop three")
        deadline = time.monotonic() + 2
        while "hop three" not in stream.flushed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stream.flushed.endswith("INFO hop three\n")
    finally:
        handler.close()


def test_closing_the_handler_flushes_what_is_left():
    stream = Recorder()
    handler = BufferedStreamHandler(stream, interval=60)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = _logger(handler)
    logger.info("last hop before shutdown")
    assert stream.flushed == ""
    handler.close()
    assert stream.flushed == "last hop before shutdown\n"


@pytest.mark.parametrize(
    ("message", "logged"),
    [
        pytest.param("hop phone=+254712345678 q=1", "hop phone=+2547•••••678 q=1", id="e164"),
        pytest.param("from 254712345678.", "from 25471••••678.", id="without-plus"),
        pytest.param("typed 0712345678", "typed 0712•••678", id="national"),
        pytest.param("call +254 712 345 678 now", "call +2547•••••678 now", id="grouped"),
        pytest.param("+2547•••••678", "+2547•••••678", id="already-masked"),
        pytest.param("range +254 810...", "range +254 810...", id="a-range-is-not-a-number"),
        pytest.param("session=ATUid_123456789012", "session=ATUid_123456789012", id="id-kept"),
        pytest.param("ms=41235 survey=12", "ms=41235 survey=12", id="short-numbers-kept"),
        pytest.param("session=a\nINFO forged", "session=a\\nINFO forged", id="newline"),
        pytest.param(
            "a\r\x1b[2Kb\x00\x85\u2028c\td", "a\\r\\x1b[2Kb\\x00\\x85\\u2028c\\td", id="ctl"
        ),
        pytest.param("POST /ussd/x?token=s3cret&a=1", "POST /ussd/x?token=***&a=1", id="token"),
        pytest.param("Muthoni Njeri, Nyeri", "Muthoni Njeri, Nyeri", id="text-kept"),
    ],
)
def test_a_log_line_is_masked_and_escaped(message: str, logged: str) -> None:
    assert scrub_log_text(message) == logged
    assert scrub_log_text(logged) == logged  # a second pass changes nothing


@pytest.fixture
def root_logging() -> Iterator[None]:
    """configure_logging replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def test_the_service_log_masks_numbers_and_escapes_gateway_fields(root_logging, capsys):
    configure_logging("INFO")
    log = logging.getLogger("service_tracker.ussd")
    forged = "ATUid_1\n2026-11-23 10:00:00,000 INFO service_tracker.ussd forged"
    log.info("hop session=%s phone=%s", forged, "+254712345678")
    try:
        raise ValueError("'+254712345678' is not a valid phone number")
    except ValueError:
        log.exception("hop failed phone=%s", "+254712345678")
    err = capsys.readouterr().err
    assert "712345678" not in err
    lines = err.splitlines()
    assert lines[0].endswith(
        "INFO service_tracker.ussd hop session=ATUid_1\\n2026-11-23 10:00:00,000 INFO "
        "service_tracker.ussd forged phone=+2547•••••678"
    )
    assert lines[1].endswith("ERROR service_tracker.ussd hop failed phone=+2547•••••678")
    assert lines[-1] == "ValueError: '+2547•••••678' is not a valid phone number"


def test_a_log_call_whose_arguments_do_not_fit_is_kept_without_them() -> None:
    record = logging.LogRecord("x", logging.INFO, "", 0, "hop %s %s", ("+254712345678",), None)
    assert MaskingFilter().filter(record)
    assert record.getMessage() == "hop %s %s [log arguments did not fit this format]"
