"""A real engine process running the base flow: ``python -m tests.support.base_engine_proc``
(settings from FLOW_ENGINE_*, exactly like ``flow-engine serve``)."""

from __future__ import annotations

import os

from aiohttp import web

from flow_engine.logging import configure_logging
from flow_engine.settings import Settings
from flow_engine.web.app import create_app


def main() -> None:
    settings = Settings.from_env(os.environ)
    configure_logging("warning", "json")
    app = create_app(settings)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
