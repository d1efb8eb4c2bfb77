"""`service-tracker users create`, as an operator makes the first account."""

from __future__ import annotations

import io

import pytest

from service_tracker.cli import main


def test_the_first_account_is_made_with_the_password_on_stdin(cli_database, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    args = ["users", "create", "--email", "officer@agency.org", "--organisation", "Kenya TVET"]
    assert main([*args, "--role", "admin", "--password-stdin"]) == 0
    assert "user officer@agency.org created: admin of Kenya TVET" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main([*args, "--role", "analyst", "--password-stdin"]) == 1
    assert "already an account for officer@agency.org" in capsys.readouterr().err


def test_a_prompted_password_typed_twice_differently_is_refused(cli_database, monkeypatch, capsys):
    typed = iter(["a long enough password", "a long enough passw0rd"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    args = ["users", "create", "--email", "a@x.org", "--organisation", "O", "--role", "analyst"]
    assert main(args) == 1
    assert "the two passwords differ" in capsys.readouterr().err


@pytest.mark.parametrize("role", ["owner", ""])
def test_a_role_that_is_not_one_is_refused_by_the_parser(cli_database, role, capsys):
    with pytest.raises(SystemExit):
        main(["users", "create", "--email", "a@x.org", "--organisation", "O", "--role", role])
    assert "admin" in capsys.readouterr().err
