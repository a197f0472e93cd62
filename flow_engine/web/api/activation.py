"""Number activation (R-ACTIVATE, module ``numbers``): the number as the gateway has it,
a verification code by voice call (or SMS), and its verification with the two-step PIN."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, SecretStr, field_validator

from flow_engine.admin.permissions import Module
from flow_engine.domain.activation import (
    CODE_PATTERN,
    LANGUAGE_PATTERN,
    PIN_FORMAT,
    CodeMethod,
)
from flow_engine.health.activation import CodeRequestTooSoon
from flow_engine.web.api.registry import Api, Input, Permission, body, json
from flow_engine.web.errors import error_response
from flow_engine.web.state import HEALTH

api = Api()

PIN_DIGITS = 6


class ActivationOut(BaseModel):
    number: str
    waba_id: str | None = Field(description="The WhatsApp Business Account of the number.")
    display_phone_number: str | None
    verified_name: str | None
    code_verification_status: str | None = Field(
        description="As the gateway says: NOT_VERIFIED, VERIFIED, EXPIRED."
    )
    status: str | None = Field(description="As the gateway says: CONNECTED, PENDING, …")
    code_requested_at: float | None
    code_method: CodeMethod | None
    verified_at: float | None
    registered_at: float | None
    pin_kept: bool = Field(description="Whether a two-step PIN is kept for this number.")


class RequestCodeBody(Input):
    method: CodeMethod = Field(
        CodeMethod.VOICE, description="VOICE: a call reads the code out; SMS: a text."
    )
    language: str = Field(
        "es", pattern=LANGUAGE_PATTERN, description="Language of the call or text: es, pt_BR…"
    )


class CodeRequested(BaseModel):
    number: str
    method: CodeMethod
    requested_at: float


class VerifyBody(Input):
    code: str = Field(pattern=CODE_PATTERN, description="The 6-digit code received.")
    pin: SecretStr | None = Field(
        None,
        description="The number's two-step PIN (6 digits); omitted: the one kept from an "
        "earlier call. Never logged, never answered.",
        json_schema_extra={"pattern": f"^[0-9]{{{PIN_DIGITS}}}$", "writeOnly": True},
    )

    @field_validator("pin")
    @classmethod
    def _six_digits(cls, pin: SecretStr | None) -> SecretStr | None:
        if pin is not None:
            value = pin.get_secret_value()
            if len(value) != PIN_DIGITS or not (value.isascii() and value.isdigit()):
                raise ValueError(PIN_FORMAT.text(digits=PIN_DIGITS))
        return pin


@api.route(
    "GET",
    "/numbers/{number}/activation",
    permission=Permission(module=Module.NUMBERS, number="number"),
    summary="The number as the gateway has it: WABA id, phone, verified name, verification",
    tag="activation",
    response=ActivationOut,
    errors=(404, 502),
)
async def get_activation(request: web.Request) -> web.Response:
    """Read live from the gateway. A refusal is a 502 `gateway_error` whose `details`
    are Meta's error (`code`, `title`, `message`, `fbtrace_id`)."""
    view = await request.config_dict[HEALTH].activation.view(request.match_info["number"])
    return json(ActivationOut(**view))


@api.route(
    "POST",
    "/numbers/{number}/activation/request-code",
    permission=Permission(module=Module.NUMBERS, number="number"),
    summary="Ask the gateway to send the number a verification code (a voice call)",
    tag="activation",
    body=RequestCodeBody,
    response=CodeRequested,
    errors=(404, 429, 502),
)
async def request_code(request: web.Request) -> web.Response:
    """A second request for the same number within 60 s is a 429 with `Retry-After`. A
    refusal of the gateway is a 502 `gateway_error` whose `details` are Meta's error."""
    b = await body(request, RequestCodeBody)
    activation = request.config_dict[HEALTH].activation
    try:
        done = await activation.request_code(request.match_info["number"], b.method, b.language)
    except CodeRequestTooSoon as exc:
        return error_response(
            exc.status,
            exc.code,
            exc.message,
            exc.details,
            headers={"Retry-After": str(exc.retry_after)},
        )
    return json(CodeRequested(**done))


@api.route(
    "POST",
    "/numbers/{number}/activation/verify",
    permission=Permission(module=Module.NUMBERS, number="number"),
    summary="Verify the code, then register the number with its two-step PIN",
    tag="activation",
    body=VerifyBody,
    response=ActivationOut,
    errors=(404, 502),
)
async def verify_code(request: web.Request) -> web.Response:
    """`verify_code` with the code, then `register` with the PIN (`pin`, or the one kept
    from an earlier call). Answers the number's new status. A refusal of the gateway is a
    502 `gateway_error` whose `details` are Meta's error, as it came."""
    b = await body(request, VerifyBody)
    pin = b.pin.get_secret_value() if b.pin is not None else None
    view = await request.config_dict[HEALTH].activation.verify(
        request.match_info["number"], b.code, pin
    )
    return json(ActivationOut(**view))
