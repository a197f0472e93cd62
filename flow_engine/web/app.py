"""The application factory: the one place (with cli.py) that picks concrete backends."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from functools import partial

import structlog
from aiohttp import web

from flow_engine.admin.access import DirectoryService
from flow_engine.admin.configs import ConfigService
from flow_engine.admin.signin import Policy, SignInService
from flow_engine.console import PREFIX as CONSOLE_PREFIX
from flow_engine.console.app import console_app, favicon
from flow_engine.data.service import DataService
from flow_engine.desk.history import TicketHistory
from flow_engine.desk.service import DeskService
from flow_engine.engine.base_flow import BaseFlow, FlowServices
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.engine.config_watch import ConfigWatch
from flow_engine.engine.flow import Flow
from flow_engine.engine.outbox import OutboxSender
from flow_engine.engine.pacing import Pacing
from flow_engine.engine.partitions import PartitionManager, new_owner_id
from flow_engine.engine.runtime import Runtime
from flow_engine.engine.skills.dispatch import SkillDispatcher, resume_after
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.engine.skills.policy import SkillPolicy
from flow_engine.gateway.alerts_http import AlertPoster
from flow_engine.gateway.base import Gateway
from flow_engine.gateway.retry import RetryPolicy
from flow_engine.gateway.skill_http import SkillHttpClient
from flow_engine.gateway.whatsapp import CloudApiGateway
from flow_engine.health import Health
from flow_engine.logging import LogThrottle
from flow_engine.metrics.registry import Metrics
from flow_engine.notify import NotifyService
from flow_engine.settings import Settings
from flow_engine.storage.base import Storage
from flow_engine.storage.conversations import Retention
from flow_engine.storage.embedded import EmbeddedRedis
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.redis import redis_storage
from flow_engine.web import ops, server, webhook
from flow_engine.web.api import PREFIX, api_app
from flow_engine.web.errors import error_middleware
from flow_engine.web.listen import listen
from flow_engine.web.state import (
    CONFIG_ADMIN,
    CONFIGS,
    DATA_SERVICE,
    DESK_SERVICE,
    DIRECTORY,
    GATEWAY,
    HEALTH,
    HISTORY,
    LOG_THROTTLE,
    METRICS,
    NOTIFY,
    PACING,
    PARTITIONS,
    SETTINGS,
    SIGNIN,
    SKILL_HTTP,
    SKILL_LOADER,
    STORAGE,
    TICKETS,
)

log = structlog.get_logger()

#: How to serve on another address, said when the configured one cannot be bound.
PORT_SETTINGS = "set FLOW_ENGINE_PORT (or FLOW_ENGINE_HOST) to change it"
#: How long a stopping app waits for a ticket purge in flight.
RETENTION_STOP_S = 10.0
#: A send claim outlives one Send API attempt (its timeout) by this much.
CLAIM_MARGIN_MS = 5000
#: The redis-server of the embedded store, when the app's store is the embedded one.
EMBEDDED_REDIS = web.AppKey("embedded_redis", EmbeddedRedis)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def build_storage(settings: Settings, embedded: EmbeddedRedis | None = None) -> Storage:
    conversation_s, contact_s = settings.retention_s
    retention = Retention(conversation_s=conversation_s, contact_s=contact_s)
    if settings.store_kind == "memory":
        return memory_storage(settings.dedupe_ttl_s, retention)
    return redis_storage(
        embedded.url if embedded is not None else settings.redis_url,
        partitions=settings.partitions,
        dedupe_ttl_s=settings.dedupe_ttl_s,
        timeout_s=settings.redis_timeout_s,
        retention=retention,
    )


def store_server(app: web.Application) -> contextlib.AbstractContextManager[object]:
    """What must run while ``app`` serves and stop after it: the embedded store's
    redis-server (started on entry, stopped on exit), or nothing."""
    return app.get(EMBEDDED_REDIS) or contextlib.nullcontext()


def signin_policy(settings: Settings) -> Policy:
    return Policy(
        attempts=settings.console_signin_attempts,
        lockout_s=settings.console_lockout_minutes * 60,
        idle_s=settings.console_idle_minutes * 60,
    )


def create_app(
    settings: Settings,
    *,
    storage: Storage | None = None,
    gateway: Gateway | None = None,
    flow: Flow | None = None,
    retry_policy: RetryPolicy | None = None,
    clock: Callable[[], float] | None = None,
) -> web.Application:
    """Build the engine. Backends given here are used as they are (and not closed). On the
    embedded store, serve it inside ``with store_server(app):``."""
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.max_body_bytes)
    # the root app's signal runs for every answer, the sub-apps' (API, console) included
    app.on_response_prepare.append(server.server_header)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[LOG_THROTTLE] = LogThrottle()
    app[PACING] = Pacing(limit=settings.worker_concurrency)  # shared by webhook and runtime
    owned_storage = storage is None
    owned_gateway = gateway is None
    if storage is None and settings.store_kind == "embedded":
        app[EMBEDDED_REDIS] = EmbeddedRedis(settings.data_dir)
    app[STORAGE] = storage or build_storage(settings, app.get(EMBEDDED_REDIS))
    app[GATEWAY] = gateway or CloudApiGateway.from_settings(settings)
    app[CONFIGS] = ConfigCache(app[STORAGE].configs)
    app[TICKETS] = app[STORAGE].tickets
    app[DIRECTORY] = DirectoryService(app[STORAGE].directory, app[STORAGE].configs)
    # one loader for the start, every admin write and every call: the same checks
    policy = SkillPolicy.restricted(
        settings.skills_dir, settings.skill_url_allow, settings.python_skill_modules
    )
    app[SKILL_HTTP] = SkillHttpClient(allow=policy.url_allow)
    # flow files' HTTP actions: their author's URLs (FLOW_ENGINE_SKILLS_DIR is the operator's)
    action_http = SkillHttpClient()
    app[SKILL_LOADER] = SkillLoader(policy, app[SKILL_HTTP], action_http=action_http)
    app[CONFIG_ADMIN] = ConfigService(app[STORAGE].configs, skills=app[SKILL_LOADER].problems)
    app[DESK_SERVICE] = DeskService(
        app[STORAGE], app[CONFIGS], settings.partitions, clock or time.time
    )
    poster = AlertPoster(settings.alert_webhook_url) if alerts_wanted(settings) else None
    app[HEALTH] = Health.build(
        app[STORAGE].health,
        app[STORAGE].configs,
        app[GATEWAY],
        app[METRICS].registry,
        settings,
        owner=new_owner_id(),
        post_alert=poster.post if poster is not None else None,
        clock=clock or time.time,
    )
    app[NOTIFY] = NotifyService.build(
        app[STORAGE],
        app[GATEWAY],
        app[CONFIGS],
        app[METRICS],
        owner=new_owner_id(),
        default_rate=settings.send_rate_per_second,
        lease_ttl_ms=settings.lease_ttl_ms,
        claim_ttl_ms=int(settings.whatsapp_timeout_s * 1000) + CLAIM_MARGIN_MS,
        retry_base_s=settings.notify_retry_base_s,
        standing=app[HEALTH].service,  # the gateway's tier and RED numbers (docs/health.md)
        clock=clock or time.time,
    )
    app[HEALTH].service.on_change(app[NOTIFY].holds.on_health_change)
    app[SIGNIN] = SignInService(app[STORAGE].sessions, app[DIRECTORY], signin_policy(settings))
    app[DATA_SERVICE] = DataService(app[STORAGE], app[CONFIGS], clock or time.time)
    app[HISTORY] = TicketHistory(
        app[STORAGE].tickets, app[CONFIGS], settings.ticket_retention_days, clock or time.time
    )

    # one cleanup context per resource, in the order they open: when one fails to
    # start, aiohttp closes those that opened before it, in reverse
    if owned_storage:
        app.cleanup_ctx.append(_closing(STORAGE))
    if owned_gateway:
        app.cleanup_ctx.append(_closing(GATEWAY))
    app.cleanup_ctx.append(_connect)
    app.cleanup_ctx.append(_config_watch)
    app.cleanup_ctx.append(_config_follow)
    if settings.runs_workers:  # roles worker and all: every background loop goes here
        app.cleanup_ctx.append(_skill_http)
        app.cleanup_ctx.append(_desk_history)
        app.cleanup_ctx.append(
            partial(_partitions, flow=flow, retry_policy=retry_policy, clock=clock)
        )
        app.cleanup_ctx.append(partial(_health, poster=poster))
        app.cleanup_ctx.append(_notifications)
    if settings.serves_requests:  # roles web and all: the webhook, every API, the console
        webhook.add_routes(app)
        app.add_subapp(PREFIX, api_app())
        app.router.add_get(CONSOLE_PREFIX, _to_console)  # before the sub-app, which would 404 it
        app.router.add_get("/favicon.ico", favicon)  # asked for by browsers on every page
        app.add_subapp(CONSOLE_PREFIX, console_app())
    ops.add_routes(app)  # every role
    return app


async def _to_console(request: web.Request) -> web.StreamResponse:
    """``/console`` is the console's home, ``/console/``."""
    raise web.HTTPMovedPermanently(CONSOLE_PREFIX + "/")


