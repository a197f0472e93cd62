"""The HTTP client of health alerts: POSTs one JSON alert to ``FLOW_ENGINE_ALERT_WEBHOOK_URL``.

One attempt per call; a failure (no answer, or not 2xx) raises
:class:`~flow_engine.errors.TransientGatewayError` and the caller retries with backoff
(``health/jobs.py``). The URL is a secret (such URLs often carry a token): it is never
logged.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from pydantic import SecretStr

from flow_engine import __version__
from flow_engine.errors import TransientGatewayError

IDEMPOTENCY_HEADER = "Idempotency-Key"


class AlertPoster:
    def __init__(self, url: SecretStr, timeout_s: float = 10.0) -> None:
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def post(self, alert: dict[str, Any], key: str) -> None:
        """POST ``alert``; ``key`` (the change id) goes in ``Idempotency-Key`` so a receiver
        can drop a redelivery."""
        headers = {IDEMPOTENCY_HEADER: key, "User-Agent": f"flow-engine/{__version__}"}
        try:
            async with self._get_session().post(
                self._url.get_secret_value(), json=alert, headers=headers
            ) as resp:
                await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise TransientGatewayError("the alert webhook timed out") from exc
        except aiohttp.ClientError as exc:
            raise TransientGatewayError(
                f"the alert webhook is unreachable: {type(exc).__name__}"
            ) from exc
        if not 200 <= status < 300:
            raise TransientGatewayError(
                f"the alert webhook answered HTTP {status}", http_status=status
            )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
