"""Issue 9, item 7: every log line of a whole run, as ``flow-engine serve`` writes it (JSON
on standard error, debug level), shows no contact number — full or any seven of its digits,
however written — and no secret or token.

The run: a real engine process and the real development gateway on loopback; contacts write
through signed webhooks (one with a number as their profile name, one sharing a contact
card), the gateway fails sends (5xx, a pair rate limit, a permanent error whose message names
the recipient) so they are retried and recorded, a skill fails with the number in its error,
a delivery status fails, and a member takes, answers and closes the ticket over /api/v1.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestServer

from flow_engine.devtools import webhooks
from flow_engine.devtools.fake_gateway import create_fake_gateway_app
from flow_engine.devtools.redis_server import free_port
from tests.conftest import ServerFactory
from tests.flow.conftest import Chat
from tests.support.clock import MovableClock
from tests.support.harness import DEMO_NUMBER, Harness
from tests.support.processes import PORT_TAKEN, PORT_TRIES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ANA = "5492614837265"  # writes with her number as profile name
BETO = "5493517294681"  # whose sends fail for good, the error naming him
CARD = "5491187654329"  # a number inside a contact card Ana shares
CONTACTS = (ANA, BETO, CARD)
SECRETS = {
    "FLOW_ENGINE_WHATSAPP_TOKEN": "wa-token-Zq81-do-not-log",
    "FLOW_ENGINE_WHATSAPP_APP_SECRET": "app-secret-Kx72-do-not-log",
    "FLOW_ENGINE_WHATSAPP_VERIFY_TOKEN": "verify-Lm55-do-not-log",
    "FLOW_ENGINE_ADMIN_TOKEN": "admin-Pp09-do-not-log",
}
FORMATTED_ANA = "+54 9 261 483-7265"


def seven_digit_leaks(text: str) -> list[str]:
    """Any seven consecutive digits of a contact's number in ``text``, also written with
    spaces, dashes or parentheses between them (each JSON string value on its own)."""
    found: list[str] = []
    values = [text]
    for line in text.splitlines():
        with contextlib.suppress(ValueError):  # the one line that is not JSON
            values.extend(strings_of(json.loads(line)))
    squeezed = [re.sub(r"[ \-()+]", "", v) for v in values]
    for number in CONTACTS:
        for i in range(len(number) - 6):
            window = number[i : i + 7]
            if any(window in v for v in values + squeezed):
                found.append(f"{number}[{i}:{i + 7}]={window}")
    return found


def strings_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *strings_of(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings_of(v)]
    return [str(value)] if isinstance(value, int) else []


class Engine:
    """``python -m flow_engine serve`` with its standard error in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        for attempt in range(PORT_TRIES):
            if self._start(env):
                return
            self.stop()  # its port was taken before it could listen: another one
            assert attempt < PORT_TRIES - 1, self.text()

    def _start(self, env: dict[str, str]) -> bool:
        """Started and ready (True), or exited because its port was taken (False)."""
        self.port = free_port()
        self._file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flow_engine", "serve"],
            cwd=ROOT,
            env={
                **os.environ,
                **env,
                "FLOW_ENGINE_HOST": "127.0.0.1",
                "FLOW_ENGINE_PORT": str(self.port),
            },
            stdout=self._file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None and PORT_TAKEN in self.text():
                return False
            assert self.proc.poll() is None, self.text()
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=0.5) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not self._file.closed:
            self._file.close()

    def text(self) -> str:
        if not self._file.closed:
            self._file.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
async def gateway(aiohttp_server: ServerFactory) -> TestServer:
    app = create_fake_gateway_app(
        engine_url="http://127.0.0.1:9/unused",
        app_secret=SECRETS["FLOW_ENGINE_WHATSAPP_APP_SECRET"],
        token=SECRETS["FLOW_ENGINE_WHATSAPP_TOKEN"],
    )
    return await aiohttp_server(app)


@pytest.fixture
async def run(gateway: TestServer, tmp_path: Path) -> AsyncIterator[tuple[Engine, Harness]]:
    configs = tmp_path / "configs"
    configs.mkdir()
    shutil.copy(ROOT / "fixtures" / f"{DEMO_NUMBER}.yaml", configs)
    path = configs / f"{DEMO_NUMBER}.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["skills"] = [
        {
            "serviceName": "PreMain",
            "parentServiceName": "Main",
            "kind": "python",
            "target": "tests.support.skills:BoomWithPhone",
        }
    ]
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    gw_url = str(gateway.make_url("")).rstrip("/")
    engine = Engine(
        {
            **SECRETS,
            "FLOW_ENGINE_ENV": "production",
            "FLOW_ENGINE_WHATSAPP_API_URL": gw_url,
            "FLOW_ENGINE_CONFIG_DIR": str(configs),
            "FLOW_ENGINE_REDIS_URL": "",
            "FLOW_ENGINE_STORE": "memory",
            "FLOW_ENGINE_LOG_LEVEL": "debug",
            "FLOW_ENGINE_LOG_FORMAT": "json",
            "FLOW_ENGINE_PARTITIONS": "4",
            "FLOW_ENGINE_SEND_RETRY_BUDGET_S": "20",
            "FLOW_ENGINE_PYTHON_SKILL_MODULES": "tests",  # its BoomWithPhone skill
        },
        tmp_path / "engine.log",
    )
    h = Harness(engine.url, gw_url, secret=SECRETS["FLOW_ENGINE_WHATSAPP_APP_SECRET"])
    try:
        yield engine, h
    finally:
        await h.close()
        engine.stop()


