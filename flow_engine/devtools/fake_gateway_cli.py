"""``flow-engine fake-gateway``: serve the development gateway, and be a WhatsApp user.

- ``fake-gateway`` serves it (each recorded send prints one line);
- ``fake-gateway send TEXT`` (or ``--pick N``) first prints every message that reached
  the user since its last call (what an attendant wrote meanwhile), then sends, waits
  briefly and prints the replies;
- ``fake-gateway watch`` follows what reaches the user, until Ctrl-C;
- ``fake-gateway quality`` sets a number's quality rating and posts the quality webhook
  (:mod:`flow_engine.devtools.fake_numbers`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from flow_engine.devtools import fake_numbers, webhooks
from flow_engine.devtools.fake_gateway import (
    DEFAULT_CONTACT,
    DEFAULT_ENGINE_URL,
    DEFAULT_GATEWAY_URL,
    STATE,
    create_fake_gateway_app,
)
from flow_engine.devtools.fake_templates import DEFAULT_TEMPLATES, FakeCatalog
from flow_engine.errors import ConfigurationError
from flow_engine.settings import DEV_SECRETS
from flow_engine.web.listen import bound_port, listen

POLL_S = 0.1
WATCH_POLL_S = 0.25
#: ``send`` stops waiting this long after the last reply
QUIET_S = 0.5


def _print_send(record: dict[str, Any]) -> None:
    print(f"→ {record['to']}: {webhooks.one_line(record['payload'])}", flush=True)


def _serve(args: argparse.Namespace) -> int:
    env = os.environ
    secret = (
        args.app_secret
        or env.get("FLOW_ENGINE_WHATSAPP_APP_SECRET")
        or DEV_SECRETS["whatsapp_app_secret"]
    )
    token = args.token or env.get("FLOW_ENGINE_WHATSAPP_TOKEN") or DEV_SECRETS["whatsapp_token"]
    app = create_fake_gateway_app(
        engine_url=args.engine_url,
        app_secret=secret,
        token=None if args.no_auth else token,
        on_send=_print_send,
        numbers_dir=args.numbers_dir,
        on_code=fake_numbers.print_code,
        catalog=FakeCatalog.from_file(args.templates),
    )
    app[STATE].catalog.mode = args.statuses
    try:
        sockets = listen(args.host, args.port, change="pass --port (or --host) to change it")
    except ConfigurationError as exc:
        print(f"flow-engine fake-gateway: {exc.message}", file=sys.stderr)
        return 2
    print(
        f"fake gateway on http://{args.host}:{bound_port(sockets)}, webhooks to {args.engine_url}",
        flush=True,
    )
    web.run_app(app, sock=sockets, print=None, access_log=None)
    return 0


# --- talking to a running gateway -----------------------------------------------------------
async def _list_sent(
    session: aiohttp.ClientSession, base: str, to: str, number: str, after: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """The sends to ``to`` after ``after`` (a seq), and the gateway's last seq."""
    params = {"to": to, "phone_number_id": number, "after": str(after)}
    async with session.get(f"{base}/_fake/messages", params=params) as resp:
        resp.raise_for_status()
        body = await resp.json()
    return list(body["messages"]), int(body.get("last_seq", 0))


async def _unseen(
    session: aiohttp.ClientSession, base: str, to: str, number: str
) -> list[dict[str, Any]]:
    """What reached ``to`` since ``send`` last asked (the gateway keeps the cursor)."""
    ask = {"to": to, "phone_number_id": number, "reader": "send"}
    async with session.post(f"{base}/_fake/inbox", json=ask) as resp:
        resp.raise_for_status()
        return list((await resp.json())["messages"])


def _print_reply(record: dict[str, Any], *, stamp: bool = False) -> None:
    lines = webhooks.describe_payload(record["payload"])
    prefix = ""
    if stamp:
        prefix = datetime.fromtimestamp(float(record["timestamp"])).strftime("%H:%M:%S ")
    print(prefix + "← " + lines[0])
    for line in lines[1:]:
        print(" " * len(prefix) + "  " + line)
    sys.stdout.flush()


