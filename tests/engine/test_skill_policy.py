"""Where skills may come from (issue 10.5): flow files inside FLOW_ENGINE_SKILLS_DIR,
HTTP skills inside FLOW_ENGINE_SKILL_URL_ALLOW (checked again on every call, redirects
never followed), Python skills under FLOW_ENGINE_PYTHON_SKILL_MODULES."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from flow_engine.domain.skill_urls import UrlAllowList
from flow_engine.domain.skills import SkillAttachment
from flow_engine.engine.skills.base import SkillContext, SkillFailure
from flow_engine.engine.skills.http import HttpSkill
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.engine.skills.policy import SkillPolicy
from flow_engine.gateway.skill_http import SkillHttpClient, SkillHttpError
from tests.conftest import ServerFactory
from tests.support.skills import attach

FLOW = "start: a\nstates:\n  a:\n    messages: [hola]\n    outputs: [{to: '@return'}]\n"


def skills_dir(tmp_path: Path) -> Path:
    root = tmp_path / "skills"
    (root / "poll").mkdir(parents=True)
    (root / "poll" / "poll.yaml").write_text(FLOW, encoding="utf-8")
    (tmp_path / "outside.yaml").write_text(FLOW, encoding="utf-8")
    return root


async def problems(loader: SkillLoader, *skills: SkillAttachment) -> list[tuple[str, str]]:
    return [(p["field"], p["message"]) for p in await loader.problems(skills)]


def restricted(root: Path, url_allow: str = "", modules: str = "") -> SkillLoader:
    policy = SkillPolicy.restricted(root, url_allow, modules)
    return SkillLoader(policy, SkillHttpClient(allow=policy.url_allow))


# ------------------------------------------------------------------ flow files
async def test_a_path_inside_the_skills_dir_loads(tmp_path: Path) -> None:
    loader = restricted(skills_dir(tmp_path))
    assert await problems(loader, attach("PreMain", "declarative", path="poll/poll.yaml")) == []
    assert (
        await problems(loader, attach("PreMain", "declarative", path="poll/../poll/poll.yaml"))
        == []
    )


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../outside.yaml", "climbs out of FLOW_ENGINE_SKILLS_DIR"),
        ("poll/../../outside.yaml", "climbs out of FLOW_ENGINE_SKILLS_DIR"),
        ("/etc/passwd.yaml", "absolute paths are refused"),
        ("escape.yaml", "symbolic link that leads out"),
        ("linked/outside.yaml", "symbolic link that leads out"),
        ("missing.yaml", "cannot read"),
    ],
)
async def test_paths_that_leave_the_skills_dir_are_refused(
    tmp_path: Path, path: str, why: str
) -> None:
    root = skills_dir(tmp_path)
    (root / "escape.yaml").symlink_to(tmp_path / "outside.yaml")
    (root / "linked").symlink_to(tmp_path, target_is_directory=True)
    loader = restricted(root)
    ((field, message),) = await problems(loader, attach("PreMain", "declarative", path=path))
    assert field == "skills.0.path"
    assert why in message


async def test_a_symlink_that_stays_inside_is_fine(tmp_path: Path) -> None:
    root = skills_dir(tmp_path)
    (root / "alias.yaml").symlink_to(root / "poll" / "poll.yaml")
    loader = restricted(root)
    assert await problems(loader, attach("PreMain", "declarative", path="alias.yaml")) == []


async def test_the_local_tools_resolve_against_their_folder(tmp_path: Path) -> None:
    skills_dir(tmp_path)
    loader = SkillLoader(SkillPolicy.local(tmp_path))
    assert await problems(loader, attach("PreMain", "declarative", path="outside.yaml")) == []
    absolute = str(tmp_path / "outside.yaml")
    assert await problems(loader, attach("PreMain", "declarative", path=absolute)) == []


# ---------------------------------------------------------------------- python
@pytest.mark.parametrize(
    ("modules", "target", "ok"),
    [
        ("tests.support", "tests.support.skills:AskTwice", True),
        ("tests", "tests.support.skills:AskTwice", True),
        ("tests.support.skills", "tests.support.skills:AskTwice", True),
        ("", "tests.support.skills:AskTwice", False),
        ("tests.supp", "tests.support.skills:AskTwice", False),  # not a prefix of names
        ("tests.support", "json:JSONDecoder", False),
        ("tests.support", "os:PathLike", False),
    ],
)
async def test_python_targets_must_sit_under_a_listed_package(
    tmp_path: Path, modules: str, target: str, ok: bool
) -> None:
    loader = restricted(tmp_path, modules=modules)
    found = await problems(loader, attach("PreMain", "python", target=target))
    if ok:
        assert found == []
    else:
        ((field, message),) = found
        assert field == "skills.0.target"
        assert "FLOW_ENGINE_PYTHON_SKILL_MODULES" in message


async def test_a_stray_module_is_not_even_imported(tmp_path: Path) -> None:
    (tmp_path / "stray_side_effect.py").write_text(
        f"open({str(tmp_path / 'imported')!r}, 'w').close()\nclass X:\n    pass\n",
        encoding="utf-8",
    )
    loader = restricted(tmp_path, modules="tests")
    found = await problems(loader, attach("PreMain", "python", target="stray_side_effect:X"))
    assert found and not (tmp_path / "imported").exists()


async def test_python_skills_are_imported_from_the_skills_dir(tmp_path: Path) -> None:
    package = tmp_path / "shop_skills"
    package.mkdir()
    (package / "bye.py").write_text(
        "class Bye:\n    async def run(self, envelope, variables, context):\n"
        "        return {'messages': ['bye'], 'action': 'return'}\n",
        encoding="utf-8",
    )
    loader = restricted(tmp_path, modules="shop_skills")
    assert await problems(loader, attach("PreEnd", "python", target="shop_skills.bye:Bye")) == []
    found = await problems(loader, attach("PreEnd", "python", target="shop_skills.nope:Bye"))
    assert found[0][0] == "skills.0.target" and "cannot import" in found[0][1]


# ------------------------------------------------------------------------ http
class Names(AbstractResolver):
    """The answers of a DNS server we cannot run here: each name's addresses in turn."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = {name: list(seq) for name, seq in answers.items()}
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        seq = self.answers.get(host)
        if not seq:
            raise OSError(f"{host}: name not known")
        address = seq.pop(0) if len(seq) > 1 else seq[0]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


