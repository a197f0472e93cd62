"""Issue 9, item 10: tickets from the terminal. ``flow-engine admin tickets …`` and the
contact's ``flow-engine fake-gateway send`` (the real CLI, ``flow_engine.cli.main``) against a
real engine and the real development gateway, both on loopback, as the README tour does.

``main`` runs ``asyncio.run`` of its own, so it runs in a worker thread while the servers
keep serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
import structlog.testing
from aiohttp.test_utils import TestServer

from flow_engine.cli import main
from flow_engine.devtools.fake_gateway import STATE
from tests.flow.conftest import ADMIN, demo_config
from tests.support.harness import DEMO_NUMBER, Harness

ADMIN_TOKEN = ADMIN["Authorization"].removeprefix("Bearer ")
ANA = "5491100000042"
Stack = Callable[..., Awaitable[Harness]]
#: a local time with its zone, as the CLI shows every time (São Paulo: "-03")
LOCAL = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC-03:00"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def quiet_engine() -> Iterator[None]:
    """The in-process engine's logs are kept apart from what the CLI prints."""
    with structlog.testing.capture_logs():
        yield


@pytest.fixture
def sao_paulo() -> Iterator[None]:
    """The terminal's local time zone, for the times the CLI prints."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/Sao_Paulo"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@dataclass
class Tour:
    h: Harness
    capsys: pytest.CaptureFixture[str]

    async def run(self, *argv: str) -> Run:
        self.capsys.readouterr()
        try:
            code = await asyncio.to_thread(main, list(argv))
        except SystemExit as exit:  # argparse refuses the command line
            code = int(exit.code or 0)
        out, err = self.capsys.readouterr()
        return Run(code, out, err)

    async def admin(self, *argv: str, token: str = ADMIN_TOKEN) -> Run:
        return await self.run("admin", "--url", self.h.engine_url, "--token", token, *argv)

    async def contact(self, *argv: str, who: str = ANA) -> Run:
        return await self.run(
            "fake-gateway",
            "send",
            *argv,
            "--from",
            who,
            "--gateway-url",
            self.h.gateway_url,
            "--wait",
            "3",
        )

    async def open_ticket(self, who: str = ANA) -> str:
        for step in (["hola"], ["--pick", "6"], ["--pick", "1"]):  # FAQ → person → Ventas
            done = await self.contact(*step, who=who)
            assert done.code == 0, done.err
        listed = await self.admin("tickets", "list", "--status", "waiting", "--json")
        (ticket,) = [t for t in listed.json if t["contact"] == who]
        return str(ticket["id"])


@pytest.fixture
async def tour(
    flow_stack: Stack,
    gateway_server: TestServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sao_paulo: None,
    quiet_engine: None,
) -> Tour:
    for env in ("FLOW_ENGINE_API_URL", "FLOW_ENGINE_API_TOKEN", "FLOW_ENGINE_ADMIN_TOKEN"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal, as in CI
    h = await flow_stack(demo_config())
    # the development gateway posts the contact's messages to this engine
    gateway_server.app[STATE].engine_url = h.engine_url + "/webhooks/whatsapp"
    return Tour(h, capsys)


async def test_the_tour_from_the_terminal(tour: Tour) -> None:
    tid = await tour.open_ticket()

    listed = await tour.admin("tickets", "list", "--number", DEMO_NUMBER, "--status", "open")
    assert listed.code == 0, listed.err
    header, row = listed.out.splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "QUEUE"]
    assert row.startswith(tid) and " waiting " in row and "Ventas" in row
    assert f"{ANA} (Ana)" in row and re.search(LOCAL, row), row

    taken = await tour.admin("tickets", "take", tid[:8], "--as", "ana@example.com")
    assert taken.code == 0, taken.err
    assert taken.out.strip() == f"{tid}: taken by ana@example.com — {ANA} (Ana), Ventas"

    said = await tour.admin(
        "tickets",
        "reply",
        tid,
        "¡Hola!",
        "Soy",
        "Ana,",
        "¿en qué le ayudo?",
        "--as",
        "ana@example.com",
    )
    assert said.code == 0, said.err
    # the contact's terminal shows what the attendant wrote, then what follows its message
    answer = await tour.contact("quiero un modelo azul")
    assert answer.out.splitlines()[0] == "← ¡Hola! Soy Ana, ¿en qué le ayudo?"
    assert "→ quiero un modelo azul" in answer.out

    shown = await tour.admin("tickets", "show", tid)
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0] == f"ticket {tid}: assigned"
    assert any(re.fullmatch(rf"  {LOCAL}  assigned by ana@example\.com", x) for x in lines)
    transcript = lines[lines.index("transcript:") + 1 :]
    assert [x.split("  ", 2)[-1] for x in transcript] == [
        "ana@example.com: ¡Hola! Soy Ana, ¿en qué le ayudo?",
        "Ana: quiero un modelo azul",
    ]

    moved = await tour.admin("tickets", "transfer", tid, "Soporte técnico")
    assert moved.code == 0, moved.err
    new_id = re.search(r"(t_[0-9a-f]{20}) waits in Soporte técnico", moved.out)
    assert new_id, moved.out
    closed = await tour.admin("tickets", "close", new_id.group(1))
    assert closed.code == 0, closed.err
    assert re.fullmatch(rf"{new_id.group(1)}: closed_by_attendant at {LOCAL}\n", closed.out)
    survey = await tour.contact("5")  # post-service and survey first, then the thanks
    out = survey.out.splitlines()
    assert out[0].startswith("← Gracias por comunicarse.")
    assert any(x.startswith("← ¿Cómo calificaría") for x in out)
    assert "← ¡Gracias por su evaluación! 💙" in out

    everything = await tour.admin("tickets", "list", "--json")
    statuses = {t["id"]: t["status"] for t in everything.json}
    assert statuses == {tid: "transferred", new_id.group(1): "closed_by_attendant"}


async def test_a_member_acts_as_themselves_and_only_as_themselves(tour: Tour) -> None:
    token = await member_token(tour.h, "beto@example.com")
    tid = await tour.open_ticket()
    other = await tour.admin("tickets", "take", tid, "--as", "ana@example.com", token=token)
    assert other.code == 1 and "403" in other.err and "only as yourself" in other.err
    taken = await tour.admin("tickets", "take", tid, token=token)
    assert taken.code == 0, taken.err
    assert "taken by beto@example.com" in taken.out
    said = await tour.admin("tickets", "reply", tid, "Hola, soy Beto", token=token)
    assert said.code == 0 and "as beto@example.com" in said.out


async def test_the_super_admin_acts_as_an_attendant_of_the_number_once_it_has_any(
    tour: Tour,
) -> None:
    """The tour takes as ana@example.com while nobody attends the number; once Beto
    does, the super-admin's --as names him (or another member attending it)."""
    await member_token(tour.h, "beto@example.com")
    tid = await tour.open_ticket()
    ghost = await tour.admin("tickets", "take", tid, "--as", "ana@example.com")
    assert ghost.code == 1, ghost
    assert "422" in ghost.err and "attendant: ana@example.com does not attend" in ghost.err
    shown = await tour.admin("tickets", "show", tid, "--json")
    assert shown.json["status"] == "waiting"
    taken = await tour.admin("tickets", "take", tid, "--as", "beto@example.com")
    assert taken.code == 0 and "taken by beto@example.com" in taken.out, taken.err


