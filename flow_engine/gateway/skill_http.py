"""The HTTP client of skills: HTTP skills and the HTTP action of declarative skills.

One attempt per call, a total timeout per call, answers capped in size. Failures
raise :class:`SkillHttpError` (``timeout`` tells a timeout from an unreachable
host); any HTTP status is an answer, the caller decides what it means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from flow_engine.errors import FlowEngineError

MAX_ANSWER_BYTES = 1_000_000
USER_AGENT = "flow-engine-skills/1"


class SkillHttpError(FlowEngineError):
    """A skill's HTTP request got no answer: timeout, refused, reset, too large."""

    code = "skill_http_error"

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    text: str
    #: the parsed JSON body, or None when the body is empty or not JSON
    json: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class SkillHttpClient:
    """Makes the HTTP requests of skills over one shared aiohttp session."""

    def __init__(
        self, session: aiohttp.ClientSession | None = None, max_bytes: int = MAX_ANSWER_BYTES
    ) -> None:
        self._session = session
        self._owned = session is None
        self.max_bytes = max_bytes

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
            self._owned = True
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        timeout_s: float,
    ) -> HttpAnswer:
        """Send one request; the answer, whatever its status, or :class:`SkillHttpError`."""
        data = None if json_body is None else json.dumps(json_body, ensure_ascii=False)
        sent = dict(headers or {})
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        try:
            async with self._client().request(
                method,
                url,
                data=data.encode() if data is not None else None,
                headers=sent,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                allow_redirects=False,
            ) as resp:
                raw = await self._read(resp)
                status = resp.status
        except TimeoutError:
            raise SkillHttpError(
                f"{method} {url}: no answer in {timeout_s}s", timeout=True
            ) from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise SkillHttpError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = None
        return HttpAnswer(status, text, body)

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        if resp.content_length is not None and resp.content_length > self.max_bytes:
            raise ValueError(f"answer of {resp.content_length} bytes is too large")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > self.max_bytes:
                raise ValueError(f"answer larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        if self._owned and self._session is not None:
            await self._session.close()
        self._session = None
