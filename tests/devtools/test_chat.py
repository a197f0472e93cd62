"""`flow-engine chat` with its input piped from a file."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from flow_engine.devtools import chat
from tests.devtools.skillfiles import DEMO_CONFIG, write_pet_skill

ROOT = Path(__file__).resolve().parents[2]
RUN = (
    "import argparse, sys\n"
    "from flow_engine.devtools.chat import register_cli\n"
    "p = argparse.ArgumentParser(); register_cli(p.add_subparsers())\n"
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))\n"
)


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """chat.main configures structlog for the terminal: put the test's setup back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def args(config: Path, **extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    chat.register_cli(parser.add_subparsers())
    flags = [f"--{k}={v}" for k, v in extra.items()]
    return parser.parse_args(["chat", str(config), *flags])


def config_with_pet(tmp_path: Path) -> Path:
    write_pet_skill(tmp_path)
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text += (
        "\nskills:\n  - {serviceName: PreMain, parentServiceName: Main,"
        " kind: declarative, path: pet.yaml}\n"
    )
    path = tmp_path / "100000000000001.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_piped_script_reads_as_a_transcript(tmp_path: Path) -> None:
    script = "hola\n/state\nFirulais\n/state\n1\n2\n/reset\n/state\n/time 2026-12-25T09:00\n"
    out = io.StringIO()
    code = chat.main(args(config_with_pet(tmp_path), name="Bea"), io.StringIO(script), out)
    assert code == 0
    text = out.getvalue()
    assert text.startswith("> hola\n< ¿Cómo se llama su mascota?\n> /state\n  state: skill\n")
    assert "< ¿Firulais, correcto?\n<   1. Sí\n<   2. No\n" in text
    assert '  skill variables: {"skp_pet": "Firulais"}' in text
    assert "< Hola Bea" in text  # "1" tapped Sí: the skill returned, the greeting followed
    assert "< Aceptamos tarjeta" in text  # "2" answered the FAQ menu
    assert "  (conversation reset)\n> /state\n  state: start\n" in text
    assert "  (now 2026-12-25T09:00-03:00)" in text
    assert "chatting with" not in text and "> \n" not in text  # no prompt noise


def test_quit_stops_and_unknown_commands_help(tmp_path: Path) -> None:
    out = io.StringIO()
    script = "/what\n/quit\nhola\n"
    assert chat.main(args(DEMO_CONFIG), io.StringIO(script), out) == 0
    assert "/reset" in out.getvalue()
    assert "< " not in out.getvalue()


def test_a_broken_configuration_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("phone_number_id: 1\n", encoding="utf-8")
    assert chat.main(args(bad), io.StringIO(""), io.StringIO()) == 2


def test_in_a_subprocess_with_stdin_from_a_file(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text("hola\n3\n", encoding="utf-8")
    with script.open(encoding="utf-8") as stdin:
        done = subprocess.run(
            [sys.executable, "-c", RUN, "chat", str(DEMO_CONFIG), "--contact", "5491100000077"],
            stdin=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=30,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("> hola\n< Hola Ana")
    assert "> 3\n" in done.stdout
