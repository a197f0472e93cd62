"""The local tools find a number's skills as an engine does: a relative path next to the
configuration file, else in FLOW_ENGINE_SKILLS_DIR (default skills/ of the working
directory), so one configuration works in `flow-engine chat` and on an engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from flow_engine.devtools.conversation import LocalConversation
from flow_engine.engine.configs import read_config_file
from tests.devtools.skillfiles import DEMO_CONFIG, PET_SKILL


def layout(root: Path, skills: str = "skills") -> Path:
    (root / skills / "pet").mkdir(parents=True)
    (root / skills / "pet" / "pet.yaml").write_text(PET_SKILL, encoding="utf-8")
    (root / skills / "shop").mkdir()
    (root / skills / "shop" / "bye.py").write_text(
        "class Bye:\n    async def run(self, envelope, variables, context):\n"
        "        return {'messages': ['¡Chau!'], 'action': 'return'}\n",
        encoding="utf-8",
    )
    (root / "numbers").mkdir()
    text = DEMO_CONFIG.read_text(encoding="utf-8") + (
        "\nskills:\n"
        "  - {serviceName: PreMain, parentServiceName: Main, kind: declarative,"
        " path: pet/pet.yaml}\n"
        "  - {serviceName: PreFaq, parentServiceName: Main, kind: python,"
        " target: 'shop.bye:Bye'}\n"
    )
    path = root / "numbers" / "100000000000001.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("skills_dir", ["skills", "elsewhere"])
async def test_a_configuration_in_its_own_folder_finds_the_skills_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, skills_dir: str
) -> None:
    monkeypatch.chdir(tmp_path)
    if skills_dir != "skills":
        monkeypatch.setenv("FLOW_ENGINE_SKILLS_DIR", str(tmp_path / skills_dir))
    path = layout(tmp_path, skills_dir)
    async with LocalConversation(read_config_file(path), path.parent) as conv:
        assert [r.body for r in await conv.send("hola")] == ["¿Cómo se llama su mascota?"]
        await conv.send("Toby")
        got = await conv.tap("Sí")
        assert got[0].body.startswith("Hola Ana") and got[1].body == "¡Chau!"
