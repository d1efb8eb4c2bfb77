"""A real Asterisk 22 for end-to-end tests, through `scripts/asterisk-sandbox`.

`start_sandbox` builds the cached Debian-sid root when it is missing (once, 20 to 40 s
plus downloads), starts Asterisk in an overlay of it and returns an `AsteriskSandbox`;
`stop_sandbox` stops it and unmounts everything. When Asterisk cannot be had,
`SandboxUnavailable` says which command to run by hand to see why.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SCRIPT", "AsteriskSandbox", "SandboxUnavailable", "start_sandbox", "stop_sandbox"]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "asterisk-sandbox"
# The first build downloads about 100 MB; a generous bound still ends a hung mirror.
BUILD_TIMEOUT = 900
START_TIMEOUT = 60


class SandboxUnavailable(RuntimeError):
    """Asterisk could not be built or started; the message names the command to run."""


@dataclass(frozen=True)
class AsteriskSandbox:
    """A running Asterisk: AMI on `ami_host:ami_port`, its `[survey]` context calling
    FastAGI on `agi_host:agi_port`, and `share` mounted at the same path inside `root`
    (prompts to play and recordings to write go there)."""

    ami_host: str
    ami_port: int
    ami_user: str
    ami_secret: str
    agi_host: str
    agi_port: int
    root: Path
    share: Path
    run_dir: Path

    @property
    def log_path(self) -> Path:
        return self.root / "var" / "log" / "asterisk" / "messages"

    def log_size(self) -> int:
        """The log's current length: pass it to `log(since=...)` to read only what follows."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log(self, since: int = 0) -> str:
        """Asterisk's log (notices, warnings, errors, verbose lines, DTMF) from `since`."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", "replace")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(args: list[str], timeout: int, hint: str) -> str:
    try:
        done = subprocess.run(
            [str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SandboxUnavailable(f"{error}\nRun by hand to see why: {hint}") from error
    if done.returncode != 0:
        raise SandboxUnavailable(
            f"scripts/asterisk-sandbox {args[0]} failed (exit {done.returncode}):\n"
            f"{done.stderr.strip()}\nRun by hand to see why: {hint}"
        )
    return done.stdout


def start_sandbox(
    run_dir: Path,
    share: Path,
    *,
    agi_port: int | None = None,
    ami_port: int | None = None,
    ami_secret: str | None = None,
) -> AsteriskSandbox:
    """Build the root if needed and start Asterisk with its run files under `run_dir`,
    on free ports unless told. Starting again with the ports and `ami_secret` of a
    sandbox that was stopped restarts that Asterisk, as an AMI client sees it."""
    _run(["build"], BUILD_TIMEOUT, "sudo scripts/asterisk-sandbox build")
    agi_port = agi_port or free_port()
    ami_port = ami_port or free_port()
    start = [
        "start",
        *("--run-dir", str(run_dir)),
        *("--share", str(share)),
        *("--agi", f"127.0.0.1:{agi_port}"),
        *("--ami-port", str(ami_port)),
    ]
    if ami_secret is not None:
        start += ["--ami-secret", ami_secret]
    shown = ["SECRET" if arg == ami_secret else arg for arg in start]
    _run(start, START_TIMEOUT, "sudo scripts/asterisk-sandbox " + " ".join(shown))
    try:
        credentials = _run(["ami", "--run-dir", str(run_dir)], 30, "scripts/asterisk-sandbox ami")
        ami = dict(line.split("=", 1) for line in credentials.splitlines() if "=" in line)
        return AsteriskSandbox(
            ami_host=ami["host"],
            ami_port=int(ami["port"]),
            ami_user=ami["user"],
            ami_secret=ami["secret"],
            agi_host="127.0.0.1",
            agi_port=agi_port,
            root=run_dir / "root",
            share=share,
            run_dir=run_dir,
        )
    except BaseException:
        stop_sandbox(run_dir)
        raise


def stop_sandbox(run_dir: Path) -> None:
    """Stop Asterisk and unmount the root; harmless when it is not running."""
    _run(
        ["stop", "--run-dir", str(run_dir)],
        60,
        f"sudo scripts/asterisk-sandbox stop --run-dir {run_dir}",
    )
