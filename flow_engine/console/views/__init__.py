"""The console's pages, one module per part of the portal."""

from __future__ import annotations

from flow_engine.console.registry import Pages
from flow_engine.console.views import (
    access,
    configs,
    data,
    desk,
    health,
    history,
    human_service,
    notifications,
    signin,
    templates,
)

ALL_PAGES: list[Pages] = [
    signin.pages,
    desk.pages,
    history.pages,
    configs.pages,
    human_service.pages,
    templates.pages,
    access.pages,
    health.pages,
    notifications.pages,
    data.pages,
]
