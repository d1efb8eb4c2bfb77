"""The interview layer speaks to the outside world through the engine's ports only."""

from __future__ import annotations

import ast
import pathlib

import interviews

ALLOWED = {"survey_engine", "interviews", "orjson", "__future__"}


def test_interviews_import_only_the_engine_and_the_standard_library() -> None:
    root = pathlib.Path(__file__).resolve().parents[2] / "interviews"
    assert (root / "runner.py").exists()
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in ALLOWED and top not in _stdlib():
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)


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
