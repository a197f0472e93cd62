"""``flow-engine admin health`` and ``flow-engine admin activate`` against a real engine and
the stand-in Graph API (no terminal: flags say what a terminal would be asked)."""

from __future__ import annotations

import asyncio
import csv
import io
import queue
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from flow_engine.cli import main
from tests.health.conftest import ADMIN, LINES, N1, N2, N3, N4, Stack

Cli = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def cli(stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    for env in ("FLOW_ENGINE_API_URL", "FLOW_ENGINE_API_TOKEN", "FLOW_ENGINE_ADMIN_TOKEN"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.delenv("FLOW_ENGINE_ACTIVATION_PIN", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal, as in CI

    async def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        args = ["admin", "--url", stack.engine_url, "--token", ADMIN, *argv]
        code = await asyncio.to_thread(main, args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


async def test_health_prints_the_counts_then_the_table_and_writes_the_csv(
    stack: Stack, cli: Cli, tmp_path: Path
) -> None:
    for number, rating in {N1: "GREEN", N2: "RED", N3: "RED", N4: "YELLOW"}.items():
        stack.set_number(number, quality_rating=rating)
        await stack.refresh(number)
    code, out, err = await cli("health")
    assert code == 0, err
    counts, header, *rows = out.splitlines()
    assert counts == "good: 1  medium: 1  bad: 2  unknown: 0"
    assert header.split() == [
        "NUMBER",
        "NAME",
        "PHONE",
        "CLASS",
        "QUALITY",
        "LIMIT",
        "STATUS",
        "CHECKED",
    ]
    assert len(rows) == 4 and any(r.startswith(N3) and " bad " in r for r in rows)

    file = tmp_path / "bad.csv"
    code, out, err = await cli("health", "--class", "bad", "--csv", str(file))
    assert code == 0, err
    assert out.splitlines()[0] == "good: 1  medium: 1  bad: 2  unknown: 0"
    assert [line.split()[0] for line in out.splitlines()[2:]] == sorted([N2, N3])
    exported = list(csv.DictReader(io.StringIO(file.read_text(encoding="utf-8"))))
    assert sorted(r["number"] for r in exported) == [N2, N3]
    served = await stack.admin.call("GET", "/health?class=bad&format=csv")
    assert file.read_bytes().decode("utf-8") == served.body  # as served, CRLF and all

    code, out, _ = await cli("health", "--search", "farmacia", "--csv", "-")
    assert code == 0
    assert sorted(r["number"] for r in csv.DictReader(io.StringIO(out))) == [N3, N4]


async def test_activate_with_flags_requests_then_verifies(stack: Stack, cli: Cli) -> None:
    stack.set_number(N1, code_verification_status="NOT_VERIFIED", status="PENDING")
    code, out, err = await cli("activate", N1)
    assert code == 2 and "--method" in err  # no terminal to ask on
    code, out, err = await cli("activate", N1, "--method", "voice")
    assert code == 0, err
    assert f"number {N1}: {LINES[N1][0]} ({LINES[N1][1]})" in out
    assert "code verification: NOT_VERIFIED" in out
    assert "code requested: a voice call" in out and "--code" in out
    ((_n, method, received),) = stack.codes
    assert method == "VOICE"
    wrong = "000000" if received != "000000" else "111111"
    code, out, err = await cli("activate", N1, "--code", wrong, "--pin", "975310")
    assert code == 1 and "gateway_error" in err and "Incorrect code" in err
    code, out, err = await cli("activate", N1, "--code", received)  # the PIN kept
    assert code == 0, err
    assert "activated:" in out and "code verification: VERIFIED, status: CONNECTED" in out
    assert "975310" not in out + err


class Terminal:
    """Standard input that is a terminal: each line waits until the test types it."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str] = queue.Queue()

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.lines.get(timeout=10)


async def test_activate_on_a_terminal_asks_the_method_the_code_and_the_pin(
    stack: Stack, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.set_number(N2, code_verification_status="NOT_VERIFIED", status="PENDING")
    asked: list[str] = []

    def getpass(prompt: str) -> str:
        asked.append(prompt)
        return "864200"

    monkeypatch.setattr("getpass.getpass", getpass)
    terminal = Terminal()
    monkeypatch.setattr("sys.stdin", terminal)
    terminal.lines.put("sms\n")

    async def type_the_code() -> None:
        for _ in range(1000):  # the "voice call" comes once the method is chosen
            if stack.codes:
                terminal.lines.put(stack.codes[0][2] + "\n")
                return
            await asyncio.sleep(0.01)

    typing = asyncio.create_task(type_the_code())
    code, out, err = await cli("activate", N2)
    await typing
    assert code == 0, err
    assert "Send the code by voice call or SMS?" in err and "Code received:" in err
    assert stack.codes[0][1] == "SMS"
    assert asked == ["Two-step PIN of the number: "]  # asked without echo
    assert "code verification: VERIFIED, status: CONNECTED" in out
    assert stack.numbers.load(N2)["pin"] == "864200"
    assert "864200" not in out + err
