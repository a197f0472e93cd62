"""The audit log: who changed what."""

from __future__ import annotations

from aiohttp import web

from flow_engine.web.api.access.models import (
    ACCESS,
    AuditOut,
    AuditPage,
    AuditQuery,
)
from flow_engine.web.api.auth import principal, require
from flow_engine.web.api.registry import Api, Permission, json, query
from flow_engine.web.state import STORAGE

api = Api()


@api.route(
    "GET",
    "/audit",
    permission=Permission(module=ACCESS),
    summary="Who changed what, newest first",
    tag="access",
    query=AuditQuery,
    response=AuditPage,
)
async def list_audit(request: web.Request) -> web.Response:
    """A member sees the entries of their numbers and the entries of no number."""
    q = query(request, AuditQuery)
    who = principal(request)
    numbers: set[str] | None
    include_global = True
    if q.number is not None:
        require(who, q.number, ACCESS)
        numbers, include_global = {q.number}, False
    else:
        numbers = None if who.is_super else set(who.numbers)
    found = await request.config_dict[STORAGE].audit.entries(
        numbers=numbers,
        include_global=include_global,
        actor=q.actor,
        action=q.action,
        limit=q.limit,
        offset=q.offset,
    )
    items = [
        AuditOut(
            at=e.at,
            actor=e.actor,
            action=e.action,
            summary=e.summary,
            number=e.number,
            target=e.target,
            details=e.details,
        )
        for e in found
    ]
    return json(AuditPage(items=items))
