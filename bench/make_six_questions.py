"""Write bench/six_questions.xlsx, the XLSForm the USSD load benchmark imports.

Run `.venv/bin/python -m bench.make_six_questions` after changing the rows below and
commit both files: the workbook is what the service imports, this script is its
reviewable source.

The questions mirror the screens hard-coded in `bench/durable_server.py`, so the
service and the durable baseline show (nearly) the same text per hop. The load
generator relies on two things here: the consent and yes/no answers are choice 1,
and both the `months` label and its constraint message contain the word "months"
(that is how it recognises the re-prompt after an out-of-range number).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from openpyxl import Workbook

WORKBOOK = Path(__file__).with_name("six_questions.xlsx")

# Everything after consent is only relevant when consent is "yes": that is how an
# XLSForm says "a `no` ends the survey".
CONSENTED = "${consent} = 'yes'"

SURVEY_HEADER = [
    "type",
    "name",
    "label",
    "required",
    "relevant",
    "constraint",
    "constraint_message",
]
SURVEY_ROWS: list[list[str]] = [
    [
        "select_one yes_no",
        "consent",
        "Graduate tracer survey: 6 short questions, about 2 minutes. Your answers are "
        "confidential. Do you agree to take part?",
        "yes",
        "",
        "",
        "",
    ],
    [
        "select_one yes_no",
        "employed",
        "Are you working now (employed or self-employed)?",
        "yes",
        CONSENTED,
        "",
        "",
    ],
    [
        "integer",
        "months",
        "How many months after your training did you find your first job? Enter 0 to 60.",
        "yes",
        CONSENTED,
        ". >= 0 and . <= 60",
        "Please enter a number of months from 0 to 60.",
    ],
    [
        "select_one sector",
        "sector",
        "In which sector do you mainly work?",
        "yes",
        CONSENTED,
        "",
        "",
    ],
    [
        "select_one scale5",
        "confidence",
        "How well did your training prepare you for this work? 1 = not at all, 5 = very well",
        "yes",
        CONSENTED,
        "",
        "",
    ],
    [
        "text",
        "comment",
        "What one thing should the training centre improve?",
        "yes",
        CONSENTED,
        "",
        "",
    ],
]

CHOICES_HEADER = ["list_name", "name", "label"]
CHOICES_ROWS: list[list[str]] = [
    ["yes_no", "yes", "Yes"],
    ["yes_no", "no", "No"],
    ["sector", "manufacturing", "Manufacturing"],
    ["sector", "construction", "Construction"],
    ["sector", "hospitality", "Hospitality"],
    ["sector", "agriculture", "Agriculture"],
    ["sector", "other", "Other"],
    ["scale5", "1", "1"],
    ["scale5", "2", "2"],
    ["scale5", "3", "3"],
    ["scale5", "4", "4"],
    ["scale5", "5", "5"],
]

SETTINGS_HEADER = ["form_title", "form_id", "version"]
SETTINGS_ROWS: list[list[str]] = [["Benchmark: six questions", "bench_six", "1"]]


def sheets() -> dict[str, list[list[str]]]:
    """The workbook's content, sheet name -> rows (header first)."""
    return {
        "survey": [SURVEY_HEADER, *SURVEY_ROWS],
        "choices": [CHOICES_HEADER, *CHOICES_ROWS],
        "settings": [SETTINGS_HEADER, *SETTINGS_ROWS],
    }


def write_workbook(path: Path = WORKBOOK) -> Path:
    """Write the XLSForm to `path` and return it."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets().items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WORKBOOK, help="where to write the .xlsx")
    args = parser.parse_args(argv)
    print(write_workbook(args.out))


if __name__ == "__main__":
    main()
