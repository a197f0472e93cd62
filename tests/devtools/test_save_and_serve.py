"""`/save FILE` in `flow-engine chat` writes the session as a conversation file that
passes `flow-engine test`, and `serve:` starts an HTTP skill's server for a conversation
file (issue 9.14)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import yaml

from flow_engine.devtools import chat, convtest, skill_server
from flow_engine.devtools.convtest import load_conversation_file, run_conversation
from flow_engine.errors import ConfigurationError
from tests.devtools.skillfiles import DEMO_CONFIG, PET_SKILL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def number_with_pet(tmp_path: Path, point: str = "PreSurvey") -> Path:
    (tmp_path / "pet.yaml").write_text(PET_SKILL, encoding="utf-8")
    parent = "NotaCerta" if point == "PreSurvey" else "Main"
    text = DEMO_CONFIG.read_text(encoding="utf-8") + (
        f"\nskills:\n  - {{serviceName: {point}, parentServiceName: {parent},"
        " kind: declarative, path: pet.yaml}\n"
    )
    path = tmp_path / "number.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_chat(config: Path, script: str) -> str:
    parser = argparse.ArgumentParser()
    chat.register_cli(parser.add_subparsers())
    out = io.StringIO()
    assert chat.main(parser.parse_args(["chat", str(config)]), io.StringIO(script), out) == 0
    return out.getvalue()


def test_a_saved_session_is_a_conversation_file_that_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = number_with_pet(tmp_path)
    script = (
        "hola\n6\n1\n/take\n/say Hola, soy Ana\n/close\nFirulais\n1\n"
        "/save tests/session.test.yaml\n"
    )
    transcript = run_chat(config, script)
    assert "(saved 8 steps to tests/session.test.yaml" in transcript
    saved = tmp_path / "tests" / "session.test.yaml"
    doc = yaml.safe_load(saved.read_text(encoding="utf-8"))
    assert doc["config"] == "../number.yaml"
    assert doc["contact"] == {"phone": "5491100000000", "name": "Ana"}
    actions = [{k: v for k, v in s.items() if k not in ("expect", "state")} for s in doc["steps"]]
    assert actions == [
        {"send": "hola"},
        {"tap": 6},
        {"tap": 1},
        {"attendant": "take"},
        {"attendant": 'say "Hola, soy Ana"'},
        {"attendant": "close"},
        {"send": "Firulais"},
        {"tap": 1},
    ]
    assert doc["steps"][4]["expect"] == [{"text": "Hola, soy Ana"}]
    assert doc["steps"][5]["state"] == "skill"
    assert doc["steps"][6]["expect"][0]["options"] == ["Sí", "No"]
    out = io.StringIO()
    assert asyncio.run(convtest.run_files([saved], out)) == 0, out.getvalue()


def test_time_becomes_a_wait_reset_starts_over_and_nothing_is_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = number_with_pet(tmp_path)
    script = (
        "/save early.test.yaml\n"
        "hola\n/reset\n"
        "/time 2026-11-23T10:00\nhola\n6\n1\n/time 2026-11-24T11:00\n"
        "/save later.test.yaml\n/save later.test.yaml\n"
    )
    transcript = run_chat(config, script)
    assert "not saved: nothing to save yet" in transcript
    assert "not saved: later.test.yaml exists; not overwriting it" in transcript
    doc = yaml.safe_load((tmp_path / "later.test.yaml").read_text(encoding="utf-8"))
    steps = doc["steps"]
    # the /reset dropped the first "hola"; the first /time moved the clock back: a note
    assert "the clock was moved back" in transcript
    assert [s.get("send") or s.get("tap") or s.get("wait") for s in steps] == [
        "hola",
        6,
        1,
        "25h",  # the ticket closes for inactivity, the PreSurvey skill asks
    ]
    assert steps[3]["state"] == "skill"
    assert steps[3]["expect"][-1] == {"text": "¿Cómo se llama su mascota?"}
    out = io.StringIO()
    files = [tmp_path / "later.test.yaml"]
    assert asyncio.run(convtest.run_files(files, out)) == 0, out.getvalue()


# --------------------------------------------------------------------------- serve
SERVER = """\
import argparse, os, socket, sys
from aiohttp import web

