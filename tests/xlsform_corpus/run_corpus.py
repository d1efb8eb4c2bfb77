"""Run every form of the corpus through import and one scripted USSD session.

    .venv/bin/python -m tests.xlsform_corpus.run_corpus [--only TEXT]

Each form is compiled by the loader `service-tracker survey import` uses (the file's
bytes, its stem as the fallback form_id), with the same flags, into an in-memory store
(a fresh one per form: a database adds nothing the form could fail on, and the whole
corpus runs in seconds). When it imports, one session is dialled through the real
USSD channel (`ussd.channel.UssdChannel` over `interviews.Interviews`, the in-process
session store) and answered as a hurried respondent would: the first choice, `1` for
numbers, today for a date, `x` for text, `1` for a note, until the session ends. When
the form's constraint refuses an answer, the next of a few plausible ones is tried
(`2`, `10`, `100`... a date in 1990, an e-mail address): the form's `max_attempts` is
raised for the run to give room for them, nothing else of the form is changed.

A form that holds what a phone cannot ask (manifest `has_phone_impossible`) is also
imported with `--skip-unaskable`, and that import runs the session.

Outcomes per run: `refused` (first error's code and message), `completed`, `ended`
(the session ended without completing: a run-time failure or too many refused
answers, with the screen), `stuck` (no end within `MAX_HOPS`), `crashed` (an
exception escaped: always a bug). Results go to `results.csv` beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import csv
import datetime as dt
import sys
import traceback
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from interviews import Interviews
from storage.memory import MemoryResponseStore
from storage.sessions import MemorySessionStore
from survey_engine.errors import SurveyLoadError
from survey_engine.events import InputKind, ResponseStatus
from survey_engine.machine import current_prompt
from survey_engine.xlsform import load_xlsform
from ussd.channel import CHANNEL, UssdChannel
from ussd.gateways.africastalking import UssdRequest

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.csv"
RESULTS = HERE / "results.csv"
CODE = "*384*15#"
PHONE = "+254700000015"
MAX_HOPS = 2000

REFUSED, COMPLETED, ENDED, STUCK, CRASHED = "refused", "completed", "ended", "stuck", "crashed"


@dataclass(frozen=True, slots=True)
class Run:
    """One import (and, when it imports, one session) of one form."""

    outcome: str
    code: str = ""  # refused: the first error's code; ended: the response's status
    message: str = ""  # refused: the first error, located; ended: the last screen
    errors: int = 0  # refused: how many errors the form has
    codes: tuple[str, ...] = ()  # refused: every error code, once each, in order
    hops: int = 0
    warnings: tuple[str, ...] = ()  # what the loader said besides (e.g. what it skipped)


@dataclass(frozen=True, slots=True)
class FormResult:
    file: str
    pyxform_ok: bool
    phone_impossible: str  # the manifest's `has_phone_impossible`
    run: Run
    skipping: Run | None = None  # the run with --skip-unaskable, for phone-impossible forms

    @property
    def target(self) -> bool:
        """In the issue's target: pyxform converts it and a phone can ask all of it."""
        return self.pyxform_ok and not self.phone_impossible


@dataclass(slots=True)
class Totals:
    by_outcome: collections.Counter[str] = field(default_factory=collections.Counter)
    by_code: collections.Counter[str] = field(default_factory=collections.Counter)


def manifest() -> list[dict[str, str]]:
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def run_corpus(only: str | None = None, today: dt.date | None = None) -> list[FormResult]:
    day = today or dt.date.today()
    results = []
    for row in manifest():
        if only and only not in row["file"]:
            continue
        impossible = row["has_phone_impossible"]
        path = HERE / row["file"]
        run = run_form(path, day=day)
        skipping = run_form(path, day=day, skip_unaskable=True) if impossible else None
        results.append(
            FormResult(row["file"], row["pyxform_ok"] == "yes", impossible, run, skipping)
        )
    return results


def run_form(path: Path, *, day: dt.date, skip_unaskable: bool = False) -> Run:
    source = path.read_bytes()
    found: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's notes about extensions it drops
            survey = _load(source, path.name, skip_unaskable, found, _media(path.parent))
    except SurveyLoadError as error:
        first = error.errors[0]
        codes = tuple(dict.fromkeys(e.code for e in error.errors))
        return Run(REFUSED, first.code, str(first), len(error.errors), codes, warnings=tuple(found))
    except Exception:
        return Run(CRASHED, "import", _last_line(traceback.format_exc()))
    try:
        run = asyncio.run(_session(survey, day))
    except Exception:
        return Run(CRASHED, "session", _last_line(traceback.format_exc()))
    return Run(run.outcome, run.code, run.message, hops=run.hops, warnings=tuple(found))


