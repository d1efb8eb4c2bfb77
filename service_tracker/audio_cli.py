"""`service-tracker audio render|upload|coverage`: voice prompts for a survey."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from audio.errors import AudioError
from audio.library import AudioLibrary, PromptSource
from audio.render import Coverage, coverage, render_survey, upload_recording
from audio.tts import EspeakEngine, GttsEngine
from service_tracker.commands import no_survey, read_input, run_with_engine
from service_tracker.config import Settings
from storage.responses import SqlResponseStore
from storage.surveys import find_survey
from survey_engine.model import Survey

_SOURCES = (
    PromptSource.RECORDED,
    PromptSource.SYNTHETIC,
    PromptSource.FALLBACK,
    PromptSource.MISSING,
)


def add_audio_commands(commands: Any) -> None:
    """The `audio` command group, on the command line's sub-parsers."""
    audio = commands.add_parser("audio", help="voice prompts").add_subparsers(metavar="ACTION")

    render = audio.add_parser("render", help="speak every prompt of a survey into files")
    render.add_argument("--survey", required=True, help="survey id or form_id")
    render.add_argument(
        "--engine",
        choices=("auto", "gtts", "espeak"),
        default="auto",
        help="auto: gTTS, falling back to espeak-ng when Google cannot be reached",
    )
    render.add_argument("--language", help="only this language code (default: all)")
    render.set_defaults(run=_render)

    upload = audio.add_parser("upload", help="a recording that replaces synthetic speech")
    upload.add_argument("--survey", required=True, help="survey id or form_id")
    upload.add_argument("--key", required=True, help="prompt key, e.g. improve.label")
    upload.add_argument("--language", required=True, help="language code, e.g. sw")
    upload.add_argument("file", type=Path, help="WAV, MP3, OGG or M4A")
    upload.set_defaults(run=_upload)

    report = audio.add_parser("coverage", help="which prompts are recorded, synthetic or missing")
    report.add_argument("--survey", required=True, help="survey id or form_id")
    report.add_argument("--keys", action="store_true", help="list every key, its state and file")
    report.set_defaults(run=_coverage)


def _load_survey(settings: Settings, id_or_form_id: str) -> Survey | None:
    async def work(engine: AsyncEngine) -> Survey | None:
        ref = await find_survey(engine, id_or_form_id)
        if ref is None:
            return None
        return await SqlResponseStore(engine).load_survey(ref.version_id)

    return run_with_engine(settings, work)


def _library_or_complain(settings: Settings) -> AudioLibrary | None:
    """The audio library, once its root is known to be a writable folder."""
    root = Path(settings.audio_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        print(
            f"cannot write to the audio folder {root} (AUDIO_DIR): {exc.strerror or exc}",
            file=sys.stderr,
        )
        return None
    return AudioLibrary(root)


def _survey_or_complain(settings: Settings, id_or_form_id: str) -> Survey | None:
    survey = _load_survey(settings, id_or_form_id)
    if survey is None:
        no_survey(id_or_form_id)
    return survey


def _render(settings: Settings, args: argparse.Namespace) -> int:
    survey = _survey_or_complain(settings, args.survey)
    if survey is None:
        return 1
    if args.language and args.language not in survey.language_codes:
        print(
            f"the survey has no language '{args.language}' "
            f"(it has: {', '.join(survey.language_codes)})",
            file=sys.stderr,
        )
        return 1
    asked = [lang for lang in survey.languages if args.language in (None, lang.code)]
    # A language no registry knows has a code made from its name: no voice can speak it.
    for language in (lang for lang in asked if not lang.has_code):
        print(
            f"{language.name} ({language.code}) skipped: voice needs the language's code; "
            f"name its columns like 'label::{language.name} (xx)' with its ISO 639 code and "
            "import the form again",
            file=sys.stderr,
        )
    languages = [lang.code for lang in asked if lang.has_code]
    if not languages:
        print(f"{survey.form_id}: nothing to render", file=sys.stderr)
        return 1
    library = _library_or_complain(settings)
    if library is None:
        return 1
    started = time.monotonic()
    try:
        report = render_survey(
            survey,
            library,
            engine=args.engine,
            gtts=GttsEngine(),
            espeak=EspeakEngine(),
            languages=languages,
            progress=_progress_printer(),
        )
    except OSError as exc:
        # A full disk or a folder that changed under us: what was written stays valid.
        where = exc.filename or library.root
        print(f"\nrender stopped: cannot write {where}: {exc.strerror}", file=sys.stderr)
        return 1
    seconds = time.monotonic() - started
    if report.gtts_down:
        print(f"gTTS was unreachable ({report.gtts_down}): used espeak-ng", file=sys.stderr)
    prompts = report.written + report.reused + report.recorded + len(report.missing)
    print(
        f"{survey.form_id} v{survey.version}: {prompts} prompts, {report.written} files "
        f"rendered, {report.reused} reused (same text, or rendered before), "
        f"{report.recorded} recorded, {report.fallback} in the fallback voice, "
        f"{len(report.missing)} missing ({seconds:.1f} s); files in {library.root}"
    )
    for entry, why in report.missing:
        print(f"  missing {entry.language} {entry.key}: {why}", file=sys.stderr)
    return 1 if report.missing else 0


def _progress_printer() -> Callable[[int, int], None]:
    """One line rewritten in place on a terminal; a line per tenth done in a log."""
    tty = sys.stderr.isatty()
    last_tenth = -1

    def show(done: int, total: int) -> None:
        nonlocal last_tenth
        tenth = done * 10 // max(total, 1)
        if tty:
            print(f"\rrendering {done}/{total}", end="" if done < total else "\n", file=sys.stderr)
        elif tenth != last_tenth or done == total:
            print(f"rendering {done}/{total}", file=sys.stderr)
        last_tenth = tenth

    return show


def _upload(settings: Settings, args: argparse.Namespace) -> int:
    survey = _survey_or_complain(settings, args.survey)
    if survey is None:
        return 1
    data = read_input(args.file)
    if data is None:
        return 1
    library = _library_or_complain(settings)
    if library is None:
        return 1
    try:
        stored = upload_recording(
            survey,
            library,
            key=args.key,
            language=args.language,
            data=data,
            filename=args.file.name,
        )
    except AudioError as exc:
        print(f"refused: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = exc.filename or library.root
        print(f"cannot store the recording in {where}: {exc.strerror}", file=sys.stderr)
        return 1
    played = library.language_dir(args.language) / stored.file
    print(f"{args.key} ({args.language}) now plays {played}")
    return 0


def _coverage(settings: Settings, args: argparse.Namespace) -> int:
    survey = _survey_or_complain(settings, args.survey)
    if survey is None:
        return 1
    library = AudioLibrary(Path(settings.audio_dir))
    reports = coverage(survey, library)
    print(_coverage_table(survey, reports))
    if args.keys:
        for report in reports:
            print(f"\n{report.language}:")
            width = max(len(k.entry.key) for k in report.keys)
            for state in report.keys:
                note = "  (recorded for an earlier text)" if state.stale else ""
                file = state.file or f'say: "{state.entry.text}"'
                print(f"  {state.entry.key:<{width}}  {state.source.value:<9}  {file}{note}")
    return 0


def _coverage_table(survey: Survey, reports: list[Coverage]) -> str:
    header = ["language", *(s.value for s in _SOURCES), "total"]
    rows = [
        [
            f"{r.language} ({survey.language_name(r.language)})",
            *(str(r.count(s)) for s in _SOURCES),
            str(len(r.keys)),
        ]
        for r in reports
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return f"{survey.form_id} v{survey.version}\n" + "\n".join(lines)
