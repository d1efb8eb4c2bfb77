"""Audio benchmark: render every prompt of the sample survey with espeak-ng.

    .venv/bin/python -m bench.audio_render [--workers N] [--survey FILE.xlsx]

In one run, over the same texts (every catalogue entry of the survey in all its
languages, each distinct text once):

- cold: `render_survey(engine="espeak")` into an empty audio folder (espeak-ng, then
  decoding, resampling to 8 kHz, loudness normalisation, WAV, index);
- warm: the same render again, the survey unchanged (nothing to do but check);
- floor: a plain shell loop of `espeak-ng -w` then `sox` resampling to 8 kHz mono
  16-bit, one text after the other: the least a correct pipeline must do.

It prints prompts/s for each, the ratios, and the CPU used (this process and its
children, from getrusage), so a reader sees whether the cores were busy.
Targets: cold at least as fast as the floor (it may use both cores); warm under 2 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from audio.catalogue import catalogue
from audio.library import AudioLibrary
from audio.render import render_survey
from audio.tts import EspeakEngine
from survey_engine.xlsform import load_xlsform

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "graduate_tracer.xlsx"
TARGET_COLD_OVER_FLOOR = 1.0
TARGET_WARM_SECONDS = 2.0


@dataclass(frozen=True)
class Timing:
    seconds: float
    cpu_seconds: float  # this process and the children it waited for

    def cores(self) -> float:
        return self.cpu_seconds / self.seconds if self.seconds else 0.0


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(work: Callable[[], object]) -> Timing:
    started, cpu = time.perf_counter(), _cpu()
    work()
    return Timing(time.perf_counter() - started, _cpu() - cpu)


def floor_script(texts: list[tuple[str, str]], espeak: EspeakEngine, folder: Path) -> str:
    lines = ["set -e"]
    for n, (language, text) in enumerate(texts):
        voice = espeak.voice_for(language)
        raw, out = folder / f"{n}.raw.wav", folder / f"{n}.wav"
        lines.append(
            f"espeak-ng -v {shlex.quote(str(voice))} -w {shlex.quote(str(raw))} "
            f"-- {shlex.quote(text)}"
        )
        lines.append(f"sox {shlex.quote(str(raw))} -r 8000 -c 1 -b 16 {shlex.quote(str(out))}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survey", type=Path, default=SAMPLE, help="an XLSForm (.xlsx)")
    parser.add_argument("--workers", type=int, default=None, help="render threads (default: cores)")
    args = parser.parse_args(argv)

    survey = load_xlsform(args.survey)
    espeak = EspeakEngine()
    entries = catalogue(survey)
    texts = list(dict.fromkeys((e.language, e.text) for e in entries))
    unspoken = [t for t in texts if espeak.voice_for(t[0]) is None]
    if unspoken:
        print(f"espeak-ng has no voice for: {sorted({t[0] for t in unspoken})}", file=sys.stderr)
        return 2
    print(
        f"{survey.form_id}: {len(entries)} prompts in {len(survey.language_codes)} languages, "
        f"{len(texts)} distinct texts; {os.cpu_count()} cores",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="bench_audio_") as tmp:
        library = AudioLibrary(Path(tmp) / "audio")

        def render() -> None:
            report = render_survey(
                survey, library, engine="espeak", espeak=espeak, workers=args.workers
            )
            if report.missing:
                raise SystemExit(f"render left {len(report.missing)} prompts missing")

        cold = timed(render)
        files_after_cold = sorted(p for p in library.root.rglob("*") if p.is_file())
        stamps = {p: p.stat().st_mtime_ns for p in files_after_cold}
        warm = timed(render)
        files_after_warm = sorted(p for p in library.root.rglob("*") if p.is_file())
        rewritten = sum(1 for p in files_after_warm if stamps.get(p) != p.stat().st_mtime_ns)

        floor_dir = Path(tmp) / "floor"
        floor_dir.mkdir()
        script = floor_script(texts, espeak, floor_dir)
        floor = timed(lambda: subprocess.run(["sh", "-c", script], check=True))

    n = len(texts)
    rows = [("cold render", cold), ("warm render", warm), ("floor: espeak-ng + sox loop", floor)]
    print(f"\n{'run':<30} {'seconds':>8} {'prompts/s':>10} {'CPU s':>7} {'cores busy':>10}")
    print("-" * 69)
    for name, t in rows:
        print(
            f"{name:<30} {t.seconds:8.2f} {n / t.seconds:10.1f} "
            f"{t.cpu_seconds:7.2f} {t.cores():10.2f}"
        )
    ratio = floor.seconds / cold.seconds
    print(f"\ncold render / floor (prompts/s): {ratio:.2f}")
    print(f"warm render: {warm.seconds:.2f} s, {rewritten} files written again")

    checks = [
        (
            f"cold render >= {TARGET_COLD_OVER_FLOOR} x floor: {ratio:.2f}",
            ratio >= TARGET_COLD_OVER_FLOOR,
        ),
        (
            f"warm render < {TARGET_WARM_SECONDS} s: {warm.seconds:.2f} s",
            warm.seconds < TARGET_WARM_SECONDS,
        ),
        (f"warm render writes nothing: {rewritten} files", rewritten == 0),
    ]
    print("\nchecks")
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
