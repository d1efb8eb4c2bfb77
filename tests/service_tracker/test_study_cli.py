"""`service-tracker study import STUDY.toml` and `service-tracker study status STUDY`,
as an operator runs them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from service_tracker.cli import main
from tests.ussd.phones import TRACER_XLSX
from tests.waves.at_standin import AtStandin
from tests.waves.test_study_file import DESIGN_EXAMPLE


def test_a_study_file_imports_then_updates_and_its_status_prints(cli_database: Path, capsys):
    assert main(["survey", "import", str(TRACER_XLSX), "--organisation", "Kenya TVET"]) == 0
    roster = cli_database / "roster.csv"
    roster.write_text(
        "phone,name,cohort,completion_date\n"
        "+254712300481,Wanjiru,2026-A,2026-01-31\n"
        "+254712300482,Otieno,2026-B,2026-03-01\n"
    )
    assert main(["respondents", "import", str(roster)]) == 0
    study = cli_database / "tracer-2026.toml"
    study.write_text(DESIGN_EXAMPLE)
    capsys.readouterr()

    assert main(["study", "import", str(study)]) == 0
    out = capsys.readouterr().out
    assert "study 'tracer-2026' created in Kenya TVET: survey graduate_tracer" in out
    assert "completion (+0d), 3 months (+3m), 6 months (+6m)" in out
    assert main(["study", "import", str(study)]) == 0
    assert "study 'tracer-2026' updated" in capsys.readouterr().out

    assert main(["study", "status", "tracer-2026", "--today", "2026-05-05"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "study 'tracer-2026' (Kenya TVET), survey graduate_tracer, on 2026-05-05"
    assert lines[1].split() == [
        "wave", "offset", "graduates", "opened", "due", "missed", "invited", "reached",
        "completed", "refused", "opted_out",
    ]  # fmt: skip
    # Wanjiru finished on 31 January, Otieno on 1 March: both completion waves were
    # missed (nobody ran the worker). Her 3-month wave (30 April) is open for 30 days;
    # his comes on 1 June.
    assert lines[2].split() == ["completion", "+0d", "2", "2", "0", "2", "0", "0", "0", "0", "0"]
    assert lines[3].split() == ["3", "months", "+3m", "2", "1", "1", "0", "0", "0", "0", "0", "0"]


def test_a_broken_study_file_is_refused_with_every_problem(cli_database: Path, capsys):
    study = cli_database / "broken.toml"
    study.write_text('name = "t"\nsurvey = "nope"\nwaves = []\nattempts = "three"\n')
    assert main(["study", "import", str(study)]) == 1
    err = capsys.readouterr().err
    assert "broken.toml: waves: a list such as" in err
    assert "broken.toml: attempts: a whole number from 1 to 10, not 'three'" in err

    study.write_text('name = "t"\nsurvey = "nope"\nwaves = [{ name = "now", offset = "0d" }]\n')
    assert main(["study", "import", str(study)]) == 1
    assert "the organisation has no survey 'nope'" in capsys.readouterr().err
    assert main(["study", "status", "nothing"]) == 1
    assert "there is no study 'nothing'" in capsys.readouterr().err


def test_one_worker_pass_sends_the_due_invitations_through_the_gateway(
    cli_database: Path, monkeypatch, capfd
) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert main(["survey", "import", str(TRACER_XLSX), "--ussd-code", "*384*123#"]) == 0
    roster = cli_database / "roster.csv"
    # UTC: the graduate's day is the worker's day, whatever the hour.
    roster.write_text(
        f"phone,name,language,completion_date,time_zone\n+254712300481,Wanjiru,sw,{today},UTC\n"
    )
    assert main(["respondents", "import", str(roster)]) == 0
    study = cli_database / "study.toml"
    study.write_text(
        'name = "now"\nsurvey = "graduate_tracer"\ncontact_hours = "00:00-24:00"\n'
        'waves = [{ name = "completion", offset = "0d" }]\n'
    )
    assert main(["study", "import", str(study)]) == 0
    with AtStandin(username="sandbox", api_key="k") as standin:
        monkeypatch.setenv("AFRICASTALKING_USERNAME", "sandbox")
        monkeypatch.setenv("AFRICASTALKING_API_KEY", "k")
        monkeypatch.setenv("AFRICASTALKING_BASE_URL", standin.url)
        capfd.readouterr()
        assert main(["worker", "--once"]) == 0
        assert main(["worker", "--once"]) == 0  # a second pass sends nothing more
    assert [(s.to, s.message.split(",")[0]) for s in standin.sent] == [
        (["+254712300481"], "Habari Wanjiru")
    ]
    logged = capfd.readouterr().err
    assert "worker pass: 1 recorded, 1 sent, 0 failed" in logged
    assert "worker pass: 0 recorded, 0 sent" in logged
