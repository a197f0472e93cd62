"""Number configuration routes (R-CONF-1 … R-CONF-5, R-DESK-4): read and replace with
If-Match, versions and restores, flow upgrades, bulk edits, replication of the general
human-service settings."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, Field, StrictBool

from flow_engine.admin.configs import (
    CREATE_ONLY,
    HUMAN_SERVICE_PATHS,
    IDENTITY,
    REFERENCE_PATHS,
    ConfigService,
    Planned,
    etag_of,
)
from flow_engine.admin.jsondoc import copy_paths, get_path
from flow_engine.admin.permissions import Module
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.config_base import PhoneNumberId
from flow_engine.errors import BadRequest, UnprocessableEntity
from flow_engine.storage.configs import ConfigVersion
from flow_engine.web.api.auth import principal, require_all
from flow_engine.web.api.registry import Api, Input, Offset, Permission, body, json, query
from flow_engine.web.state import CONFIG_ADMIN, DIRECTORY

api = Api()
CONFIG = Permission(module=Module.CONFIG, number="number")
HUMAN = Permission(module=Module.HUMAN_SERVICE, number="number")
BULK_MAX = 1000


AUTHOR = (
    "Who wrote the version: `admin` (the super-admin token), `member:<id>`, `file` "
    "(FLOW_ENGINE_CONFIG_DIR) or `system`."
)
AUTHOR_EMAIL = "The e-mail of the member who wrote it (null when the author is not a member)."


class ConfigOut(BaseModel):
    number: str
    version: int
    etag: str
    updated_at: float
    author: str = Field(description=AUTHOR)
    author_email: str | None = Field(description=AUTHOR_EMAIL)
    summary: str
    source: str
    flow_version: int
    config: dict[str, Any]

    @classmethod
    def of(cls, v: ConfigVersion, emails: dict[str, str] | None = None) -> ConfigOut:
        return cls(
            number=v.number,
            version=v.version,
            etag=etag_of(v),
            updated_at=v.at,
            author=v.author,
            author_email=v.author_email or (emails or {}).get(v.author),
            summary=v.summary,
            source=v.source,
            flow_version=int(v.config.get("flow_version", 1)),
            config=v.config,
        )


class VersionOut(BaseModel):
    version: int
    etag: str
    at: float
    author: str = Field(description=AUTHOR)
    author_email: str | None = Field(description=AUTHOR_EMAIL)
    summary: str
    source: str


class VersionList(BaseModel):
    items: list[VersionOut]
    total: int


class Page(Input):
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class FlowVersionBody(Input):
    version: int = Field(ge=1, description="The flow version to run (GET /flow-versions).")


class Change(BaseModel):
    path: str
    before: Any = None
    after: Any = None


class PlannedOut(BaseModel):
    number: str
    from_version: int
    etag: str | None
    changed: bool
    changes: list[Change]
    version: int | None = None
    new_etag: str | None = None


class BulkResult(BaseModel):
    dry_run: bool
    applied: bool
    changed: int
    unchanged: int
    numbers: list[PlannedOut]


DRY_RUN = "Only say what would change (and the etag of each number); nothing is written."
IF_MATCH = (
    "The etag of every number as the dry run showed it. Required to apply (428 without it, "
    "naming the numbers it lacks) unless `force` is true; 412 if any number moved since."
)
FORCE = (
    "Apply without `if_match`, overwriting whatever each number holds now (recorded in the "
    "audit log as `details.force`). Etags given in `if_match` are still checked."
)
PATH_MAX = 200


class BulkBody(Input):
    numbers: list[PhoneNumberId] = Field(min_length=1, max_length=BULK_MAX)
    reference: PhoneNumberId | None = Field(
        None, description="Copy from this number's configuration."
    )
    paths: list[Annotated[str, Field(max_length=PATH_MAX)]] | None = Field(
        None,
        max_length=50,
        description=(
            "Dotted field paths copied from the reference, e.g. `faq`, `hours.weekdays`, "
            "`desk.tags` (default: every tab but the number's identity and its "
            "active-messaging settings). Lists are copied whole (no item index); an unknown "
            "field, or one never copied (`phone_number_id`, `display_phone_number`, `name`, "
            "`desk.active_messaging`), is a 422 naming the path."
        ),
    )
    change: dict[str, Any] | None = Field(
        None, description="A JSON merge patch (RFC 7396) applied to every number after the copy."
    )
    dry_run: StrictBool = Field(False, description=DRY_RUN)
    if_match: dict[str, str] | None = Field(None, description=IF_MATCH)
    force: StrictBool = Field(False, description=FORCE)


class ReplicateBody(Input):
    targets: list[PhoneNumberId] = Field(min_length=1, max_length=BULK_MAX)
    dry_run: StrictBool = Field(False, description=DRY_RUN)
    if_match: dict[str, str] | None = Field(None, description=IF_MATCH)
    force: StrictBool = Field(False, description=FORCE)


class HumanServiceOut(BaseModel):
    number: str
    etag: str
    paths: list[str]
    settings: dict[str, Any]


class HumanServiceBody(Input):
    settings: dict[str, Any] = Field(
        description="The general human-service settings, shaped like the configuration "
        "(flow.call_center, queue, service, hours, timezone, desk.tags)."
    )


def config_service(request: web.Request) -> ConfigService:
    return request.config_dict[CONFIG_ADMIN]


async def member_emails(request: web.Request, versions: list[ConfigVersion]) -> dict[str, str]:
    """``member:<id>`` → e-mail, for versions recorded without their author's e-mail
    (written before e-mails were recorded): as the directory knows the member now."""
    wanted = {
        v.author.removeprefix("member:")
        for v in versions
        if v.author_email is None and v.author.startswith("member:")
    }
    if not wanted:
        return {}
    members = (await request.config_dict[DIRECTORY].current()).members
    return {f"member:{m}": members[m].email for m in wanted if m in members}


def _etag(v: ConfigVersion) -> dict[str, str]:
    return {"ETag": etag_of(v)}


def if_match_header(request: web.Request) -> str | None:
    """The write's precondition: ``If-None-Match: *`` (create only, ``CREATE_ONLY``) or
    ``If-Match`` (an ETag, or ``*``: whatever version is in force)."""
    if request.headers.get("If-None-Match", "").strip() == "*":
        return CREATE_ONLY
    return request.headers.get("If-Match")


def result(
    planned: list[Planned], dry_run: bool, written: list[ConfigVersion] | None = None
) -> BulkResult:
    new = {v.number: v for v in written or []}
    items = []
    for p in planned:
        doc = p.to_json()
        v = new.get(p.number)
        items.append(
            PlannedOut(**doc, version=v.version if v else None, new_etag=etag_of(v) if v else None)
        )
    changed = sum(1 for p in planned if p.changes)
    return BulkResult(
        dry_run=dry_run,
        applied=bool(written) or (not dry_run and changed == 0),
        changed=changed,
        unchanged=len(planned) - changed,
        numbers=items,
    )


@api.route(
    "GET",
    "/numbers/{number}/config",
    permission=CONFIG,
    summary="The configuration in force, with its version and ETag",
    tag="config",
    response=ConfigOut,
    errors=(404,),
)
async def get_config(request: web.Request) -> web.Response:
    head = await config_service(request).head(request.match_info["number"])
    return json(ConfigOut.of(head, await member_emails(request, [head])), headers=_etag(head))


@api.route(
    "PUT",
    "/numbers/{number}/config",
    permission=CONFIG,
    summary="Replace the configuration (If-Match: its ETag; If-None-Match: * to create)",
    tag="config",
    body=NumberConfig,
    response=ConfigOut,
    also=(201,),
    if_match=True,
    errors=(400, 412, 422, 428),
)
async def put_config(request: web.Request) -> web.Response:
    """The body is the whole configuration (see GET /numbers/{number}/config, or
    `flow-engine schema`). Every bad field is listed by its path in one 422."""
    number = request.match_info["number"]
    raw = await request.read()
    try:
        doc = jsonlib.loads(raw or b"null")
    except ValueError:
        raise BadRequest("malformed JSON", details={"field": "(body)"}) from None
    if not isinstance(doc, dict):
        raise BadRequest("expected a JSON object", details={"field": "(body)"})
    precondition = if_match_header(request)
    v = await config_service(request).write(
        number,
        doc,
        if_match=precondition,
        author=principal(request),
        source="api",
        action="config.put",
    )
    created = precondition == CREATE_ONLY  # else refused (412) if the number existed
    return json(ConfigOut.of(v), status=201 if created else 200, headers=_etag(v))


@api.route(
    "GET",
    "/numbers/{number}/config/versions",
    permission=CONFIG,
    summary="Versions of the configuration, newest first",
    tag="config",
    query=Page,
    response=VersionList,
    errors=(404,),
)
async def list_versions(request: web.Request) -> web.Response:
    page = query(request, Page)
    service = config_service(request)
    number = request.match_info["number"]
    head = await service.head(number)
    found = await service.store.versions(number, limit=page.limit, offset=page.offset)
    emails = await member_emails(request, found)
    items = [
        VersionOut(
            version=v.version,
            etag=etag_of(v),
            at=v.at,
            author=v.author,
            author_email=v.author_email or emails.get(v.author),
            summary=v.summary,
            source=v.source,
        )
        for v in found
    ]
    return json(VersionList(items=items, total=head.version))


def _version_param(request: web.Request) -> int:
    raw = request.match_info["version"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or len(raw) > 9:
        raise UnprocessableEntity(
            "invalid path parameter",
            details=[
                {
                    "field": "version",
                    "in": "path",
                    "message": "must be a version number ≥ 1",
                    "type": "int",
                }
            ],
        )
    return int(raw)


@api.route(
    "GET",
    "/numbers/{number}/config/versions/{version}",
    permission=CONFIG,
    summary="One version of the configuration",
    tag="config",
    response=ConfigOut,
    errors=(404,),
)
async def get_version(request: web.Request) -> web.Response:
    v = await config_service(request).version(
        request.match_info["number"], _version_param(request)
    )
    return json(ConfigOut.of(v, await member_emails(request, [v])))


@api.route(
    "POST",
    "/numbers/{number}/config/versions/{version}/restore",
    permission=CONFIG,
    summary="Make an old version the configuration in force (as a new version)",
    tag="config",
    response=ConfigOut,
    if_match=True,
    errors=(404, 412, 422, 428),
)
async def restore_version(request: web.Request) -> web.Response:
    n = _version_param(request)
    v = await config_service(request).restore(
        request.match_info["number"],
        n,
        if_match=if_match_header(request),
        author=principal(request),
    )
    return json(ConfigOut.of(v), headers=_etag(v))


@api.route(
    "POST",
    "/numbers/{number}/flow-version",
    permission=CONFIG,
    summary="Upgrade (or roll back) the number to a version of the base flow",
    tag="config",
    body=FlowVersionBody,
    response=ConfigOut,
    if_match=True,
    errors=(404, 412, 422, 428),
)
async def set_flow_version(request: web.Request) -> web.Response:
    b = await body(request, FlowVersionBody)
    v = await config_service(request).set_flow_version(
        request.match_info["number"],
        b.version,
        if_match=if_match_header(request),
        author=principal(request),
    )
    return json(ConfigOut.of(v), headers=_etag(v))


async def run_bulk(
    request: web.Request,
    numbers: list[str],
    build: Any,
    *,
    dry_run: bool,
    if_match: dict[str, str] | None,
    force: bool,
    source: str,
    action: str,
    summary: str,
) -> web.Response:
    """A write to many numbers: its dry run, or (``if_match`` naming every number, or
    ``force``) the write itself, all or nothing."""
    service = config_service(request)
    planned = await service.plan(
        numbers,
        build,
        if_match=if_match,
        require_if_match=not (dry_run or force),
        who=principal(request),
    )
    if dry_run:
        return json(result(planned, True))
    written = await service.apply(
        planned,
        author=principal(request),
        source=source,
        action=action,
        summary=summary,
        force=force,
    )
    return json(result(planned, False, written))


@api.route(
    "POST",
    "/config/bulk",
    permission=Permission(module=Module.CONFIG),
    summary="Edit many numbers at once: from a reference number and/or a merge patch",
    tag="config",
    body=BulkBody,
    response=BulkResult,
    errors=(404, 412, 422, 428),
)
async def bulk_config(request: web.Request) -> web.Response:
    """Send `dry_run: true` first to see what would change on each number; then send the
    same body with `dry_run: false` and `if_match` set to the etags of the dry run (428
    without it, unless `force: true`). The change is applied to every number or to none."""
    b = await body(request, BulkBody)
    numbers = list(dict.fromkeys(b.numbers))
    who = principal(request)
    require_all(who, numbers + ([b.reference] if b.reference else []), Module.CONFIG)
    if b.reference is None and b.change is None:
        raise UnprocessableEntity(
            "nothing to change",
            details=[
                {
                    "field": "change",
                    "message": "give a reference, a change, or both",
                    "type": "missing",
                }
            ],
        )
    if b.reference is None and b.paths is not None:
        raise UnprocessableEntity(
            "paths are copied from a reference: give one",
            details=[
                {
                    "field": "paths",
                    "message": "paths name what to copy from the reference, and there is none",
                    "type": "missing_reference",
                }
            ],
        )
    check_identity_untouched(b.change)
    reference = None
    if b.reference is not None:
        reference = (await config_service(request).head(b.reference)).config
    paths = b.paths if b.paths is not None else REFERENCE_PATHS
    build = ConfigService.from_reference(reference, b.change, paths)
    what = f"bulk edit from {b.reference}" if b.reference else "bulk edit"
    return await run_bulk(
        request,
        numbers,
        build,
        dry_run=b.dry_run,
        if_match=b.if_match,
        force=b.force,
        source="bulk",
        action="config.bulk",
        summary=what,
    )


@api.route(
    "POST",
    "/numbers/{number}/config/replicate",
    permission=HUMAN,
    summary="Replicate the general human-service settings to other numbers",
    tag="human_service",
    body=ReplicateBody,
    response=BulkResult,
    errors=(404, 412, 422, 428),
)
async def replicate_config(request: web.Request) -> web.Response:
    """Copies queues, service messages, hours, time zone, call-center switch and tags.
    The active-messaging settings (`desk.active_messaging`) are never replicated. Like a
    bulk edit: `dry_run: true` first, then apply with its etags in `if_match` (428
    without them, unless `force: true`)."""
    source = request.match_info["number"]
    b = await body(request, ReplicateBody)
    targets = [n for n in dict.fromkeys(b.targets) if n != source]
    require_all(principal(request), targets, Module.HUMAN_SERVICE)
    reference = (await config_service(request).head(source)).config
    build = ConfigService.from_reference(reference, None, HUMAN_SERVICE_PATHS)
    return await run_bulk(
        request,
        targets,
        build,
        dry_run=b.dry_run,
        if_match=b.if_match,
        force=b.force,
        source="replicate",
        action="config.replicate",
        summary=f"human-service settings replicated from {source}",
    )


def check_identity_untouched(change: dict[str, Any] | None) -> None:
    """A bulk change never sets a number's identity (each number keeps its own): a change
    that tries is a 422, not a silent no-op."""
    touched = [key for key in IDENTITY if change and key in change]
    if touched:
        raise UnprocessableEntity(
            "a bulk change cannot set the identity of numbers",
            details=[
                {
                    "field": f"change.{key}",
                    "message": "each number keeps its own; change it on that number alone",
                    "type": "identity",
                }
                for key in touched
            ],
        )


def _human_settings(config: dict[str, Any]) -> dict[str, Any]:
    return copy_paths(
        config, {}, [p for p in HUMAN_SERVICE_PATHS if get_path(config, p) is not None]
    )


@api.route(
    "GET",
    "/numbers/{number}/human-service",
    permission=HUMAN,
    summary="The general human-service settings of the number",
    tag="human_service",
    response=HumanServiceOut,
    errors=(404,),
)
async def get_human_service(request: web.Request) -> web.Response:
    head = await config_service(request).head(request.match_info["number"])
    out = HumanServiceOut(
        number=head.number,
        etag=etag_of(head),
        paths=HUMAN_SERVICE_PATHS,
        settings=_human_settings(head.config),
    )
    return json(out, headers=_etag(head))


@api.route(
    "PUT",
    "/numbers/{number}/human-service",
    permission=HUMAN,
    summary="Replace the general human-service settings (If-Match: the config ETag)",
    tag="human_service",
    body=HumanServiceBody,
    response=HumanServiceOut,
    if_match=True,
    errors=(404, 412, 422, 428),
)
async def put_human_service(request: web.Request) -> web.Response:
    """Only the human-service paths are taken from `settings`; anything else is refused."""
    number = request.match_info["number"]
    b = await body(request, HumanServiceBody)
    outside = _outside(b.settings, HUMAN_SERVICE_PATHS)
    if outside:
        raise UnprocessableEntity(
            "not a human-service setting",
            details=[
                {
                    "field": f"settings.{p}",
                    "message": "not a human-service setting",
                    "type": "extra_forbidden",
                }
                for p in outside
            ],
        )
    v = await config_service(request).update(
        number,
        lambda current: copy_paths(b.settings, current, HUMAN_SERVICE_PATHS),
        if_match=if_match_header(request),
        author=principal(request),
        source="api",
        action="config.human_service",
    )
    out = HumanServiceOut(
        number=number,
        etag=etag_of(v),
        paths=HUMAN_SERVICE_PATHS,
        settings=_human_settings(v.config),
    )
    return json(out, headers=_etag(v))


def _outside(settings: dict[str, Any], paths: list[str], prefix: str = "") -> list[str]:
    """Dotted keys of ``settings`` that are neither a path nor inside/above one."""
    bad = []
    for key, value in settings.items():
        full = f"{prefix}{key}"
        if full in paths:
            continue
        if any(p.startswith(full + ".") for p in paths) and isinstance(value, dict):
            bad.extend(_outside(value, paths, full + "."))
        else:
            bad.append(full)
    return bad
