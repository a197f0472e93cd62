"""``flow-engine admin members set-password EMAIL``: the super-admin sets a member's
console password. On a terminal it asks twice (without echo); otherwise it reads one
line of standard input (``echo "$PASSWORD" | flow-engine admin members set-password …``),
so nothing waits for a terminal in CI. The password is never an argument: it would show
in the process list and the shell history."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, cast

from flow_engine.admin_cli.client import AdminApi
from flow_engine.admin_cli.ui import Ui, UsageError


def read_password(stdin: Any = None) -> str:
    """The new password: asked twice on a terminal, else the first line of stdin."""
    stream = stdin or sys.stdin
    if stream.isatty():
        first = getpass.getpass("New password: ")
        second = getpass.getpass("Repeat it: ")
        if first != second:
            raise UsageError("the two passwords differ: nothing changed")
        password = first
    else:
        password = stream.readline().rstrip("\r\n")
    if not password:
        raise UsageError("no password given: nothing changed")
    return password


async def cmd_members_set_password(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    from flow_engine.admin_cli.commands import OK, member_by_email

    member = await member_by_email(api, args.email)
    password = read_password()
    done = cast(
        dict[str, Any],
        await api.request("PUT", f"/members/{member['id']}/password", json={"password": password}),
    )
    if ui.json:
        ui.emit(done)
    else:
        ui.say(f"console password set for {done['email']}: their sessions were signed out")
    return OK
