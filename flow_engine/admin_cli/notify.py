"""``flow-engine admin notify`` / ``catalog`` / ``campaigns``: active notifications from a
terminal or CI (docs/notifications.md). Parameters are given as options; a value
``@column`` names a CSV column (campaigns), ``--parameters JSON`` gives them whole."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

from flow_engine.admin_cli.client import AdminApi
from flow_engine.admin_cli.ui import Ui, UsageError, local_time

OK, REFUSED = 0, 1
FINAL = ("completed", "cancelled", "needs_attention")
POLL_S = 1.0


def value_of(text: str, *, columns: bool) -> Any:
    if columns and text.startswith("@") and len(text) > 1:
        return {"column": text[1:]}
    return text


def pairs(items: list[str] | None, what: str) -> list[tuple[str, str]]:
    out = []
    for item in items or []:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} must be KEY=VALUE, not {item!r}")
        out.append((key, val))
    return out


def parameters_of(args: argparse.Namespace, *, columns: bool) -> dict[str, Any] | None:
    if args.parameters:
        try:
            parsed = json.loads(args.parameters)
        except ValueError as exc:
            raise UsageError(f"--parameters is not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise UsageError("--parameters must be a JSON object")
        return parsed
    params: dict[str, Any] = {}
    if args.header:
        params["header"] = [value_of(v, columns=columns) for v in args.header]
    if args.body and args.named:
        raise UsageError("give --body (POSITIONAL) or --named (NAMED), not both")
    if args.body:
        params["body"] = [value_of(v, columns=columns) for v in args.body]
    if args.named:
        params["body"] = {k: value_of(v, columns=columns) for k, v in pairs(args.named, "--named")}
    buttons: dict[str, list[Any]] = {}
    for index, v in pairs(args.button, "--button"):
        buttons.setdefault(index, []).append(value_of(v, columns=columns))
    if buttons:
        params["buttons"] = buttons
    return params or None


def template_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--template", required=True, metavar="NAME", help="the template's name")
    p.add_argument("--language", default="es", metavar="CODE", help="its language (default es)")
    p.add_argument("--header", action="append", metavar="V", help="a header parameter")
    p.add_argument("--body", action="append", metavar="V", help="the next {{n}} of the body")
    p.add_argument("--named", action="append", metavar="NAME=V", help="a NAMED body parameter")
    p.add_argument("--button", action="append", metavar="INDEX=V", help="a button parameter")
    p.add_argument("--parameters", metavar="JSON", help="all parameters as JSON instead")
    p.add_argument("--extra", action="append", metavar="KEY=V", help="shown to the attendant")
    p.add_argument("--reply-queue", metavar="QUEUE", help="a reply opens a ticket there")


# ------------------------------------------------------------------------ commands
async def cmd_notify(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "to": args.to,
        "template": {"name": args.template, "language": args.language},
        "parameters": parameters_of(args, columns=False),
        "extras": dict(pairs(args.extra, "--extra")),
        "reply": {"queue": args.reply_queue} if args.reply_queue else None,
    }
    reply = await api.request("POST", f"/numbers/{args.number}/notifications", json=body)
    n = reply["notification"]
    deadline = time.monotonic() + (args.wait or 0)
    while n["status"] in ("pending", "sent", "delivered") and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        n = (await api.request("GET", f"/notifications/{n['id']}"))["notification"]
    if ui.json:
        ui.emit(n)
        return OK
    error = f" ({n['error']['code']}: {n['error']['title']})" if n.get("error") else ""
    ui.say(f"notification {n['id']} to {n['to']}: {n['status']}{error}")
    return OK if n["status"] != "failed" else REFUSED


async def cmd_catalog(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    path = f"/numbers/{args.number}/templates/" + ("sync" if args.sync else "catalog")
    reply = await api.request("POST" if args.sync else "GET", path)
    if ui.json:
        ui.emit(reply)
        return OK
    ui.say(f"catalog of {args.number}, synced {local_time(reply.get('synced_at')) or 'never'}")
    ui.table(
        ["NAME", "LANGUAGE", "STATUS", "CATEGORY", "FORMAT"],
        [
            [t["name"], t["language"], t["status"], t.get("category"), t.get("parameter_format")]
            for t in reply["templates"]
        ],
    )
    return OK


def campaign_spec(args: argparse.Namespace) -> dict[str, Any]:
    if (args.number is None) == (args.sender_column is None):
        raise UsageError("give --number or --sender-column")
    extras = {k: value_of(v, columns=True) for k, v in pairs(args.extra, "--extra")}
    spec: dict[str, Any] = {
        "name": args.name,
        "phone_column": args.phone_column,
        "separator": args.separator,
        "template": {"name": args.template, "language": args.language},
        "parameters": parameters_of(args, columns=True),
        "extras": extras,
        "reply": {"queue": args.reply_queue} if args.reply_queue else None,
        "per_second": args.per_second,
        "interval_s": args.interval or 0,
        "start_at": args.start_at,
        "batch_size": args.batch_size,
        "batch_interval_min": args.batch_interval_min,
    }
    spec["number" if args.number else "sender_column"] = args.number or args.sender_column
    return spec


def print_report(ui: Ui, report: dict[str, Any]) -> None:
    ui.say(
        f"rows {report['rows']}: {report['accepted']} to send, "
        f"{report['duplicates']} duplicates (sent once), "
        f"{report.get('rejected_total', len(report['rejected']))} rejected"
    )
    for r in report["rejected"][:50]:
        ui.say(f"  row {r['row']} ({r['column']}): {r['reason']}")
    if len(report["rejected"]) > 50:
        ui.say(f"  … and {len(report['rejected']) - 50} more (--json lists them all)")
    for sender, count in sorted(report.get("senders", {}).items()):
        ui.say(f"  from {sender}: {count}")
    if report.get("unused_columns"):
        ui.say("  columns not used: " + ", ".join(report["unused_columns"]))


async def cmd_campaigns_create(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    try:
        text = await asyncio.to_thread(Path(args.csv).read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {args.csv}: {exc}") from None
    spec = campaign_spec(args)
    dry = await api.request("POST", "/campaigns", json={**spec, "dry_run": True, "csv": text})
    if not ui.json:
        print_report(ui, dry["report"])
    if not dry["report"]["accepted"]:
        ui.warn("nothing to send")
        return REFUSED
    ui.confirm(f"send {args.template} to {dry['report']['accepted']} recipients?")
    created = await api.request("POST", "/campaigns", json={**spec, "csv": text})
    c = created["campaign"]
    if args.detach:
        if ui.json:
            ui.emit(created)
        else:
            ui.say(f"campaign {c['id']}: {c['state']}")
        return OK
    c = await follow(api, ui, c)
    if ui.json:
        ui.emit(c)
    return OK if c["state"] == "completed" else REFUSED


async def follow(api: AdminApi, ui: Ui, c: dict[str, Any]) -> dict[str, Any]:
    """Show the campaign's progress until it ends (or needs attention)."""
    total = c["counts"]["total"]
    with tqdm(
        total=total,
        desc=c["name"][:30],
        unit="recipient",
        file=sys.stderr,
        disable=ui.quiet or not sys.stderr.isatty(),
        dynamic_ncols=True,
    ) as bar:
        done_before = 0
        while True:
            counts = c["counts"]
            done = total - counts["pending"]
            bar.update(done - done_before)
            done_before = done
            bar.set_postfix(state=c["state"], failed=counts["failed"], read=counts["read"])
            if c["state"] in FINAL:
                break
            await asyncio.sleep(POLL_S)
            c = (await api.request("GET", f"/campaigns/{c['id']}"))["campaign"]
    if not ui.json:
        show(ui, c)
    return c