async def test_the_super_admin_must_name_the_attendant(tour: Tour) -> None:
    tid = await tour.open_ticket()
    for argv in (("take", tid), ("reply", tid, "hola")):
        done = await tour.admin("tickets", *argv)
        assert done.code == 2, done
        assert "--as EMAIL" in done.err
        # an --as that was given but is refused says why, not that it is missing
        bad = await tour.admin("tickets", *argv, "--as", "not-an-email")
        assert bad.code == 1, bad
        assert "attendant" in bad.err and "--as EMAIL" not in bad.err
    shown = await tour.admin("tickets", "show", tid, "--json")
    assert shown.json["status"] == "waiting" and shown.json["transcript"] == []


async def test_unknown_ambiguous_and_refused_tickets_say_why(tour: Tour) -> None:
    missing = await tour.admin("tickets", "show", "t_doesnotexist")
    assert missing.code == 1 and "404" in missing.err and "t_doesnotexist" in missing.err
    first = await tour.open_ticket()
    second = await tour.open_ticket(who="5491100000043")
    ambiguous = await tour.admin("tickets", "show", "t_")  # the start of every id
    assert ambiguous.code == 2 and "names 2 tickets" in ambiguous.err
    assert (await tour.admin("tickets", "close", first)).code == 0
    again = await tour.admin("tickets", "close", first)
    assert again.code == 1 and "409" in again.err
    bad = await tour.admin("tickets", "list", "--status", "lost")
    assert bad.code == 2
    bad_queue = await tour.admin("tickets", "transfer", second, "Nowhere")
    assert bad_queue.code == 1 and "queue" in bad_queue.err


async def member_token(h: Harness, email: str) -> str:
    async def call(method: str, path: str, body: dict[str, Any]) -> Any:
        async with h.session.request(
            method, h.engine_url + "/api/v1" + path, json=body, headers=ADMIN
        ) as r:
            assert r.status < 300, await r.text()
            return await r.json()

    profile = await call("POST", "/profiles", {"name": "Desk", "modules": ["desk"]})
    added = await call(
        "POST",
        "/members",
        {
            "members": [{"email": email, "name": "Beto"}],
            "profile_id": profile["id"],
            "numbers": [DEMO_NUMBER],
        },
    )
    member = added["items"][0]["member"]["id"]
    return str((await call("POST", f"/members/{member}/tokens", {"name": "t"}))["token"])
