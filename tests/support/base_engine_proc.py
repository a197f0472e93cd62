"""A real engine process running the base flow: ``python -m tests.support.base_engine_proc``
(settings from FLOW_ENGINE_*, exactly like ``flow-engine serve``)."""

from __future__ import annotations

import os

from flow_engine.logging import configure_logging
from flow_engine.settings import Settings
from flow_engine.web.app import create_app, run_app


def main() -> None:
    settings = Settings.from_env(os.environ)
    configure_logging("warning", "json")
    app = create_app(settings)
    run_app(app, settings)


if __name__ == "__main__":
    main()
