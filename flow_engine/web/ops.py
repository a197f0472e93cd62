"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from flow_engine.web.state import METRICS, STORAGE


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    storage = request.app[STORAGE]
    try:
        ok = await asyncio.wait_for(storage.ping(), timeout=2.0)
    except Exception as exc:  # any failure to reach the store means not ready
        return web.json_response({"status": "unavailable", "store": repr(exc)}, status=503)
    if not ok:
        return web.json_response({"status": "unavailable", "store": "no answer"}, status=503)
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
