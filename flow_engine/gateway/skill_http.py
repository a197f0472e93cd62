"""The HTTP client of skills: HTTP skills and the HTTP action of declarative skills.

One attempt per call, a total timeout per call, answers capped in size, redirects never
followed. Failures raise :class:`SkillHttpError` (``timeout`` tells a timeout from an
unreachable host, ``refused`` a URL the allow list keeps out); any HTTP status is an
answer, the caller decides what it means.

Given an allow list (``FLOW_ENGINE_SKILL_URL_ALLOW``, :mod:`flow_engine.domain.skill_urls`)
the client refuses URLs outside it before connecting, and its resolver checks every
address a name resolves to on every connection, so the address checked is the address
connected to (a name that starts resolving to a private address is refused at once).
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from flow_engine.domain.skill_urls import UrlAllowList, UrlRefused, ip_of
from flow_engine.errors import FlowEngineError

#: most a name may take to resolve when a configuration is checked
RESOLVE_TIMEOUT_S = 3.0

MAX_ANSWER_BYTES = 1_000_000
USER_AGENT = "flow-engine-skills/1"


class SkillHttpError(FlowEngineError):
    """A skill's HTTP request got no answer: timeout, refused, reset, too large."""

    code = "skill_http_error"

    def __init__(self, message: str, *, timeout: bool = False, refused: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.refused = refused


class GuardedResolver(AbstractResolver):
    """Resolves as usual, then refuses a name with any address the allow list keeps out."""

    def __init__(self, allow: UrlAllowList, inner: AbstractResolver | None = None) -> None:
        self.allow = allow
        self._inner = inner  # the default one binds the running loop: made on first use

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = DefaultResolver()
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = ip_of(result["host"])
            if address is None:
                raise UrlRefused(f"{host} resolved to {result['host']!r}, not an address")
            self.allow.check_address(host, address)
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()
            self._inner = None


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
        self,
        session: aiohttp.ClientSession | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
        *,
        allow: UrlAllowList | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        if session is not None and allow is not None:
            raise ValueError("an allow list needs the client's own session (its resolver)")
        self._session = session
        self._owned = session is None
        self.max_bytes = max_bytes
        #: None: any URL (the local tools, HTTP actions of flow files)
        self.allow = allow
        #: ``resolver``: where names are looked up (default: the system's, in a thread)
        self._resolver = GuardedResolver(allow, resolver) if allow is not None else None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=self._resolver)
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT}, connector=connector
            )
            self._owned = True
        return self._session

    async def check_url(self, url: str) -> None:
        """:class:`UrlRefused` unless ``url`` is in the allow list and its host resolves
        only to addresses it allows (what every call checks again)."""
        if self._resolver is None or self.allow is None:
            return
        target = self.allow.check_url(url)
        if ip_of(target.host) is not None:
            return
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                await self._resolver.resolve(target.host, target.port, socket.AF_UNSPEC)
        except UrlRefused:
            raise
        except TimeoutError:
            raise UrlRefused(f"{target.host} did not resolve in {RESOLVE_TIMEOUT_S}s") from None
        except OSError as exc:
            raise UrlRefused(f"{target.host} does not resolve: {exc.strerror or exc}") from None

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
        if self.allow is not None:
            try:
                self.allow.check_url(url)
            except UrlRefused as exc:
                raise SkillHttpError(f"{method} {url}: refused: {exc}", refused=True) from None
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
        except UrlRefused as exc:
            raise SkillHttpError(f"{method} {url}: refused: {exc}", refused=True) from None
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
        if self._resolver is not None:
            await self._resolver.close()
