"""Small skill and conversation files written to a test's tmp_path."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "fixtures" / "100000000000001.yaml"

PET_SKILL = """\
start: ask
states:
  ask:
    messages: ["¿Cómo se llama su mascota?"]
    input: {variable: pet}
    outputs: [{to: confirm}]
  confirm:
    messages:
      - type: buttons
        body: "¿{{vars.pet}}, correcto?"
        buttons: [{id: pet_yes, title: "Sí"}, {id: pet_no, title: "No"}]
    input: {variable: ok}
    outputs: [{to: "@return"}]
"""

FAQ_OPTIONS = [
    "Horario de atención",
    "Formas de pago",
    "Plazo de entrega",
    "Cambios y devoluciones",
    "Seguimiento de pedido",
    "Hablar con un asistente",
]

PASSING = """\
config: {config}
skills:
  - {{serviceName: PreMain, parentServiceName: Main, kind: declarative, path: pet.yaml}}
contact: {{phone: "5491100000009", name: "Ana"}}
now: "2026-11-23T10:00:00-03:00"
steps:
  - send: "hola"
    expect:
      - text: "¿Cómo se llama su mascota?"
    state: skill
  - send: "Firulais"
    expect:
      - options: ["Sí", "No"]
        contains: "Firulais"
    state: skill
    vars: {{skp_pet: "Firulais"}}
  - tap: "Sí"
    expect:
      - matches: "^Hola Ana"
      - options: {options}
    state: faq
  - tap: 2
    expect:
      - contains: "tarjeta"
      - contains: "preguntas más frecuentes"
"""


def write_pet_skill(directory: Path) -> Path:
    path = directory / "pet.yaml"
    path.write_text(PET_SKILL, encoding="utf-8")
    return path


def write_conversation(directory: Path, name: str = "pet.test.yaml", **replace: str) -> Path:
    write_pet_skill(directory)
    text = PASSING.format(config=DEMO_CONFIG, options=FAQ_OPTIONS)
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
