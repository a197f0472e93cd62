"""A `config` grant cannot reach the network, the disk or arbitrary code (issue 10.5), and
the admin API refuses skills it cannot run (issue 9.6): attaching, changing or detaching a
skill needs the `skills` module besides `config`, and every write loads the skills of the
result as the start does — a 422 naming `skills.N.path` / `url` / `target`, nothing
written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flow_engine.gateway.recording import RecordingGateway
from flow_engine.settings import Settings
from flow_engine.storage.memory import memory_storage
from flow_engine.web.app import create_app
from tests.admin.conftest import (
    ADMIN_TOKEN,
    NUMBERS,
    AdminClient,
    ClientFactory,
    number_config,
)

A, B = NUMBERS[:2]
FLOW = "start: a\nstates:\n  a:\n    messages: [hola]\n    outputs: [{to: '@return'}]\n"
GOOD_URL = "http://127.0.0.1:8090/skill"


def skill(point: str = "PreMain", **source: Any) -> dict[str, Any]:
    parent = {"PreSurvey": "NotaCerta", "PosSurvey": "NotaCerta", "PreDesk": "Desk"}
    kind = "declarative" if "path" in source else "http" if "url" in source else "python"
    return {
        "serviceName": point,
        "parentServiceName": parent.get(point, "Main"),
        "kind": kind,
        **source,
    }


POLL = skill(path="poll/poll.yaml")
#: what a member with only `config` tries (issue 10.5), and why each is refused
HOSTILE = [
    (skill("PreSurvey", url="http://127.0.0.1:22/"), "skills.0.url", "is not in"),
    (skill("PreSurvey", url="http://localhost:8090/skill"), "skills.0.url", "is not in"),
    (skill("PreSurvey", url="http://169.254.169.254/latest"), "skills.0.url", "is not in"),
    (skill(path="../outside.yaml"), "skills.0.path", "climbs out"),
    (skill(path="/etc/hosts.yaml"), "skills.0.path", "absolute paths are refused"),
    (skill(path="escape.yaml"), "skills.0.path", "symbolic link that leads out"),
    (skill(target="os:PathLike"), "skills.0.target", "FLOW_ENGINE_PYTHON_SKILL_MODULES"),
]
#: skills that cannot run (issue 9.6)
BROKEN = [
    (skill(path="poll/missing.yaml"), "skills.0.path", "cannot read"),
    (skill(target="tests.support.no_such_module:X"), "skills.0.target", "cannot import"),
    (skill(target="tests.support.skills:NoSuchClass"), "skills.0.target", "has no class"),
]


@pytest.fixture
async def admin(aiohttp_client: ClientFactory, tmp_path: Path) -> AdminClient:
    root = tmp_path / "skills"
    (root / "poll").mkdir(parents=True)
    (root / "poll" / "poll.yaml").write_text(FLOW, encoding="utf-8")
    (tmp_path / "outside.yaml").write_text(FLOW, encoding="utf-8")
    (root / "escape.yaml").symlink_to(tmp_path / "outside.yaml")
    settings = Settings.model_validate(
        {
            "admin_token": ADMIN_TOKEN,
            "partitions": 4,
            "skills_dir": root,
            "skill_url_allow": "127.0.0.1:8090",
            "python_skill_modules": "tests.support",
        }
    )
    storage = memory_storage()
    for n in NUMBERS:
        await storage.configs.put(n, number_config(n))
    app = create_app(settings, storage=storage, gateway=RecordingGateway())
    return AdminClient(await aiohttp_client(app), app, storage)


async def config_only(admin: AdminClient) -> AdminClient:
    return admin.as_token(await admin.member_token("cfg@example.com", ["config"], NUMBERS))


async def with_skills(admin: AdminClient) -> AdminClient:
    token = await admin.member_token("dev@example.com", ["config", "skills"], NUMBERS)
    return admin.as_token(token)


async def put_skills(who: AdminClient, number: str, skills: list[dict[str, Any]]) -> Any:
    current = await who.call("GET", f"/numbers/{number}/config", token=ADMIN_TOKEN)
    doc = {**current.body["config"], "skills": skills}
    return await who.call(
        "PUT", f"/numbers/{number}/config", doc, headers={"If-Match": current.etag}
    )


async def version(admin: AdminClient, number: str) -> int:
    head = await admin.storage.configs.head(number)
    assert head is not None
    return head.version


@pytest.mark.parametrize(("attachment", "field", "why"), HOSTILE, ids=lambda v: str(v)[:40])
async def test_a_config_grant_cannot_attach_any_skill(
    admin: AdminClient, attachment: dict[str, Any], field: str, why: str
) -> None:
    member = await config_only(admin)
    r = await put_skills(member, A, [attachment])
    assert r.status == 403, r.body
    assert r.body["error"]["details"] == {"module": "skills", "numbers": [A]}
    assert await version(admin, A) == 1  # nothing written


@pytest.mark.parametrize(
    ("attachment", "field", "why"), HOSTILE + BROKEN, ids=lambda v: str(v)[:40]
)
async def test_with_the_skills_module_what_cannot_run_is_a_422_naming_the_field(
    admin: AdminClient, attachment: dict[str, Any], field: str, why: str
) -> None:
    member = await with_skills(admin)
    r = await put_skills(member, A, [attachment])
    assert r.status == 422, r.body
    (detail,) = r.body["error"]["details"]
    assert detail["field"] == field and detail["number"] == A
    assert why in detail["message"]
    assert await version(admin, A) == 1
    # the super-admin gets the same 422: the policy is the engine's, not a grant
    r = await put_skills(admin, A, [attachment])
    assert r.status == 422 and r.body["error"]["details"][0]["field"] == field


async def test_skills_that_can_run_are_attached_with_the_skills_module(
    admin: AdminClient,
) -> None:
    member = await with_skills(admin)
    good = [
        POLL,
        skill("PreSurvey", url=GOOD_URL),
        skill("PreEnd", target="tests.support.skills:AskTwice"),
    ]
    r = await put_skills(member, A, good)
    assert r.status == 200, r.body
    assert [s["service_name"] for s in r.body["config"]["skills"]] == [
        "PreMain",
        "PreSurvey",
        "PreEnd",
    ]


async def test_a_config_grant_edits_a_number_with_skills_as_long_as_they_stay(
    admin: AdminClient,
) -> None:
    assert (await put_skills(admin, A, [POLL])).status == 200
    member = await config_only(admin)
    current = await member.call("GET", f"/numbers/{A}/config")
    doc = {**current.body["config"], "name": "Renamed"}
    r = await member.call("PUT", f"/numbers/{A}/config", doc, headers={"If-Match": current.etag})
    assert r.status == 200, r.body
    # the same list written in another (equivalent) form is no change either
    doc = {**r.body["config"], "skills": [{k: v for k, v in POLL.items()}]}
    r = await member.call("PUT", f"/numbers/{A}/config", doc, headers={"If-Match": r.etag})
    assert r.status == 200, r.body
    # changing, or detaching, is a change of skills
    for skills in ([{**POLL, "timeout_s": 9}], []):
        r = await put_skills(member, A, skills)
        assert r.status == 403, r.body
    assert (await admin.storage.configs.get(A))["skills"][0]["timeout_s"] == 5  # type: ignore[index]


async def test_restoring_a_version_with_other_skills_needs_the_skills_module(
    admin: AdminClient,
) -> None:
    assert (await put_skills(admin, A, [POLL])).status == 200  # version 2
    member = await config_only(admin)
    current = await member.call("GET", f"/numbers/{A}/config")
    restore = f"/numbers/{A}/config/versions/1/restore"
    r = await member.call("POST", restore, headers={"If-Match": current.etag})
    assert r.status == 403 and r.body["error"]["details"]["module"] == "skills"
    r = await (await with_skills(admin)).call("POST", restore, headers={"If-Match": current.etag})
    assert r.status == 200 and r.body["config"]["skills"] == []


async def test_a_restored_version_is_loaded_again(admin: AdminClient, tmp_path: Path) -> None:
    assert (await put_skills(admin, A, [POLL])).status == 200  # version 2
    assert (await put_skills(admin, A, [])).status == 200  # version 3
    (tmp_path / "skills" / "poll" / "poll.yaml").unlink()
    current = await admin.call("GET", f"/numbers/{A}/config")
    restore = f"/numbers/{A}/config/versions/2/restore"
    r = await admin.call("POST", restore, headers={"If-Match": current.etag})
    assert r.status == 422 and r.body["error"]["details"][0]["field"] == "skills.0.path"
    assert await version(admin, A) == 3


async def test_a_flow_upgrade_loads_the_skills_as_the_start_does(
    admin: AdminClient, tmp_path: Path
) -> None:
    assert (await put_skills(admin, A, [POLL])).status == 200
    (tmp_path / "skills" / "poll" / "poll.yaml").write_text("start: nowhere\n", encoding="utf-8")
    current = await admin.call("GET", f"/numbers/{A}/config")
    r = await admin.call(
        "POST", f"/numbers/{A}/flow-version", {"version": 2}, headers={"If-Match": current.etag}
    )
    assert r.status == 422, r.body
    (detail,) = r.body["error"]["details"]
    assert detail["field"] == "skills.0.path" and "invalid skill" in detail["message"]


async def bulk(who: AdminClient, body: dict[str, Any]) -> Any:
    """A dry run, then the same body applied with the dry run's etags."""
    dry = await who.call("POST", "/config/bulk", {**body, "dry_run": True})
    if dry.status != 200:
        return dry
    etags = {n["number"]: n["etag"] for n in dry.body["numbers"]}
    return await who.call("POST", "/config/bulk", {**body, "dry_run": False, "if_match": etags})