async def _send_async(args: argparse.Namespace) -> int:
    base = args.gateway_url.rstrip("/")
    inbound: dict[str, Any] = {
        "phone_number_id": args.number,
        "from": args.from_,
        "name": args.name,
    }
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        backlog = await _unseen(session, base, args.from_, args.number)
        for record in backlog:
            _print_reply(record)  # what reached the user since the last call
        if args.pick is not None:
            before, _last = await _list_sent(session, base, args.from_, args.number)
            options = webhooks.options_of(before[-1]["payload"]) if before else []
            if not 1 <= args.pick <= len(options):
                print(
                    f"no option {args.pick} in the last message to {args.from_}", file=sys.stderr
                )
                return 2
            kind, option_id, title = options[args.pick - 1]
            inbound[kind] = {"id": option_id, "title": title}
            print(f"→ [{title}]")
        elif args.text:
            inbound["text"] = args.text
            if backlog:  # mark where the user's own message comes in the conversation
                print(f"→ {args.text}")
        else:
            print("give a TEXT to send, or --pick N", file=sys.stderr)
            return 2
        async with session.post(f"{base}/_fake/inbound", json=inbound) as resp:
            result = await resp.json()
        if resp.status != 200 or result.get("status") != 200:
            reason = (result.get("error") or {}).get("message") or (
                f"HTTP {result.get('status')} {str(result.get('body', ''))[:200]}"
            )
            print(f"the engine did not take the webhook: {reason}", file=sys.stderr)
            return 1
        loop = asyncio.get_running_loop()
        deadline, last_reply = loop.time() + args.wait, None
        while loop.time() < deadline:
            await asyncio.sleep(POLL_S)
            for record in await _unseen(session, base, args.from_, args.number):
                last_reply = loop.time()
                _print_reply(record)
            if last_reply is not None and loop.time() - last_reply > QUIET_S:
                break
        if last_reply is None:
            print(f"(no reply within {args.wait:g} s)")
    return 0


async def _watch_async(args: argparse.Namespace) -> int:
    base = args.gateway_url.rstrip("/")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        _old, last = await _list_sent(session, base, args.from_, args.number, after=0)
        print(
            f"watching what {args.number} sends to {args.from_} (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        while True:
            found, _newest = await _list_sent(session, base, args.from_, args.number, last)
            for record in found:
                _print_reply(record, stamp=True)
                last = max(last, int(record["seq"]))
            await asyncio.sleep(WATCH_POLL_S)


def _unreachable(args: argparse.Namespace, exc: BaseException) -> int:
    reason = str(exc) or type(exc).__name__
    print(f"fake gateway not reachable at {args.gateway_url}: {reason}", file=sys.stderr)
    return 1


def _send(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_send_async(args))
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _unreachable(args, exc)


def _watch(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_watch_async(args))
    except KeyboardInterrupt:
        return 0
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _unreachable(args, exc)


def _user_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from", dest="from_", metavar="WA_ID", default=DEFAULT_CONTACT, help="user number"
    )
    p.add_argument("--number", default=webhooks.DEV_PHONE_NUMBER_ID, help="phone number id")
    p.add_argument("--gateway-url", default=DEFAULT_GATEWAY_URL)


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``fake-gateway`` (serve), ``fake-gateway send`` and ``fake-gateway watch``."""
    serve = subparsers.add_parser(
        "fake-gateway",
        help="serve the development WhatsApp gateway",
        description="Serve a fake WhatsApp Cloud API; each recorded send prints one line.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8081)
    serve.add_argument("--engine-url", default=DEFAULT_ENGINE_URL, help="webhook URL")
    serve.add_argument(
        "--app-secret",
        default=None,
        help="webhook signing secret (default: $FLOW_ENGINE_WHATSAPP_APP_SECRET or the dev one)",
    )
    serve.add_argument(
        "--token",
        default=None,
        help="bearer token to require (default: $FLOW_ENGINE_WHATSAPP_TOKEN or the dev one)",
    )
    serve.add_argument("--no-auth", action="store_true", help="accept any bearer token")
    serve.add_argument(
        "--templates",
        type=Path,
        default=DEFAULT_TEMPLATES,
        help="the WABA template catalogs to serve (default: fixtures/catalog/templates.json)",
    )
    serve.add_argument(
        "--statuses",
        choices=["templates", "all", "off"],
        default="templates",
        help="post status webhooks (sent, delivered, read) for template sends (default), "
        "every send, or none",
    )
    serve.set_defaults(func=_serve)
    commands = serve.add_subparsers(dest="fake_gateway_command", metavar="{send,watch,quality}")
    fake_numbers.register_cli(serve, commands, gateway_url=DEFAULT_GATEWAY_URL)
    send = commands.add_parser(
        "send",
        help="send a message to the engine as a WhatsApp user and print the replies",
        description=(
            "Print what reached the user since the last send (e.g. an attendant's "
            "messages), send TEXT (or tap option N of the last menu), then print the "
            "replies that come within --wait seconds."
        ),
    )
    send.add_argument("text", nargs="?", metavar="TEXT")
    send.add_argument("--pick", type=int, metavar="N", help="tap option N of the last menu")
    send.add_argument("--name", default="Ana", help="user profile name")
    _user_options(send)
    send.add_argument("--wait", type=float, default=2.0, help="seconds to wait for replies")
    send.set_defaults(func=_send)
    watch = commands.add_parser(
        "watch",
        help="print what reaches a WhatsApp user as it comes, until Ctrl-C",
        description="Follow the messages the engine sends to one user (from now on).",
    )
    _user_options(watch)
    watch.set_defaults(func=_watch)
