"""Tickets in Redis, shared by every engine process.

A ticket lives in a hash (``v`` version, ``d`` JSON) next to its number's indexes, all
tagged ``{n<number>}`` so they share a slot and shard by number: a sorted set of the
number's tickets by ``created_at``, one per status, and one key per contact holding the
open ticket's id. A create or a version-checked save updates the document and those
indexes, and applies the data facts of the change to the number's rollups
(``domain/facts.py``), in one Lua script. Two global keys, outside any number's slot and written
outside the scripts, find a ticket by id alone and list every number's tickets.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from flow_engine.domain.facts import ticket_facts
from flow_engine.domain.tickets import Ticket
from flow_engine.storage import redis_scripts
from flow_engine.storage.keys import KeyBuilder
from flow_engine.storage.redis_backend import RedisBackend, text
from flow_engine.storage.redis_rollups import PlanBuilder, expiry_memo
from flow_engine.storage.tickets import (
    LIST_LIMIT_MAX,
    SCAN_BATCH,
    TicketStore,
    matches,
    open_ticket_exists,
)

LIST_BATCH = 200


@dataclass(frozen=True)
class TicketKeys:
    """Keys of the ticket store, on the hash tags of :class:`KeyBuilder`."""

    keys: KeyBuilder

    def _n(self, number: str) -> str:
        return self.keys._n(number)

    # number-scoped ({n<number>} slot)
    def ticket(self, number: str, ticket_id: str) -> str:
        return f"{self._n(number)}:ticket:{ticket_id}"

    def by_number(self, number: str) -> str:
        return f"{self._n(number)}:tickets"

    def by_status(self, number: str, status: str) -> str:
        return f"{self._n(number)}:tickets:{status}"

    def open_ticket(self, number: str, contact: str) -> str:
        return f"{self._n(number)}:open_ticket:{contact}"

    # global
    def locator(self) -> str:
        """Hash: ticket id -> number."""
        return f"{self.keys.prefix}:tickets:number"

    def everything(self) -> str:
        """Sorted set of every ticket id by created_at."""
        return f"{self.keys.prefix}:tickets:all"


class RedisTickets(TicketStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = TicketKeys(b.keys)
        self.create_script = b.script(redis_scripts.TICKET_CREATE)
        self.save_script = b.script(redis_scripts.TICKET_SAVE)
        self.delete_script = b.script(redis_scripts.TICKET_DELETE)

    def _args(self, t: Ticket) -> list[Any]:
        return [t.id, t.model_dump_json(), repr(t.created_at), "1" if t.is_open else "0"]

    async def create(self, ticket: Ticket) -> Ticket:
        k, n = self.k, ticket.number
        located = await self.b.r.hsetnx(k.locator(), ticket.id, n)
        plans = PlanBuilder(
            self.b.keys,
            n,
            [
                k.ticket(n, ticket.id),
                k.by_number(n),
                k.by_status(n, ticket.status.value),
                k.open_ticket(n, ticket.contact),
                self.b.keys.rollup_blocks(n),
            ],
            expiry_memo(self.b),
        )
        plan = plans.plan(ticket_facts(None, ticket))
        reply = await self.create_script(
            keys=plans.keys, args=[*self._args(ticket), ticket.version, plan]
        )
        outcome = int(reply[0])
        if outcome == 1:
            plans.done()
        if outcome == 0:
            return Ticket.model_validate_json(reply[1])
        if outcome == 2:
            if located:
                await self.b.r.hdel(k.locator(), ticket.id)
            raise open_ticket_exists(ticket, text(reply[1]))
        await self.b.r.zadd(k.everything(), {ticket.id: ticket.created_at})
        return ticket

    async def get(self, ticket_id: str) -> Ticket | None:
        number = await self.b.r.hget(self.k.locator(), ticket_id)
        if number is None:
            return None
        raw = await self.b.r.hget(self.k.ticket(text(number), ticket_id), "d")
        return None if raw is None else Ticket.model_validate_json(raw)

    async def open_for(self, number: str, contact: str) -> Ticket | None:
        ticket_id = await self.b.r.get(self.k.open_ticket(number, contact))
        if ticket_id is None:
            return None
        raw = await self.b.r.hget(self.k.ticket(number, text(ticket_id)), "d")
        return None if raw is None else Ticket.model_validate_json(raw)

    async def _save(self, before: Ticket, after: Ticket) -> bool:
        k, n = self.k, before.number
        plans = PlanBuilder(
            self.b.keys,
            n,
            [
                k.ticket(n, before.id),
                k.by_status(n, before.status.value),
                k.by_status(n, after.status.value),
                k.open_ticket(n, before.contact),
                self.b.keys.rollup_blocks(n),
            ],
            expiry_memo(self.b),
        )
        plan = plans.plan(ticket_facts(before, after))
        saved = await self.save_script(
            keys=plans.keys, args=[*self._args(after), before.version, plan]
        )
        if int(saved) == 1:
            plans.done()
        return int(saved) == 1

    async def _load_many(self, number: str | None, ids: builtins.list[str]) -> list[Ticket]:
        if not ids:
            return []
        if number is None:
            numbers = await self.b.r.hmget(self.k.locator(), ids)
            located = [(text(n), i) for n, i in zip(numbers, ids, strict=True) if n is not None]
        else:
            located = [(number, i) for i in ids]
        pipe = self.b.r.pipeline(transaction=False)
        for n, i in located:
            pipe.hget(self.k.ticket(n, i), "d")
        return [Ticket.model_validate_json(raw) for raw in await pipe.execute() if raw]

    async def list(
        self,
        number: str | None = None,
        queue: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Ticket]:
        limit, offset = max(0, min(limit, LIST_LIMIT_MAX)), max(0, offset)
        if limit == 0:
            return []
        if number is None:
            index, exact = self.k.everything(), queue is None and status is None
        elif status is None:
            index, exact = self.k.by_number(number), queue is None
        else:
            index, exact = self.k.by_status(number, status), queue is None
        if exact:  # the index alone answers: read just the page
            ids: Any = await self.b.r.zrevrange(index, offset, offset + limit - 1)
            return await self._load_many(number, [text(i) for i in ids])
        # filters the index cannot answer: read it in batches, newest first
        found: list[Ticket] = []
        start = 0
        while len(found) < offset + limit:
            ids = await self.b.r.zrevrange(index, start, start + LIST_BATCH - 1)
            if not ids:
                break
            batch = await self._load_many(number, [text(i) for i in ids])
            found.extend(t for t in batch if matches(t, number, queue, status))
            start += LIST_BATCH
        return found[offset : offset + limit]

    async def scan(
        self, number: str, since: float, until: float, batch: int = SCAN_BATCH
    ) -> AsyncIterator[Ticket]:
        index, top = self.k.by_number(number), f"({until!r}"
        start = 0
        while True:
            ids: Any = await self.b.r.zrevrangebyscore(
                index, top, repr(since), start=start, num=batch
            )
            if not ids:
                return
            for t in await self._load_many(number, [text(i) for i in ids]):
                yield t
            start += len(ids)

    async def purge(self, closed_before: float, limit: int = SCAN_BATCH) -> int:
        k = self.k
        removed, offset = 0, 0
        while removed < limit:
            # closed before the cutoff means created before it: the oldest first
            raw: Any = await self.b.r.zrangebyscore(
                k.everything(), "-inf", f"({closed_before!r}", start=offset, num=SCAN_BATCH
            )
            if not raw:
                break
            ids = [text(i) for i in raw]
            loaded = await self._load_many(None, ids)
            stale = set(ids) - {t.id for t in loaded}  # indexed, but the ticket is gone
            for ticket_id in stale:
                await self.b.r.zrem(k.everything(), ticket_id)
                await self.b.r.hdel(k.locator(), ticket_id)
            for t in loaded:
                if t.closed_at is None or t.closed_at >= closed_before or removed >= limit:
                    offset += 1  # kept: it stays ahead in the index
                    continue
                gone = await self.delete_script(
                    keys=[
                        k.ticket(t.number, t.id),
                        k.by_number(t.number),
                        k.by_status(t.number, t.status.value),
                    ],
                    args=[t.id, t.version],
                )
                if int(gone) != 1:
                    offset += 1  # saved meanwhile: kept
                    continue
                await self.b.r.zrem(k.everything(), t.id)
                await self.b.r.hdel(k.locator(), t.id)
                removed += 1
        return removed
