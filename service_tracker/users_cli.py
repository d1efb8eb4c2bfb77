"""`service-tracker users create --email E --organisation NAME --role admin|analyst`: a
staff account of the admin site. The first account of a new deployment is made here.

The password is read from a prompt (twice, not echoed) or, with `--password-stdin`, from
the first line of standard input, so it never appears in the process list or the shell's
history. Exit status: 0 made; 1 refused (the reason on standard error).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from service_tracker.commands import run_with_engine
from service_tracker.config import Settings
from storage.accounts import ROLES, AccountError, User, create_user

__all__ = ["add_users_commands"]


def add_users_commands(commands: Any) -> None:
    """Add `users create` to the command line's subcommands."""
    users = commands.add_parser("users", help="staff accounts of the admin site")
    actions = users.add_subparsers(metavar="ACTION")
    create = actions.add_parser("create", help="make a staff account")
    create.add_argument("--email", required=True, help="the login, e.g. officer@agency.org")
    create.add_argument(
        "--organisation", required=True, help="the agency it belongs to (made if new)"
    )
    create.add_argument("--role", required=True, choices=ROLES, help="admin or analyst")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )
    create.set_defaults(run=_create)


def _create(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    if password is None:
        return 1

    async def work(engine: Any) -> User:
        return await create_user(
            engine,
            email=args.email,
            organisation=args.organisation,
            role=args.role,
            password=password,
        )

    try:
        user = run_with_engine(settings, work)
    except AccountError as error:
        print(f"users create: {error}", file=sys.stderr)
        return 1
    print(f"user {user.email} created: {user.role} of {user.organisation} (id {user.id})")
    return 0


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    try:
        first = getpass.getpass("Password: ")
        again = getpass.getpass("Password again: ")
    except (EOFError, KeyboardInterrupt):
        print("\nusers create: no password given", file=sys.stderr)
        return None
    if first != again:
        print("users create: the two passwords differ", file=sys.stderr)
        return None
    return first
