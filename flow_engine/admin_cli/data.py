"""``flow-engine admin data <report>`` and ``flow-engine admin tickets history|pdf``
(docs/admin-cli.md, docs/data.md).

A report prints its totals, then its series as a table; ``--csv FILE`` writes the
server's CSV of the series (``-``: to standard output, instead of the table). ``tickets
history NUMBER`` pages the ticket history (``--csv FILE``: the whole table); ``tickets pdf
ID -o FILE`` saves a ticket's transcript.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flow_engine.admin_cli.client import AdminApi
from flow_engine.admin_cli.ui import Ui, UsageError, local_time

OK = 0
Add = Callable[..., argparse.ArgumentParser]
REPORTS = {
    "overview": "the cards: tickets, notifications, surveys, volume (MAU/MIS this month)",
    "service": "human service: offered, closed, attended, abandoned, lost; AHT, TMF, TME",
    "notifications": "active notifications: total, received, read, errors, replied",
    "surveys": "satisfaction surveys: shown, answered, response rate, CSAT or NPS",
    "messages": "message volume: sent (bot, attendant, notification), received; MAU, MIS",
}
#: the columns of each report's series table (the CSV has them all)
COLUMNS = {
    "service": [
        "offered",
        "closed",
        "attended",
        "abandoned",
        "lost",
        "attended_pct",
        "aht_s",
        "tmf_s",
        "first_response_s",
        "tme_s",
        "response_s",
    ],
    "notifications": ["total", "received", "read", "errors", "replied", "response_rate"],
    "surveys": ["shown", "answered", "response_rate", "csat", "csat_satisfied_pct", "nps"],
    "messages": ["received", "sent", "sent_bot", "sent_attendant", "sent_notification"],
}


def write_file(path: str, content: bytes) -> None:
    try:
        Path(path).write_bytes(content)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def report_params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {
        "numbers": ",".join(args.numbers) if args.numbers else None,
        "from": args.from_,
        "to": args.to,
    }
    if args.report != "overview":
        params["interval"] = args.interval
    if args.report == "notifications":
        params["by"] = args.by
    if args.report == "surveys":
        params["kind"] = args.kind
    return params


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


async def cmd_report(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    path = f"/data/{args.report}"
    params = report_params(args)
    if args.csv:
        data = await api.download(path, {**params, "format": "csv"})
        if args.csv == "-":
            print(data.decode(), end="", file=ui.out)
            return OK
        write_file(args.csv, data)
    report = await api.request("GET", path, params=params)
    if ui.json:
        ui.emit(report)
        return OK
    q = report["query"]
    ui.say(f"{', '.join(q['numbers']) or '(no numbers)'} · {q['from']} to {q['to']}")
    if args.report == "overview":
        for card in ("tickets", "notifications", "surveys", "volume"):
            values = "  ".join(f"{k}: {_cell(v)}" for k, v in report[card].items())
            print(f"{card}: {values}", file=ui.out)
        return OK
    columns = COLUMNS[args.report]
    print(
        "totals: " + "  ".join(f"{c}: {_cell(report['totals'].get(c))}" for c in columns),
        file=ui.out,
    )
    ui.table(
        ["PERIOD", *(c.upper() for c in columns)],
        [[p["period"], *(_cell(p.get(c)) for c in columns)] for p in report["series"]],
    )
    if args.csv:
        ui.warn(f"wrote {len(report['series'])} rows to {args.csv}")
    return OK


async def cmd_history(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    path = f"/numbers/{args.number}/tickets/history"
    params = {
        "from": args.from_,
        "to": args.to,
        "status": args.status,
        "queue": args.queue,
        "attendant": args.attendant,
        "q": args.search,
    }
    if args.csv:
        data = await api.download(path, {**params, "format": "csv"})
        if args.csv == "-":
            print(data.decode(), end="", file=ui.out)
            return OK
        write_file(args.csv, data)
        rows = max(0, len(data.splitlines()) - 1)
        ui.warn(f"wrote {rows} tickets to {args.csv}")
        return OK
    page = await api.request(
        "GET", path, params={**params, "limit": args.limit, "offset": args.offset}
    )
    if ui.json:
        ui.emit(page)
        return OK
    ui.table(
        ["ID", "CONTACT", "NAME", "QUEUE", "STATUS", "ATTENDANT", "OPENED", "CLOSED"],
        [
            [
                t["id"],
                t["contact"],
                t["contact_name"],
                t["queue"],
                t["status"],
                t["attendant"] or "",
                local_time(t["created_at"]),
                local_time(t["closed_at"]) if t["closed_at"] else "",
            ]
            for t in page["tickets"]
        ],
    )
    if page["next_offset"] is not None:
        ui.say(f"more: --offset {page['next_offset']}")
    return OK


async def cmd_pdf(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    data = await api.download(f"/tickets/{args.ticket}/transcript.pdf")
    out = args.output or f"{args.ticket}.pdf"
    write_file(out, data)
    ui.say(f"wrote {out} ({len(data)} bytes)")
    return OK


def register(cmds: Any, add: Add, tickets: Any) -> None:
    """Add ``data`` and its reports under ``admin``, and ``history`` and ``pdf`` under
    ``admin tickets`` (``tickets``: that command's sub-parsers)."""
    data = add(cmds, "data", None, "live metrics per number and period (docs/data.md)")
    sub = data.add_subparsers(dest="report", required=True, metavar="REPORT")
    for name, help_text in REPORTS.items():
        p = add(sub, name, cmd_report, help_text)
        p.add_argument("--numbers", nargs="+", metavar="N", help="default: all you may see")
        p.add_argument("--from", dest="from_", metavar="YYYY-MM-DD", help="first local date")
        p.add_argument("--to", metavar="YYYY-MM-DD", help="last local date (inclusive)")
        if name != "overview":
            p.add_argument("--interval", choices=["day", "week", "month"], default="day")
        if name == "notifications":
            p.add_argument("--by", choices=["number", "template", "region"], default="number")
        if name == "surveys":
            p.add_argument("--kind", choices=["csat", "nps"], default="csat")
        p.add_argument(
            "--csv", metavar="FILE", help="also write the series as CSV to FILE (-: stdout)"
        )

    history = add(tickets, "history", cmd_history, "a number's ticket history (3 months)")
    history.add_argument("number", metavar="NUMBER")
    history.add_argument("--from", dest="from_", metavar="YYYY-MM-DD")
    history.add_argument("--to", metavar="YYYY-MM-DD")
    history.add_argument("--status", metavar="S")
    history.add_argument("--queue", metavar="Q")
    history.add_argument("--attendant", metavar="EMAIL")
    history.add_argument("--search", metavar="Q", help="in the contact's name or phone")
    history.add_argument("--limit", type=int, default=50)
    history.add_argument("--offset", type=int, default=0)
    history.add_argument("--csv", metavar="FILE", help="the whole table as CSV (-: stdout)")

    pdf = add(tickets, "pdf", cmd_pdf, "save a ticket's PDF transcript")
    pdf.add_argument("ticket", metavar="ID")
    pdf.add_argument("-o", "--output", metavar="FILE", help="default: <ID>.pdf")
