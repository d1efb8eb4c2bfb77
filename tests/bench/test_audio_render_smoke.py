"""The audio benchmark runs end to end on a small survey and reports its checks."""

from __future__ import annotations

from pathlib import Path

from bench.audio_render import main
from tests.conftest import markdown_to_xlsx

FORM = """
| survey |
| | type | name | label |
| | select_one yn | consent | Do you agree to answer a few questions? |
| choices |
| | list_name | name | label |
| | yn | yes | Yes |
| | yn | no | No |
| settings |
| | form_id | version | default_language |
| | tiny | 1 | en |
"""


def test_the_audio_benchmark_prints_rates_ratio_and_checks(tmp_path: Path, capsys):
    form = tmp_path / "tiny.xlsx"
    form.write_bytes(markdown_to_xlsx(FORM))
    status = main(["--survey", str(form)])
    out = capsys.readouterr().out
    assert "cold render" in out and "warm render" in out and "floor: espeak-ng + sox loop" in out
    assert "cold render / floor (prompts/s):" in out
    assert "PASS  warm render writes nothing: 0 files" in out
    assert status in (0, 1)  # the speed checks depend on the machine; the run must finish
