"""Conversation files script the desk (issue 9.14): `attendant:` steps act through the real
desk service, so skills after a service (PreSurvey, PosSurvey, PreEnd) are tested at
their point; `wait` alone lets time pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from flow_engine.devtools.convtest import load_conversation_file, run_conversation
from flow_engine.errors import ConfigurationError
from tests.devtools.skillfiles import DEMO_CONFIG, PET_SKILL

HEAD = """\
config: {config}
skills:
  - {{serviceName: {point}, parentServiceName: {parent}, kind: declarative, path: pet.yaml}}
now: "2026-11-23T10:00:00-03:00"
steps:
  - send: "hola"
  - tap: "Hablar con un asistente"
  - tap: "Ventas"
    state: service
"""


def conversation(tmp_path: Path, steps: str, point: str = "PreSurvey") -> Path:
    (tmp_path / "pet.yaml").write_text(PET_SKILL, encoding="utf-8")
    parent = "NotaCerta" if point in ("PreSurvey", "PosSurvey") else "Main"
    text = HEAD.format(config=DEMO_CONFIG, point=point, parent=parent) + steps
    path = tmp_path / "desk.test.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def run(path: Path) -> tuple[bool, str]:
    result = await run_conversation(load_conversation_file(path))
    return result.ok, result.failure or ""


async def test_take_say_close_reach_the_contact_and_the_presurvey_skill(tmp_path: Path) -> None:
    steps = """\
  - attendant: take
    expect: []
  - attendant: say "¡Hola! Soy Ana, ¿en qué le ayudo?"
    expect:
      - text: "¡Hola! Soy Ana, ¿en qué le ayudo?"
    state: service
  - attendant: 'say "Listo, ¿algo más?"'
    expect:
      - text: "Listo, ¿algo más?"
  - attendant: close
    expect:
      - contains: "Gracias por comunicarse."
      - text: "¿Cómo se llama su mascota?"
    state: skill
  - send: "Firulais"
    expect:
      - options: ["Sí", "No"]
  - tap: "Sí"
    expect:
      - contains: "¿Cómo calificaría la atención que recibió?"
    state: survey
    vars: {skp_pet: "Firulais"}
"""
    ok, failure = await run(conversation(tmp_path, steps))
    assert ok, failure


async def test_a_transfer_moves_the_ticket_to_another_queue(tmp_path: Path) -> None:
    steps = """\
  - attendant: transfer Soporte técnico
    state: service
  - attendant: close
    expect:
      - contains: "Gracias por comunicarse."
      - text: "¿Cómo se llama su mascota?"
"""
    ok, failure = await run(conversation(tmp_path, steps))
    assert ok, failure


async def test_an_attendant_step_without_a_ticket_fails_the_step_readably(
    tmp_path: Path,
) -> None:
    steps = """\
  - attendant: close
  - attendant: close
"""
    ok, failure = await run(conversation(tmp_path, steps))
    assert not ok
    assert "step 5: attendant: close" in failure
    assert "cannot close: the contact has no open ticket" in failure


async def test_a_transfer_to_an_unknown_queue_names_the_queue(tmp_path: Path) -> None:
    ok, failure = await run(conversation(tmp_path, "  - attendant: transfer Nadie\n"))
    assert not ok and "cannot transfer: number 100000000000001 has no queue named 'Nadie'" in (
        failure
    )


@pytest.mark.parametrize(
    ("step", "says"),
    [
        ("attendant: dance", "unknown attendant action 'dance'"),
        ("attendant: say", "attendant: say needs a text"),
        ("attendant: take now", "attendant: take takes nothing after it"),
        ("{attendant: take, send: hola}", "give exactly one of send, tap, attendant"),
        ("{state: faq}", "give exactly one of send, tap, attendant (or only a wait)"),
    ],
)
def test_bad_attendant_steps_are_refused_when_loading(
    tmp_path: Path, step: str, says: str
) -> None:
    with pytest.raises(ConfigurationError, match=says.replace("(", r"\(").replace(")", r"\)")):
        load_conversation_file(conversation(tmp_path, f"  - {step}\n"))


async def test_a_wait_alone_lets_time_pass_and_runs_what_fell_due(tmp_path: Path) -> None:
    """The demo number closes a ticket after 24 h without activity (R-DESK-7): a wait
    step alone sees it, and the PreSurvey skill that follows."""
    steps = """\
  - wait: 25h
    expect:
      - contains: "Gracias por comunicarse."
      - text: "¿Cómo se llama su mascota?"
    state: skill
"""
    ok, failure = await run(conversation(tmp_path, steps))
    assert ok, failure
