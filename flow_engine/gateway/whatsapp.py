"""The WhatsApp Cloud API gateway: one attempt per call, failures classified.

Errors are classified on the Cloud API error ``code`` of the answer body, not on
the HTTP status (WHATSAPP.md); the HTTP status only decides when there is no
code. Retries are the caller's job (:mod:`flow_engine.gateway.retry`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog
from pydantic import SecretStr

from flow_engine.domain import jsoncodec
from flow_engine.domain.outbound import OutboundMessage, to_cloud_payload
from flow_engine.errors import GatewayError, PermanentGatewayError, TransientGatewayError
from flow_engine.gateway.base import Gateway
from flow_engine.gateway.codes import PERMANENT_CODES, TRANSIENT_CODES
from flow_engine.gateway.media import Media, cloud_media
from flow_engine.gateway.phone_numbers import meta_details
from flow_engine.logging import mask_phone

if TYPE_CHECKING:
    from flow_engine.settings import Settings

log = structlog.get_logger()

TEMPLATE_PAGE = 100
TEMPLATE_FIELDS = "id,name,language,status,category,parameter_format,components"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def classify(http_status: int, body: Any, retry_after: float | None) -> GatewayError:
    """The error for a non-2xx answer: transient or permanent, decided on the error code."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    raw_code = error.get("code")
    api_code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    if api_code in TRANSIENT_CODES:
        transient = True
    elif api_code in PERMANENT_CODES:
        transient = False
    else:
        # No code we know: only a server-side failure (or a bare 429) is worth retrying.
        transient = http_status >= 500 or (http_status == 429 and api_code is None)
    message = str(error.get("message") or f"Cloud API answered HTTP {http_status}")
    error_data = error.get("error_data")
    details = {
        "type": error.get("type"),
        "error_subcode": error.get("error_subcode"),
        "details": error_data.get("details") if isinstance(error_data, dict) else None,
        "fbtrace_id": error.get("fbtrace_id"),
    }
    cls = TransientGatewayError if transient else PermanentGatewayError
    return cls(
        message,
        api_code=api_code,
        http_status=http_status,
        retry_after=retry_after,
        details={k: v for k, v in details.items() if v is not None},
    )


