"""Every route of the application, walked from the routers (not from the registry, so a
route added without a declaration is caught), against three callers:

(a) a member whose profile grants no module, linked to all five numbers: 403 everywhere
    but an explicit allow-list;
(b) a member with every module, linked to none of the numbers: 403 on every route about
    one of them, and lists without their items;
(c) no token: 401 with a bearer challenge on every non-public /api/v1 route.

The last tests prove the walker catches a route added without a permission check.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

import flow_engine.web.app as app_module
from flow_engine.admin.permissions import Module
from flow_engine.domain.campaigns import Campaign, CampaignState
from flow_engine.domain.notifications import Notification, TemplateRef
from flow_engine.domain.tickets import Ticket
from flow_engine.gateway.recording import RecordingGateway
from flow_engine.settings import Settings
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.notifications import Recipient
from flow_engine.web.api import PREFIX, all_operations, api_app
from flow_engine.web.api.registry import Api, Permission
from flow_engine.web.state import STORAGE, TICKETS
from tests.admin.conftest import (
    ADMIN_TOKEN,
    NUMBERS,
    AdminClient,
    ClientFactory,
    make_admin,
    number_config,
)

PARAM = re.compile(r"\{([^{}]+)\}")
BODY_METHODS = {"POST", "PUT", "PATCH"}

#: Routes a member without any module may use. Every other route must answer 403.
ALLOWED_WITHOUT_MODULE = {
    ("GET", f"{PREFIX}/openapi.json"),  # public: the OpenAPI document
    ("GET", f"{PREFIX}/me"),  # any signed-in caller: who am I
    ("GET", f"{PREFIX}/modules"),  # any signed-in caller: the modules that exist
}
#: Routes of the parent app with their own authentication, or none by design. They are
#: not called by the walker.
OUTSIDE_THE_API = {
    "/webhooks/whatsapp",  # Meta's signature (X-Hub-Signature-256), tests/web/test_webhook.py
    "/healthz",  # liveness probe
    "/readyz",  # readiness probe
    "/metrics",  # Prometheus scrape
    "/console",  # a redirect to /console/; the console's routes are walked with sessions
    "/favicon.ico",  # the console's icon, public as its static files: tests/console/test_safety.py
}


def is_console(path: str) -> bool:
    """Console routes answer people with sessions, not bearer tokens: walked by
    tests/admin/test_console_authorization.py."""
    return path == "/console" or path.startswith("/console/")


#: The only /api/v1 route that needs no token.
PUBLIC = {("GET", f"{PREFIX}/openapi.json")}
#: Lists that a member linked to no number sees without any item of the numbers.
LISTS = ["/numbers", "/templates", "/tickets", "/members", "/audit", "/health", "/campaigns"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as served: with the /api/v1 prefix, parameters as {name}
    handler: Callable[..., Any] | None

    @property
    def in_api(self) -> bool:
        return self.path == PREFIX or self.path.startswith(PREFIX + "/")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def application_routes(app: web.Application) -> list[Route]:
    """Every route of ``app`` and of its sub-applications, from their routers."""
    found: list[Route] = []
    for resource in app.router.resources():
        info = resource.get_info()
        if "app" in info:  # a mounted sub-application: walk its own router
            found.extend(application_routes(info["app"]))
            continue
        for route in resource:
            found.append(Route(route.method, resource.canonical, route.handler))
    return found


def served_path(declared: str) -> str:
    """A declared path as the router shows it: prefixed, without parameter regexes."""
    return PREFIX + PARAM.sub(lambda m: "{" + m[1].split(":")[0] + "}", declared)


def undeclared_api_routes(app: web.Application) -> list[str]:
    """/api/v1 routes without a declaration in the registry (refused to all but the
    super-admin by the middleware, and missing from the OpenAPI document)."""
    declared = {id(op) for op in all_operations()}
    problems = []
    for route in application_routes(app):
        if not route.in_api:
            continue
        op = getattr(route.handler, "__operation__", None)
        if op is None or id(op) not in declared:
            problems.append(f"{route}: not declared in the registry")
        elif (op.method, served_path(op.path)) != (route.method, route.path):
            problems.append(f"{route}: declared as {op.method} {op.path}")
    return problems


@dataclass
class World:
    """Real ids for the path parameters, and the tokens of the callers."""

    no_module: str  # linked to all five numbers, profile without modules
    all_modules: str  # every module, linked to no number
    ids: dict[str, str]

    def url(self, route: Route) -> str:
        def fill(m: re.Match[str]) -> str:
            name = m[1]
            assert name in self.ids, f"{route}: no real id for {{{name}}}: add one to World"
            return self.ids[name]

        return PARAM.sub(fill, route.path)


async def make_world(admin: AdminClient) -> World:
    ticket = await admin.app[TICKETS].create(
        Ticket.open(
            id="t_authz",
            number=NUMBERS[0],
            contact="5491100000001",
            contact_name="Ana",
            queue="Otros asuntos",
            attendants=["other@example.com"],
            priority=0,
            now=1000.0,
        )
    )
    no_module = await admin.member_token("nomodule@example.com", [], NUMBERS)
    all_modules = await admin.member_token("all@example.com", [m.value for m in Module], [])
    # the member acted upon: someone else, so that "the member themselves" never applies
    other = await admin.member_token("other@example.com", ["desk"], NUMBERS)
    me = await admin.call("GET", "/me", token=other)
    assert me.status == 200, me.body
    notification, campaign = await notification_and_campaign(admin)
    # an entry of the audit log about each number
    for n in NUMBERS:
        owner = await admin.call("PATCH", f"/numbers/{n}", {"owner_email": "other@example.com"})
        assert owner.status == 200, owner.body
    return World(
        no_module=no_module,
        all_modules=all_modules,
        ids={
            "number": NUMBERS[0],
            "ticket_id": ticket.id,
            "member_id": me.body["member_id"],
            "profile_id": me.body["profile_id"],
            "token_id": other.split("_")[1],  # fe_<token id>_<secret>
            "version": "1",
            "notification_id": notification,
            "campaign_id": campaign,
            "media_id": "media.demo-image",
        },
    )


async def notification_and_campaign(admin: AdminClient) -> tuple[str, str]:
    """A stored notification and a stored campaign of NUMBERS[0] (straight into the store:
    the walk is about who may read and act on them)."""
    store = admin.app[STORAGE].notifications
    now = time.time()
    template = TemplateRef(name="promo", language="es")
    n = Notification(
        id="ntf_authz", number=NUMBERS[0], to="5491100000001", template=template, created_at=now
    )
    await store.create(n, None, now + 3600)
    c = Campaign(
        id="cmp_authz",
        name="authz",
        state=CampaignState.PAUSED,
        number=NUMBERS[0],
        senders=[NUMBERS[0]],
        template=template,
        total=1,
        created_at=now,
    )
    await store.add_recipients(c.id, NUMBERS[0], [Recipient(0, "5491100000001", NUMBERS[0])])
    await store.create_campaign(c, {NUMBERS[0]: now})
    return n.id, c.id


async def request(
    admin: AdminClient, route: Route, url: str, token: str | None
) -> tuple[int, Any, dict[str, str]]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    kwargs: dict[str, Any] = {"headers": headers}
    if route.method in BODY_METHODS:
        kwargs["json"] = {}
    async with admin.client.request(route.method, url, **kwargs) as resp:
        text = await resp.text()
        body: Any = None
        if text:
            try:
                body = json.loads(text)
            except ValueError:
                body = text
        return resp.status, body, dict(resp.headers)


def is_error(body: Any, code: str) -> bool:
    return isinstance(body, dict) and body.get("error", {}).get("code") == code


async def walk_without_module(admin: AdminClient, world: World) -> list[str]:
    """(a): what a member without modules, linked to every number, gets that they should
    not (anything but 403 outside the allow-list)."""
    problems = []
    for route in application_routes(admin.app):
        if route.path in OUTSIDE_THE_API or is_console(route.path):
            continue
        status, body, _ = await request(admin, route, world.url(route), world.no_module)
        if (route.method, route.path) in ALLOWED_WITHOUT_MODULE:
            if status != 200:
                problems.append(f"{route}: {status} for a signed-in caller, expected 200")
        elif route.method == "HEAD":
            if status != 403:
                problems.append(f"{route}: {status}, expected 403")
        elif status != 403 or not is_error(body, "forbidden"):
            problems.append(f"{route}: {status} {str(body)[:200]}, expected 403")
    return problems


def about_a_number(route: Route) -> bool:
    return "{number}" in route.path or any(
        route.path.startswith(f"{PREFIX}/{kind}")
        for kind in (
            "tickets/{ticket_id}",
            "notifications/{notification_id}",
            "campaigns/{campaign_id}",
        )
    )


async def test_every_route_of_the_app_is_walked(admin: AdminClient) -> None:
    routes = application_routes(admin.app)
    paths = {r.path for r in routes}
    assert paths >= OUTSIDE_THE_API  # the allow-list names routes that exist
    assert paths >= {p for _m, p in ALLOWED_WITHOUT_MODULE}
    declared = {(op.method, op.path) for op in all_operations()}
    assert len([r for r in routes if r.in_api]) == len(declared)


async def test_every_api_route_is_declared_in_the_registry(admin: AdminClient) -> None:
    assert undeclared_api_routes(admin.app) == []


async def test_a_member_without_modules_is_refused_everywhere(admin: AdminClient) -> None:
    world = await make_world(admin)
    assert await walk_without_module(admin, world) == []


async def test_a_member_without_numbers_sees_none_of_them(admin: AdminClient) -> None:
    world = await make_world(admin)
    problems = []
    for route in application_routes(admin.app):
        if not route.in_api or not about_a_number(route):
            continue
        status, body, _ = await request(admin, route, world.url(route), world.all_modules)
        if status != 403:
            problems.append(f"{route}: {status} {str(body)[:200]}, expected 403")
    assert problems == []

    async def items(path: str, token: str) -> list[dict[str, Any]]:
        reply = await admin.call("GET", path, token=token)
        assert reply.status == 200, (path, reply.body)
        body = reply.body
        found: list[dict[str, Any]] = next(
            body[k] for k in ("items", "tickets", "numbers", "campaigns") if k in body
        )
        return found

    def numbers_of(item: dict[str, Any]) -> set[str]:
        found = {item.get("number")} | set(item.get("numbers", [])) | set(item.get("owner_of", []))
        return found & set(NUMBERS)

    for path in LISTS:
        theirs = [i for i in await items(path, world.all_modules) if numbers_of(i)]
        assert theirs == [], f"GET {path} shows items of numbers: {theirs}"
        # not vacuous: the super-admin does see items of the numbers in the same list
        assert any(numbers_of(i) for i in await items(path, ADMIN_TOKEN)), path
    for path in [
        "/numbers",
        "/templates",
        "/tickets",
        "/members",
        "/health",
        "/health?format=csv",
        "/data/service",
    ]:
        reply = await admin.call("GET", path, token=world.all_modules)
        leaked = [n for n in NUMBERS if n in json.dumps(reply.body)]
        assert leaked == [], f"GET {path} mentions {leaked}"
    # a filter on one of the numbers is refused, not answered empty
    for path in ["/tickets", "/audit"]:
        reply = await admin.call("GET", f"{path}?number={NUMBERS[0]}", token=world.all_modules)
        assert reply.status == 403, (path, reply.body)
    for report in ["overview", "service", "notifications", "surveys", "messages"]:
        path = f"/data/{report}?numbers={NUMBERS[0]}"
        reply = await admin.call("GET", path, token=world.all_modules)
        assert reply.status == 403, (path, reply.body)
        assert reply.body["error"]["details"]["numbers"] == [NUMBERS[0]]


async def test_bulk_routes_refuse_numbers_of_others(admin: AdminClient) -> None:
    world = await make_world(admin)
    member = world.ids["member_id"]
    calls = [
        ("/config/bulk", {"numbers": NUMBERS[:2], "change": {"name": "x"}, "dry_run": True}),
        ("/templates/bulk", {"numbers": NUMBERS[:2], "active": [], "dry_run": True}),
        ("/links", {"member_ids": [member], "numbers": NUMBERS[:1]}),
        ("/links/remove", {"member_ids": [member], "numbers": NUMBERS[:1], "dry_run": True}),
    ]
    for path, body in calls:
        reply = await admin.call("POST", path, body, token=world.all_modules)
        assert reply.status == 403, (path, reply.body)


async def test_without_a_token_every_api_route_answers_401(admin: AdminClient) -> None:
    world = await make_world(admin)
    problems = []
    for route in application_routes(admin.app):
        if not route.in_api or (route.method, route.path) in PUBLIC:
            continue
        for token in (None, "fe_nope_nope", "wrong"):
            status, _, headers = await request(admin, route, world.url(route), token)
            challenge = headers.get("WWW-Authenticate", "")
            if status != 401 or not challenge.startswith("Bearer"):
                problems.append(f"{route} with token {token!r}: {status} {challenge!r}")
    assert problems == []
    for method, path in PUBLIC:
        status, _, _ = await request(admin, Route(method, path, None), path, None)
        assert status == 200


# --- the walker catches a route added without a permission check ------------------------


def leak() -> Callable[[web.Request], Any]:
    """A fresh handler (a declaration marks its handler, so each route gets its own)."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"secret": "everyone sees this"})

    return handler


