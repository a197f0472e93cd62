"""``flow-engine admin tickets``: the attendant API (``/api/v1/tickets``) from a terminal.

``list`` shows tickets in a table with their ids, ``show`` one ticket with its history
and transcript, ``take``, ``reply``, ``transfer`` and ``close`` act on one. Every time is
shown in local time with its zone. A ticket may be named by its id or by the start of
it, when that names one ticket the caller can see.

Who acts: a member's token always acts as that member. The super-admin token acts for
the attendant it names with ``--as EMAIL`` (``take`` and ``reply`` need one; ``close`` and
``transfer`` record it when given): one who attends the ticket's number, once it has
any (the API refuses anyone else with a 422 naming ``attendant``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from flow_engine.admin_cli.client import AdminApi, ApiError
from flow_engine.admin_cli.ui import Ui, UsageError
from flow_engine.admin_cli.ui import local_time as ui_local_time

OK = 0
STATUSES = (
    "waiting",
    "assigned",
    "closed_by_attendant",
    "closed_by_contact",
    "closed_by_inactivity",
    "transferred",
)
#: ``--status open``: waiting or assigned
OPEN = ("waiting", "assigned")
PAGE_MAX = 200
#: how many tickets a short id is looked up among
PREFIX_SEARCH = 1000
AS_HELP = (
    "the attendant the super-admin acts for: once the ticket's number has members with "
    "the desk module, one of them (a member's token acts as the member)"
)

Command = Callable[[AdminApi, Ui, argparse.Namespace], Any]


def local_time(at: Any) -> str:
    """A ticket time in local time with its zone (``ui.local_time``), ``-`` when unset."""
    return "-" if at is None else ui_local_time(at)


# --------------------------------------------------------------------------- API calls
async def list_tickets(
    api: AdminApi,
    *,
    number: str | None = None,
    status: str | None = None,
    queue: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    params = {"number": number, "status": status, "queue": queue}
    page = await api.request(
        "GET", "/tickets", params={**params, "limit": limit, "offset": offset}
    )
    return list(page["tickets"])


async def get_ticket(api: AdminApi, ticket_id: str) -> dict[str, Any]:
    return dict((await api.request("GET", f"/tickets/{ticket_id}"))["ticket"])


async def act(api: AdminApi, ticket_id: str, action: str, body: dict[str, Any]) -> Any:
    return await api.request("POST", f"/tickets/{ticket_id}/{action}", json=body)


async def resolve(api: AdminApi, given: str) -> dict[str, Any]:
    """The ticket named by ``given``: its id, or the start of one id the caller sees."""
    try:
        return await get_ticket(api, given)
    except ApiError as err:
        if err.status != 404:
            raise
    matches: list[dict[str, Any]] = []
    for offset in range(0, PREFIX_SEARCH, PAGE_MAX):
        page = await list_tickets(api, limit=PAGE_MAX, offset=offset)
        matches += [t for t in page if str(t["id"]).startswith(given)]
        if len(page) < PAGE_MAX:
            break
    if len(matches) == 1:
        return await get_ticket(api, str(matches[0]["id"]))
    if matches:
        ids = ", ".join(str(t["id"]) for t in matches[:5])
        raise UsageError(f"{given!r} names {len(matches)} tickets ({ids}…): give more of the id")
    raise ApiError(404, "not_found", f"no ticket {given}", method="GET", path="/tickets")


def who(ticket: dict[str, Any]) -> str:
    name = ticket.get("contact_name")
    return f"{ticket['contact']} ({name})" if name else str(ticket["contact"])


def with_attendant(args: argparse.Namespace, **body: Any) -> dict[str, Any]:
    if args.as_ is not None:
        body["attendant"] = args.as_
    return body


async def acting(call: Any, args: argparse.Namespace) -> Any:
    """Run an action; a super-admin who named no attendant gets a usage hint (exit 2). A
    ``--as`` that was given and refused is the API's own answer, naming what is wrong."""
    try:
        return await call
    except ApiError as err:
        fields = err.field_errors()
        named = args.as_ is not None
        if err.status == 422 and not named and any(f == "attendant" for _n, f, _m in fields):
            raise UsageError(
                "the super-admin token acts for an attendant: add --as EMAIL "
                "(a member's token acts as the member)"
            ) from None
        raise