class CloudApiGateway(Gateway):
    """Sends through ``POST {base_url}/{version}/{phone_number_id}/messages``."""

    def __init__(
        self, base_url: str, version: str, token: SecretStr, timeout_s: float = 10.0
    ) -> None:
        self._base = f"{base_url.rstrip('/')}/{version.strip('/')}"
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> CloudApiGateway:
        return cls(
            settings.whatsapp_api_url,
            settings.whatsapp_api_version,
            settings.whatsapp_token,
            settings.whatsapp_timeout_s,
        )

    async def start(self) -> None:
        self._get_session()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, raise_for_status=False, json_serialize=jsoncodec.dumps
            )
        return self._session

    async def send(self, phone_number_id: str, to: str, message: OutboundMessage) -> str:
        body = await self._post(phone_number_id, to_cloud_payload(message, to), to=to)
        messages = body.get("messages")
        try:
            wamid = messages[0]["id"]
        except (TypeError, LookupError):
            wamid = None
        if not isinstance(wamid, str) or not wamid:
            raise PermanentGatewayError(
                "Cloud API accepted the send but returned no message id", http_status=200
            )
        log.debug("whatsapp_sent", phone_number_id=phone_number_id, to=mask_phone(to), id=wamid)
        return wamid

    def open_media(
        self, phone_number_id: str, media_id: str
    ) -> AbstractAsyncContextManager[Media]:
        """``GET /{version}/{media_id}`` then its download URL, both with the token."""
        token = self._token.get_secret_value()
        return cloud_media(self._get_session(), self._base, token, phone_number_id, media_id)

    async def mark_read(self, phone_number_id: str, message_id: str) -> None:
        payload = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
        await self._post(phone_number_id, payload, to=None)

    async def list_templates(
        self, waba_id: str, after: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """``GET /{waba_id}/message_templates``, one page (cursor paging)."""
        params = {"limit": str(TEMPLATE_PAGE), "fields": TEMPLATE_FIELDS}
        if after:
            params["after"] = after
        body = await self._call(
            "GET",
            f"{self._base}/{waba_id}/message_templates",
            None,
            {"waba_id": waba_id, "call": "message_templates"},
            params=params,
            event="whatsapp_call",
        )
        data = body.get("data")
        if not isinstance(data, list):
            raise PermanentGatewayError("Cloud API listed templates without data", http_status=200)
        paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
        cursor = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
        return [t for t in data if isinstance(t, dict)], cursor if isinstance(
            cursor, str
        ) else None

    async def _post(self, phone_number_id: str, payload: dict[str, Any], *, to: str | None) -> Any:
        url = f"{self._base}/{phone_number_id}/messages"
        context = {"phone_number_id": phone_number_id, "to": mask_phone(to) if to else None}
        return await self._call("POST", url, payload, context)

    async def _call(
        self,
        method: str,
        url: str,
        payload: dict[str, Any] | None,
        context: dict[str, Any],
        *,
        params: dict[str, str] | None = None,
        event: str = "whatsapp_send",
    ) -> Any:
        """``event``: the prefix of the warnings logged when the call fails
        (``whatsapp_send_failed`` for a message, ``whatsapp_call_failed`` for a read)."""
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        try:
            async with self._get_session().request(
                method, url, json=payload, headers=headers, params=params
            ) as resp:
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                raw = await resp.read()
        except TimeoutError as exc:
            log.warning(f"{event}_timeout", **context)
            raise TransientGatewayError("Cloud API call timed out") from exc
        except aiohttp.ClientError as exc:
            log.warning(f"{event}_connection_error", error=type(exc).__name__, **context)
            raise TransientGatewayError(f"Cloud API unreachable: {type(exc).__name__}") from exc
        try:
            body = jsoncodec.loads(raw)
        except ValueError:
            body = None
        if 200 <= status < 300 and isinstance(body, dict):
            return body
        if 200 <= status < 300:
            raise PermanentGatewayError(
                "Cloud API answered an unreadable body", http_status=status
            )
        error = classify(status, body, retry_after)
        log.warning(
            f"{event}_failed",
            http_status=status,
            api_code=error.api_code,
            transient=isinstance(error, TransientGatewayError),
            **context,
        )
        raise error

    # ----------------------------------------------------------------- phone numbers
    async def phone_number(self, phone_number_id: str, fields: Sequence[str]) -> dict[str, Any]:
        return await self._graph("GET", phone_number_id, "", params={"fields": ",".join(fields)})

    async def request_code(self, phone_number_id: str, method: str, language: str) -> None:
        body = {"code_method": method, "language": language}
        await self._graph("POST", phone_number_id, "/request_code", payload=body)

    async def verify_code(self, phone_number_id: str, code: str) -> None:
        await self._graph("POST", phone_number_id, "/verify_code", payload={"code": code})

    async def register(self, phone_number_id: str, pin: str) -> None:
        body = {"messaging_product": "whatsapp", "pin": pin}
        await self._graph("POST", phone_number_id, "/register", payload=body)

    async def _graph(
        self,
        method: str,
        phone_number_id: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One Graph API call on the phone number node. A refusal keeps Meta's error body
        whole in ``details`` (:func:`~flow_engine.gateway.phone_numbers.meta_details`);
        the request body (it may hold the PIN) is never logged."""
        url = f"{self._base}/{phone_number_id}{path}"
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        call = path.strip("/") or "phone_number"
        context = {"phone_number_id": phone_number_id, "call": call}
        try:
            async with self._get_session().request(
                method, url, params=params, json=payload, headers=headers
            ) as resp:
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                raw = await resp.read()
        except TimeoutError as exc:
            log.warning("whatsapp_call_timeout", **context)
            error: GatewayError = TransientGatewayError("Cloud API call timed out")
            error.details = meta_details(None, None) | {"message": error.message}
            raise error from exc
        except aiohttp.ClientError as exc:
            log.warning("whatsapp_call_connection_error", error=type(exc).__name__, **context)
            error = TransientGatewayError(f"Cloud API unreachable: {type(exc).__name__}")
            error.details = meta_details(None, None) | {"message": error.message}
            raise error from exc
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if 200 <= status < 300 and isinstance(body, dict):
            if body.get("success") is False:  # a 200 that says it did not work
                error = PermanentGatewayError(f"Cloud API {call} answered success: false")
                error.details = meta_details(body, status)
                raise error
            return body
        if 200 <= status < 300:
            error = PermanentGatewayError("Cloud API answered an unreadable body")
            error.details = meta_details(None, status) | {"message": error.message}
            raise error
        error = classify(status, body, retry_after)
        error.details = meta_details(body, status)
        log.warning("whatsapp_call_failed", http_status=status, api_code=error.api_code, **context)
        raise error
