"""A minimal WhatsApp Cloud Send API: answers every send with the success body and
timestamps it. Runs inside the bench process, on the driver's event loop, so the
driver's clock and the sink's clock are the same ``time.perf_counter``."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable

from aiohttp import web

from flow_engine.devtools.redis_server import free_port

#: Called with the recipient (``to``) and the arrival time of each send.
Listener = Callable[[str, float], None]

TOKEN = "bench-whatsapp-token"
_READ_OK = b'{"success":true}'


class Sink:
    """``POST /{version}/{phone_number_id}/messages`` like the Graph API, nothing more."""

    def __init__(self, token: str = TOKEN) -> None:
        self.port = free_port()
        self.auth = f"Bearer {token}"
        self.listener: Listener | None = None
        #: sees the template sends (business-initiated) instead of ``listener``
        self.template_listener: Listener | None = None
        self.templates: list[dict[str, object]] = []
        self.sends = 0
        self.reads = 0
        self.refused = 0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.sends = self.reads = self.refused = 0

    async def handle(self, request: web.Request) -> web.Response:
        now = time.perf_counter()
        if request.headers.get("Authorization") != self.auth:
            self.refused += 1
            return web.Response(
                status=401,
                content_type="application/json",
                body=(
                    b'{"error":{"message":"Invalid OAuth access token","type":"OAuthException",'
                    b'"code":190}}'
                ),
            )
        payload = json.loads(await request.read())
        if payload.get("status") == "read":
            self.reads += 1
            return web.Response(body=_READ_OK, content_type="application/json")
        to = str(payload.get("to", ""))
        self.sends += 1
        if payload.get("type") == "template" and self.template_listener is not None:
            self.template_listener(to, now)
        elif self.listener is not None:
            self.listener(to, now)
        body = (
            f'{{"messaging_product":"whatsapp","contacts":[{{"input":"{to}","wa_id":"{to}"}}],'
            f'"messages":[{{"id":"wamid.BENCH{next(self._ids):012d}"}}]}}'
        )
        return web.Response(body=body.encode(), content_type="application/json")

    async def catalog(self, request: web.Request) -> web.Response:
        """``GET /{version}/{waba_id}/message_templates``: one page, every template."""
        return web.json_response({"data": self.templates, "paging": {"cursors": {}}})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{version}/{phone_number_id}/messages", self.handle)
        app.router.add_get("/{version}/{waba_id}/message_templates", self.catalog)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
