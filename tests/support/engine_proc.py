"""A real engine process for multi-process tests: ``python -m tests.support.engine_proc``.

Settings come from FLOW_ENGINE_* like ``flow-engine serve``; the flow is the
counting echo flow so replies reveal order, loss and duplication.
"""

from __future__ import annotations

import os

from flow_engine.logging import configure_logging
from flow_engine.settings import Settings
from flow_engine.web.app import create_app, run_app
from tests.support.flows import CountingEchoFlow


def main() -> None:
    settings = Settings.from_env(os.environ)
    configure_logging("warning", "json")
    app = create_app(settings, flow=CountingEchoFlow())
    run_app(app, settings)


if __name__ == "__main__":
    main()
