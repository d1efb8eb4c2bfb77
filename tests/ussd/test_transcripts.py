"""Golden transcripts of whole USSD conversations on the sample survey.

Each case is a list of inputs; the transcript records every screen and the answers
stored at the end, in `tests/transcripts/graduate_tracer.ussd.<case>.yaml`. A change in
behaviour shows up as a text diff. Regenerate on purpose with
`pytest tests/ussd/test_transcripts.py --update-transcripts` and read the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.ussd.phones import ENGLISH_WORKING_PATH, Handset

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts"

CASES: dict[str, tuple[str, list[str]]] = {
    "english_working": ("+254711000001", ["1", *ENGLISH_WORKING_PATH, "More tools"]),
    "french_refuses": ("+221771000002", ["2", "2"]),
    "swahili_not_working_with_mistakes": (
        "+255741000003",
        ["4", "1", "9", "3", "1", "7", "2", "2", "5", "4", "ok", "3", "3", "3", "3", ""],
    ),
    "arabic_paging_and_back": (
        "+9613000004",
        ["3", "00", "0", "00", "1", "1", "#", "0", "1", "12", "0", "##"],
    ),
    "english_back_changes_skip_logic": (
        "+254711000005",
        # "0" is Back on a choice screen, "#" on a number screen (where 0 is an answer).
        ["1", "1", "1", "10", "0", "#", "3", "1", "2"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_transcript(case, sqlite_service, request):
    number, inputs = CASES[case]
    phone = Handset(sqlite_service, number)
    hops = [{"send": None, "screen": await phone.dial()}]
    for typed in inputs:
        hops.append({"send": typed, "screen": await phone.send(typed)})
    transcript = {
        "survey": "graduate_tracer",
        "channel": "ussd",
        "phone": number,
        "hops": hops,
        "stored": await sqlite_service.answers_of(number),
        "status": (await sqlite_service.status_of(number)).value,  # type: ignore[union-attr]
    }
    path = TRANSCRIPTS / f"graduate_tracer.ussd.{case}.yaml"
    text = yaml.safe_dump(transcript, allow_unicode=True, sort_keys=False, width=1000)
    if request.config.getoption("--update-transcripts"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no transcript yet: run pytest {__file__} --update-transcripts"
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == transcript
