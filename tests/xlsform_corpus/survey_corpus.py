"""Survey the corpus of public XLSForms: what pyxform makes of each, and what is in it.

Run from the repository root:

    .venv/bin/python -m tests.xlsform_corpus.survey_corpus

It reads `provenance.csv` (where each file came from) and every form beside it
(`<source>/<source>__<name>.xls[x]`), converts each with pyxform, and writes
`manifest.csv`: one row per form with whether pyxform converts it (and its error),
the question types as written (with counts), the label languages, and the types a
phone cannot ask. It then prints the counts and what the corpus uses most: types,
survey columns, language column styles, the functions called in expressions, and
constructs such as repeats, calculate, or_other and choices from a file.

Media files (`.csv`, `.geojson`) sit beside the forms of the same source under the
name the form refers to; they are listed in provenance.csv but get no manifest row.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pyxform import xls2xform
from pyxform.question_type_dictionary import QUESTION_TYPE_DICT
from pyxform.xls2json_backends import get_xlsform

CORPUS_DIR = Path(__file__).resolve().parent
PROVENANCE = CORPUS_DIR / "provenance.csv"
MANIFEST = CORPUS_DIR / "manifest.csv"
FORM_SUFFIXES = (".xls", ".xlsx")
MANIFEST_COLUMNS = (
    "file",
    "source",
    "path",
    "commit",
    "licence",
    "pyxform_ok",
    "pyxform_error",
    "types",
    "languages",
    "has_phone_impossible",
)

# Select types as pyxform reads them: the keyword, then the list (or file) name,
# then optionally `or_other`. Longest first so `select_one_from_file` wins over
# `select_one`.
SELECT_KEYWORDS = sorted(
    (
        "select_one",
        "select one",
        "select1",
        "select_multiple",
        "select multiple",
        "select all that apply",
        "select_all_that_apply",
        "select one from",
        "select all that apply from",
        "select_one_external",
        "select_one_from_file",
        "select_multiple_from_file",
        "select one from file",
        "select multiple from file",
        "add select one prompt using",
        "add select multiple prompt using",
        "rank",
        "select",
    ),
    key=len,
    reverse=True,
)

# Columns whose header carries a language after `::` (or `:` in old forms).
TRANSLATABLE_COLUMNS = {
    "label",
    "text",  # the label column of the oldest forms
    "caption",
    "hint",
    "guidance_hint",
    "constraint_message",
    "constraint message",
    "jr:constraintmsg",
    "required_message",
    "jr:requiredmsg",
    "image",
    "big-image",
    "audio",
    "video",
    "media",
}
MEDIA_TOKENS = {"image", "big-image", "audio", "video"}

# Columns that hold expressions (before the bind:/control: prefix of old forms).
EXPRESSION_COLUMNS = {
    "relevant",
    "relevance",
    "constraint",
    "calculation",
    "calculate",
    "choice_filter",
    "repeat_count",
    "jr:count",
    "count",
    "default",
    "required",
    "read_only",
    "readonly",
    "trigger",
}
NOT_FUNCTIONS = {"and", "or", "div", "mod"}
FUNCTION_CALL = re.compile(r"(?<![\w$:{/.-])([A-Za-z_][\w-]*(?::[\w-]+)?)\s*\(")
STRING_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")

METADATA_TYPES = {
    "start",
    "end",
    "today",
    "deviceid",
    "imei",
    "subscriberid",
    "simserial",
    "phonenumber",
    "username",
    "email",
    "audit",
    "start-geopoint",
    "background-audio",
    "background-geopoint",
}


@dataclass
class FormReport:
    """What one form holds, as the manifest and the summary need it."""

    file: str
    pyxform_ok: bool
    pyxform_error: str
    types: Counter = field(default_factory=Counter)
    languages: list[str] = field(default_factory=list)
    phone_impossible: list[str] = field(default_factory=list)
    headers: set[str] = field(default_factory=set)
    functions: Counter = field(default_factory=Counter)
    constructs: set[str] = field(default_factory=set)


def normalised(text: object) -> str:
    return " ".join(str(text or "").split())


def type_keyword(raw_type: str) -> str:
    """The type as written, without the list name: `select_one yes_no` -> `select_one`."""
    written = normalised(raw_type)
    lowered = written.lower()
    if lowered.startswith("begin loop over "):
        return written[: len("begin loop over")]
    for keyword in SELECT_KEYWORDS:
        if lowered == keyword or lowered.startswith(keyword + " "):
            rest = lowered[len(keyword) :].split()
            if rest and rest[-1] == "or_other":
                return f"{keyword} … or_other"
            return keyword
    return written


def header_tokens(header: str, double_colon: bool) -> list[str]:
    """Split a header the way pyxform does: on `::`, or on `:` when no header uses `::`."""
    if double_colon or "::" in header:
        return [token.strip() for token in header.split("::")]
    tokens = [token.strip() for token in header.split(":")]
    if "jr" in [t.lower() for t in tokens]:  # jr:count, jr:constraintMsg
        index = [t.lower() for t in tokens].index("jr")
        tokens[index : index + 2] = [":".join(tokens[index : index + 2])]
    return tokens


def column_name(tokens: list[str]) -> str:
    """The column a header is about: `bind:relevant` -> `relevant`."""
    first = tokens[0].lower()
    if first in {"bind", "control"} and len(tokens) > 1:
        return tokens[1].lower()
    return first


def header_language(tokens: list[str]) -> str | None:
    name = column_name(tokens)
    if tokens[0].lower() in {"bind", "control"}:
        tokens = tokens[1:]
    if name not in TRANSLATABLE_COLUMNS or len(tokens) < 2:
        return None
    language = tokens[-1]
    if not language or language.lower() in MEDIA_TOKENS:
        return None
    return language


def language_style(language: str) -> str:
    if re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)?", language):
        return "code only (fr)"
    if re.fullmatch(r".+\([A-Za-z]{2,3}(-[A-Za-z0-9]+)?\)", language):
        return "name and code (French (fr))"
    return "name only (French)"


def phone_impossible(type_written: str, appearance: str) -> str | None:
    """The name of what a phone cannot ask, or None when it can be asked."""
    lowered = normalised(type_written).lower()
    spec = QUESTION_TYPE_DICT.get(lowered)
    if spec is None and " " in lowered:  # `osm building_tags`: a type with a list
        lowered = lowered.split()[0]
        spec = QUESTION_TYPE_DICT.get(lowered)
    if spec is None:
        return None
    bind_type = spec.get("bind", {}).get("type")
    control = spec.get("control", {})
    appearance = appearance.lower()
    if lowered in {"start-geopoint", "background-geopoint", "background-audio"}:
        return lowered
    if bind_type in {"geopoint", "geotrace", "geoshape", "barcode"}:
        return bind_type
    if control.get("tag") == "upload":
        media = control.get("mediatype", "").split("/")[0]
        if media == "image":
            return "signature" if "signature" in appearance else "image"
        return {"application": "file", "osm": "osm"}.get(media, media)
    if control.get("tag") == "range" and "picker" not in appearance:
        return "range (slider)"
    return None


def functions_in(expression: str) -> Counter:
    without_strings = STRING_LITERAL.sub("''", expression)
    names = (m.group(1) for m in FUNCTION_CALL.finditer(without_strings))
    return Counter(n for n in names if n.lower() not in NOT_FUNCTIONS)


def first_line(error: BaseException) -> str:
    text = normalised(f"{type(error).__name__}: {error}")
    return text if len(text) <= 300 else text[:297] + "..."


def convert_with_pyxform(path: Path) -> tuple[bool, str]:
    try:
        xls2xform.convert(xlsform=str(path), validate=False, warnings=[])
    except Exception as error:  # every refusal is a finding here
        return False, first_line(error)
    return True, ""


def survey_form(path: Path) -> FormReport:
    ok, error = convert_with_pyxform(path)
    report = FormReport(
        file=path.relative_to(CORPUS_DIR).as_posix(), pyxform_ok=ok, pyxform_error=error
    )
    if path.suffix == ".xls":
        report.constructs.add(".xls (not .xlsx)")
    try:
        data = get_xlsform(str(path))
    except Exception as read_error:
        if not report.pyxform_error:
            report.pyxform_error = first_line(read_error)
        return report

    languages: list[str] = []
    for sheet_rows, sheet_headers in (
        (data.survey, data.survey_header),
        (data.choices, data.choices_header),
    ):
        headers = (
            list(sheet_headers[0])
            if sheet_headers
            else sorted({h for r in sheet_rows or [] for h in r})
        )
        double_colon = any("::" in h for h in headers)
        for header in headers:
            tokens = header_tokens(header, double_colon)
            language = header_language(tokens)
            if language and language not in languages:
                languages.append(language)
            if sheet_rows is data.survey:
                base = header[: header.rfind(language)].rstrip(": ") if language else header
                report.headers.add(normalised(base).lower())
    report.languages = languages

    survey_rows = data.survey or []
    survey_headers = list(data.survey_header[0]) if data.survey_header else []
    double_colon = any("::" in h for h in survey_headers)
    by_column: dict[str, list[str]] = {}
    for header in survey_headers:
        by_column.setdefault(column_name(header_tokens(header, double_colon)), []).append(header)
    type_headers = by_column.get("type", []) + by_column.get("command", [])
    appearance_headers = by_column.get("appearance", [])
    expression_headers = [h for name in EXPRESSION_COLUMNS for h in by_column.get(name, [])]

    impossible: list[str] = []
    for row in survey_rows:
        written = next((normalised(row[h]) for h in type_headers if normalised(row.get(h))), "")
        if not written:
            continue
        keyword = type_keyword(written)
        report.types[keyword] += 1
        appearance = " ".join(normalised(row.get(h)) for h in appearance_headers)
        found = phone_impossible(written, appearance)
        if found and found not in impossible:
            impossible.append(found)
        lowered = keyword.lower()
        if lowered in {"calculate", "hidden"}:
            report.constructs.add(lowered)
        if lowered in METADATA_TYPES:
            report.constructs.add("metadata (start, end, today, deviceid, …)")
        if "repeat" in lowered or "loop" in lowered:
            report.constructs.add("repeat or loop")
        if "or_other" in lowered:
            report.constructs.add("select … or_other")
        if "from_file" in lowered or "from file" in lowered or "external" in lowered:
            report.constructs.add("choices from a file (select_*_from_file, select_one_external)")
        if lowered.startswith("select") and "_" not in lowered.split()[0] and lowered != "select1":
            report.constructs.add(
                "select types spelled with spaces (`select one`, `select all that apply`)"
            )
        for header in expression_headers:
            report.functions.update(functions_in(normalised(row.get(header))))
        if any(normalised(row.get(h)) for h in by_column.get("choice_filter", [])):
            report.constructs.add("choice_filter")
    report.phone_impossible = impossible

    choice_names: Counter = Counter()
    for row in data.choices or []:
        list_name = normalised(row.get("list_name") or row.get("list name"))
        name = normalised(row.get("name") or row.get("value"))
        if list_name and name:
            choice_names[(list_name, name)] += 1
    if any(count > 1 for count in choice_names.values()):
        report.constructs.add("duplicate choice names within a list")
    if len(languages) > 1:
        report.constructs.add("more than one label language")
    return report


def read_provenance() -> dict[str, dict[str, str]]:
    with PROVENANCE.open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def write_manifest(reports: list[FormReport], provenance: dict[str, dict[str, str]]) -> None:
    with MANIFEST.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for report in reports:
            origin = provenance.get(report.file, {})
            writer.writerow(
                {
                    "file": report.file,
                    "source": origin.get("source", ""),
                    "path": origin.get("path", ""),
                    "commit": origin.get("commit", ""),
                    "licence": origin.get("licence", ""),
                    "pyxform_ok": "yes" if report.pyxform_ok else "no",
                    "pyxform_error": report.pyxform_error,
                    "types": ";".join(
                        f"{t}:{n}"
                        for t, n in sorted(report.types.items(), key=lambda i: (-i[1], i[0]))
                    ),
                    "languages": ";".join(report.languages),
                    "has_phone_impossible": ";".join(report.phone_impossible),
                }
            )


def print_counter(title: str, counter: Counter, limit: int = 40, unit: str = "forms") -> None:
    print(f"\n{title}")
    for name, count in counter.most_common(limit):
        print(f"  {count:4d} {unit:<5}  {name}")
    if len(counter) > limit:
        print(f"  … and {len(counter) - limit} more")


def print_summary(reports: list[FormReport]) -> None:
    total = len(reports)
    ok = sum(r.pyxform_ok for r in reports)
    impossible = [r for r in reports if r.phone_impossible]
    by_extension = Counter(Path(r.file).suffix for r in reports)
    ok_without_impossible = sum(r.pyxform_ok and not r.phone_impossible for r in reports)
    print(f"forms: {total}")
    print(f"pyxform converts: {ok}; refuses: {total - ok}")
    print(f"with a type a phone cannot ask: {len(impossible)}")
    print(f"pyxform converts and a phone can ask every question: {ok_without_impossible}")
    print("by extension: " + ", ".join(f"{ext} {n}" for ext, n in sorted(by_extension.items())))
    print(
        "by source: "
        + ", ".join(
            f"{s} {n}" for s, n in sorted(Counter(r.file.split("/")[0] for r in reports).items())
        )
    )

    print_counter(
        "Types a phone cannot ask (forms using each)",
        Counter(t for r in reports for t in r.phone_impossible),
    )
    print_counter(
        "Question types as written (forms using each)",
        Counter(t for r in reports for t in r.types),
        60,
    )
    print_counter(
        "Question types as written (rows)", sum((r.types for r in reports), Counter()), 25, "rows"
    )
    print_counter(
        "Constructs (forms using each)", Counter(c for r in reports for c in r.constructs)
    )
    print_counter(
        "Survey columns as written, language removed (forms using each)",
        Counter(h for r in reports for h in r.headers),
        60,
    )
    print_counter(
        "Label languages (forms using each)", Counter(lang for r in reports for lang in r.languages)
    )
    print_counter(
        "Language column styles (forms using each)",
        Counter(style for r in reports for style in {language_style(lang) for lang in r.languages}),
    )
    print_counter(
        "Functions in relevant/constraint/calculation/choice_filter/… (forms using each)",
        Counter(f for r in reports for f in r.functions),
        80,
    )
    print_counter("Functions (calls)", sum((r.functions for r in reports), Counter()), 80, "calls")
    refused = [r for r in reports if not r.pyxform_ok]
    if refused:
        print("\nRefused by pyxform")
        for report in refused:
            print(f"  {report.file}: {report.pyxform_error}")


def main() -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Some pyxform messages list a set; a fixed hash seed keeps the manifest stable.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-m", __spec__.name, *sys.argv[1:]])
    logging.disable(logging.WARNING)  # pyxform logs every warning it also returns
    warnings.simplefilter("ignore")
    provenance = read_provenance()
    forms = sorted(p for p in CORPUS_DIR.rglob("*") if p.suffix.lower() in FORM_SUFFIXES)
    unknown = [p for p in forms if p.relative_to(CORPUS_DIR).as_posix() not in provenance]
    if unknown:
        print(f"not in provenance.csv: {', '.join(str(p) for p in unknown)}", file=sys.stderr)
        return 1
    reports = [survey_form(path) for path in forms]
    write_manifest(reports, provenance)
    print_summary(reports)
    print(f"\nwrote {MANIFEST.relative_to(CORPUS_DIR.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