@pytest.fixture
async def leaky(aiohttp_client: ClientFactory, monkeypatch: pytest.MonkeyPatch) -> AdminClient:
    """A copy of the application with three careless routes: one in /api/v1 without a
    declaration, one in /api/v1 declared for any signed-in caller, and one on the parent
    app. The real application is not touched."""
    careless = Api()
    careless.route("GET", "/debug/open", permission=Permission(), summary="Oops", tag="debug")(
        leak()
    )

    def leaky_api_app() -> web.Application:
        app = api_app()
        app.router.add_get("/debug/undeclared", leak())
        careless.add_to(app)
        return app

    monkeypatch.setattr(app_module, "api_app", leaky_api_app)
    storage = memory_storage()
    for n in NUMBERS:
        await storage.configs.put(n, number_config(n))
    settings = Settings.model_validate({"admin_token": ADMIN_TOKEN, "partitions": 4})
    app = app_module.create_app(settings, storage=storage, gateway=RecordingGateway())
    app.router.add_get("/debug", leak())
    return AdminClient(await aiohttp_client(app), app, storage)


async def test_the_walker_flags_routes_without_a_permission_check(leaky: AdminClient) -> None:
    assert set(undeclared_api_routes(leaky.app)) == {
        f"GET {PREFIX}/debug/undeclared: not declared in the registry",
        f"HEAD {PREFIX}/debug/undeclared: not declared in the registry",
        f"GET {PREFIX}/debug/open: not declared in the registry",  # not in the real registry
    }
    world = await make_world(leaky)
    problems = await walk_without_module(leaky, world)
    # declared for any signed-in caller, and the parent-app route without any check
    assert {p.split(":")[0] for p in problems} == {
        f"GET {PREFIX}/debug/open",
        "GET /debug",
        "HEAD /debug",
    }
    # the undeclared route fails closed: refused to members, served to the super-admin only
    url = f"{PREFIX}/debug/undeclared"
    route = Route("GET", url, None)
    status, body, _ = await request(leaky, route, url, world.all_modules)
    assert status == 403 and body["error"]["details"] == {"path": url}
    status, _, _ = await request(leaky, route, url, ADMIN_TOKEN)
    assert status == 200


