"""Statuses, account events, send failures and survey answers in Redis streams."""

from __future__ import annotations

import json
import time
from typing import Any

from flow_engine.domain.inbound import AccountEvent, StatusUpdate
from flow_engine.storage import redis_scripts
from flow_engine.storage.events import EventLog
from flow_engine.storage.redis_backend import RedisBackend

EVENTS_KEPT = 10_000


class RedisEvents(EventLog):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.survey_script = b.script(redis_scripts.SURVEY_RECORD)

    async def record_statuses(self, statuses: list[StatusUpdate]) -> None:
        if not statuses:
            return
        pipe = self.b.r.pipeline(transaction=False)
        for s in statuses:
            pipe.xadd(
                self.k.statuses(s.number),
                {"s": s.model_dump_json()},
                maxlen=EVENTS_KEPT,
                approximate=True,
            )
        await pipe.execute()

    async def record_events(self, events: list[AccountEvent]) -> None:
        if not events:
            return
        pipe = self.b.r.pipeline(transaction=False)
        for e in events:
            pipe.xadd(
                self.k.events(), {"e": e.model_dump_json()}, maxlen=EVENTS_KEPT, approximate=True
            )
        await pipe.execute()

    async def statuses(self, number: str, limit: int = 100) -> list[StatusUpdate]:
        entries: Any = await self.b.r.xrevrange(self.k.statuses(number), "+", "-", count=limit)
        return [StatusUpdate.model_validate_json(f[b"s"]) for _i, f in reversed(entries)]

    async def record_send_failure(
        self, number: str, contact: str, key: str, code: int | None, reason: str
    ) -> None:
        doc = {"contact": contact, "key": key, "code": code, "reason": reason, "at": time.time()}
        await self.b.r.xadd(
            self.k.send_failures(number),
            {"f": json.dumps(doc)},
            maxlen=EVENTS_KEPT,
            approximate=True,
        )

    async def send_failures(self, number: str, limit: int = 100) -> list[dict[str, Any]]:
        entries: Any = await self.b.r.xrevrange(
            self.k.send_failures(number), "+", "-", count=limit
        )
        return [dict(json.loads(f[b"f"])) for _i, f in reversed(entries)]

    async def record_survey(
        self,
        number: str,
        contact: str,
        kind: str,
        score: int,
        ticket_id: str,
        at: float,
        *,
        answer_id: str,
    ) -> bool:
        doc = {"contact": contact, "kind": kind, "score": score, "ticket_id": ticket_id, "at": at}
        recorded = await self.survey_script(
            keys=[self.k.survey_answer(number, answer_id), self.k.surveys(number)],
            args=[self.b.dedupe_ttl_s, json.dumps(doc), EVENTS_KEPT],
        )
        return bool(recorded)

    async def surveys(self, number: str, limit: int = 100) -> list[dict[str, Any]]:
        entries: Any = await self.b.r.xrevrange(self.k.surveys(number), "+", "-", count=limit)
        return [dict(json.loads(f[b"s"])) for _i, f in reversed(entries)]
