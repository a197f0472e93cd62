"""Serving the engine: aiohttp's runner, with the errors of the HTTP layer itself in the
engine's shape.

aiohttp answers a request it cannot parse (a header over 8 KB, a NUL in a header, a bad
request line) before any middleware runs, with a ``text/plain`` 400 from
``RequestHandler.handle_error`` (aiohttp#3287: there is no public hook). The engine's
connections use :class:`JsonErrorHandler`, whose ``handle_error`` answers
``{"error": {"code", "message", "details"}}`` like every other error
(``web/errors.py``), and logs one line without the request's content.

Every answer names the server as :data:`SERVER` only: aiohttp's default ``Server`` header
(``Python/3.x aiohttp/3.x``) tells anyone probing which versions to look up exploits for.
The application's answers get it from :func:`server_header` (an ``on_response_prepare``
signal of the root application, ``web/app.py``), the parser's refusals from
:class:`JsonErrorHandler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from http import HTTPStatus

import structlog
from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from flow_engine.web import gc_tuning
from flow_engine.web.errors import error_response

log = structlog.get_logger()

#: how much of the parser's reason is repeated to the client
REASON_MAX = 200

_CODES = {400: "bad_request", 413: "payload_too_large", 431: "headers_too_large"}

#: the ``Server`` header of every answer: the product, without any version
SERVER = "flow-engine"


async def server_header(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the answer names the server as :data:`SERVER` (aiohttp only
    sets its own when none is set)."""
    response.headers[hdrs.SERVER] = SERVER


class JsonErrorHandler(RequestHandler):
    """A connection of the engine: errors raised outside the application answer JSON."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: a response is already under way
            raise ConnectionError("response already sent, cannot send the error")
        if status >= 500:
            log.error("http_error", status=status, error=type(exc).__name__ if exc else None)
            code = "timeout" if status == 504 else "internal_error"
            text = "the request timed out" if status == 504 else "internal error"
            resp = error_response(status, code, text)
        else:
            reason = " ".join(str(message or HTTPStatus(status).phrase).split())[:REASON_MAX]
            log.info("http_request_refused", status=status, kind=type(exc).__name__)
            resp = error_response(
                status,
                _CODES.get(status, "http_error"),
                "malformed HTTP request",
                {"reason": reason},
            )
        resp.headers[hdrs.SERVER] = SERVER
        resp.force_close()
        return resp


class JsonErrorServer(web.Server):
    """aiohttp's low-level server, making :class:`JsonErrorHandler` connections."""

    def __call__(self) -> RequestHandler:
        return JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class EngineRunner(web.AppRunner):
    """``web.AppRunner`` whose server is a :class:`JsonErrorServer`."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = JsonErrorServer  # the same object and state, new connections
        return server


async def serve(app: web.Application, sockets: list[socket.socket], gc_threshold: int = 0) -> None:
    """Serve ``app`` on listening ``sockets`` (``web/listen.py`` bound them) until
    cancelled or SIGINT/SIGTERM, then clean up. Once it serves (its start done), the
    garbage collector is tuned with ``gc_threshold`` (``web/gc_tuning.py``)."""
    runner = EngineRunner(app, handle_signals=True, access_log=None)
    await runner.setup()
    try:
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        if gc_tuning.tune(gc_threshold):
            log.debug("gc_tuned", threshold=gc_threshold, frozen=gc.get_freeze_count())
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run(app: web.Application, sockets: list[socket.socket], gc_threshold: int = 0) -> None:
    """``serve`` in a new event loop, as ``web.run_app`` does; returns after a signal."""
    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(serve(app, sockets, gc_threshold))
