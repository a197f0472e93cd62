"""A small typed async client of the admin API (``/api/v1``, see docs/api.md).

One :class:`AdminApi` (one ``aiohttp.ClientSession``) per command::

    async with AdminApi("http://127.0.0.1:8080", token) as api:
        current = await api.get_config("100000000000101")

Every refusal of the server (4xx/5xx) raises :class:`ApiError` carrying its status and
its ``{"error": {"code", "message", "details"}}`` body; a server that cannot be reached
raises :class:`ApiUnreachable`.
"""

from __future__ import annotations

import json as json_module
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, NotRequired, TypedDict, cast

import aiohttp

from flow_engine import __version__

API_PREFIX = "/api/v1"
PAGE = 50  # the server's default page size, always accepted
TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=10)


# --------------------------------------------------------------------------- responses
class MemberRef(TypedDict):
    id: str
    name: str
    email: str


class NumberOut(TypedDict):
    number: str
    display_phone_number: str
    name: str
    owner_email: str | None
    members: list[MemberRef]
    flow_version: int
    version: int
    etag: str
    updated_at: Any
    templates: int


class ConfigOut(TypedDict):
    number: str
    version: int
    etag: str
    updated_at: Any
    author: str
    author_email: str | None
    summary: str
    source: str
    config: dict[str, Any]


class VersionOut(TypedDict):
    version: int
    etag: str
    at: Any
    author: str
    author_email: str | None
    summary: str
    source: str


class Change(TypedDict):
    path: str
    before: Any
    after: Any


class BulkNumber(TypedDict):
    number: str
    from_version: int
    etag: str | None
    changed: bool
    changes: list[Change]
    version: NotRequired[int | None]
    new_etag: NotRequired[str | None]


class BulkResult(TypedDict):
    dry_run: bool
    applied: bool
    changed: int
    unchanged: int
    numbers: list[BulkNumber]


class ProfileOut(TypedDict):
    id: str
    name: str
    description: str
    modules: list[str]
    member_count: int
    created_at: Any
    updated_at: Any


class MemberOut(TypedDict):
    id: str
    name: str
    email: str
    profile_id: str | None
    profile_name: str | None
    modules: list[str]
    numbers: list[str]
    owner_of: list[str]
    created_at: Any


class MemberAdded(TypedDict):
    member: MemberOut
    created: bool


class Link(TypedDict):
    member_id: str
    email: str
    number: str


class LinksRemoved(TypedDict):
    removed: list[Link]
    dry_run: bool


class TokenCreated(TypedDict):
    id: str
    name: str
    created_at: Any
    revoked_at: Any
    prefix: str
    token: str


class FlowVersionOut(TypedDict):
    version: int
    released: str
    notes: str
    latest: bool


class FlowVersions(TypedDict):
    versions: list[FlowVersionOut]
    latest: int


# --------------------------------------------------------------------------- errors
class ApiError(Exception):
    """The server refused a request: ``status`` and its error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        *,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.method = method
        self.path = path

    @classmethod
    def from_body(cls, status: int, body: Any, *, method: str, path: str) -> ApiError:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            return cls(
                status,
                str(error.get("code") or f"http_{status}"),
                str(error.get("message") or ""),
                error.get("details"),
                method=method,
                path=path,
            )
        text = body if isinstance(body, str) else ""
        return cls(status, f"http_{status}", text[:500], method=method, path=path)

    def field_errors(self) -> list[tuple[str | None, str, str]]:
        """``(number, field, message)`` of each detail that names a field."""
        if not isinstance(self.details, list):
            return []
        found: list[tuple[str | None, str, str]] = []
        for d in self.details:
            if isinstance(d, dict) and "field" in d:
                number = d.get("number")
                found.append(
                    (
                        None if number is None else str(number),
                        str(d["field"]),
                        str(d.get("message", "")),
                    )
                )
        return found


class ApiUnreachable(Exception):
    """The server could not be reached (connection refused, DNS, timeout)."""


# --------------------------------------------------------------------------- client
def api_base(url: str) -> str:
    """``http://host:port`` → ``http://host:port/api/v1`` (a URL ending in /api/v1 is kept)."""
    base = url.rstrip("/")
    return base if base.endswith(API_PREFIX) else base + API_PREFIX


def _drop_none(params: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in params.items() if v is not None and v != ""}


