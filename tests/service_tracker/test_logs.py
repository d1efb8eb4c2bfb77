"""The server's buffered log: lines are not lost, and warnings are not delayed."""

from __future__ import annotations

import io
import logging
import time

from service_tracker.logs import BufferedStreamHandler


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
