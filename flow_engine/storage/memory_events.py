"""Statuses, account events, send failures and survey answers in this process."""

from __future__ import annotations

import json
import time
from typing import Any

from flow_engine.domain.inbound import AccountEvent, StatusUpdate
from flow_engine.storage.events import EventLog
from flow_engine.storage.memory_backend import MemoryBackend

EVENTS_KEPT = 10_000


class MemoryEvents(EventLog):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def record_statuses(self, statuses: list[StatusUpdate]) -> None:
        for s in statuses:
            kept = self.b.statuses.setdefault(s.number, [])
            kept.append(s.model_dump_json())
            del kept[:-EVENTS_KEPT]

    async def record_events(self, events: list[AccountEvent]) -> None:
        self.b.events.extend(e.model_dump_json() for e in events)
        del self.b.events[:-EVENTS_KEPT]

    async def statuses(self, number: str, limit: int = 100) -> list[StatusUpdate]:
        raw = self.b.statuses.get(number, [])[-limit:]
        return [StatusUpdate.model_validate_json(r) for r in raw]

    async def record_send_failure(
        self, number: str, contact: str, key: str, code: int | None, reason: str
    ) -> None:
        kept = self.b.failures.setdefault(number, [])
        kept.append(
            json.dumps(
                {"contact": contact, "key": key, "code": code, "reason": reason, "at": time.time()}
            )
        )
        del kept[:-EVENTS_KEPT]

    async def send_failures(self, number: str, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self.b.failures.get(number, [])[-limit:]]

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
        if not self.b.mark(f"survey_answer:{number}:{answer_id}", self.b.dedupe_ttl_s):
            return False
        doc = {"contact": contact, "kind": kind, "score": score, "ticket_id": ticket_id, "at": at}
        kept = self.b.surveys.setdefault(number, [])
        kept.append(json.dumps(doc))
        del kept[:-EVENTS_KEPT]
        return True

    async def surveys(self, number: str, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self.b.surveys.get(number, [])[-limit:]]
