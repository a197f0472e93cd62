"""Base-flow versions (R-CONF-5): each number runs the version its configuration names.

Version 2 differs from version 1 in one place: outside service hours with the
unavailable message off, version 1 ends the conversation without a word, version 2
first tells the contact when human service opens again.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from flow_engine.domain import flow_versions
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.flow_versions import DEFAULT_FLOW_VERSION, FLOW_VERSIONS
from flow_engine.domain.locales import LOCALES, default_message, moment_context
from flow_engine.domain.templating import render
from flow_engine.engine import machine
from flow_engine.engine.configs import read_config_file
from flow_engine.errors import ConfigurationError
from flow_engine.web.state import STORAGE
from tests.flow.conftest import Chat, demo_config
from tests.support.clock import MovableClock
from tests.support.harness import DEMO_NUMBER, Harness

Stack = Callable[..., Awaitable[Harness]]
ANA = "5491100000001"
GREETING = "Hola Ana, ¡espero que estés bien! 😃"
RETURN = "¡Hola de nuevo, Ana!"
WEEK_HOURS = {
    day: [{"start": "09:00", "end": "18:00"}]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}
# Friday 27/11/2026, 20:00 in São Paulo (UTC-3): closed until Monday 30/11 09:00 (12:00 UTC)
FRIDAY_20 = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
OPENS_MONDAY = "El servicio humano vuelve a estar disponible el lunes 30/11 a las 09:00."


def closed_config(version: int | None, **changes: Any) -> dict[str, Any]:
    """The demo number with weekday hours, the FAQ off and the unavailable message off."""
    extra: dict[str, Any] = {} if version is None else {"flow_version": version}
    return demo_config(
        **{
            "hours": {"open_24h": False, "weekdays": WEEK_HOURS},
            "faq.enabled": False,
            "service.unavailable": {"enabled": False},
            **extra,
            **changes,
        }
    )


async def closed_chat(flow_stack: Stack, config: dict[str, Any]) -> Chat:
    clock = MovableClock()
    clock.set(FRIDAY_20)
    h = await flow_stack(config, clock)
    return Chat(h, ANA, clock)


# ------------------------------------------------------------------------ machines
def test_every_flow_version_has_a_machine() -> None:
    assert set(machine.MACHINES) >= set(FLOW_VERSIONS)
    for version in FLOW_VERSIONS:
        with machine.bound(machine.IDLE, version) as model:
            assert model.state == machine.IDLE
        assert machine.MACHINES[version].models == []  # unbound after the message


async def test_a_model_moves_as_its_machine_says() -> None:
    """The per-message model follows the table read out of the machine: every trigger from
    every state leads where the machine's own transitions lead, or raises MachineError."""
    from transitions import MachineError

    for version, built in machine.MACHINES.items():
        for trigger, event in built.events.items():
            for state in machine.STATES:
                with machine.bound(state, version) as model:
                    move = getattr(model, trigger)
                    if state in event.transitions:
                        assert await move() is True
                        assert model.state == event.transitions[state][0].dest
                    else:
                        with pytest.raises(MachineError, match=f"{trigger} from state {state}"):
                            await move()
                        assert model.state == state
    assert machine.TABLES[1][("ask_survey", machine.SERVICE)] == machine.SURVEY
    assert ("ask_survey", machine.IDLE) not in machine.TABLES[1]


def test_an_unknown_state_starts_idle() -> None:
    with machine.bound("start") as model:
        assert model.state == machine.IDLE


def test_versions_have_their_own_machine() -> None:
    assert len({id(m) for m in machine.MACHINES.values()}) == len(machine.MACHINES)


