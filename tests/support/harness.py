"""End-to-end harness: the real engine app and the real fake gateway, both on loopback."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from flow_engine.devtools import webhooks

DEMO_NUMBER = "100000000000001"
DEMO_DISPLAY = "15550000001"
APP_SECRET = "test-app-secret"
TOKEN = "test-token"


class Harness:
    """Talks to an engine as the gateway would: signed webhooks in, recorded sends out."""

    def __init__(self, engine_url: str, gateway_url: str, secret: str = APP_SECRET) -> None:
        self.engine_url = engine_url.rstrip("/")
        self.gateway_url = gateway_url.rstrip("/")
        self.secret = secret
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.session.close()

    async def post_payload(
        self, payload: dict[str, Any], *, engine_url: str | None = None
    ) -> aiohttp.ClientResponse:
        body, headers = webhooks.signed_request(payload, self.secret)
        return await self.post_raw(body, headers, engine_url=engine_url)

    async def post_raw(
        self, body: bytes, headers: dict[str, str], *, engine_url: str | None = None
    ) -> aiohttp.ClientResponse:
        url = (engine_url or self.engine_url) + "/webhooks/whatsapp"
        async with self.session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            return resp

    async def say(
        self,
        contact: str,
        text: str,
        *,
        name: str = "Ana",
        number: str = DEMO_NUMBER,
        message_id: str | None = None,
        engine_url: str | None = None,
    ) -> str:
        """Post a signed text webhook; return the message id used."""
        mid = message_id or webhooks.new_message_id()
        payload = webhooks.build_text_webhook(
            wa_id=contact, name=name, text=text, phone_number_id=number, message_id=mid
        )
        resp = await self.post_payload(payload, engine_url=engine_url)
        assert resp.status == 200, resp.status
        return mid

    async def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        params = {"to": to} if to else {}
        async with self.session.get(self.gateway_url + "/_fake/messages", params=params) as r:
            data: dict[str, Any] = await r.json()
            return list(data["messages"])

    async def wait_sent(
        self, count: int, to: str | None = None, within: float = 15.0
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` sends were recorded (to ``to``), then return them."""
        deadline = time.monotonic() + within
        while True:
            found = await self.sent(to)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)

    async def settle(
        self, to: str | None = None, quiet: float = 0.5, within: float = 15.0
    ) -> list[dict[str, Any]]:
        """Wait until the engine has no inbound message or send left (its queue depths, read
        from ``/metrics``) and nothing new has been sent for ``quiet`` seconds.

        Quiet alone is not enough on a loaded machine: a first turn may take longer than
        ``quiet`` to send anything. Past ``within`` seconds (work meant to stay queued, say
        behind a gateway fault), quiet alone decides."""
        deadline = time.monotonic() + within
        last = -1
        while True:
            found = await self.sent(to)
            if len(found) == last:
                if time.monotonic() > deadline or await self.idle():
                    return found
                await asyncio.sleep(0.05)
                continue
            last = len(found)
            await asyncio.sleep(quiet)

    async def idle(self) -> bool:
        """True when the engine's inbound queue and outbox are empty (or it cannot tell:
        an engine that is down or answers no metrics)."""
        try:
            async with self.session.get(self.engine_url + "/metrics") as r:
                if r.status != 200:
                    return True
                text = await r.text()
        except aiohttp.ClientError:
            return True
        depths = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("flow_engine_queue_depth{")
        ]
        return sum(depths) == 0

    async def fault(self, **fault: Any) -> None:
        async with self.session.post(self.gateway_url + "/_fake/faults", json=fault) as r:
            assert r.status == 200, await r.text()


def text_of(record: dict[str, Any]) -> str:
    """The readable text of a recorded send (lists and buttons included)."""
    return "\n".join(webhooks.describe_payload(record["payload"]))
