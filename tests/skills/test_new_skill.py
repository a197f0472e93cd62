"""``flow-engine new-skill``: the skeletons parse, and their conversation passes."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from flow_engine.devtools.new_skill import NewSkillError, create_skill, register_cli
from flow_engine.domain.skills import SkillAttachment
from flow_engine.engine.skills.declarative import read_flow_file
from flow_engine.engine.skills.http import HttpSkillReply
from flow_engine.engine.skills.python import load_python_skill
from tests.conftest import ServerFactory

STEP_KEYS = {"send", "tap", "expect", "state", "vars"}
EXPECT_KEYS = {"text", "contains", "matches", "options"}


def conversation(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(doc) <= {"serve", "config", "skills", "contact", "now", "steps"}
    assert (path.parent / doc["config"]).is_file()
    for skill in doc["skills"]:
        SkillAttachment.model_validate({**skill, "url": "http://x"} if "url" in skill else skill)
    for step in doc["steps"]:
        assert set(step) <= STEP_KEYS and ("send" in step) != ("tap" in step)
        for item in step["expect"]:
            assert set(item) <= EXPECT_KEYS
    return doc


def test_declarative_skeleton(tmp_path: Path) -> None:
    files = create_skill("colour-pick", "declarative", tmp_path / "skills")
    folder = tmp_path / "skills" / "colour-pick"
    assert folder / "README.md" in files
    flow = read_flow_file(folder / "colour_pick.yaml")
    assert flow.start == "ask" and set(flow.states) == {"ask", "thanks"}
    doc = conversation(folder / "tests" / "colour_pick.test.yaml")
    assert doc["skills"][0]["path"] == "../colour_pick.yaml"
    assert (folder / "tests" / doc["skills"][0]["path"]).is_file()


def test_python_skeleton_imports(tmp_path: Path) -> None:
    create_skill("goodbye", "python", tmp_path)
    folder = tmp_path / "goodbye"
    doc = conversation(folder / "tests" / "goodbye.test.yaml")
    target = doc["skills"][0]["target"]
    assert target == "goodbye:GoodbyeSkill"
    load_python_skill(target, [folder])


async def test_http_skeleton_speaks_the_protocol(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    create_skill("colour", "http", tmp_path)
    folder = tmp_path / "colour"
    doc = conversation(folder / "tests" / "colour.test.yaml")
    assert doc["skills"][0]["url"] == "${SERVE_URL}/skill"
    assert doc["serve"] == "python ../server.py --port 0"
    for item in yaml.safe_load((folder / "attachment.yaml").read_text(encoding="utf-8")):
        SkillAttachment.model_validate(item)
    spec = importlib.util.spec_from_file_location("colour_server", folder / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = await aiohttp_server(module.make_app())
    envelope = {"origin": "Main", "flow": "PreMain", "input": {"content": "hola", "type": "text"}}
    context = {
        "point": "PreMain",
        "origin": "Main",
        "first": True,
        "message_id": "m1",
        "contact": {"name": "Ana", "phone": "549"},
        "number": {},
    }
    body = {"envelope": envelope, "variables": {}, "context": context}
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/skill"), json=body) as r:
            first = HttpSkillReply.model_validate(await r.json())
        assert first.action == "stay" and first.messages == ["¿Cuál es su color favorito?"]
        body["context"] = {**context, "first": False}
        body["envelope"] = {**envelope, "input": {"content": "azul", "type": "text/plain"}}
        async with session.post(server.make_url("/skill"), json=body) as r:
            second = HttpSkillReply.model_validate(await r.json())
    assert second.action == "return" and second.variables == {"answer": "azul", "asked": None}


def test_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(NewSkillError, match="already exists"):
        create_skill("taken", "declarative", tmp_path)
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["", "1abc", "../up", "a b", "x" * 60])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(NewSkillError, match="invalid skill name"):
        create_skill(name, "declarative", tmp_path)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["new-skill", "hello", "--python", "--dir", str(tmp_path)])
    assert args.func(args) == 0
    assert (tmp_path / "hello" / "hello.py").is_file()
    assert "created" in capsys.readouterr().out
    assert args.func(args) == 1  # the second time: refused
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["new-skill", "x", "--http", "--python"])


@pytest.mark.parametrize("kind", ["declarative", "python", "http"])
async def test_the_generated_conversation_passes(tmp_path: Path, kind: str) -> None:
    """As generated, with nothing else to set up: no PYTHONPATH for the Python skill,
    no server to start by hand for the HTTP one (``serve:``)."""
    convtest = pytest.importorskip("flow_engine.devtools.convtest")
    create_skill(f"starter_{kind}", kind, tmp_path)
    folder = tmp_path / f"starter_{kind}"
    cf = convtest.load_conversation_file(folder / "tests" / f"starter_{kind}.test.yaml")
    result = await convtest.run_conversation(cf)
    assert result.ok, result.failure