def show(ui: Ui, c: dict[str, Any]) -> None:
    counts = c["counts"]
    ui.say(
        f"campaign {c['id']} {c['name']!r}: {c['state']}"
        + (f" ({c['reason']})" if c.get("reason") else "")
    )
    ui.say("  " + ", ".join(f"{k} {counts[k]}" for k in counts))
    ui.say(
        f"  started {local_time(c.get('started_at')) or '-'}, "
        f"finished {local_time(c.get('finished_at')) or '-'}, rate {c.get('rate') or '-'}/s"
    )


async def cmd_campaigns_list(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    reply = await api.request(
        "GET", "/campaigns", params={"number": args.number, "state": args.state}
    )
    if ui.json:
        ui.emit(reply["campaigns"])
        return OK
    ui.table(
        ["ID", "NAME", "STATE", "TOTAL", "PENDING", "READ", "FAILED", "REPLIED", "CREATED"],
        [
            [
                c["id"],
                c["name"],
                c["state"],
                c["counts"]["total"],
                c["counts"]["pending"],
                c["counts"]["read"],
                c["counts"]["failed"],
                c["counts"]["replied"],
                local_time(c["created_at"]),
            ]
            for c in reply["campaigns"]
        ],
    )
    return OK


async def cmd_campaigns_show(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    c = (await api.request("GET", f"/campaigns/{args.id}"))["campaign"]
    if ui.json:
        ui.emit(c)
    else:
        show(ui, c)
    return OK


async def cmd_campaigns_control(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    c = (await api.request("POST", f"/campaigns/{args.id}/{args.action}"))["campaign"]
    if ui.json:
        ui.emit(c)
    else:
        show(ui, c)
    return OK


async def cmd_campaigns_export(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = await api.request(
            "GET",
            f"/campaigns/{args.id}/recipients",
            params={"status": args.status, "offset": offset, "limit": 1000},
        )
        rows += page["recipients"]
        offset = page["next"]
    if ui.json:
        ui.emit(rows)
        return OK
    out = io.StringIO()
    fields = [
        "phone",
        "sender",
        "status",
        "wamid",
        "error_code",
        "error_title",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
        "replied_at",
    ]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for r in rows:
        error = r.get("error") or {}
        writer.writerow(
            [
                r["phone"],
                r["sender"],
                r["status"],
                r.get("wamid") or "",
                error.get("code", ""),
                error.get("title", ""),
                *(r.get(f) or "" for f in fields[6:]),
            ]
        )
    if args.output:
        await asyncio.to_thread(Path(args.output).write_text, out.getvalue(), encoding="utf-8")
        ui.say(f"{len(rows)} recipients written to {args.output}")
    else:
        print(out.getvalue(), end="", file=ui.out)
    return OK


# --------------------------------------------------------------------------- parser
def register(cmds: Any, add: Any) -> None:
    """Add ``notify``, ``catalog`` and ``campaigns`` to ``flow-engine admin``."""
    notify = add(cmds, "notify", cmd_notify, "send one template to one contact (R-NOTIFY-1)")
    notify.add_argument("number", metavar="NUMBER", help="the sending number")
    notify.add_argument("--to", required=True, metavar="PHONE", help="any format a person types")
    template_options(notify)
    notify.add_argument("--wait", type=float, metavar="S", help="follow its status for S seconds")

    catalog = add(cmds, "catalog", cmd_catalog, "a number's WABA template catalog")
    catalog.add_argument("number", metavar="NUMBER")
    catalog.add_argument("--sync", action="store_true", help="read it from the WABA again first")

    campaigns = add(cmds, "campaigns", None, "campaigns: create from a CSV, follow, control")
    c_cmds = campaigns.add_subparsers(dest="campaigns_command", required=True, metavar="COMMAND")
    create = add(
        c_cmds,
        "create",
        cmd_campaigns_create,
        "dry run (report), confirm, create, then follow with a progress bar until it ends",
    )
    create.add_argument("--csv", required=True, metavar="FILE")
    create.add_argument("--name", required=True, metavar="NAME")
    create.add_argument("--number", metavar="NUMBER", help="the sending number")
    create.add_argument("--sender-column", metavar="COL", help="or: each row's sender")
    create.add_argument("--phone-column", required=True, metavar="COL")
    create.add_argument("--separator", default=",", choices=[",", ";", "|"])
    template_options(create)
    create.add_argument("--per-second", type=float, metavar="N", help="default: the fastest")
    create.add_argument("--interval", type=float, metavar="S", help="seconds between shots")
    create.add_argument("--start-at", metavar="ISO", help="offset, or the sender's local time")
    create.add_argument("--batch-size", type=int, metavar="N")
    create.add_argument("--batch-interval-min", type=float, metavar="M")
    create.add_argument("--detach", action="store_true", help="return once created")
    create.add_argument(
        "-y", "--yes", action="store_true", help="do not ask (needed without a terminal)"
    )
    listing = add(c_cmds, "list", cmd_campaigns_list, "list campaigns")
    listing.add_argument("--number", metavar="NUMBER")
    listing.add_argument("--state", metavar="STATE")
    show_p = add(c_cmds, "show", cmd_campaigns_show, "a campaign's state and counts")
    show_p.add_argument("id", metavar="ID")
    for action in ("pause", "resume", "cancel"):
        p = add(c_cmds, action, cmd_campaigns_control, f"{action} a campaign")
        p.add_argument("id", metavar="ID")
        p.set_defaults(action=action)
    export = add(c_cmds, "export", cmd_campaigns_export, "the recipients as CSV")
    export.add_argument("id", metavar="ID")
    export.add_argument("--status", metavar="STATUS")
    export.add_argument("-o", "--output", metavar="FILE")
