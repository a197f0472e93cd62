"""``/webhooks/whatsapp``: verification, signature, parsing, dedupe + enqueue, 200 at once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import structlog
from aiohttp import web
from pydantic import ValidationError

from flow_engine.domain import jsoncodec
from flow_engine.domain.inbound import (
    MAX_UPDATES_PER_POST,
    ParsedWebhook,
    WebhookPayload,
    parse_webhook,
)
from flow_engine.errors import (
    BadRequest,
    ConfigurationUnavailable,
    Forbidden,
    PayloadTooLarge,
    StoreUnavailable,
    Unauthorized,
)
from flow_engine.metrics import labels
from flow_engine.storage.keys import partition_of
from flow_engine.web.errors import validation_details
from flow_engine.web.state import CONFIGS, HEALTH, METRICS, NOTIFY, PACING, SETTINGS, STORAGE

log = structlog.get_logger()

SIGNATURE_HEADER = "X-Hub-Signature-256"


HEX_DIGITS = "0123456789abcdef"


def check_signature(body: bytes, header: str | None, secret: str) -> None:
    """HMAC-SHA256 of the raw body with the app secret, compared in constant time."""
    if not header:
        raise Unauthorized(
            f"missing {SIGNATURE_HEADER} header", details={"header": SIGNATURE_HEADER}
        )
    scheme, _, given = header.partition("=")
    given = given.strip().lower()
    if scheme != "sha256" or not given or given.strip(HEX_DIGITS):
        raise Unauthorized(
            f"malformed {SIGNATURE_HEADER} header, expected sha256=<hex>",
            details={"header": SIGNATURE_HEADER},
        )
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise Forbidden("webhook signature does not match", details={"header": SIGNATURE_HEADER})


async def verify(request: web.Request) -> web.Response:
    """Meta's subscription check: echo hub.challenge when hub.verify_token is ours."""
    settings = request.app[SETTINGS]
    q = request.query
    token = q.get("hub.verify_token", "")
    expected = settings.whatsapp_verify_token.get_secret_value()
    ok = (
        q.get("hub.mode") == "subscribe"
        and bool(expected)
        and hmac.compare_digest(token.encode(), expected.encode())
    )
    if not ok:
        raise Forbidden(
            "verification failed: wrong hub.mode or hub.verify_token",
            details={"field": "hub.verify_token"},
        )
    challenge = q.get("hub.challenge")
    if challenge is None:
        raise BadRequest("hub.challenge is missing", details={"field": "hub.challenge"})
    return web.Response(text=challenge)


async def receive(request: web.Request) -> web.Response:
    with request.app[PACING].ack():  # the messages being handled give way to this answer
        return await _receive(request)


async def _receive(request: web.Request) -> web.Response:
    settings, storage, metrics = request.app[SETTINGS], request.app[STORAGE], request.app[METRICS]
    received_at = time.time()
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        metrics.webhooks.labels("too_large").inc()
        raise PayloadTooLarge(
            "webhook body over the size limit", details={"max_bytes": settings.max_body_bytes}
        )
    body = await request.read()
    try:
        check_signature(
            body,
            request.headers.get(SIGNATURE_HEADER),
            settings.whatsapp_app_secret.get_secret_value(),
        )
    except (Unauthorized, Forbidden):
        metrics.webhooks.labels("bad_signature").inc()
        log.warning("webhook_signature_refused", remote=request.remote)
        raise
    try:
        payload = WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        metrics.webhooks.labels("malformed").inc()
        details = validation_details(exc)
        invalid_json = any(d["type"] == "json_invalid" for d in details)
        raise BadRequest(
            "malformed JSON" if invalid_json else "unexpected webhook shape", details=details
        ) from None
    if payload.object != "whatsapp_business_account":
        metrics.webhooks.labels("malformed").inc()
        raise BadRequest(
            "unexpected object",
            details=[{"field": "object", "message": "expected 'whatsapp_business_account'"}],
        )
    parsed = parse_webhook(payload, received_at)
    if parsed.update_count > MAX_UPDATES_PER_POST:
        metrics.webhooks.labels("malformed").inc()
        raise BadRequest(
            f"more than {MAX_UPDATES_PER_POST} updates in one POST",
            details=[{"field": "entry", "message": f"{parsed.update_count} updates"}],
        )
    missing = sorted({m.number for m in parsed.messages} & request.app[CONFIGS].missing)
    if missing:  # the store lost them: take nothing now, the gateway retries
        metrics.webhooks.labels("configuration_unavailable").inc()
        raise ConfigurationUnavailable(
            "the configuration of this number is missing from the store (it was lost and "
            "is being restored): retry later",
            details={"numbers": missing},
        )
    try:
        async with asyncio.timeout(settings.store_timeout_s):
            accepted, duplicates = await _store(request.app, parsed, received_at)
    except TimeoutError as exc:
        metrics.webhooks.labels("store_unavailable").inc()
        raise StoreUnavailable(
            f"the store did not answer within {settings.store_timeout_s:g} s: retry later",
            details={"timeout_s": settings.store_timeout_s},
        ) from exc
    except Exception as exc:
        if not storage.is_unavailable(exc):
            raise
        metrics.webhooks.labels("store_unavailable").inc()
        raise StoreUnavailable("the store cannot be reached now: retry later") from exc
    metrics.webhooks.labels("ok").inc()
    return web.json_response(
        {
            "accepted": accepted,
            "duplicates": duplicates,
            "statuses": len(parsed.statuses),
            "events": len(parsed.events),
        },
        dumps=jsoncodec.dumps,
    )


async def _store(
    app: web.Application, parsed: ParsedWebhook, received_at: float
) -> tuple[int, int]:
    """Dedupe + enqueue the messages, record statuses and events: (accepted, duplicates).
    Safe to repeat: a message enqueued by a POST that then failed is a duplicate next time."""
    settings, storage, metrics = app[SETTINGS], app[STORAGE], app[METRICS]
    messages = parsed.messages  # each carries received_at (parse_webhook)
    fresh = await storage.queue.enqueue_many(
        [(partition_of(m.number, m.contact, settings.partitions), m) for m in messages]
    )
    duplicates = fresh.count(False)
    for m, new in zip(messages, fresh, strict=True):
        if new:
            metrics.inbound.labels(labels.message_type(m.type)).inc()
    if duplicates:
        metrics.dedupe_hits.inc(duplicates)
    await storage.events.record_statuses(parsed.statuses)
    await app[NOTIFY].tracker.on_statuses(parsed.statuses)
    await app[NOTIFY].tracker.on_events(parsed.events)
    await storage.events.record_events(parsed.events)
    await app[HEALTH].service.record_webhook_events(parsed.events, received_at)
    for s in parsed.statuses:
        metrics.statuses.labels(labels.status(s.status)).inc()
    return len(messages) - duplicates, duplicates


def add_routes(app: web.Application) -> None:
    app.router.add_get("/webhooks/whatsapp", verify)
    app.router.add_post("/webhooks/whatsapp", receive)