async def test_bulk_edits_that_change_skills_need_the_skills_module(admin: AdminClient) -> None:
    member = await config_only(admin)
    r = await bulk(member, {"numbers": [A, B], "change": {"skills": [POLL]}})
    assert r.status == 403, r.body
    assert r.body["error"]["details"] == {"module": "skills", "numbers": [A, B]}
    # from a reference whose skills differ: the same
    assert (await put_skills(admin, A, [POLL])).status == 200
    r = await bulk(member, {"numbers": [B], "reference": A, "paths": ["skills"]})
    assert r.status == 403 and r.body["error"]["details"]["numbers"] == [B]
    # a bulk edit that leaves the skills alone needs only config, skills or not
    r = await bulk(member, {"numbers": [A, B], "change": {"locale": "pt-BR"}})
    assert r.status == 200 and r.body["changed"] == 2, r.body
    assert await version(admin, B) == 2
    r = await bulk(await with_skills(admin), {"numbers": [B], "reference": A, "paths": ["skills"]})
    assert r.status == 200 and r.body["changed"] == 1, r.body


async def test_bulk_edits_load_the_skills_of_every_number(admin: AdminClient) -> None:
    member = await with_skills(admin)
    broken = skill(path="../outside.yaml")
    r = await bulk(member, {"numbers": [A, B], "change": {"skills": [broken]}})
    assert r.status == 422, r.body
    found = [(d["number"], d["field"]) for d in r.body["error"]["details"]]
    assert found == [(A, "skills.0.path"), (B, "skills.0.path")]
    assert await version(admin, A) == await version(admin, B) == 1


async def test_replication_never_carries_skills_and_needs_no_skills_module(
    admin: AdminClient,
) -> None:
    assert (await put_skills(admin, A, [POLL])).status == 200
    member = admin.as_token(await admin.member_token("hs@example.com", ["human_service"], NUMBERS))
    r = await member.call(
        "POST", f"/numbers/{A}/config/replicate", {"targets": [B], "dry_run": True}
    )
    assert r.status == 200, r.body
    assert all(not c["path"].startswith("skills") for n in r.body["numbers"] for c in n["changes"])


async def test_an_old_profile_with_every_other_module_does_not_gain_skills(
    admin: AdminClient,
) -> None:
    everything_before = [
        "config",
        "human_service",
        "templates",
        "desk",
        "numbers",
        "access",
        "data",
        "notifications",
        "health",
    ]
    token = await admin.member_token("old@example.com", everything_before, NUMBERS)
    me = await admin.call("GET", "/me", token=token)
    assert "skills" not in me.body["modules"]
    r = await put_skills(admin.as_token(token), A, [POLL])
    assert r.status == 403
    modules = await admin.call("GET", "/modules")
    assert "skills" in [m["module"] for m in modules.body]
