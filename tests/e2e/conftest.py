"""The `asterisk` fixture: one real Asterisk 22 for the whole session (see asterisk.py).

It fails, never skips, when Asterisk cannot be built or started: the message carries the
command to run by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from panoramisk import Manager

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


@pytest.fixture
async def ami(asterisk: AsteriskSandbox) -> AsyncIterator[Manager]:
    """An AMI client logged in to the session's Asterisk (panoramisk)."""
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=asterisk.ami_host,
        port=asterisk.ami_port,
        username=asterisk.ami_user,
        secret=asterisk.ami_secret,
        ping_delay=3600,  # a test's own Ping is the one under test
    )
    await manager.connect()
    login = manager.authenticated_future
    if login is not None:
        await asyncio.wait_for(login, 10)
    assert manager.authenticated, "AMI refused the sandbox's own credentials"
    yield manager
    manager.close()
