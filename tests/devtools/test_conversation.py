"""LocalConversation: the real engine in process, on the demo number and a small skill."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from flow_engine.devtools.conversation import LocalConversation
from flow_engine.devtools.replies import replies_of
from flow_engine.domain import menus
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.outbound import to_cloud_payload
from flow_engine.domain.skills import SkillAttachment
from flow_engine.engine.configs import read_config_file
from tests.devtools.skillfiles import DEMO_CONFIG, FAQ_OPTIONS, write_pet_skill


def demo() -> NumberConfig:
    return read_config_file(DEMO_CONFIG)


def with_pet_skill(tmp_path: Path) -> NumberConfig:
    write_pet_skill(tmp_path)
    skill = SkillAttachment.model_validate(
        {
            "serviceName": "PreMain",
            "parentServiceName": "Main",
            "kind": "declarative",
            "path": "pet.yaml",
        }
    )
    return demo().model_copy(update={"skills": [skill]})


async def test_the_demo_number_greets_and_answers_the_faq() -> None:
    async with LocalConversation(demo(), DEMO_CONFIG.parent) as conv:
        replies = await conv.send("hola")
        assert replies[0].text.startswith("Hola Ana")
        assert replies[-1].options == FAQ_OPTIONS
        assert "  1. Horario de atención" in replies[-1].text
        assert conv.state == "faq"
        by_number = await conv.tap(2)
        assert "tarjeta" in by_number[0].text
        by_title = await conv.tap("formas de pago")
        assert [r.text for r in by_title] == [r.text for r in by_number]


async def test_a_skill_stays_keeps_its_variables_then_returns(tmp_path: Path) -> None:
    async with LocalConversation(with_pet_skill(tmp_path), tmp_path, name="Bea") as conv:
        assert [r.text for r in await conv.send("hola")] == ["¿Cómo se llama su mascota?"]
        assert conv.state == "skill"
        [confirm] = await conv.send("Firulais")
        assert confirm.body == "¿Firulais, correcto?"
        assert confirm.options == ["Sí", "No"]
        assert conv.skill_vars == {"skp_pet": "Firulais"}
        replies = await conv.tap("Sí")
        assert replies[0].text.startswith("Hola Bea")
        assert conv.state == "faq"
        assert conv.skill == {}  # no skill holds the conversation any more
        assert conv.skill_vars == {"skp_pet": "Firulais", "skp_ok": "Sí"}  # kept for the contact


async def test_reset_starts_over_and_the_clock_moves(tmp_path: Path) -> None:
    start = datetime.fromisoformat("2026-11-23T10:00:00-03:00")
    async with LocalConversation(with_pet_skill(tmp_path), tmp_path, now=start) as conv:
        await conv.send("hola")
        assert abs(conv.now.timestamp() - start.timestamp()) < 5
        conv.set_time(datetime(2026, 12, 25, 9, 0))  # naive: the number's zone
        assert conv.now.utcoffset() == demo().zone.utcoffset(conv.now.replace(tzinfo=None))
        assert conv.now.hour == 9
        conv.reset()
        assert conv.state == "start"
        assert [r.text for r in await conv.send("hola")] == ["¿Cómo se llama su mascota?"]


async def test_tapping_without_a_menu_or_a_wrong_option_says_so() -> None:
    async with LocalConversation(demo(), DEMO_CONFIG.parent) as conv:
        with pytest.raises(LookupError):
            await conv.tap(1)
        await conv.send("hola")
        with pytest.raises(LookupError):
            await conv.tap(99)
        with pytest.raises(LookupError):
            await conv.tap("nothing like it")


def test_a_long_menu_is_one_reply_with_all_options() -> None:
    options = [menus.Option(f"o{i}", f"Opción {i}") for i in range(1, 13)]
    menu = menus.Menu(body="Elija", options=options, button="Ver")
    payloads = [to_cloud_payload(m, "5491100000000") for m in menus.render(menu)]
    assert len(payloads) == 2
    [reply] = replies_of(payloads)
    assert reply.options == [o.title for o in options]
    assert reply.text.splitlines()[0] == "Elija"
    assert reply.text.splitlines()[-1] == "  12. Opción 12"
    assert [c[0] for c in reply.choices][-1] == "button_reply"
