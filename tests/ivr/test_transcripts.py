"""Golden transcripts of whole voice calls on the sample survey.

Each case is what a caller does (`tests/ivr/caller.py` actions); the transcript records
every AGI command the service sent, with each prompt file written as
`<language>:<catalogue key>` (files joined into one for playing as `a+b+c`) and each
take as `<take>`, the caller's actions, and the
answers stored at the end, in `tests/transcripts/<survey>.ivr.<case>.yaml`. A change in
what a caller hears shows up as a text diff. Regenerate on purpose with
`pytest tests/ivr/test_transcripts.py --update-transcripts` and read the diff.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.ivr.caller import HANG_UP, QUIET, SILENCE, SPEAK
from tests.ivr.test_channel import KINDS_NUMBER, TRACER_NUMBER, WAGE_EARNER, Line, line

__all__ = ["line"]  # the fixture, used by name

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts"

CASES: dict[str, tuple[str, str, list[str]]] = {
    "english_wage_spoken_suggestion": (
        "graduate_tracer",
        TRACER_NUMBER,
        [*WAGE_EARNER, SPEAK, "1"],
    ),
    "french_mistakes_repeat_and_silence": (
        "graduate_tracer",
        TRACER_NUMBER,
        ["2", "9", "*", "1", SILENCE, "3", "1", "!0", "2", "1", "2", HANG_UP],
    ),
    "kinds_keypad_and_a_silent_take": (
        "kinds",
        KINDS_NUMBER,
        ["1#", "1#", "2#", "#", "7*05#", "05062026#", QUIET, SPEAK, "2", SPEAK, "1", "11#"],
    ),
}

_AUDIO = re.compile(r"[^\s+]*/audio/(?P<lang>[a-z]+)/test/(?P<key>[^\s+]+)")
_TAKE = re.compile(r"\S*/rec/\S+")


def readable(command: str) -> str:
    command = _AUDIO.sub(lambda m: f"{m['lang']}:{m['key']}", command)
    return _TAKE.sub("<take>", command)


@pytest.mark.parametrize("case", sorted(CASES))
async def test_transcript(case: str, line: Line, request: pytest.FixtureRequest) -> None:
    form_id, number, actions = CASES[case]
    seen = await line.call(list(actions), extension=number)
    latest = await line.latest(form_id)
    stored = {
        question: "<recording>" if question in latest.recorded else value
        for question, value in sorted(latest.answers.items())
    }
    transcript = {
        "survey": form_id,
        "channel": "ivr",
        "caller": [action for action in actions],
        "commands": [readable(c) for c in seen.commands],
        "stored": stored,
        "status": latest.status.value,
    }
    path = TRANSCRIPTS / f"{form_id}.ivr.{case}.yaml"
    text = yaml.safe_dump(transcript, allow_unicode=True, sort_keys=False, width=1000)
    if request.config.getoption("--update-transcripts"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no transcript yet: run pytest {__file__} --update-transcripts"
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == transcript