def _closing(key: web.AppKey[Storage] | web.AppKey[Gateway]) -> CleanupContext:
    """Close ``app[key]`` (a backend this app built) when the app stops."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await app[key].close()

    return ctx


async def _connect(app: web.Application) -> AsyncIterator[None]:
    """The store is ready for concurrent callers before anything uses it."""
    await app[STORAGE].connect()
    yield


async def _config_watch(app: web.Application) -> AsyncIterator[None]:
    """Seed the store from ``FLOW_ENGINE_CONFIG_DIR`` (a bad file stops the start), then
    watch that no known number loses its configuration (seeding it again when it does)."""
    watch = ConfigWatch(
        app[STORAGE], app[CONFIGS], app[SETTINGS].config_dir, skills=app[SKILL_LOADER]
    )
    await watch.start()
    task = asyncio.create_task(watch.run(), name="config-watch")
    try:
        yield
    finally:
        await watch.stop(task)


async def _config_follow(app: web.Application) -> AsyncIterator[None]:
    """The configuration cache learns of every commit, by any process, while the app runs."""
    task = asyncio.create_task(app[CONFIGS].follow(), name="config-follow")
    try:
        yield
    finally:
        # cancel until it is done: a cancellation that meets redis-py's read timeout can be
        # lost on Python 3.11 (the read's timeout swallows it and the loop reads on)
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)
        with contextlib.suppress(asyncio.CancelledError):
            task.result()


async def _skill_http(app: web.Application) -> AsyncIterator[None]:
    """Close the skills' HTTP clients (their sessions open on first use)."""
    try:
        yield
    finally:
        await app[SKILL_HTTP].close()
        action_http = app[SKILL_LOADER].action_http
        if action_http is not None:
            await action_http.close()