def _media(folder: Path) -> dict[str, bytes]:
    """The CSV files beside the form, as `survey import --media <its folder>` gives them."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def _load(
    source: bytes,
    filename: str,
    skip_unaskable: bool,
    found: list[str],
    media: dict[str, bytes] | None = None,
):
    """As `storage.surveys.import_survey` compiles an upload (with `--media`)."""
    fallback = Path(filename).stem or "survey"
    if not skip_unaskable:
        return load_xlsform(source, fallback_form_id=fallback, media=media)
    survey = load_xlsform(source, fallback_form_id=fallback, skip_unaskable=True, media=media)
    found.extend(str(w) for w in survey.warnings)
    return survey


_NUMBERS = ("1", "10", "100", "2", "5", "20", "50", "0", "1000", "2000", "30", "3", "15")
_ANSWERS = {
    InputKind.CHOICE: ("1", "2", "3", "4", "5"),
    InputKind.CHOICES: ("1", "2", "1 2", "3", "4"),
    InputKind.INTEGER: _NUMBERS,
    InputKind.DECIMAL: _NUMBERS,
    InputKind.TEXT: ("x", "someone@example.org", "0712345678", "abc", "1"),
    InputKind.TIME: ("0900", "1430", "0000", "2359"),
    InputKind.DATETIME: ("150620260900", "010119900000", "311220301430"),
    InputKind.ANY: ("1",),
}


def _dates(day: dt.date) -> tuple[str, ...]:
    days = (day, day - dt.timedelta(days=1), dt.date(1990, 1, 1), day + dt.timedelta(days=1))
    return tuple(d.strftime("%d%m%Y") for d in days)


async def _session(survey, day: dt.date) -> Run:
    store = MemoryResponseStore()
    attempts = max(len(c) for c in _ANSWERS.values()) + 1
    ref = store.add_survey(replace(survey, max_attempts=max(survey.max_attempts, attempts)))
    store.bind(CHANNEL, CODE, ref.survey_id, roster_only=False)
    # The service's clock on the day the dates are typed for: today() agrees with them.
    noon = dt.datetime.combine(day, dt.time(12), dt.UTC)
    interviews = Interviews(store, MemorySessionStore(), clock=lambda: noon)
    channel = UssdChannel(interviews)
    session_id = f"corpus-{survey.form_id}"
    inputs: list[str] = []
    dates = _dates(day)
    reply = ""
    tried, shown = 0, ""  # answers the question now shown has refused
    for hop in range(1, MAX_HOPS + 1):
        request = UssdRequest(session_id, CODE, PHONE, "63902", "*".join(inputs))
        reply = (await channel.handle(request)).reply
        if reply.startswith("END"):
            return await _ending(store, ref.survey_id, hop, reply)
        live = await interviews.live(CHANNEL, session_id)
        prompt = current_prompt(survey, live.state) if live is not None else None
        if prompt is None:
            return Run(CRASHED, "session", f"no prompt after: {reply[:120]!r}", hops=hop)
        tried = tried + 1 if prompt.key == shown else 0  # the same question again: refused
        shown = prompt.key
        if prompt.input.kind is InputKind.RANK:  # every choice, in the list's order
            candidates = (" ".join(str(k) for k in range(1, prompt.input.choice_count + 1)),)
        else:
            candidates = (
                dates if prompt.input.kind is InputKind.DATE else _ANSWERS[prompt.input.kind]
            )
        inputs.append(candidates[min(tried, len(candidates) - 1)])
    return Run(STUCK, "", reply[:200], hops=MAX_HOPS)


async def _ending(store: MemoryResponseStore, survey_id: int, hops: int, reply: str) -> Run:
    respondent = await store.find_respondent(store.DEFAULT_ORGANISATION_ID, PHONE)
    response = None
    if respondent is not None:
        response = await store.latest_response(respondent.id, survey_id)
    if response is not None and response.status is ResponseStatus.COMPLETE:
        return Run(COMPLETED, hops=hops)
    status = response.status.value if response is not None else "no response"
    return Run(ENDED, status, " ".join(reply.split())[:200], hops=hops)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "?"


# --------------------------------------------------------------------------------------
# Reporting


def totals(runs: Iterable[Run]) -> Totals:
    found = Totals()
    for run in runs:
        found.by_outcome[run.outcome] += 1
        if run.outcome == REFUSED:
            found.by_code[run.code] += 1
    return found


def write_results(results: Sequence[FormResult], path: Path = RESULTS) -> None:
    fields = ["file", "pyxform_ok", "phone_impossible"]
    run_fields = [f for f in asdict(Run("")) if f not in ("codes", "warnings")]
    header = fields + run_fields + [f"skip_unaskable_{f}" for f in run_fields]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for result in results:
            run = asdict(result.run)
            skipping = asdict(result.skipping) if result.skipping else {}
            writer.writerow(
                [result.file, "yes" if result.pyxform_ok else "no", result.phone_impossible]
                + [run[f] for f in run_fields]
                + [skipping.get(f, "") for f in run_fields]
            )


def report(results: Sequence[FormResult], out=sys.stdout) -> None:
    def counts(title: str, runs: list[Run]) -> None:
        found = totals(runs)
        shown = ", ".join(f"{k} {v}" for k, v in found.by_outcome.most_common())
        print(f"{title} ({len(runs)} forms): {shown or '-'}", file=out)
        if found.by_code:
            codes = ", ".join(f"{k} {v}" for k, v in found.by_code.most_common())
            print(f"  refused by first error: {codes}", file=out)

    target = [r for r in results if r.target]
    impossible = [r for r in results if r.pyxform_ok and r.phone_impossible]
    counts("all forms", [r.run for r in results])
    counts("pyxform converts, a phone can ask all of it", [r.run for r in target])
    counts("pyxform converts, holds a phone-impossible type", [r.run for r in impossible])
    counts(
        "  the same with --skip-unaskable",
        [r.skipping for r in impossible if r.skipping is not None],
    )
    counts("pyxform refuses", [r.run for r in results if not r.pyxform_ok])
    print("\nforms of the target not completed:", file=out)
    for r in target:
        if r.run.outcome != COMPLETED:
            print(f"  {r.file}: {r.run.outcome} {r.run.message}", file=out)
    print("\nforms with phone-impossible types not completed with --skip-unaskable:", file=out)
    for r in impossible:
        if r.skipping is not None and r.skipping.outcome != COMPLETED:
            print(f"  {r.file}: {r.skipping.outcome} {r.skipping.message}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the forms whose path contains this")
    args = parser.parse_args(argv)
    results = run_corpus(args.only)
    if not args.only:
        write_results(results)
    report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