async def test_the_real_app_is_not_the_leaky_copy(aiohttp_client: ClientFactory) -> None:
    admin = await make_admin(aiohttp_client, memory_storage())
    assert not [r for r in application_routes(admin.app) if "debug" in r.path]


# --- skills need their own module (issue 10.5) ------------------------------------------

#: Write routes that store a number's configuration and may change its skills: each needs
#: the `skills` module, besides its own, when the skills of a number would change.
CHANGE_SKILLS = {
    ("PUT", f"{PREFIX}/numbers/{{number}}/config"),
    ("POST", f"{PREFIX}/numbers/{{number}}/config/versions/{{version}}/restore"),
    ("POST", f"{PREFIX}/config/bulk"),
}
#: Write routes that store configurations but never touch the skills (the configuration
#: service refuses a change of skills from any caller that does not say who it is).
KEEP_SKILLS = {
    ("POST", f"{PREFIX}/numbers/{{number}}/flow-version"),
    ("POST", f"{PREFIX}/numbers/{{number}}/config/replicate"),
    ("PUT", f"{PREFIX}/numbers/{{number}}/human-service"),
    ("PATCH", f"{PREFIX}/numbers/{{number}}"),
    ("PUT", f"{PREFIX}/numbers/{{number}}/templates"),
    ("POST", f"{PREFIX}/templates/bulk"),
}
#: Write routes of those modules that store no configuration (members of numbers, the
#: activation of a number's phone, kept by the health store).
NO_CONFIGURATION = {
    ("POST", f"{PREFIX}/numbers/{{number}}/activation/request-code"),
    ("POST", f"{PREFIX}/numbers/{{number}}/activation/verify"),
    ("POST", f"{PREFIX}/numbers/{{number}}/members"),
    ("DELETE", f"{PREFIX}/numbers/{{number}}/members/{{member_id}}"),
    ("POST", f"{PREFIX}/links"),
    ("POST", f"{PREFIX}/links/remove"),
}
CONFIG_MODULES = {Module.CONFIG, Module.HUMAN_SERVICE, Module.TEMPLATES, Module.NUMBERS}
SKILL = {
    "serviceName": "PreMain",
    "parentServiceName": "Main",
    "kind": "python",
    "target": "tests.support.skills:AskTwice",
}


