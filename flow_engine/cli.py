"""``flow-engine`` command line: serve, schema, fake-gateway, chat, test, new-skill, and
``admin`` (the admin API from a terminal or CI: numbers, configurations, members)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flow_engine import __version__
from flow_engine.errors import ConfigurationError

if TYPE_CHECKING:
    from flow_engine.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    from flow_engine.logging import configure_logging
    from flow_engine.settings import Settings
    from flow_engine.web.app import PORT_SETTINGS, create_app, run_app, store_server
    from flow_engine.web.listen import bound_port, listen

    environ = dict(os.environ)
    if args.role is not None:  # the flag wins over FLOW_ENGINE_ROLE
        environ["FLOW_ENGINE_ROLE"] = args.role
    try:
        settings = Settings.from_env(environ)
        configure_logging(settings.log_level, settings.log_format)
        settings.require_production_secrets()
        settings.require_production_store()
        # bound before anything starts: a taken port is one line, not a traceback
        sockets = listen(settings.host, settings.port, change=PORT_SETTINGS)
        app = create_app(settings)
        with store_server(app):  # the embedded store's redis-server, stopped on any exit
            _use_uvloop()
            print(_serving_line(settings, bound_port(sockets)), file=sys.stderr, flush=True)
            run_app(app, settings, sockets)
    except ConfigurationError as exc:
        print(f"flow-engine: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _use_uvloop() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        pass


def _serving_line(settings: Settings, port: int) -> str:
    store: str = settings.store_kind
    if store == "embedded":
        store += f" in {settings.data_dir}"
    return (
        f"flow-engine {__version__} serving on http://{settings.host}:{port} "
        f"({settings.env}, role: {settings.role}, store: {store}, "
        f"gateway: {settings.whatsapp_api_url})"
    )


def _schema(args: argparse.Namespace) -> int:
    from flow_engine.domain.config import config_json_schema
    from flow_engine.engine.skills.http import reply_json_schema, request_json_schema

    schemas = {
        "config": config_json_schema,
        "skill-request": request_json_schema,
        "skill-reply": reply_json_schema,
    }
    print(json.dumps(schemas[args.which](), indent=2, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from flow_engine.admin_cli import commands as admin_commands
    from flow_engine.devtools import chat, convtest, fake_gateway_cli, new_skill

    parser = argparse.ArgumentParser(prog="flow-engine", description=__doc__)
    parser.add_argument("--version", action="version", version=f"flow-engine {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the engine (settings from FLOW_ENGINE_*)")
    serve.add_argument(
        "--role",
        choices=["all", "web", "worker"],
        default=None,
        help="web: answer webhooks (verify, dedupe, enqueue) and serve the APIs; worker: "
        "handle the queues and send; all (the default, or FLOW_ENGINE_ROLE): both. web and "
        "worker need a shared Redis (FLOW_ENGINE_REDIS_URL)",
    )
    serve.set_defaults(func=_serve)
    schema = sub.add_parser(
        "schema",
        help="print a JSON Schema: a number configuration (default), or the HTTP skill "
        "protocol's request or reply",
    )
    schema.add_argument(
        "which", nargs="?", default="config", choices=["config", "skill-request", "skill-reply"]
    )
    schema.set_defaults(func=_schema)
    fake_gateway_cli.register_cli(sub)
    chat.register_cli(sub)
    convtest.register_cli(sub)
    new_skill.register_cli(sub)
    admin_commands.register_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except BrokenPipeError:
        # The reader went away (``flow-engine admin numbers | head``): stop quietly, not
        # with a traceback; what is still buffered goes nowhere instead of failing again
        # at exit (the recipe of Python's signal module docs).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result
