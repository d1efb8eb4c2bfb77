"""The interview layer speaks to the outside world through the engine's ports only."""

from __future__ import annotations

import sys

import interviews
from tests.imports import absolute_imports

ALLOWED = {"survey_engine", "interviews", "orjson", "__future__", *sys.stdlib_module_names}


def test_interviews_import_only_the_engine_and_the_standard_library() -> None:
    offenders = [
        f"{path}: {name}"
        for path, name in absolute_imports("interviews")
        if name.split(".")[0] not in ALLOWED
    ]
    assert offenders == []


def test_public_surface() -> None:
    assert sorted(interviews.__all__) == [
        "Closed",
        "InterviewSettings",
        "Interviews",
        "Live",
        "Notice",
        "Outcome",
        "Render",
        "Step",
        "session_key",
    ]