def http_loader(url_allow: str, names: Names | None = None) -> SkillLoader:
    allow = UrlAllowList.parse(url_allow)
    http = SkillHttpClient(allow=allow, resolver=names)
    return SkillLoader(SkillPolicy(skills_dir=Path("."), url_allow=allow), http)


@pytest.mark.parametrize(
    ("allow", "url", "why"),
    [
        ("", "http://127.0.0.1:8090/skill", "is not in FLOW_ENGINE_SKILL_URL_ALLOW ((empty))"),
        ("skills.example.com", "http://127.0.0.1:8090/skill", "is not in"),
        ("skills.example.com", "http://169.254.169.254/latest", "is not in"),
        ("10.0.0.0/8", "http://127.0.0.1/skill", "is not in"),
        ("rebind.example.com", "http://rebind.example.com/skill", "a loopback address"),
        ("intranet.example.com", "http://intranet.example.com/skill", "a private address"),
        ("metadata.example.com", "http://metadata.example.com/", "a link-local address"),
        ("nowhere.example.com", "http://nowhere.example.com/", "does not resolve"),
    ],
)
async def test_urls_outside_the_allow_list_or_reaching_inside_are_refused(
    allow: str, url: str, why: str
) -> None:
    names = Names(
        {
            "rebind.example.com": ["127.0.0.1"],
            "intranet.example.com": ["10.1.2.3"],
            "metadata.example.com": ["169.254.169.254"],
        }
    )
    loader = http_loader(allow, names)
    ((field, message),) = await problems(loader, attach("PreSurvey", "http", url=url))
    assert field == "skills.0.url"
    assert why in message


