"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from service_tracker.cli import main


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, migrated SQLite database that `service-tracker` commands use (through
    DATABASE_URL, sessions in the process); the test's folder."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    return tmp_path
