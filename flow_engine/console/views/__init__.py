"""The console's pages, one module per part of the portal."""

from __future__ import annotations

from flow_engine.console.registry import Pages
from flow_engine.console.views import configs, desk, signin

ALL_PAGES: list[Pages] = [signin.pages, desk.pages, configs.pages]
