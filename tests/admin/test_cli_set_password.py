"""``flow-engine admin members set-password EMAIL``: one line of stdin without a terminal,
asked twice on one; the console accepts the password; it is never printed."""

from __future__ import annotations

import io
from typing import Any

import pytest
from structlog.testing import capture_logs

from flow_engine.admin_cli import passwords
from flow_engine.admin_cli.ui import UsageError
from flow_engine.web.state import SIGNIN
from tests.admin import test_cli
from tests.admin.conftest import AdminClient
from tests.admin.test_cli import Cli

SECRET = "a long enough secret"
cli = test_cli.cli  # the fixture of the CLI tests


async def test_set_password_reads_one_line_of_stdin_and_the_console_accepts_it(
    admin: AdminClient,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await admin.member_token("ana@example.com", ["desk"], [])
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\nignored second line\n"))
    with capture_logs() as logs:
        run = await cli("members", "set-password", "ana@example.com")
    assert run.code == 0, run.err
    assert "ana@example.com" in run.out
    assert SECRET not in run.out + run.err + repr(logs)
    session = await admin.app[SIGNIN].sign_in("ana@example.com", SECRET, "127.0.0.1")
    assert session.id


async def test_set_password_refuses_no_input_and_an_unknown_member(
    admin: AdminClient,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await admin.member_token("ana@example.com", ["desk"], [])
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    empty = await cli("members", "set-password", "ana@example.com")
    assert empty.code == 2 and "no password" in empty.err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    short = await cli("members", "set-password", "ana@example.com")
    assert short.code == 1 and "password" in short.err
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    unknown = await cli("members", "set-password", "nobody@example.com")
    assert unknown.code == 1 and "nobody@example.com" in unknown.err


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_it_asks_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([SECRET, SECRET])
    monkeypatch.setattr(passwords.getpass, "getpass", lambda prompt: next(answers))
    assert passwords.read_password(Tty()) == SECRET
    differ: Any = iter([SECRET, "another one"])
    monkeypatch.setattr(passwords.getpass, "getpass", lambda prompt: next(differ))
    with pytest.raises(UsageError, match="differ"):
        passwords.read_password(Tty())