async def api(
    h: Harness, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with h.session.request(method, h.engine_url + path, json=body, headers=headers) as r:
        answer = await r.json()
        assert r.status < 300, (r.status, answer)
        return answer


async def member_token(h: Harness) -> str:
    admin = SECRETS["FLOW_ENGINE_ADMIN_TOKEN"]
    profile = await api(
        h, "POST", "/api/v1/profiles", admin, {"name": "Desk", "modules": ["desk"]}
    )
    added = await api(
        h,
        "POST",
        "/api/v1/members",
        admin,
        {
            "members": [{"email": "ana@example.com", "name": "Ana"}],
            "profile_id": profile["id"],
            "numbers": [DEMO_NUMBER],
        },
    )
    member_id = added["items"][0]["member"]["id"]
    created = await api(h, "POST", f"/api/v1/members/{member_id}/tokens", admin, {"name": "t"})
    return str(created["token"])


async def test_a_whole_run_logs_no_contact_number_and_no_secret(
    run: tuple[Engine, Harness],
) -> None:
    engine, h = run
    ana = Chat(h, ANA, MovableClock(), name=FORMATTED_ANA)
    await h.fault(http_status=503, code=2, times=2)  # the first sends fail, then retried
    got = await ana.send("hola")
    got += await ana.received(quiet=1.5)
    assert any("preguntas más frecuentes" in g for g in got), got
    await ana.tap("Hablar con un asistente")
    await ana.tap("Ventas")
    card = {
        "type": "contacts",
        "contacts": [
            {
                "name": {"formatted_name": "Caro"},
                "phones": [{"phone": "+54 9 11 8765-4329", "wa_id": CARD, "type": "CELL"}],
            }
        ],
    }
    await h.post_payload(
        webhooks.build_message_webhook(wa_id=ANA, name=FORMATTED_ANA, content=card)
    )
    token = await member_token(h)
    tickets = await api(h, "GET", f"/api/v1/tickets?number={DEMO_NUMBER}", token)
    (ticket,) = [t for t in tickets["tickets"] if t["contact"] == ANA]
    tid = ticket["id"]
    await api(h, "POST", f"/api/v1/tickets/{tid}/take", token, {})
    await h.fault(http_status=400, code=131056, retry_after=0.2)  # pair rate limit, retried
    await api(h, "POST", f"/api/v1/tickets/{tid}/messages", token, {"text": "¡Hola!"})
    assert "¡Hola!" in await ana.received(quiet=1.5)
    await api(h, "POST", f"/api/v1/tickets/{tid}/close", token, {})
    got = await ana.received(quiet=1.0)
    assert any(g.startswith("¿Cómo calificaría") for g in got), got
    await ana.send("5")

    message = f"(#131026) Message undeliverable to {BETO} (+54 9 351 729-4681)"
    await h.fault(http_status=400, code=131026, message=message, times=5)
    beto = Chat(h, BETO, MovableClock(), name="Beto")
    await beto.send("hola")
    status = webhooks.build_status_webhook(
        message_id=webhooks.new_message_id(),
        recipient_id=ANA,
        status="failed",
        errors=[{"code": 131049, "title": f"not delivered to {ANA}", "message": f"to {ANA}"}],
    )
    assert (await h.post_payload(status)).status == 200
    await h.settle(quiet=1.0)
    engine.stop()

    text = engine.text()
    events = [json.loads(line)["event"] for line in text.splitlines() if line.startswith("{")]
    # the run did what it says: retried, failed for good, the skill failed, sends went out
    for expected in ("send_retry", "send_failed", "skill_failed", "whatsapp_sent"):
        assert expected in events, (expected, sorted(set(events)))
    assert seven_digit_leaks(text) == [], text
    assert f'"file": "{DEMO_NUMBER}.yaml"' in text  # the engine's own ids stay readable
    for name, secret in SECRETS.items():
        assert secret not in text, name
    token_secret = token.split("_", 2)[2]  # fe_<token id>_<secret>; the secret may hold "_"
    assert token not in text and token_secret[:12] not in text
    assert "Bearer" not in text
