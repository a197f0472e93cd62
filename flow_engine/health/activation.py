"""Number activation (R-ACTIVATE): show the number as the gateway has it, request a code
by voice call (or SMS), verify it and register the number with its two-step PIN.

A second code request for a number within 60 s is refused (:class:`CodeRequestTooSoon`,
429) in every process: the store records each request atomically. A refusal of the
gateway is answered 502 ``gateway_error`` with Meta's error as it came
(:func:`gateway_refused`). The PIN is given in a verify call or kept from an earlier one;
it never reaches a log line or an answer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import structlog

from flow_engine.domain.activation import CODE_REQUEST_INTERVAL_S, CodeMethod
from flow_engine.errors import GatewayError, NotFound, RequestError, UnprocessableEntity
from flow_engine.gateway.base import Gateway
from flow_engine.health.service import HealthService
from flow_engine.storage.configs import ConfigStore
from flow_engine.storage.health import HealthStore

log = structlog.get_logger()

ACTIVATION_FIELDS = ("display_phone_number", "verified_name", "code_verification_status", "status")
#: Meta's codes for a two-step PIN the number refuses: the kept PIN is forgotten then.
WRONG_PIN_CODES = frozenset({133005, 131031})


class CodeRequestTooSoon(RequestError):
    """A code was requested for this number less than 60 s ago."""

    code = "too_many_requests"
    status = 429

    def __init__(self, number: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            f"a code was requested for {number} less than {CODE_REQUEST_INTERVAL_S} s ago: "
            f"retry in {self.retry_after} s",
            details={"number": number, "retry_after": self.retry_after},
        )


def gateway_refused(call: str, exc: GatewayError) -> GatewayError:
    """The 502 ``gateway_error`` for a gateway refusal: ``details`` is Meta's error
    (``code``, ``title``, ``message``, ``fbtrace_id``, and the whole ``error``)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    return GatewayError(
        f"the gateway refused {call}: {exc.message}",
        api_code=exc.api_code,
        http_status=exc.http_status,
        details={
            "code": details.get("code", exc.api_code),
            "title": details.get("title"),
            "message": details.get("message", exc.message),
            "fbtrace_id": details.get("fbtrace_id"),
            "http_status": details.get("http_status", exc.http_status),
            "error": details.get("error"),
        },
    )


class ActivationService:
    def __init__(
        self,
        store: HealthStore,
        configs: ConfigStore,
        gateway: Gateway,
        health: HealthService,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.configs = configs
        self.gateway = gateway
        self.health = health
        self.clock = clock

    async def _config(self, number: str) -> dict[str, Any]:
        config = await self.configs.get(number)
        if config is None:
            raise NotFound(f"number {number} has no configuration", details={"number": number})
        return config

    async def view(self, number: str) -> dict[str, Any]:
        """The number as the gateway has it now (read live), with where its activation
        stands here."""
        config = await self._config(number)
        try:
            fields = await self.gateway.phone_number(number, ACTIVATION_FIELDS)
        except GatewayError as exc:
            raise gateway_refused("reading the phone number", exc) from None
        record = await self.health.record_fields(number, fields, cause="activation")
        activation = await self.store.activation(number)
        return {
            "number": number,
            "waba_id": config.get("waba_id") or record.waba_id,
            "display_phone_number": fields.get("display_phone_number")
            or config.get("display_phone_number"),
            "verified_name": fields.get("verified_name"),
            "code_verification_status": fields.get("code_verification_status"),
            "status": fields.get("status"),
            "code_requested_at": activation.requested_at if activation else None,
            "code_method": activation.method if activation else None,
            "verified_at": activation.verified_at if activation else None,
            "registered_at": activation.registered_at if activation else None,
            "pin_kept": await self.store.pin(number) is not None,
        }

    async def request_code(self, number: str, method: CodeMethod, language: str) -> dict[str, Any]:
        await self._config(number)
        now = self.clock()
        wait = await self.store.claim_code_request(
            number, now, CODE_REQUEST_INTERVAL_S, method.value
        )
        if wait > 0:
            raise CodeRequestTooSoon(number, wait)
        try:
            await self.gateway.request_code(number, method.value, language)
        except GatewayError as exc:
            await self.store.cancel_code_request(number, now)
            log.warning("activation_code_refused", number=number, api_code=exc.api_code)
            raise gateway_refused("request_code", exc) from None
        log.info("activation_code_requested", number=number, method=method.value)
        return {"number": number, "method": method.value, "requested_at": now}

    async def verify(self, number: str, code: str, pin: str | None) -> dict[str, Any]:
        """Verify ``code`` (skipped when a code was verified in the last minutes and only
        the registration failed), then register with ``pin`` or the kept one."""
        await self._config(number)
        if pin is not None:
            await self.store.keep_pin(number, pin)
        use = pin if pin is not None else await self.store.pin(number)
        if use is None:
            raise UnprocessableEntity(
                "no two-step PIN is kept for this number: send it as pin",
                details=[{"field": "pin", "message": "required: no PIN kept for this number"}],
            )
        record = await self.store.activation(number)
        if record is None or not record.verified_recently(self.clock()):
            try:
                await self.gateway.verify_code(number, code)
            except GatewayError as exc:
                log.warning("activation_code_rejected", number=number, api_code=exc.api_code)
                raise gateway_refused("verify_code", exc) from None
            await self.store.mark_activation(number, verified_at=self.clock())
        try:
            await self.gateway.register(number, use)
        except GatewayError as exc:
            if exc.api_code in WRONG_PIN_CODES:
                await self.store.keep_pin(number, None)
            log.warning("activation_register_refused", number=number, api_code=exc.api_code)
            raise gateway_refused("register", exc) from None
        await self.store.mark_activation(number, registered_at=self.clock())
        log.info("activation_registered", number=number)
        return await self.view(number)
