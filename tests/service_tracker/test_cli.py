"""The command line as an operator uses it: real files, a real database, real output."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from service_tracker.cli import main
from storage.db import create_engine
from storage.responses import SqlResponseStore
from storage.schema import organisations, users
from survey_engine.events import AnswerGiven, Ended, ResponseStatus
from tests.conftest import markdown_to_xlsx
from tests.ussd.phones import TRACER_XLSX

BROKEN_FORM = """
| survey |
| | type | name | label | relevant |
| | select_one yn | consent | Agree? | |
| | integer | age | Age? | ${agee} > 3 |
| | colour | fav | Favourite? | |
| choices |
| | list_name | name | label |
| | yn | yes | Yes |
| | yn | no | No |
"""


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    return url


def test_importing_a_survey_prints_its_id_form_id_and_version(database, capsys):
    assert main(["survey", "import", str(TRACER_XLSX), "--ussd-code", "*384*123#"]) == 0
    out = capsys.readouterr().out
    assert "survey id=1 form_id=graduate_tracer version=2026.2 (imported)" in out
    assert "USSD *384*123# reaches graduate_tracer (open to any number)" in out
    assert main(["survey", "import", str(TRACER_XLSX)]) == 0
    assert "(already imported)" in capsys.readouterr().out


def test_an_xls_imports_and_its_warnings_are_printed_with_sheet_and_column(
    database, tmp_path, capsys
):
    xls = (
        Path(__file__).resolve().parents[1] / "xlsform_corpus" / "kobocat" / "kobocat__dhisform.xls"
    )
    assert main(["survey", "import", str(xls)]) == 0
    assert "form_id=dhis2form" in capsys.readouterr().out
    path = tmp_path / "local.xlsx"
    path.write_bytes(
        markdown_to_xlsx(
            """
            | survey |
            | | type | name | label::English | label::Local language |
            | | text | q | Name? | Jina? |
            """
        )
    )
    assert main(["survey", "import", str(path)]) == 0
    captured = capsys.readouterr()
    assert "form_id=local version=" in captured.out
    assert "local.xlsx: 1 warning(s):" in captured.err
    assert (
        "  [unregistered_language] sheet 'survey', column 'label::Local language': "
        "no language registry knows 'Local language'"
    ) in captured.err


def test_a_broken_form_is_refused_with_sheet_row_and_column(database, tmp_path, capsys):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(markdown_to_xlsx(BROKEN_FORM))
    assert main(["survey", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "broken.xlsx: the form has 2 error(s):" in err
    assert "[undefined_reference] sheet 'survey', row 3, column 'relevant'" in err
    assert "[unknown_type] sheet 'survey', row 4, column 'type'" in err


def test_a_file_that_is_not_a_spreadsheet_is_refused_without_a_traceback(
    database, tmp_path, capsys
):
    path = tmp_path / "survey.xlsx"
    path.write_text("this is not a workbook")
    assert main(["survey", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "[unreadable_file]" in err
    assert "Traceback" not in err


def test_a_bad_ussd_code_is_refused(database, capsys):
    assert main(["survey", "import", str(TRACER_XLSX), "--ussd-code", "384"]) == 1
    assert "384" in capsys.readouterr().err


def test_roster_import_reports_bad_rows_by_line_and_column_and_imports_the_rest(
    database, tmp_path, capsys
):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "phone,name,language,completion_date,district\n"
        "+254712345678,Amina,sw,2026-03-31,Kisumu\n"
        "not a phone,Baraka,sw,2026-03-31,Kisumu\n"
        "+221771234567,Fatou,fr,31/03/2026,Thiès\n"
        "+9613123456,Rami,ar,2026-04-30,Tripoli\n",
        encoding="utf-8",
    )
    assert main(["respondents", "import", str(roster)]) == 1
    captured = capsys.readouterr()
    assert "respondents: 2 created, 0 updated, 2 row(s) with errors" in captured.out
    assert "roster.csv: line 3, column 'phone'" in captured.err
    assert "roster.csv: line 4, column 'completion_date'" in captured.err


def test_export_writes_one_csv_row_per_answer(database, capsys):
    assert main(["survey", "import", str(TRACER_XLSX), "--ussd-code", "*384*123#"]) == 0
    capsys.readouterr()

    async def answer_two_questions() -> None:
        engine = create_engine(database)
        store = SqlResponseStore(engine)
        now = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
        binding = await store.entry_point("ussd", "*384*123#")
        assert binding is not None
        version = await store.current_version(binding.survey_id)
        person = await store.create_respondent(binding.organisation_id, "+254712345678", "en")
        response = await store.start_response(
            respondent_id=person.id,
            version_id=version.version_id,
            channel="ussd",
            session_ref="AT1",
            language="en",
            turn_ref="",
            now=now,
        )
        events = [
            AnswerGiven("consent", "yes"),
            AnswerGiven("employed", "not_working"),
            Ended(ResponseStatus.REFUSED, "bye"),
        ]
        await store.record_turn(response.id, events, turn_ref="1*1*3", now=now)
        await engine.dispose()

    asyncio.run(answer_two_questions())
    assert main(["export", "answers", "--survey", "graduate_tracer"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0])[:6] == [
        "respondent",
        "question",
        "value",
        "channel",
        "response_status",
        "answered_at",
    ]
    assert [(r["respondent"], r["question"], r["value"]) for r in rows] == [
        ("+254712345678", "consent", "yes"),
        ("+254712345678", "employed", "not_working"),
    ]
    assert {r["response_status"] for r in rows} == {"refused"}
    assert rows[0]["answered_at"] == "2026-11-23T09:30:00Z"
    assert main(["export", "answers", "--survey", "nope"]) == 1


def test_a_bad_setting_names_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "eighty")
    assert main(["db", "upgrade"]) == 2
    assert "PORT='eighty': expected a number" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_with_two_workers_shares_the_port(postgres_database_url, redis_url):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": postgres_database_url, "REDIS_URL": redis_url}
    command = [sys.executable, "-m", "service_tracker.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "2"], env=env, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(server.stderr), daemon=True)
    reader.start()
    try:
        started = f"serving on http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        # Each worker process logs its start: two processes serve the one port.
        while sum(started in line for line in lines) < 2:
            assert server.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        for _ in range(20):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the service does not answer /healthz: " + "".join(lines))
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_serve_refuses_a_database_that_was_never_migrated(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/fresh.db")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["serve", "--port", str(_free_port())]) == 2
    assert "run `service-tracker db upgrade`" in capsys.readouterr().err


class _Server:
    """`service-tracker serve` in its own process, its standard error collected."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        command = [sys.executable, "-m", "service_tracker.cli", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True).start()
        deadline = time.monotonic() + 30
        while not any("serving on" in line for line in self.lines):
            assert self.process.poll() is None, "".join(self.lines)
            assert time.monotonic() < deadline, "".join(self.lines)
            time.sleep(0.1)

    def post(self, path: str, form: dict[str, str]) -> int:
        data = urllib.parse.urlencode(form).encode()
        url = f"http://127.0.0.1:{self.port}{path}"
        for _ in range(20):
            try:
                with urllib.request.urlopen(url, data=data, timeout=5) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code
            except OSError:
                time.sleep(0.2)
        pytest.fail("the service does not answer: " + "".join(self.lines))

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=15)
        return "".join(self.lines)