def test_every_configuration_write_route_is_classified_for_skills() -> None:
    writes = {
        (op.method, served_path(op.path))
        for op in all_operations()
        if op.method != "GET" and op.permission.module in CONFIG_MODULES
    }
    assert writes == CHANGE_SKILLS | KEEP_SKILLS | NO_CONFIGURATION


async def skill_changes(admin: AdminClient, token: str) -> dict[tuple[str, str], int]:
    """Each route of CHANGE_SKILLS asked to attach a skill to NUMBERS[0]: its status."""
    a = NUMBERS[0]
    head = await admin.call("GET", f"/numbers/{a}/config", token=ADMIN_TOKEN)
    with_skill = {**head.body["config"], "skills": [SKILL]}
    statuses = {}
    r = await admin.call(
        "PUT", f"/numbers/{a}/config", with_skill, token=token, headers={"If-Match": head.etag}
    )
    statuses[("PUT", f"{PREFIX}/numbers/{{number}}/config")] = r.status
    if r.status == 200:  # back to version 1's skills through a restore
        restore = f"/numbers/{a}/config/versions/1/restore"
        r = await admin.call("POST", restore, token=token, headers={"If-Match": r.etag})
    else:  # make a version 2 with a skill, and restore version 1 (no skills)
        r = await admin.call(
            "PUT", f"/numbers/{a}/config", with_skill, headers={"If-Match": head.etag}
        )
        assert r.status == 200, r.body
        restore = f"/numbers/{a}/config/versions/1/restore"
        r = await admin.call("POST", restore, token=token, headers={"If-Match": r.etag})
    statuses[("POST", f"{PREFIX}/numbers/{{number}}/config/versions/{{version}}/restore")] = (
        r.status
    )
    r = await admin.call(
        "POST",
        "/config/bulk",
        {"numbers": NUMBERS[1:3], "change": {"skills": [SKILL]}, "dry_run": True},
        token=token,
    )
    statuses[("POST", f"{PREFIX}/config/bulk")] = r.status
    return statuses


async def test_changing_skills_needs_the_skills_module_on_every_route(
    admin: AdminClient,
) -> None:
    others = [m.value for m in Module if m is not Module.SKILLS]
    without = await admin.member_token("noskills@example.com", others, NUMBERS)
    assert await skill_changes(admin, without) == {route: 403 for route in CHANGE_SKILLS}
    with_it = await admin.member_token("skills@example.com", [*others, "skills"], NUMBERS)
    assert await skill_changes(admin, with_it) == {route: 200 for route in CHANGE_SKILLS}
