"""The pt-BR example number as shipped in fixtures/: lunch break, notify, template."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml

from flow_engine.domain.locales import default_message
from tests.flow.conftest import Chat
from tests.support.clock import MovableClock
from tests.support.harness import Harness

ROOT = Path(__file__).resolve().parents[2]
NUMBER = "100000000000002"
CONFIG = yaml.safe_load((ROOT / "fixtures" / f"{NUMBER}.yaml").read_text(encoding="utf-8"))


async def test_pt_br_number_outside_hours_notifies_after_lunch(
    flow_stack: Callable[..., Awaitable[Harness]],
) -> None:
    clock = MovableClock()
    clock.set(datetime(2026, 11, 23, 15, 30, tzinfo=UTC))  # Monday 12:30 in São Paulo
    h = await flow_stack(CONFIG, clock)
    chat = Chat(h, "5511988880000", clock, name="João", number=NUMBER)
    got = await chat.send("oi")
    assert got[0] == "Olá João, espero que você esteja bem! 😃"
    assert "Endereço da loja" in got[1]
    got = await chat.tap(default_message("pt-BR", "service_button"))
    assert got[0].startswith("Estamos fora do horário de atendimento.")
    assert chat.option_titles() == ["Sim", "Não"]
    assert await chat.send("sim") == [default_message("pt-BR", "notify_confirmation")]
    clock.set(datetime(2026, 11, 23, 16, 0, 30, tzinfo=UTC))  # 13:00:30: open again
    assert await chat.received(quiet=1.2) == ["[template atendimento_esta_disponivel (pt_BR)]"]
    got = await chat.send("oi de novo")  # return greeting off: straight to the FAQ menu
    assert len(got) == 1 and "Endereço da loja" in got[0]