OPEN_WARNING = "GATEWAY_TOKEN is not set: the gateway endpoints"
DIAL = {
    "sessionId": "ATUid_cli_1",
    "serviceCode": "*384*123#",
    "phoneNumber": "+254712345650",
    "networkCode": "63902",
    "text": "",
}


def test_serve_warns_at_start_that_the_gateway_endpoints_are_open(database, monkeypatch):
    monkeypatch.delenv("GATEWAY_TOKEN", raising=False)
    server = _Server(dict(os.environ))
    try:
        assert server.post("/ussd/africastalking", DIAL) == 200
    finally:
        log = server.stop()
    assert log.count(OPEN_WARNING) == 1, log
    assert "WARNING service_tracker GATEWAY_TOKEN is not set" in log


def test_serve_with_a_gateway_token_refuses_callbacks_without_it(database):
    token = "cli-test-token-0123456789"
    server = _Server({**os.environ, "GATEWAY_TOKEN": token})
    try:
        assert server.post("/ussd/africastalking", DIAL) == 403
        assert server.post("/ussd/africastalking?token=guess-0123456789abc", DIAL) == 403
        assert server.post(f"/ussd/africastalking?token={token}", DIAL) == 200
    finally:
        log = server.stop()
    assert OPEN_WARNING not in log
    assert "refused a gateway callback to /ussd/africastalking" in log
    assert token not in log and "guess-0123456789abc" not in log