class AdminApi:
    """The admin API as typed coroutines; use as an async context manager."""

    def __init__(self, url: str, token: str) -> None:
        self.base = api_base(url)
        self.token = token
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AdminApi:
        self._session = aiohttp.ClientSession(
            timeout=TIMEOUT,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
                "User-Agent": f"flow-engine-admin/{__version__}",
            },
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        if_match: str | None = None,
    ) -> Any:
        """The decoded JSON answer of ``method path`` (``path`` below /api/v1), or raise."""
        if self._session is None:
            raise RuntimeError("AdminApi is used outside 'async with'")
        if if_match == "*":  # creating: the resource must not exist yet
            headers = {"If-None-Match": "*"}
        else:
            headers = {"If-Match": if_match} if if_match is not None else {}
        try:
            async with self._session.request(
                method,
                self.base + path,
                json=json,
                params=_drop_none(params or {}),
                headers=headers,
            ) as resp:
                text = await resp.text()
                body: Any = None
                if text:
                    try:
                        body = await resp.json(content_type=None)
                    except ValueError:
                        body = text
                if resp.status >= 400:
                    raise ApiError.from_body(resp.status, body, method=method, path=path)
                if isinstance(body, dict) and "etag" not in body and resp.headers.get("ETag"):
                    body["etag"] = resp.headers["ETag"]
                return body
        except aiohttp.ClientConnectionError as exc:
            raise ApiUnreachable(f"cannot reach {self.base}: {exc}") from exc
        except TimeoutError as exc:
            raise ApiUnreachable(f"{method} {self.base}{path} timed out") from exc

    async def download(self, path: str, params: Mapping[str, Any] | None = None) -> bytes:
        """The raw body of ``GET path`` (a PDF, a CSV), or raise as :meth:`request`."""
        if self._session is None:
            raise RuntimeError("AdminApi is used outside 'async with'")
        try:
            async with self._session.get(self.base + path, params=_drop_none(params or {})) as r:
                data = await r.read()
                if r.status >= 400:
                    try:
                        body: Any = json_module.loads(data)
                    except ValueError:
                        body = data.decode(errors="replace")
                    raise ApiError.from_body(r.status, body, method="GET", path=path)
                return data
        except aiohttp.ClientConnectionError as exc:
            raise ApiUnreachable(f"cannot reach {self.base}: {exc}") from exc
        except TimeoutError as exc:
            raise ApiUnreachable(f"GET {self.base}{path} timed out") from exc

    # ----------------------------------------------------------------- meta
    async def me(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.request("GET", "/me"))

    async def flow_versions(self) -> FlowVersions:
        return cast(FlowVersions, await self.request("GET", "/flow-versions"))

    # ----------------------------------------------------------------- numbers
    async def list_numbers(
        self, q: str | None = None, *, limit: int = PAGE, offset: int = 0
    ) -> tuple[list[NumberOut], int]:
        page = await self.request(
            "GET", "/numbers", params={"q": q, "limit": limit, "offset": offset}
        )
        return cast(list[NumberOut], page["items"]), int(page.get("total", len(page["items"])))

    async def iter_numbers(self, q: str | None = None) -> AsyncIterator[NumberOut]:
        """Every number visible to the caller (page after page)."""
        offset = 0
        while True:
            items, total = await self.list_numbers(q, limit=PAGE, offset=offset)
            for item in items:
                yield item
            offset += len(items)
            if not items or offset >= total:
                return

    async def all_numbers(self, q: str | None = None) -> list[NumberOut]:
        return [n async for n in self.iter_numbers(q)]

    async def get_number(self, number: str) -> NumberOut:
        return cast(NumberOut, await self.request("GET", f"/numbers/{number}"))

    # ----------------------------------------------------------------- configuration
    async def get_config(self, number: str) -> ConfigOut:
        return cast(ConfigOut, await self.request("GET", f"/numbers/{number}/config"))

    async def put_config(self, number: str, config: dict[str, Any], *, if_match: str) -> ConfigOut:
        return cast(
            ConfigOut,
            await self.request("PUT", f"/numbers/{number}/config", json=config, if_match=if_match),
        )

    async def create_config(self, number: str, config: dict[str, Any]) -> ConfigOut:
        """The first configuration of a number (If-None-Match: *)."""
        return cast(
            ConfigOut,
            await self.request("PUT", f"/numbers/{number}/config", json=config, if_match="*"),
        )

    async def list_versions(
        self, number: str, *, limit: int = PAGE, offset: int = 0
    ) -> tuple[list[VersionOut], int]:
        page = await self.request(
            "GET",
            f"/numbers/{number}/config/versions",
            params={"limit": limit, "offset": offset},
        )
        return cast(list[VersionOut], page["items"]), int(page.get("total", len(page["items"])))

    async def get_version(self, number: str, version: int) -> ConfigOut:
        return cast(
            ConfigOut, await self.request("GET", f"/numbers/{number}/config/versions/{version}")
        )

    async def restore(self, number: str, version: int, *, if_match: str) -> ConfigOut:
        return cast(
            ConfigOut,
            await self.request(
                "POST",
                f"/numbers/{number}/config/versions/{version}/restore",
                if_match=if_match,
            ),
        )

    async def set_flow_version(self, number: str, version: int, *, if_match: str) -> ConfigOut:
        return cast(
            ConfigOut,
            await self.request(
                "POST",
                f"/numbers/{number}/flow-version",
                json={"version": version},
                if_match=if_match,
            ),
        )

    async def bulk(
        self,
        numbers: list[str],
        *,
        reference: str | None = None,
        paths: list[str] | None = None,
        change: dict[str, Any] | None = None,
        dry_run: bool,
        if_match: dict[str, str] | None = None,
        force: bool = False,
    ) -> BulkResult:
        """POST /config/bulk: one atomic request for every number. Applying needs
        ``if_match`` (every number's ETag from the dry run) or ``force``."""
        body: dict[str, Any] = {
            "numbers": numbers,
            "reference": reference,
            "paths": paths,
            "change": change,
            "dry_run": dry_run,
            "if_match": if_match,
            "force": force,
        }
        return cast(BulkResult, await self.request("POST", "/config/bulk", json=body))

    async def replicate(
        self,
        source: str,
        targets: list[str],
        *,
        dry_run: bool,
        if_match: dict[str, str] | None = None,
        force: bool = False,
    ) -> BulkResult:
        body = {"targets": targets, "dry_run": dry_run, "if_match": if_match, "force": force}
        return cast(
            BulkResult,
            await self.request("POST", f"/numbers/{source}/config/replicate", json=body),
        )

    # ----------------------------------------------------------------- access
    async def list_profiles(self) -> list[ProfileOut]:
        page = await self.request("GET", "/profiles")
        return cast(list[ProfileOut], page["items"])

    async def create_profile(
        self, name: str, modules: list[str], description: str = ""
    ) -> ProfileOut:
        body = {"name": name, "description": description, "modules": modules}
        return cast(ProfileOut, await self.request("POST", "/profiles", json=body))

    async def list_members(
        self, q: str | None = None, *, limit: int = PAGE, offset: int = 0
    ) -> tuple[list[MemberOut], int]:
        page = await self.request(
            "GET", "/members", params={"q": q, "limit": limit, "offset": offset}
        )
        return cast(list[MemberOut], page["items"]), int(page.get("total", len(page["items"])))

    async def all_members(self, q: str | None = None) -> list[MemberOut]:
        found: list[MemberOut] = []
        while True:
            items, total = await self.list_members(q, limit=PAGE, offset=len(found))
            found.extend(items)
            if not items or len(found) >= total:
                return found

    async def add_members(
        self,
        members: list[dict[str, str]],
        *,
        profile_id: str | None = None,
        numbers: list[str] | None = None,
    ) -> list[MemberAdded]:
        """POST /members: create (or find) the members and link them to ``numbers`` at once."""
        body: dict[str, Any] = {"members": members, "numbers": numbers or []}
        if profile_id is not None:
            body["profile_id"] = profile_id
        page = await self.request("POST", "/members", json=body)
        return cast(list[MemberAdded], page["items"])

    async def remove_links(
        self, member_ids: list[str], numbers: list[str], *, dry_run: bool
    ) -> LinksRemoved:
        body = {"member_ids": member_ids, "numbers": numbers, "dry_run": dry_run}
        return cast(LinksRemoved, await self.request("POST", "/links/remove", json=body))

    async def create_token(self, member_id: str, name: str) -> TokenCreated:
        return cast(
            TokenCreated,
            await self.request("POST", f"/members/{member_id}/tokens", json={"name": name}),
        )
