"""``flow-engine admin health`` and ``flow-engine admin activate`` (docs/admin-cli.md).

``health`` prints the counts per class on one line, then the table; ``--csv FILE`` also
writes the server's CSV of the same table (``-``: to standard output, instead of the
table). ``activate`` shows the number as the gateway has it, requests a code, then
verifies it with the two-step PIN: it asks for the method, the code and the PIN only on a
terminal (the PIN without echo); without one, the flags say them.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flow_engine.admin_cli.client import AdminApi
from flow_engine.admin_cli.ui import Ui, UsageError

OK = 0
PIN_ENV = "FLOW_ENGINE_ACTIVATION_PIN"
CLASSES = ("good", "medium", "bad", "unknown")
Add = Callable[..., argparse.ArgumentParser]


def _when(at: Any) -> str:
    if isinstance(at, int | float):
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")
    return ""


def counts_line(counts: dict[str, int]) -> str:
    return "  ".join(f"{c}: {counts.get(c, 0)}" for c in CLASSES)


def write_file(path: str, content: str) -> None:
    try:
        Path(path).write_text(content, encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


async def cmd_health(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    params = {"class": args.klass, "q": args.search}
    if args.csv:
        csv_text = await api.request("GET", "/health", params={**params, "format": "csv"})
        if args.csv == "-":
            print(csv_text, end="", file=ui.out)
            return OK
        write_file(args.csv, str(csv_text))
    table = await api.request("GET", "/health", params=params)
    if ui.json:
        ui.emit(table)
        return OK
    print(counts_line(table["counts"]), file=ui.out)
    ui.table(
        ["NUMBER", "NAME", "PHONE", "CLASS", "QUALITY", "LIMIT", "STATUS", "CHECKED"],
        [
            [
                r["number"],
                r["name"],
                r["display_phone_number"],
                r["class"],
                r["quality_rating"],
                r["messaging_limit"],
                r["status"],
                _when(r["checked_at"]),
            ]
            for r in table["numbers"]
        ],
    )
    if args.csv:
        ui.warn(f"wrote {len(table['numbers'])} numbers to {args.csv}")
    return OK


# --------------------------------------------------------------------------- activate
def _terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _ask(question: str) -> str:
    print(question, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip()


def _show(ui: Ui, view: dict[str, Any]) -> None:
    ui.say(
        f"number {view['number']}: {view.get('display_phone_number') or '?'}"
        f" ({view.get('verified_name') or 'no verified name'})",
        f"  WABA id: {view.get('waba_id') or 'unknown'}",
        f"  code verification: {view.get('code_verification_status') or 'unknown'}"
        f", status: {view.get('status') or 'unknown'}",
    )


def _method(args: argparse.Namespace) -> str:
    if args.method:
        return str(args.method)
    if not _terminal():
        raise UsageError("give --method VOICE or --method SMS (no terminal to ask on)")
    while True:
        answer = _ask("Send the code by voice call or SMS? [VOICE/sms] ").upper() or "VOICE"
        if answer in ("VOICE", "SMS"):
            return answer
        print("answer VOICE or SMS", file=sys.stderr)


def _pin(args: argparse.Namespace, kept: bool) -> str | None:
    pin = args.pin or os.environ.get(PIN_ENV) or None
    if pin is not None or not _terminal():
        return pin
    hint = " (empty: the one kept)" if kept else ""
    return getpass.getpass(f"Two-step PIN of the number{hint}: ").strip() or None


async def cmd_activate(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    number = args.number
    path = f"/numbers/{number}/activation"
    view = await api.request("GET", path)
    _show(ui, view)
    code = args.code
    if code is None:
        method = _method(args)
        await api.request(
            "POST", f"{path}/request-code", json={"method": method, "language": args.language}
        )
        how = "a voice call" if method == "VOICE" else "an SMS"
        ui.say(f"code requested: {how} to {view.get('display_phone_number') or number}")
        if not _terminal():
            ui.say(f"run again with --code CODE (and --pin PIN, or ${PIN_ENV}) to verify it")
            return OK
        code = _ask("Code received: ")
        if not code:
            raise UsageError("no code given: nothing was verified")
    body: dict[str, Any] = {"code": code}
    pin = _pin(args, bool(view.get("pin_kept")))
    if pin is not None:
        body["pin"] = pin
    done = await api.request("POST", f"{path}/verify", json=body)
    if ui.json:
        ui.emit(done)
        return OK
    ui.say("activated:")
    _show(ui, done)
    return OK


def register(cmds: Any, add: Add) -> None:
    """Add ``health`` and ``activate`` to the ``flow-engine admin`` commands."""
    health = add(
        cmds,
        "health",
        cmd_health,
        "numbers' health: counts per class, then the table (or its CSV)",
    )
    health.add_argument("--class", dest="klass", choices=CLASSES, help="only this class")
    health.add_argument("--search", metavar="Q", help="only numbers matching Q (number, name)")
    health.add_argument(
        "--csv", metavar="FILE", help="also write the table as CSV to FILE (-: standard output)"
    )
    activate = add(
        cmds,
        "activate",
        cmd_activate,
        "activate a number: request a code by voice call, then verify it with the PIN",
    )
    activate.add_argument("number", metavar="NUMBER")
    activate.add_argument("--method", choices=["VOICE", "SMS"], type=str.upper)
    activate.add_argument("--language", default="es", help="language of the call (default es)")
    activate.add_argument("--code", help="the code received (skips requesting a new one)")
    activate.add_argument("--pin", help=f"the number's two-step PIN (or ${PIN_ENV})")