def test_ivr_numbers_are_bound_and_each_is_named_with_what_it_reaches(
    database, monkeypatch, capsys
):
    monkeypatch.setenv("DEFAULT_PHONE_REGION", "KE")
    args = ["survey", "import", str(TRACER_XLSX), "--roster-only"]
    assert main([*args, "--ivr-number", "0201234567", "--ivr-number", "4000"]) == 0
    out = capsys.readouterr().out
    assert "IVR +254201234567 reaches graduate_tracer (roster only)" in out
    assert "IVR 4000 reaches graduate_tracer (roster only)" in out
    assert "USSD" not in out


def test_a_bad_ivr_number_is_refused_naming_it(database, capsys):
    args = ["survey", "import", str(TRACER_XLSX), "--ussd-code", "*384*123#"]
    assert main([*args, "--ivr-number", "4000", "--ivr-number", "40x0"]) == 1
    err = capsys.readouterr().err
    assert "IVR number '40x0' is not valid" in err
    assert "Traceback" not in err
    assert main(["survey", "import", str(TRACER_XLSX)]) == 0
    assert "(imported)" in capsys.readouterr().out  # the refused import stored nothing


def test_demo_prepares_the_sample_survey_on_ussd_and_voice_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make demo` runs `service-tracker demo`: everything before the server starts."""
    import service_tracker.cli as cli

    served: list[tuple[str, int]] = []
    monkeypatch.setattr(
        cli, "_serve_worker", lambda settings, host, port, reuse: served.append((host, port))
    )
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "USSD *384*123# reaches graduate_tracer" in out
    assert "IVR 4000 reaches graduate_tracer" in out
    assert "AGI(agi://127.0.0.1:4573/survey)" in out
    assert served == [("127.0.0.1", 8080)]
    # A first admin account, printed once, that opens the admin site.
    found = re.search(r"/admin/  \(sign in as demo@example.org, password (\S+)\)", out)
    assert found, out
    assert main(["demo"]) == 0  # again: the account exists, no new password
    assert "sign in with your account" in capsys.readouterr().out

    from storage.accounts import authenticate

    async def check() -> bool:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/demo.db")
        try:
            return await authenticate(engine, "demo@example.org", found.group(1)) is not None
        finally:
            await engine.dispose()

    assert asyncio.run(check())


def test_imports_go_to_the_organisation_named_and_ask_for_one_when_there_are_several(
    database, tmp_path, capsys
):
    roster = tmp_path / "roster.csv"
    roster.write_text("phone,name\n+254712300481,Wanjiru Kamau\n")
    args = ["survey", "import", str(TRACER_XLSX), "--organisation", "Kenya TVET"]
    assert main(args) == 0
    assert "(imported) in organisation Kenya TVET" in capsys.readouterr().out
    # One organisation: it is the one, unnamed.
    assert main(["respondents", "import", str(roster)]) == 0
    assert "(organisation Kenya TVET)" in capsys.readouterr().out

    assert main(["respondents", "import", str(roster), "--organisation", "Uganda Skills"]) == 0
    assert "1 created, 0 updated, 0 row(s) with errors (organisation Uganda Skills)" in (
        capsys.readouterr().out
    )
    # Two now: an import must say which.
    assert main(["respondents", "import", str(roster)]) == 1
    err = capsys.readouterr().err
    assert "roster.csv: there are several organisations ('Kenya TVET', 'Uganda Skills')" in err
    assert "--organisation NAME" in err
    # A survey never moves to another organisation.
    args = ["survey", "import", str(TRACER_XLSX), "--organisation", "Uganda Skills"]
    assert main(args) == 1
    assert "'graduate_tracer' is already used by a survey of another organisation" in (
        capsys.readouterr().err
    )


def test_the_demo_runs_again_beside_another_organisation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import service_tracker.cli as cli

    monkeypatch.setattr(cli, "_serve_worker", lambda settings, host, port, reuse: None)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["demo"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    create = ["users", "create", "--email", "a@agency.org", "--organisation", "Kenya TVET"]
    assert main([*create, "--role", "admin", "--password-stdin"]) == 0
    capsys.readouterr()
    # Two organisations now: the demo reloads into the one that holds its survey.
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "(already imported) in organisation Default" in out
    assert "0 created, 8 updated, 0 row(s) with errors (organisation Default)" in out

    async def demo_admins_organisation() -> str | None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/demo.db")
        try:
            async with engine.connect() as conn:
                return await conn.scalar(
                    select(organisations.c.name)
                    .join_from(users, organisations)
                    .where(users.c.email == "demo@example.org")
                )
        finally:
            await engine.dispose()

    # The demo's first admin was made where the sample survey is, so it sees it.
    assert asyncio.run(demo_admins_organisation()) == "Default"