async def test_allowed_urls_pass(tmp_path: Path) -> None:
    names = Names({"skills.example.com": ["93.184.215.14"], "localhost": ["127.0.0.1"]})
    loader = http_loader("skills.example.com localhost 10.0.0.0/8", names)
    for url in [
        "https://skills.example.com/poll",
        "http://localhost:8090/skill",
        "http://10.2.3.4/skill",
    ]:
        assert await problems(loader, attach("PreSurvey", "http", url=url)) == [], url


async def counting_server(aiohttp_server: ServerFactory) -> tuple[str, list[str]]:
    hits: list[str] = []

    async def skill(request: web.Request) -> web.Response:
        hits.append(request.path)
        if request.path == "/moved":
            raise web.HTTPFound("/skill-elsewhere")
        return web.json_response({"messages": ["hi"], "action": "return"})

    app = web.Application()
    app.router.add_post("/skill", skill)
    app.router.add_post("/moved", skill)
    app.router.add_post("/skill-elsewhere", skill)
    server = await aiohttp_server(app)
    return f"127.0.0.1:{server.port}", hits


def context() -> SkillContext:
    return SkillContext(point="PreSurvey", origin="NotaCerta", first=True)


async def run(skill: HttpSkill) -> Any:
    from flow_engine.domain.skills import Envelope, EnvelopeInput

    envelope = Envelope(
        origin="NotaCerta", flow="PreSurvey", input=EnvelopeInput(content="x", type="event")
    )
    return await skill.run(envelope, {}, context())


async def test_a_name_that_rebinds_to_loopback_is_refused_at_call_time(
    aiohttp_server: ServerFactory,
) -> None:
    address, hits = await counting_server(aiohttp_server)
    port = address.split(":")[1]
    # public when the configuration is written, loopback by the time the skill is called
    names = Names({"rebind.example.com": ["93.184.215.14", "127.0.0.1"]})
    loader = http_loader("rebind.example.com", names)
    skill = attach("PreSurvey", "http", url=f"http://rebind.example.com:{port}/skill")
    assert await problems(loader, skill) == []
    loaded = loader.load(skill)
    assert isinstance(loaded, HttpSkill)
    with pytest.raises(SkillFailure) as exc:
        await run(loaded)
    assert exc.value.reason == "unavailable"
    assert "a loopback address" in exc.value.message
    assert hits == []  # never connected
    await loaded.http.close()


async def test_the_allow_list_is_checked_again_on_every_call(
    aiohttp_server: ServerFactory,
) -> None:
    address, hits = await counting_server(aiohttp_server)
    http = SkillHttpClient(allow=UrlAllowList.parse("10.0.0.0/8"))
    with pytest.raises(SkillHttpError) as exc:
        await http.request("POST", f"http://{address}/skill", json_body={}, timeout_s=2)
    assert exc.value.refused and hits == []
    allowed = SkillHttpClient(allow=UrlAllowList.parse("127.0.0.1"))
    answer = await allowed.request("POST", f"http://{address}/skill", json_body={}, timeout_s=2)
    assert answer.status == 200 and hits == ["/skill"]
    await http.close()
    await allowed.close()


async def test_redirects_are_not_followed(aiohttp_server: ServerFactory) -> None:
    address, hits = await counting_server(aiohttp_server)
    http = SkillHttpClient(allow=UrlAllowList.parse("127.0.0.1"))
    with pytest.raises(SkillFailure) as exc:
        await run(HttpSkill(f"http://{address}/moved", 2.0, http))
    assert exc.value.reason == "bad_reply" and "HTTP 302" in exc.value.message
    assert hits == ["/moved"]  # the Location was not visited
    await http.close()


@pytest.mark.parametrize("path", ["a\x00b.yaml", "loop.yaml", ("x" * 300) + ".yaml"])
async def test_odd_paths_are_refused_not_crashed_on(tmp_path: Path, path: str) -> None:
    root = skills_dir(tmp_path)
    (root / "loop.yaml").symlink_to(root / "loop.yaml")
    loader = restricted(root)
    ((field, _message),) = await problems(loader, attach("PreMain", "declarative", path=path))
    assert field == "skills.0.path"