async def _desk_history(app: web.Application) -> AsyncIterator[None]:
    """The ticket retention (R-DESK-3): a minute after the start, then hourly."""
    stop = asyncio.Event()
    retention = asyncio.create_task(app[HISTORY].run_retention(stop), name="ticket-retention")
    try:
        yield
    finally:
        stop.set()
        # a purge in flight finishes its store call; one that does not is left behind
        # (cancelled, not awaited: a cancel the Redis client swallows must not hang a stop)
        done, _pending = await asyncio.wait({retention}, timeout=RETENTION_STOP_S)
        if not done:
            log.warning("ticket_retention_stop_timeout")
            retention.cancel()


async def _partitions(
    app: web.Application,
    *,
    flow: Flow | None,
    retry_policy: RetryPolicy | None,
    clock: Callable[[], float] | None,
) -> AsyncIterator[None]:
    """The runtime and the partition workers that run it (stopped before anything they
    use closes)."""
    settings, st = app[SETTINGS], app[STORAGE]
    owner = app[NOTIFY].owner
    sender = OutboxSender(
        st,
        app[GATEWAY],
        app[CONFIGS],
        app[METRICS],
        policy=retry_policy or RetryPolicy(budget_s=settings.send_retry_budget_s),
        default_rate=settings.send_rate_per_second,
        claim_ttl_ms=int(settings.whatsapp_timeout_s * 1000) + CLAIM_MARGIN_MS,
        clock=clock or time.time,
        record_facts=settings.data_facts,
    )
    skills = SkillDispatcher(app[SKILL_LOADER], app[METRICS])
    base_flow = BaseFlow(
        FlowServices(tickets=st.tickets, events=st.events),
        hook=skills,
        on_skill=skills.on_message,
    )
    skills.resume = resume_after(base_flow)
    runtime = Runtime(
        st,
        sender,
        app[CONFIGS],
        flow or base_flow,
        app[METRICS],
        mark_read=settings.mark_read,
        clock=clock or time.time,
        owner=owner,
        replies=app[NOTIFY].tracker.reply_to,
        record_facts=settings.data_facts,
        pacing=app[PACING],
    )
    manager = PartitionManager(
        runtime,
        st.leases,
        app[METRICS],
        partitions=settings.partitions,
        ttl_ms=settings.lease_ttl_ms,
        owner=owner,
    )
    app[PARTITIONS] = manager
    try:
        await manager.start()
        log.info(
            "engine_started",
            owner=manager.owner,
            store=settings.store_kind,
            role=settings.role,
            partitions=settings.partitions,
        )
        yield
    finally:
        await manager.stop()
        await sender.close()


def alerts_wanted(settings: Settings) -> bool:
    return bool(settings.alert_webhook_url.get_secret_value())


async def _health(app: web.Application, *, poster: AlertPoster | None) -> AsyncIterator[None]:
    """The health worker and the daily reader (stopped before the store and the gateway
    close)."""
    try:
        await app[HEALTH].start()
        yield
    finally:
        await app[HEALTH].stop()
        if poster is not None:
            await poster.close()


async def _notifications(app: web.Application) -> AsyncIterator[None]:
    """The campaign drivers and the sweep of due notifications (stopped before the
    partitions), and the catalogs read from the WABAs at start, without holding it up."""
    notify = app[NOTIFY]
    await notify.runner.start()
    sync = asyncio.create_task(notify.catalogs.sync_all(await app[STORAGE].configs.numbers()))
    try:
        yield
    finally:
        sync.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sync
        await notify.runner.stop()


def run_app(
    app: web.Application, settings: Settings, sockets: list[socket.socket] | None = None
) -> None:
    """Serve until SIGINT/SIGTERM, then stop the partition workers and close the store
    (``web/server.py``: even a request aiohttp cannot parse gets a JSON error).

    ``sockets`` are the listening sockets :func:`~flow_engine.web.listen.listen` opened
    (default: bound here, from ``settings.host`` and ``settings.port``)."""
    if sockets is None:
        sockets = listen(settings.host, settings.port, change=PORT_SETTINGS)
    server.run(app, sockets, settings.gc_threshold)