def test_a_version_without_a_machine_stops_the_import(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = flow_versions.FlowVersion(99, "2099-01-01", "no machine yet")
    monkeypatch.setattr(flow_versions, "FLOW_VERSIONS", {**FLOW_VERSIONS, 99: extra})
    assert machine.__file__ is not None
    spec = importlib.util.spec_from_file_location("machine_probe", machine.__file__)
    assert spec is not None and spec.loader is not None
    probe = importlib.util.module_from_spec(spec)
    with pytest.raises(AssertionError, match=r"flow versions without a state machine: \[99\]"):
        spec.loader.exec_module(probe)


def test_bound_to_an_unknown_version_is_an_error() -> None:
    unknown = machine.bound(machine.IDLE, 99)
    with pytest.raises(KeyError, match="no state machine for flow version 99"):
        unknown.__enter__()


# ------------------------------------------------------------------ configuration
def test_a_configuration_without_a_version_runs_version_1() -> None:
    assert NumberConfig.model_validate(demo_config()).flow_version == DEFAULT_FLOW_VERSION == 1


@pytest.mark.parametrize("version", [0, 3, 99, -1])
def test_an_unknown_flow_version_is_a_field_error(version: int) -> None:
    with pytest.raises(ValidationError) as info:
        NumberConfig.model_validate(demo_config(flow_version=version))
    (error,) = info.value.errors()
    assert error["loc"] == ("flow_version",)
    assert f"unknown flow version {version}" in error["msg"]


def test_a_configuration_file_with_an_unknown_version_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / f"{DEMO_NUMBER}.yaml"
    path.write_text(yaml.safe_dump(demo_config(flow_version=7)), encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        read_config_file(path)
    assert [p["field"] for p in info.value.details] == ["flow_version"]


# ---------------------------------------------------------------- the v2 message
@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("es", "El servicio humano vuelve a estar disponible el lunes 30/11 a las 09:00."),
        (
            "pt-BR",
            "O atendimento humano estará disponível novamente segunda-feira, 30/11, às 09:00.",
        ),
        ("en", "Human service is available again on Monday 30 Nov at 09:00."),
    ],
)
def test_the_opening_message_in_each_locale(locale: str, expected: str) -> None:
    local = datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
    text = render(
        default_message(locale, "next_opening"), {"opening": moment_context(locale, local)}
    )
    assert text == expected


@pytest.mark.parametrize("locale", LOCALES)
def test_every_weekday_has_a_name(locale: str) -> None:
    days = [datetime(2026, 11, 23 + i, 18, 5) for i in range(7)]  # Monday … Sunday
    names = [moment_context(locale, d)["weekday"] for d in days]
    assert len(set(names)) == 7 and all(names)
    assert {moment_context(locale, d)["time"] for d in days} == {"18:05"}


# ------------------------------------------------------------------ conversations
async def test_v1_closed_with_unavailable_off_ends_without_a_word(flow_stack: Stack) -> None:
    chat = await closed_chat(flow_stack, closed_config(version=None))  # no version: v1
    got = await chat.send("hola")
    assert len(got) == 1 and got[0].startswith(GREETING)
    got = await chat.send("¿hay alguien?")  # the conversation ended: from the top again
    assert len(got) == 1 and got[0].startswith(RETURN)


async def test_v2_closed_with_unavailable_off_says_when_service_opens(flow_stack: Stack) -> None:
    chat = await closed_chat(flow_stack, closed_config(version=2))
    got = await chat.send("hola")
    assert len(got) == 2 and got[0].startswith(GREETING)
    assert got[1] == OPENS_MONDAY  # 09:00 in São Paulo, not 12:00 UTC
    got = await chat.send("¿hay alguien?")  # and the conversation ended, as in v1
    assert got[0].startswith(RETURN) and got[1:] == [OPENS_MONDAY]


async def test_v2_formats_the_opening_in_the_numbers_zone_and_locale(flow_stack: Stack) -> None:
    # Saturday 28/11 10:00 in Tokyo (01:00 UTC); it opens Monday 30/11 09:00 in Tokyo,
    # which is still Sunday 29/11 00:00 in UTC
    clock = MovableClock()
    clock.set(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
    config = closed_config(version=2, locale="en", timezone="Asia/Tokyo")
    h = await flow_stack(config, clock)
    got = await Chat(h, ANA, clock).send("hello")
    assert got[-1] == "Human service is available again on Monday 30 Nov at 09:00."


async def test_v2_with_unavailable_on_asks_as_v1_does(flow_stack: Stack) -> None:
    chat = await closed_chat(
        flow_stack, closed_config(version=2, **{"service.unavailable": {"enabled": True}})
    )
    got = await chat.send("hola")
    assert got[1].startswith("En este momento estamos fuera del horario")
    assert chat.option_titles() == ["Sí", "No"]


async def test_v2_without_a_next_opening_says_nothing(flow_stack: Stack) -> None:
    chat = await closed_chat(flow_stack, closed_config(version=2, hours={"open_24h": False}))
    got = await chat.send("hola")
    assert len(got) == 1 and got[0].startswith(GREETING)


async def test_an_upgraded_number_runs_v2_from_the_next_message(flow_stack: Stack) -> None:
    v1 = closed_config(version=1)
    chat = await closed_chat(flow_stack, v1)
    got = await chat.send("hola")
    assert len(got) == 1 and got[0].startswith(GREETING)  # v1: not a word about hours
    upgraded = NumberConfig.model_validate({**v1, "flow_version": 2})
    storage = chat.h.app[STORAGE]  # type: ignore[attr-defined]
    await storage.configs.put(DEMO_NUMBER, upgraded.model_dump(mode="json"))
    got = await chat.send("hola otra vez")
    assert got[0].startswith(RETURN) and got[1:] == [OPENS_MONDAY]
