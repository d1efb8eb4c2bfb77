"""`service-tracker call` before any call is placed: what it refuses, and the exit status
of each refusal. Placing calls through a real Asterisk is tests/e2e/test_dialer.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from service_tracker.cli import main
from tests.conftest import markdown_to_xlsx

FORM = """
| survey |
| | type | name | label |
| | integer | months | Months? |
"""


@pytest.fixture
def database(cli_database: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AMI_USERNAME", "AMI_SECRET", "IVR_TRUNK", "DEFAULT_PHONE_REGION"):
        monkeypatch.delenv(name, raising=False)
    form = cli_database / "tracer.xlsx"
    form.write_bytes(markdown_to_xlsx(FORM))
    return form


@pytest.fixture
def ami(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMI_USERNAME", "tracer")
    monkeypatch.setenv("AMI_SECRET", "not-used-here")
    monkeypatch.setenv("IVR_TRUNK", "PJSIP/{number}@trunk")


def test_without_ami_settings_it_names_the_variables_to_set(database: Path, capsys) -> None:
    assert main(["survey", "import", str(database), "--ivr-number", "4000"]) == 0
    assert main(["call", "--survey", "tracer", "--phone", "+254712345678"]) == 2
    err = capsys.readouterr().err
    assert "set AMI_USERNAME, AMI_SECRET, IVR_TRUNK" in err


def test_a_survey_without_an_ivr_number_says_how_to_bind_one(
    database: Path, ami: None, capsys
) -> None:
    assert main(["survey", "import", str(database)]) == 0
    assert main(["call", "--survey", "tracer", "--phone", "+254712345678"]) == 2
    assert capsys.readouterr().err == (
        "survey tracer has no IVR number: bind one with "
        "`service-tracker survey import FILE --ivr-number NUMBER`\n"
    )


def test_an_unknown_survey_is_a_usage_error(database: Path, ami: None, capsys) -> None:
    assert main(["call", "--survey", "nope", "--phone", "+254712345678"]) == 2
    assert "no survey with id or form_id 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("phone", ["0712345678", "+2547", "call me"])
def test_a_number_that_is_not_one_is_refused_with_the_reason(
    database: Path, ami: None, capsys, phone: str
) -> None:
    assert main(["survey", "import", str(database), "--ivr-number", "4000"]) == 0
    assert main(["call", "--survey", "tracer", "--phone", phone]) == 2
    assert capsys.readouterr().err.startswith(f"--phone {phone!r}: ")


def test_a_bad_call_setting_is_a_configuration_error(
    database: Path, ami: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("IVR_TRUNK", "PJSIP/trunk")
    assert main(["call", "--survey", "tracer", "--phone", "+254712345678"]) == 2
    assert "IVR_TRUNK='PJSIP/trunk'" in capsys.readouterr().err
