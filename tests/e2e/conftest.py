"""The `asterisk` fixture: one real Asterisk 22 for the whole session (see asterisk.py).

It fails, never skips, when Asterisk cannot be built or started: the message carries the
command to run by hand.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.asterisk import AsteriskSandbox, SandboxUnavailable, start_sandbox, stop_sandbox


@pytest.fixture(scope="session")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskSandbox]:
    """The session's Asterisk (AMI credentials, AGI port, root, shared folder, log)."""
    run_dir = tmp_path_factory.mktemp("asterisk-run")
    share = tmp_path_factory.mktemp("asterisk-share")
    try:
        sandbox = start_sandbox(run_dir, share)
    except SandboxUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield sandbox
    finally:
        stop_sandbox(run_dir)
