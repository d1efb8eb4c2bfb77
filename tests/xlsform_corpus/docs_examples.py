"""Turn the XLSForm examples of the ODK documentation into workbooks for the corpus.

The ODK docs (getodk/docs, CC BY 4.0) show their example forms as reStructuredText
`csv-table` directives titled `survey`, `choices`, `settings` and `<name>.csv`. This
writes each SELECTED example as
`getodk-docs/getodk-docs__<page>-<n>.xlsx` (sheets survey, choices, settings), and
each `<name>.csv` table beside it, then records them in provenance.csv.

    .venv/bin/python -m tests.xlsform_corpus.docs_examples GIT_DIR COMMIT [--list]

`--list` prints every example found instead of writing the selected ones.
GIT_DIR is a clone (bare is enough) of getodk/docs; COMMIT the commit to read.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook

CORPUS_DIR = Path(__file__).resolve().parent
SOURCE = "getodk-docs"
LICENCE = "CC-BY-4.0"
PAGES = (
    "docs/form-logic.rst",
    "docs/form-repeats.rst",
    "docs/form-datasets.rst",
    "docs/form-language.rst",
    "docs/form-question-types.rst",
    "docs/form-operators-functions.rst",
    "docs/incl/form-examples/constraint-on-selected.rst",
    "docs/incl/form-examples/parallel-repeats.rst",
    "docs/incl/form-examples/regex-middle-initial.rst",
    "docs/incl/form-examples/sum-to-count-responses.rst",
)
# The examples kept: whole small forms that show a construct the issue names
# (choices from a CSV, lookups, languages, calculations, repeats, choice filters).
SELECTED = {
    "form-datasets-1",
    "form-datasets-4",
    "form-language-2",
    "form-logic-2",
    "form-logic-15",
    "form-logic-21",
    "form-logic-22",
    "form-logic-23",
    "form-repeats-2",
    "form-repeats-4",
    "form-operators-functions-1",
    "form-operators-functions-3",
    "constraint-on-selected-1",
    "parallel-repeats-1",
    "sum-to-count-responses-1",
}
DIRECTIVE = re.compile(r"^\.\. csv-table::\s*(.*)$")


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Example:
    page: str
    number: int
    survey: Table
    others: list[Table] = field(default_factory=list)


def parse_row(text: str, escape: str | None = None) -> list[str]:
    """One row of a csv-table; with docutils' `:escape:` option (`|,` is a comma inside
    a cell) quotes are no longer doubled, as docutils reads it."""
    reader = csv.reader(
        io.StringIO(text), skipinitialspace=True, escapechar=escape, doublequote=escape is None
    )
    return [cell.strip() for cell in next(reader)]


def tables_in(rst: str) -> list[Table]:
    tables: list[Table] = []
    lines = rst.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        match = DIRECTIVE.match(line.strip())
        index += 1
        if not match:
            continue
        indent = len(line) - len(line.lstrip())
        title, header, rows = match.group(1).strip(), [], []
        escape = None
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent
        ):
            line = lines[index].strip()
            index += 1
            if line.startswith(":escape:"):
                escape = line[len(":escape:") :].strip() or None
            elif line.startswith(":header:"):
                header = parse_row(line[len(":header:") :], escape)
            elif line and not line.startswith(":"):
                rows.append(parse_row(line, escape))
        tables.append(Table(title, header, rows))
    return tables


def examples_in(page: str, rst: str) -> list[Example]:
    examples: list[Example] = []
    for table in tables_in(rst):
        is_survey = "type" in {h.lower() for h in table.header} and table.title.lower() in {
            "survey",
            "",
        }
        if is_survey:
            examples.append(Example(page, len(examples) + 1, table))
        elif examples:
            examples[-1].others.append(table)
    return examples


def write_workbook(example: Example, path: Path) -> None:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for table in (example.survey, *example.others):
        if table.title.lower() not in {"survey", "", "choices", "settings", "entities"}:
            continue
        sheet = workbook.create_sheet(table.title.lower() or "survey")
        sheet.append(table.header)
        for row in table.rows:
            sheet.append(row)
    workbook.save(path)


def main(argv: list[str]) -> int:
    git_dir, commit = argv[0], argv[1]
    listing = "--list" in argv
    out_dir = CORPUS_DIR / SOURCE
    out_dir.mkdir(exist_ok=True)
    provenance_rows: list[dict[str, str]] = []
    for page in PAGES:
        rst = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"{commit}:{page}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for example in examples_in(page, rst):
            example_id = f"{Path(page).stem}-{example.number}"
            if not listing and example_id not in SELECTED:
                continue
            stem = f"{SOURCE}__{example_id}"
            where = f"{page} (example {example.number})"
            if listing:
                print(
                    f"{stem}: {len(example.survey.rows)} rows, {example.survey.header}, {[t.title for t in example.others]}"
                )
                continue
            write_workbook(example, out_dir / f"{stem}.xlsx")
            provenance_rows.append({"file": f"{SOURCE}/{stem}.xlsx", "path": where})
            for table in example.others:
                if table.title.endswith(".csv"):
                    with (out_dir / table.title).open("w", newline="", encoding="utf-8") as handle:
                        writer = csv.writer(handle, lineterminator="\n")
                        writer.writerow(table.header)
                        writer.writerows(table.rows)
                    provenance_rows.append({"file": f"{SOURCE}/{table.title}", "path": where})
    if listing:
        return 0
    provenance = CORPUS_DIR / "provenance.csv"
    with provenance.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        kept = [
            row for row in reader if not (row["source"] == SOURCE and row["path"].endswith(")"))
        ]
    with provenance.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
        for row in provenance_rows:
            writer.writerow({**row, "source": SOURCE, "commit": commit, "licence": LICENCE})
    print(f"wrote {len(provenance_rows)} files to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