# --------------------------------------------------------------------------- commands
async def cmd_list(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    statuses = OPEN if args.status == "open" else (args.status,)
    found: list[dict[str, Any]] = []
    for status in statuses:
        found += await list_tickets(
            api, number=args.number, status=status, queue=args.queue, limit=args.limit
        )
    found.sort(key=lambda t: (t["created_at"], t["id"]), reverse=True)
    found = found[: args.limit]
    if ui.json:
        ui.emit(found)
        return OK
    if not found:
        ui.say("no tickets")
        return OK
    ui.table(
        ["ID", "STATUS", "QUEUE", "CONTACT", "ATTENDANT", "MESSAGES", "OPENED", "LAST ACTIVITY"],
        [
            [
                t["id"],
                t["status"],
                t["queue"],
                who(t),
                t.get("attendant") or "-",
                t.get("messages", 0),
                local_time(t["created_at"]),
                local_time(t.get("last_activity_at")),
            ]
            for t in found
        ],
    )
    return OK


def ticket_lines(t: dict[str, Any]) -> list[str]:
    lines = [
        f"ticket {t['id']}: {t['status']}",
        f"  number     {t['number']}",
        f"  contact    {who(t)}",
        f"  queue      {t['queue']} (priority {t.get('priority', 0)})",
        f"  attendant  {t.get('attendant') or '-'}",
    ]
    if t.get("transferred_from"):
        lines.append(f"  from       {t['transferred_from']} (transferred)")
    if t.get("transferred_to"):
        lines.append(f"  to         {t['transferred_to']} (transferred)")
    lines.append("history:")
    for step in t.get("transitions") or []:
        by = f" by {step['by']}" if step.get("by") else ""
        lines.append(f"  {local_time(step['at'])}  {step['status']}{by}")
    lines.append("transcript:" if t.get("transcript") else "transcript: (no messages yet)")
    for m in t.get("transcript") or []:
        sender = m["sender"]
        if sender == "attendant" and m.get("attendant"):
            sender = m["attendant"]
        elif sender == "contact":
            sender = t.get("contact_name") or t["contact"]
        text = m.get("text") or f"[{m.get('kind', 'message')}]"
        lines.append(f"  {local_time(m['at'])}  {sender}: {text}")
    return lines


async def cmd_show(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    ticket = await resolve(api, args.ticket)
    if ui.json:
        ui.emit(ticket)
    else:
        ui.say(*ticket_lines(ticket))
    return OK


async def cmd_take(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    ticket = await resolve(api, args.ticket)
    done = await acting(act(api, ticket["id"], "take", with_attendant(args)), args)
    taken = done["ticket"]
    if ui.json:
        ui.emit(taken)
    else:
        ui.say(f"{taken['id']}: taken by {taken['attendant']} — {who(taken)}, {taken['queue']}")
    return OK


async def cmd_reply(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    text = " ".join(args.text).strip()
    if not text:
        raise UsageError("give the TEXT to send")
    ticket = await resolve(api, args.ticket)
    done = await acting(act(api, ticket["id"], "messages", with_attendant(args, text=text)), args)
    if ui.json:
        ui.emit(done)
    else:
        sent = done["message"]
        ui.say(f"{ticket['id']}: sent to {who(ticket)} as {sent.get('attendant') or '-'}")
    return OK


async def cmd_transfer(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    ticket = await resolve(api, args.ticket)
    done = await act(api, ticket["id"], "transfer", with_attendant(args, queue=args.queue))
    if ui.json:
        ui.emit(done)
    else:
        new = done["new_ticket"]
        ui.say(f"{ticket['id']}: transferred; {new['id']} waits in {new['queue']}")
    return OK


async def cmd_close(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    ticket = await resolve(api, args.ticket)
    body = with_attendant(args, closed_by="contact" if args.by_contact else "attendant")
    done = await act(api, ticket["id"], "close", body)
    closed = done["ticket"]
    if ui.json:
        ui.emit(closed)
    else:
        ui.say(f"{closed['id']}: {closed['status']} at {local_time(closed.get('closed_at'))}")
    return OK


# --------------------------------------------------------------------------- the parser
def page_size(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= PAGE_MAX:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to {PAGE_MAX}, got {text!r}")
    return n


Add = Callable[[Any, str, Command | None, str], argparse.ArgumentParser]


def register_cli(cmds: Any, add: Add) -> Any:
    """Add ``tickets`` and its sub-commands under ``admin`` (``add`` is the admin
    parser's own helper: common options, and the command run with an API session);
    returns the sub-commands, for more (``admin_cli/data.py``: history, pdf)."""
    tickets = add(cmds, "tickets", None, "list, read, take, answer, transfer and close tickets")
    sub = tickets.add_subparsers(dest="tickets_command", required=True, metavar="COMMAND")

    ls = add(sub, "list", cmd_list, "list tickets, newest first")
    ls.add_argument("--number", metavar="N", help="only tickets of this number")
    ls.add_argument(
        "--status",
        choices=("open", *STATUSES),
        metavar="S",
        help="only this status: open (waiting or assigned), " + ", ".join(STATUSES),
    )
    ls.add_argument("--queue", metavar="Q", help="only tickets of this queue")
    ls.add_argument(
        "--limit",
        type=page_size,
        default=50,
        metavar="N",
        help=f"how many (default 50, 1–{PAGE_MAX})",
    )

    show = add(sub, "show", cmd_show, "a ticket: its history and transcript")
    show.add_argument("ticket", metavar="ID", help="a ticket id, or the start of one")

    take = add(sub, "take", cmd_take, "take (assign) a waiting ticket")
    take.add_argument("ticket", metavar="ID")
    take.add_argument("--as", dest="as_", metavar="EMAIL", help=AS_HELP)

    reply = add(sub, "reply", cmd_reply, "send the contact a message")
    reply.add_argument("ticket", metavar="ID")
    reply.add_argument("text", nargs="+", metavar="TEXT", help="the message (words are joined)")
    reply.add_argument("--as", dest="as_", metavar="EMAIL", help=AS_HELP)

    transfer = add(sub, "transfer", cmd_transfer, "transfer to another queue of the number")
    transfer.add_argument("ticket", metavar="ID")
    transfer.add_argument("queue", metavar="QUEUE")
    transfer.add_argument("--as", dest="as_", metavar="EMAIL", help=AS_HELP)

    close = add(sub, "close", cmd_close, "close a ticket (post-service, survey… follow)")
    close.add_argument("ticket", metavar="ID")
    close.add_argument("--as", dest="as_", metavar="EMAIL", help=AS_HELP)
    close.add_argument(
        "--by-contact", action="store_true", help="record it as ended by the contact"
    )
    return sub
