"""Workers as processes (`service-tracker worker --once`, the real command): one killed
with SIGKILL mid-batch and restarted sends the rest, and nothing twice (the SMS API's
stand-in holds each request half a second, so the kill lands while a chunk is in
flight); two at once on the same database send each invitation once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from service_tracker.cli import main
from tests.ussd.phones import TRACER_XLSX
from tests.waves.at_standin import AtStandin

GRADUATES = 30
WORKER = "import sys; from service_tracker.cli import main; sys.exit(main(['worker', '--once']))"


def test_a_worker_killed_mid_batch_sends_the_rest_and_nothing_twice(cli_database: Path) -> None:
    _study_due_now(cli_database)
    with AtStandin(username="sandbox", api_key="k") as standin:
        env = _env(standin)
        standin.delay = 0.5
        worker = subprocess.Popen([sys.executable, "-c", WORKER], env=env)
        try:
            deadline = time.monotonic() + 60
            while len(standin.sent) < 8 and worker.poll() is None:
                assert time.monotonic() < deadline, "the worker sent nothing"
                time.sleep(0.02)
            os.kill(worker.pid, signal.SIGKILL)  # the second chunk is in flight
        finally:
            worker.wait(timeout=30)
        killed_after = len(standin.sent)
        assert 8 <= killed_after < GRADUATES
        standin.delay = 0.0
        restarted = subprocess.run([sys.executable, "-c", WORKER], env=env, timeout=120)
        assert restarted.returncode == 0
    sent_to = Counter(s.to[0] for s in standin.sent)
    assert len(sent_to) == GRADUATES  # every graduate, once
    assert max(sent_to.values()) == 1  # nothing twice
    with sqlite3.connect(cli_database / "cli.db") as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM invitations GROUP BY status"))
    # The chunk in flight at the kill stays claimed (it had gone), the rest were sent.
    assert statuses.get("sending", 0) <= 4
    assert statuses["sent"] + statuses.get("sending", 0) == GRADUATES


def _study_due_now(folder: Path) -> None:
    """The sample survey with a USSD code, GRADUATES finishing today (UTC), and a study
    whose first wave is today, at any hour."""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert main(["survey", "import", str(TRACER_XLSX), "--ussd-code", "*384*123#"]) == 0
    roster = folder / "roster.csv"
    roster.write_text(
        "phone,name,completion_date,time_zone\n"
        + "".join(f"+2547123{n:05d},Graduate {n},{today},UTC\n" for n in range(GRADUATES))
    )
    assert main(["respondents", "import", str(roster)]) == 0
    study = folder / "study.toml"
    study.write_text(
        'name = "now"\nsurvey = "graduate_tracer"\ncontact_hours = "00:00-24:00"\n'
        'waves = [{ name = "completion", offset = "0d" }]\n'
    )
    assert main(["study", "import", str(study)]) == 0


def _env(standin: AtStandin) -> dict[str, str]:
    return {
        **os.environ,
        "AFRICASTALKING_USERNAME": "sandbox",
        "AFRICASTALKING_API_KEY": "k",
        "AFRICASTALKING_BASE_URL": standin.url,
    }


def test_two_workers_at_once_send_each_invitation_once(cli_database: Path) -> None:
    _study_due_now(cli_database)
    with AtStandin(username="sandbox", api_key="k") as standin:
        standin.delay = 0.05
        workers = [
            subprocess.Popen([sys.executable, "-c", WORKER], env=_env(standin)) for _ in range(2)
        ]
        assert [w.wait(timeout=120) for w in workers] == [0, 0]
    sent_to = Counter(s.to[0] for s in standin.sent)
    assert len(sent_to) == GRADUATES and max(sent_to.values()) == 1