async def skill(request):
    body = await request.json()
    if body["context"]["first"]:
        return web.json_response({"messages": ["¿Su color?"], "action": "stay"})
    answer = body["envelope"]["input"]["content"]
    if answer == "crash":
        print("about to crash", file=sys.stderr, flush=True)
        os._exit(3)
    return web.json_response({"messages": ["Anotado: " + answer], "action": "return"})

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
args = parser.parse_args()
with open("server.pid", "w") as f:
    f.write(str(os.getpid()))
sock = socket.create_server(("127.0.0.1", args.port))
print("starting the colour skill", flush=True)
print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}/", flush=True)
app = web.Application()
app.router.add_post("/skill", skill)
web.run_app(app, sock=sock, print=None)
"""

SERVED = """\
serve: python ../server.py --port 0
config: {config}
skills:
  - {{serviceName: PreMain, parentServiceName: Main, kind: http, url: "${{SERVE_URL}}/skill"}}
steps:
  - send: "hola"
    expect:
      - text: "¿Su color?"
  - send: "{answer}"
    expect:
      - text: "Anotado: azul"
      - contains: "Hola Ana"
      - contains: "preguntas más frecuentes"
"""


def served(tmp_path: Path, answer: str = "azul", server: str = SERVER) -> Path:
    (tmp_path / "server.py").write_text(server, encoding="utf-8")
    (tmp_path / "tests").mkdir(exist_ok=True)
    path = tmp_path / "tests" / "colour.test.yaml"
    path.write_text(SERVED.format(config=DEMO_CONFIG, answer=answer), encoding="utf-8")
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_serve_starts_the_server_learns_its_url_and_stops_it(tmp_path: Path) -> None:
    path = served(tmp_path)
    cf = load_conversation_file(path, {})
    assert cf.serve == "python ../server.py --port 0" and cf.serve_url is None
    result = await run_conversation(cf)
    assert result.ok, result.failure
    pid = int((tmp_path / "tests" / "server.pid").read_text())  # it ran in tests/
    for _ in range(50):
        if not alive(pid):
            break
        await asyncio.sleep(0.1)
    assert not alive(pid)


async def test_a_server_that_dies_mid_run_is_shown_with_its_last_words(tmp_path: Path) -> None:
    result = await run_conversation(load_conversation_file(served(tmp_path, "crash"), {}))
    assert not result.ok
    assert "unavailable" in (result.failure or "")
    assert "the server 'python ../server.py --port 0' ended" in (result.failure or "")
    assert "about to crash" in (result.failure or "")


async def test_a_server_that_exits_before_its_url_is_named(tmp_path: Path) -> None:
    broken = "import sys\nprint('no port for you', file=sys.stderr)\nsys.exit(4)\n"
    with pytest.raises(ConfigurationError) as exc:
        await run_conversation(load_conversation_file(served(tmp_path, server=broken), {}))
    assert "exited (code 4) before printing its URL" in exc.value.message
    assert "no port for you" in exc.value.message


async def test_a_server_that_prints_no_url_is_stopped_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(skill_server, "START_TIMEOUT_S", 1.0)
    silent = "import time\nprint('thinking', flush=True)\ntime.sleep(60)\n"
    with pytest.raises(ConfigurationError, match="printed no URL in 1s"):
        await run_conversation(load_conversation_file(served(tmp_path, server=silent), {}))


async def test_serve_url_in_the_environment_means_yours_is_running(tmp_path: Path) -> None:
    cf = load_conversation_file(served(tmp_path), {"SERVE_URL": "http://127.0.0.1:1"})
    assert cf.serve_url == "http://127.0.0.1:1"  # no server is started for this run
    result = await run_conversation(cf)
    assert not result.ok and "unavailable" in (result.failure or "")
    assert not (tmp_path / "tests" / "server.pid").exists()


def test_the_pytest_plugin_runs_a_served_file(tmp_path: Path, pytester: pytest.Pytester) -> None:
    served(Path(pytester.path))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests")
    result.assert_outcomes(passed=1)


def test_serve_must_be_one_command_line(tmp_path: Path) -> None:
    path = served(tmp_path)
    text = path.read_text(encoding="utf-8").replace(
        "serve: python ../server.py --port 0", "serve: [python, x]"
    )
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="serve: must be a command line"):
        load_conversation_file(path, {})


pytest_plugins = ["pytester"]
