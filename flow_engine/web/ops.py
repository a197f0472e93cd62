"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from flow_engine.web.state import CONFIGS, METRICS, SETTINGS, STORAGE

SHOWN_MISSING = 20


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the store answers within ``FLOW_ENGINE_STORE_TIMEOUT_S`` and every number
    known to be configured has its configuration in it (a store that lost its data is
    not ready until they are seeded again)."""
    storage, settings = request.app[STORAGE], request.app[SETTINGS]
    try:
        ok = await asyncio.wait_for(storage.ping(), timeout=settings.store_timeout_s)
    except Exception as exc:  # any failure to reach the store means not ready
        return web.json_response(
            {"status": "unavailable", "store": type(exc).__name__}, status=503
        )
    if not ok:
        return web.json_response({"status": "unavailable", "store": "no answer"}, status=503)
    missing = request.app[CONFIGS].missing
    if missing:
        return web.json_response(
            {
                "status": "unavailable",
                "store": "ok",
                "configurations_missing": sorted(missing)[:SHOWN_MISSING],
                "configurations_missing_count": len(missing),
            },
            status=503,
        )
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    m, storage = request.app[METRICS], request.app[STORAGE]
    try:
        m.queue_depth.labels("inbound").set(await storage.queue.depth())
        m.queue_depth.labels("outbox").set(await storage.outbox.depth())
    except Exception:  # the counters still render when the store is down
        pass
    body = generate_latest(m.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
