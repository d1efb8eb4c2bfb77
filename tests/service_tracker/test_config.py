"""Settings from the environment: where voice answers are recorded."""

from __future__ import annotations

import pytest

from service_tracker.config import ConfigError, Settings


def test_recordings_go_to_var_recordings_unless_recordings_dir_says_otherwise() -> None:
    assert Settings.from_env({}).recordings_dir == "var/recordings"
    assert Settings.from_env({"RECORDINGS_DIR": "/srv/answers"}).recordings_dir == "/srv/answers"


def test_a_recordings_dir_that_cannot_be_a_path_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"RECORDINGS_DIR=.*expected a folder path"):
        Settings.from_env({"RECORDINGS_DIR": "var/\x00recordings"})
