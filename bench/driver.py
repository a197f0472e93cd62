"""The load driver: many WhatsApp contacts posting signed text webhooks.

Two phases per target:

- **closed loop** (max throughput): every contact posts a webhook, waits for the
  HTTP answer (ack latency) and for the sink to receive its reply (end-to-end
  latency), then posts the next one;
- **open loop**: messages are posted at a fixed rate whatever the answers, round
  robin over the contacts; latencies count from the *scheduled* post time, so a
  stalled target cannot hide its queueing (no coordinated omission).

Replies are matched to messages per contact in order (the engine guarantees a
conversation's order). The HTTP client is a small keep-alive HTTP/1.1 protocol on
the event loop: aiohttp's client would cost the shared bench process several
times more CPU per request, and the bench process shares 2 cores with the target.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from flow_engine.devtools.webhooks import (
    DEV_PHONE_NUMBER_ID,
    SIGNATURE_HEADER,
    build_text_webhook,
    signed_request,
)

clock = time.perf_counter


class Message:
    """One posted webhook and what happened to it (perf_counter seconds)."""

    __slots__ = ("contact", "done", "replies_left", "status", "t_ack", "t_post", "t_reply")

    def __init__(self, contact: str, t_post: float, replies: int = 1) -> None:
        self.contact = contact
        self.t_post = t_post
        self.replies_left = replies  # t_reply is when the last of them arrived
        self.t_ack: float | None = None
        self.t_reply: float | None = None
        self.status = 0
        self.done: asyncio.Future[None] | None = None


class Tracker:
    """Messages waiting for their reply, per contact, in posting order."""

    def __init__(self) -> None:
        self.pending: dict[str, deque[Message]] = {}
        self.messages: list[Message] = []
        self.unexpected = 0
        self.outstanding = 0
        self.idle = asyncio.Event()

    def add(self, msg: Message) -> None:
        self.pending.setdefault(msg.contact, deque()).append(msg)
        self.messages.append(msg)
        self.outstanding += 1
        self.idle.clear()

    def _finish(self, msg: Message) -> None:
        self.outstanding -= 1
        if self.outstanding == 0:
            self.idle.set()
        if msg.done is not None and not msg.done.done():
            msg.done.set_result(None)

    def on_ack(self, msg: Message, status: int, now: float) -> None:
        msg.t_ack = now
        msg.status = status
        if msg.t_reply is not None:
            self._finish(msg)
        elif status >= 400:  # refused: no reply will come, do not match one to it
            queue = self.pending.get(msg.contact)
            if queue is not None and msg in queue:
                queue.remove(msg)
            self._finish(msg)
        elif status != 200 and msg.done is not None and not msg.done.done():
            msg.done.set_result(None)  # connection lost: the reply may or may not come

    def on_reply(self, to: str, now: float) -> None:
        queue = self.pending.get(to)
        if not queue:
            self.unexpected += 1
            return
        msg = queue[0]
        msg.replies_left -= 1
        if msg.replies_left > 0:
            return
        queue.popleft()
        msg.t_reply = now
        if msg.t_ack is not None:
            self._finish(msg)


class HttpConn(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, tracker: Tracker, on_free: Callable[[HttpConn], None] | None) -> None:
        self.tracker = tracker
        self.on_free = on_free
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.msg: Message | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, data: bytes, msg: Message) -> None:
        assert self.transport is not None
        self.msg = msg
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            status = int(head.split(b" ", 2)[1])
            i = head.find(b"\r\ncontent-length:")
            if i < 0:
                raise RuntimeError("response without Content-Length")
            j = head.find(b"\r\n", i + 2)
            length = int(head[i + 17 : j if j >= 0 else len(head)])
            total = end + 4 + length
            if len(self.buf) < total:
                return
            del self.buf[:total]
            msg, self.msg = self.msg, None
            if msg is not None:
                self.tracker.on_ack(msg, status, clock())
            if self.on_free is not None:
                self.on_free(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        msg, self.msg = self.msg, None
        if msg is not None:
            self.tracker.on_ack(msg, -1, clock())


@dataclass
class PhaseResult:
    """Messages of one phase and its measurement window ``[t0, t1)``."""

    kind: str
    t0: float
    t1: float
    messages: list[Message]
    unexpected: int
    rate_asked: float | None = None
    connections: int = 0
    marks: dict[str, float] = field(default_factory=dict)


class Driver:
    """Posts webhooks for ``contacts`` contacts to one target: to ``port``, or spread over
    ``ports`` connection by connection (as a load balancer in front of several processes).
    A message is answered when ``replies`` sends reached its contact. With
    ``fresh_contacts``, every message comes from a contact never seen (a first message:
    the demo number's greeting and menu), still ``contacts`` at a time."""

    def __init__(
        self,
        host: str,
        port: int,
        app_secret: str,
        contacts: int,
        ports: list[int] | None = None,
        *,
        replies: int = 1,
        fresh_contacts: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self._ports = itertools.cycle(ports or [port])
        self.secret = app_secret
        self.contacts = [f"549110{i:07d}" for i in range(contacts)]
        self.replies = replies
        self.fresh_contacts = fresh_contacts
        self._fresh = itertools.count()
        self.tracker = Tracker()
        self._head = (
            f"POST /webhooks/whatsapp HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()

    def next_contact(self, contact: str) -> str:
        """Who writes the next message in the place of ``contact``: itself, or with
        ``fresh_contacts`` a new contact (13 digits, unique in the run)."""
        if not self.fresh_contacts:
            return contact
        return f"5591{next(self._fresh):09d}"

    def request(self, contact: str) -> bytes:
        payload = build_text_webhook(
            wa_id=contact,
            name=f"Bench {contact[-4:]}",
            text="hola",
            phone_number_id=DEV_PHONE_NUMBER_ID,
        )
        body, headers = signed_request(payload, self.secret)
        return b"%s%s: %s\r\nContent-Length: %d\r\n\r\n%s" % (
            self._head,
            SIGNATURE_HEADER.encode(),
            headers[SIGNATURE_HEADER].encode(),
            len(body),
            body,
        )

    async def connect(self, on_free: Callable[[HttpConn], None] | None = None) -> HttpConn:
        loop = asyncio.get_running_loop()
        _t, conn = await loop.create_connection(
            lambda: HttpConn(self.tracker, on_free), self.host, next(self._ports)
        )
        return conn

    def on_reply(self, to: str, now: float) -> None:
        """The sink's listener: a send to ``to`` arrived at ``now``."""
        self.tracker.on_reply(to, now)

    def _reset(self) -> None:
        self.tracker = Tracker()

    async def _drain(self, seconds: float) -> None:
        if self.tracker.outstanding:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.tracker.idle.wait(), seconds)

    async def closed_loop(
        self,
        warmup: float,
        duration: float,
        drain: float,
        on_window: Callable[[str], None] | None = None,
    ) -> PhaseResult:
        self._reset()
        conns = await asyncio.gather(*(self.connect() for _ in self.contacts))
        loop = asyncio.get_running_loop()
        start = clock()
        t0, t1 = start + warmup, start + warmup + duration
        if on_window is not None:
            loop.call_later(warmup, on_window, "start")
            loop.call_later(warmup + duration, on_window, "end")

        async def contact_loop(contact: str, conn: HttpConn) -> None:
            tracker = self.tracker
            while clock() < t1:
                if conn.closed:
                    conn = await self.connect()
                sender = self.next_contact(contact)
                data = self.request(sender)
                msg = Message(sender, clock(), self.replies)
                msg.done = loop.create_future()
                tracker.add(msg)
                conn.send(data, msg)
                await msg.done

        tasks = [
            asyncio.create_task(contact_loop(c, k))
            for c, k in zip(self.contacts, conns, strict=True)
        ]
        await asyncio.sleep(max(0.0, t1 - clock()))
        _done, stuck = await asyncio.wait(tasks, timeout=drain)
        for t in stuck:
            t.cancel()
        await asyncio.sleep(0.2)  # a stray late (duplicate) reply shows up as unexpected
        for c in conns:
            if c.transport is not None:
                c.transport.close()
        return PhaseResult(
            "closed",
            t0,
            t1,
            self.tracker.messages,
            self.tracker.unexpected,
            connections=len(conns),
        )

    async def open_loop(
        self,
        rate: float,
        warmup: float,
        duration: float,
        drain: float,
        on_window: Callable[[str], None] | None = None,
    ) -> PhaseResult:
        self._reset()
        idle: list[HttpConn] = []
        all_conns: list[HttpConn] = []
        loop = asyncio.get_running_loop()

        def free(conn: HttpConn) -> None:
            idle.append(conn)

        for conn in await asyncio.gather(*(self.connect(free) for _ in self.contacts)):
            idle.append(conn)
            all_conns.append(conn)

        async def send_on_new(data: bytes, msg: Message) -> None:
            conn = await self.connect(free)
            all_conns.append(conn)
            conn.send(data, msg)

        spawned: set[asyncio.Task[None]] = set()
        tracker = self.tracker
        contacts = itertools.cycle(self.contacts)
        interval = 1.0 / rate
        start = clock() + 0.01
        t0, t1 = start + warmup, start + warmup + duration
        if on_window is not None:
            loop.call_later(t0 - clock(), on_window, "start")
            loop.call_later(t1 - clock(), on_window, "end")
        i = 0
        while True:
            now = clock()
            due = start + i * interval
            while due <= now and due < t1:
                contact = self.next_contact(next(contacts))
                data = self.request(contact)
                msg = Message(contact, due, self.replies)
                tracker.add(msg)
                while idle and idle[-1].closed:
                    idle.pop()
                if idle:
                    idle.pop().send(data, msg)
                else:
                    task = asyncio.create_task(send_on_new(data, msg))
                    spawned.add(task)
                    task.add_done_callback(spawned.discard)
                i += 1
                due = start + i * interval
            if due >= t1:
                break
            await asyncio.sleep(due - clock())
        await self._drain(drain)
        await asyncio.sleep(0.2)
        for c in all_conns:
            if c.transport is not None:
                c.transport.close()
        return PhaseResult(
            "open",
            t0,
            t1,
            tracker.messages,
            tracker.unexpected,
            rate_asked=rate,
            connections=len(all_conns),
        )
