"""Who am I, which modules exist, which base-flow versions exist."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from flow_engine.admin.permissions import Module
from flow_engine.domain.flow_versions import FLOW_VERSIONS, LATEST_FLOW_VERSION
from flow_engine.web.api.auth import principal
from flow_engine.web.api.registry import Api, Permission, json
from flow_engine.web.state import DIRECTORY

api = Api()


class Me(BaseModel):
    actor: str
    super_admin: bool
    member_id: str | None
    email: str | None
    name: str | None
    profile_id: str | None
    modules: list[Module]
    numbers: list[str]


class ModuleInfo(BaseModel):
    module: Module
    description: str


class FlowVersionOut(BaseModel):
    version: int
    released: str
    notes: str
    latest: bool


class FlowVersions(BaseModel):
    versions: list[FlowVersionOut]
    latest: int


MODULE_DESCRIPTIONS = {
    Module.CONFIG: "Number configuration: tabs, versions and restores, bulk edits, flow version.",
    Module.SKILLS: "Attaching, changing and detaching skills (with config): what the engine "
    "calls, reads and imports.",
    Module.HUMAN_SERVICE: "General human-service settings and their replication.",
    Module.TEMPLATES: "Active templates of numbers, one by one and in bulk.",
    Module.DESK: "Attendant API: tickets of the number.",
    Module.NUMBERS: "System administration: rename numbers, owners, members of numbers.",
    Module.ACCESS: "Access profiles, members, their API tokens, and the audit log.",
    Module.DATA: "Metrics dashboards (reserved).",
    Module.NOTIFICATIONS: "Active notifications (reserved).",
    Module.HEALTH: "Number health (reserved).",
}


@api.route(
    "GET",
    "/me",
    permission=Permission(),
    summary="The caller and their rights",
    tag="meta",
    response=Me,
)
async def get_me(request: web.Request) -> web.Response:
    who = principal(request)
    directory = await request.config_dict[DIRECTORY].current()
    member = directory.members.get(who.member_id or "")
    return json(
        Me(
            actor=who.actor,
            super_admin=who.is_super,
            member_id=who.member_id,
            email=who.email,
            name=member.name if member else None,
            profile_id=member.profile_id if member else None,
            modules=sorted(who.modules),
            numbers=sorted(who.numbers),
        )
    )


@api.route(
    "GET",
    "/modules",
    permission=Permission(),
    summary="The modules an access profile can grant",
    tag="meta",
    response=list[ModuleInfo],
)
async def list_modules(request: web.Request) -> web.Response:
    items = [ModuleInfo(module=m, description=MODULE_DESCRIPTIONS[m]) for m in Module]
    return web.json_response([i.model_dump(mode="json") for i in items])


@api.route(
    "GET",
    "/flow-versions",
    permission=Permission(module=Module.CONFIG),
    summary="Versions of the base flow",
    tag="config",
    response=FlowVersions,
)
async def list_flow_versions(request: web.Request) -> web.Response:
    versions = [
        FlowVersionOut(
            version=v.version,
            released=v.released,
            notes=v.notes,
            latest=v.version == LATEST_FLOW_VERSION,
        )
        for v in FLOW_VERSIONS.values()
    ]
    return json(FlowVersions(versions=versions, latest=LATEST_FLOW_VERSION))
