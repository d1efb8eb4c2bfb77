"""Keeps the USSD load benchmark honest: a one-second run of its bare and durable servers.

Runs the real orchestrator (`python -m bench.ussd_load`) exactly as `make bench` does,
only shorter and with 4 handsets, and checks that the generator saw no error and that
every answer it counted as acknowledged is a row in PostgreSQL. If the generator
miscounted, or the durable baseline lost or duplicated answers, the benchmark's
ratios would compare against a wrong yardstick.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pyxform.xls2xform import convert

from bench.make_six_questions import WORKBOOK, sheets

REPO = Path(__file__).resolve().parents[2]


def _short_bench(tmp_path: Path, postgres_url: str, redis_url: str, *only: str) -> dict:
    """The report of a one-second `python -m bench.ussd_load` with 4 handsets."""
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.ussd_load",
            *only,
            "--handsets",
            "4",
            "--warmup",
            "0.3",
            "--duration",
            "1",
            "--json",
            str(out),
            # The suite's services (ensured by the fixtures), not Redis db 14 of a `make
            # bench` that may be running; the scratch database is created beside `test`.
            "--pg",
            postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1),
            "--redis-url",
            redis_url,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # 2 means PostgreSQL or Redis could not be reached; 1 may only be a busy machine
    # (the generator-headroom check), which the callers' assertions do not depend on.
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return json.loads(out.read_text())


@pytest.mark.postgres
@pytest.mark.redis
def test_bare_and_durable_run_clean(
    tmp_path: Path, postgres_admin_url: str, redis_url: str
) -> None:
    report = _short_bench(tmp_path, postgres_admin_url, redis_url, "--only", "bare,durable")
    assert report["failures"] == {}, report["failures"]
    runs = {run["config"]: run for run in report["runs"]}
    assert set(runs) == {"bare", "durable"}

    for run in runs.values():
        assert run["errors"] == 0, run["error_samples"]
        assert run["hops"] > 0
        assert run["cpu_pct"]["server"] > 0

    durable = runs["durable"]
    # Whole sessions ran, including the out-of-range number that must be re-asked.
    assert durable["sessions_completed"] > 0
    assert durable["bad_number_hops"] > 0
    assert durable["acked_answers"] > 0
    assert durable["rows"] == durable["acked_answers"]


@pytest.mark.postgres
@pytest.mark.redis
def test_the_service_runs_clean_and_every_acknowledged_answer_is_in_sql_value_by_value(
    tmp_path: Path, postgres_admin_url: str, redis_url: str
) -> None:
    report = _short_bench(
        tmp_path, postgres_admin_url, redis_url, "--only", "service", "--workers", "1"
    )
    assert report["failures"] == {}, report["failures"]
    runs = {run["config"]: run for run in report["runs"]}
    # The worker as deployed, and the same worker reading Redis on every hop.
    assert set(runs) == {"service w1", "service w1 redis"}
    for run in runs.values():
        assert run["errors"] == 0, run["error_samples"]
        assert run["bad_number_hops"] > 0
        assert sum(run["acked_by_session"].values()) == run["acked_answers"] > 0
    value_checks = [c for c in report["checks"] if "value by value" in c["name"]]
    assert len(value_checks) == 2 and all(c["ok"] for c in value_checks), value_checks
    assert "service redis/durable @4" not in report["ratios"]  # durable was not run
    assert report["ratios"]["service redis/local @4"] is not None


def test_workbook_matches_its_generator() -> None:
    """bench/six_questions.xlsx is what bench/make_six_questions.py writes, and a valid
    XLSForm: an edit to one without the other would benchmark a different survey."""
    workbook = load_workbook(WORKBOOK, read_only=True)
    stored = {
        sheet.title: [["" if v is None else str(v) for v in row] for row in sheet.values]
        for sheet in workbook.worksheets
    }
    assert stored == sheets()
    warnings: list[str] = []
    assert "bench_six" in convert(str(WORKBOOK), warnings=warnings).xform
