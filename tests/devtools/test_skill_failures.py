"""Skill failures show where the developer looks (issue 9.13): inline in `flow-engine chat`,
in `flow-engine test`'s diff, with the traceback's last frames for a Python skill, and no
ANSI codes when the output is not a terminal."""

from __future__ import annotations

import argparse
import asyncio
import io
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from flow_engine.devtools import chat, convtest
from flow_engine.devtools.conversation import LocalConversation
from flow_engine.engine.configs import read_config_file
from tests.devtools.skillfiles import DEMO_CONFIG

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def failing_skill(tmp_path: Path) -> str:
    """A Python skill whose helper divides by zero; its module name (unique per test)."""
    module = f"splitter_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "def share(total, parts):\n"
        "    return total / parts\n"
        "\n"
        "\n"
        "class Splitter:\n"
        "    async def run(self, envelope, variables, context):\n"
        "        each = share(10, 0)\n"
        "        return {'messages': [str(each)], 'action': 'return'}\n",
        encoding="utf-8",
    )
    return module


def config_with(tmp_path: Path, module: str) -> Path:
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text += (
        "\nskills:\n  - {serviceName: PreMain, parentServiceName: Main, kind: python,"
        f" target: '{module}:Splitter'}}\n"
    )
    path = tmp_path / "number.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def chat_args(config: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    chat.register_cli(parser.add_subparsers())
    return parser.parse_args(["chat", str(config)])


def test_chat_shows_the_failure_inline_with_the_last_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = failing_skill(tmp_path)
    out = io.StringIO()
    code = chat.main(chat_args(config_with(tmp_path, module)), io.StringIO("hola\n"), out)
    assert code == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "> hola"
    assert lines[1] == (
        "  ! skill failed at PreMain (python, error): ZeroDivisionError: division by zero"
    )
    transcript = out.getvalue()
    assert f'{module}.py", line 7, in run' in transcript
    assert f'{module}.py", line 2, in share' in transcript
    assert "return total / parts" in transcript
    assert "dispatch.py" not in transcript  # the engine's own frames are left out
    assert "< Hola Ana" in transcript  # then the base flow goes on, after the failure
    assert transcript.index("! skill failed") < transcript.index("< Hola Ana")
    assert "\x1b[" not in transcript
    assert "skill_failed" not in capsys.readouterr().err  # not printed twice, off to stderr


async def test_a_skill_failed_log_carries_the_traceback(tmp_path: Path) -> None:
    module = failing_skill(tmp_path)
    config = read_config_file(config_with(tmp_path, module))
    async with LocalConversation(config, tmp_path) as conv:
        with capture_logs() as logs:
            await conv.send("hola")
        assert [f.reason for f in conv.failed] == ["error"]
    (failed,) = [e for e in logs if e["event"] == "skill_failed"]
    assert failed["reason"] == "error"
    assert "line 2, in share" in failed["traceback"]
    assert failed["traceback"].endswith("ZeroDivisionError: division by zero")


TEST_FILE = """\
config: ../number.yaml
steps:
  - send: "hola"
    expect:
      - text: "10.0"
"""


def test_the_test_diff_says_the_skill_failed(tmp_path: Path) -> None:
    module = failing_skill(tmp_path)
    config_with(tmp_path, module)
    (tmp_path / "tests").mkdir()
    path = tmp_path / "tests" / "split.test.yaml"
    path.write_text(TEST_FILE, encoding="utf-8")
    out = io.StringIO()
    assert asyncio.run(convtest.run_files([path], out)) == 1
    report = out.getvalue()
    assert "step 1: send 'hola'" in report
    assert "! skill failed at PreMain (python, error): ZeroDivisionError" in report
    assert "line 2, in share" in report and "return total / parts" in report
    assert "\x1b[" not in report


def test_a_passing_file_notes_a_skill_failure(tmp_path: Path) -> None:
    module = failing_skill(tmp_path)
    config_with(tmp_path, module)
    (tmp_path / "tests").mkdir()
    path = tmp_path / "tests" / "survives.test.yaml"
    path.write_text(
        "config: ../number.yaml\nsteps:\n  - send: hola\n    state: faq\n", encoding="utf-8"
    )
    out = io.StringIO()
    assert asyncio.run(convtest.run_files([path], out)) == 0
    assert "note: step 1: skill failed at PreMain (python, error)" in out.getvalue()


def test_flow_engine_test_off_a_terminal_prints_no_ansi_codes(tmp_path: Path) -> None:
    module = failing_skill(tmp_path)
    config_with(tmp_path, module)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "split.test.yaml").write_text(TEST_FILE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "flow_engine", "test", str(tmp_path / "tests")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "! skill failed at PreMain" in done.stdout
    assert "\x1b[" not in done.stdout + done.stderr
