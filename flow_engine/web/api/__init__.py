"""The ``/api/v1`` application: admin API (numbers, configuration, templates, access) and
the attendant API, every route declared in a :class:`~flow_engine.web.api.registry.Api`
and authorized by one middleware."""

from __future__ import annotations

from aiohttp import web

from flow_engine.web.api import (
    access,
    activation,
    campaigns,
    configs,
    data,
    desk,
    health,
    history,
    meta,
    notifications,
    numbers,
    openapi,
    templates,
)
from flow_engine.web.api.auth import auth_middleware
from flow_engine.web.api.registry import Api, no_body_middleware

PREFIX = "/api/v1"

APIS: list[Api] = [
    meta.api,
    numbers.api,
    configs.api,
    templates.api,
    access.api,
    desk.api,
    health.api,
    activation.api,
    notifications.api,
    campaigns.api,
    history.api,
    data.api,
]


def all_operations() -> list:  # type: ignore[type-arg]
    return [op for a in [*APIS, openapi.api] for op in a.operations]


def api_app() -> web.Application:
    """The sub-application mounted at ``/api/v1``; the parent app holds the state."""
    app = web.Application(middlewares=[auth_middleware, no_body_middleware])
    for a in [*APIS, openapi.api]:
        a.add_to(app)
    return app
