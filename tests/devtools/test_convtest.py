"""Conversation files: loading, passing and failing runs, the diff, `flow-engine test`."""

from __future__ import annotations

import argparse
import dataclasses
import io
from pathlib import Path

import pytest

from flow_engine.devtools import convtest
from flow_engine.devtools.convtest import load_conversation_file, run_conversation
from flow_engine.errors import ConfigurationError
from tests.devtools.skillfiles import DEMO_CONFIG, write_conversation


async def test_a_passing_file(tmp_path: Path) -> None:
    cf = load_conversation_file(write_conversation(tmp_path))
    assert cf.contact.phone == "5491100000009"
    skill_path = Path(cf.config.skills[0].path or "")
    assert skill_path.is_absolute()
    assert skill_path.name == "pet.yaml"
    result = await run_conversation(cf)
    assert result.ok, result.failure
    assert result.steps_run == 4


async def test_the_failure_names_the_step_what_was_sent_and_every_reply(tmp_path: Path) -> None:
    path = write_conversation(tmp_path, **{'contains: "Firulais"': 'contains: "Michi"'})
    result = await run_conversation(load_conversation_file(path))
    assert not result.ok
    assert result.failure is not None
    assert result.steps_run == 2
    assert "step 2: send 'Firulais'" in result.failure
    assert "reply 1: contains: 'Michi' is not in '¿Firulais, correcto?" in result.failure
    assert "  1. Sí" in result.failure


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("state: faq", "state: skill", "state: expected 'skill', got 'faq'"),
        ('{skp_pet: "Firulais"}', '{pet: "Toby"}', "vars: 'pet' expected 'Toby', got 'Firulais'"),
        ('{skp_pet: "Firulais"}', "{color: red}", "vars: 'color' is not set"),
        ('- options: ["Sí", "No"]', '- options: ["Sí"]', "options: expected ['Sí'], got"),
        ('- text: "¿Cómo', '- text: "Cómo', "text: expected 'Cómo se llama"),
        ('matches: "^Hola Ana"', 'matches: "^Chau"', "matches: /^Chau/ does not match"),
        ('tap: "Sí"', 'tap: "Quizás"', "cannot tap: no option 'Quizás'"),
        (
            '      - text: "¿Cómo se llama su mascota?"\n',
            '      - text: "¿Cómo se llama su mascota?"\n      - text: "más"\n',
            "expected 2 replies, got 1",
        ),
    ],
)
async def test_each_kind_of_mismatch(tmp_path: Path, old: str, new: str, says: str) -> None:
    result = await run_conversation(
        load_conversation_file(write_conversation(tmp_path, **{old: new}))
    )
    assert not result.ok
    assert says in (result.failure or "")


async def test_environment_variables_are_expanded(tmp_path: Path) -> None:
    path = write_conversation(tmp_path, **{f"config: {DEMO_CONFIG}": "config: ${DEMO}"})
    cf = load_conversation_file(path, env={"DEMO": str(DEMO_CONFIG)})
    assert cf.config.phone_number_id == "100000000000001"
    with pytest.raises(ConfigurationError, match="DEMO is not set"):
        load_conversation_file(path, env={})


def test_an_inline_config_and_bad_files_are_reported(tmp_path: Path) -> None:
    inline = tmp_path / "inline.test.yaml"
    inline.write_text(
        "config: {phone_number_id: '100000000000009', display_phone_number: '15550000009',"
        " name: Inline}\nsteps: [{send: hola}]\n",
        encoding="utf-8",
    )
    assert load_conversation_file(inline).config.name == "Inline"
    bad = tmp_path / "bad.test.yaml"
    bad.write_text("config: {}\nsteps: [{send: a, tap: 1}]\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="exactly one of send, tap"):
        load_conversation_file(bad)


async def test_the_cli_runs_folders_and_exits_non_zero_on_failure(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    write_conversation(good)
    out = io.StringIO()
    assert await convtest.run_files([tmp_path], out=out) == 0
    assert f"PASS {good / 'pet.test.yaml'}" in out.getvalue()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    write_conversation(deep, name="broken.test.yaml", **{"state: faq": "state: idle"})
    out = io.StringIO()
    assert await convtest.run_files([tmp_path], out=out) == 1
    text = out.getvalue()
    assert f"FAIL {deep / 'broken.test.yaml'}" in text
    assert "step 3: tap 'Sí'" in text
    assert "1 passed, 1 failed" in text


def test_register_cli_adds_the_test_command() -> None:
    parser = argparse.ArgumentParser()
    convtest.register_cli(parser.add_subparsers())
    args = parser.parse_args(["test", "a.test.yaml", "folder"])
    assert args.paths == ["a.test.yaml", "folder"]
    assert args.func is convtest._main


async def test_skill_files_are_expanded_too_and_other_dollars_stay(tmp_path: Path) -> None:
    path = write_conversation(
        tmp_path,
        **{
            'matches: "^Hola Ana"': 'matches: "^Hola Ana.*$"',
            '- text: "¿Cómo se llama su mascota?"': '- matches: "^¿Cómo se llama su ${PET}[?]$"',
        },
    )
    skill = tmp_path / "pet.yaml"
    skill.write_text(
        skill.read_text(encoding="utf-8").replace("su mascota?", "su ${PET}?"), encoding="utf-8"
    )
    result = await run_conversation(load_conversation_file(path, env={"PET": "gato"}))
    assert result.ok, result.failure
    assert result.transcript[0] == "¿Cómo se llama su gato?"
    assert "${PET}" in skill.read_text(encoding="utf-8")  # the original is left as it was
    with pytest.raises(ConfigurationError, match=r"pet\.yaml: environment variable PET"):
        await run_conversation(dataclasses.replace(cf_without_env(path), env={}))


def cf_without_env(path: Path) -> convtest.ConversationFile:
    return load_conversation_file(path, env={"PET": "x"})
