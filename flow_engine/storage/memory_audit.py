"""The audit log in this process."""

from __future__ import annotations

from flow_engine.storage import records
from flow_engine.storage.audit import AuditEntry, AuditLog
from flow_engine.storage.memory_backend import MemoryBackend


class MemoryAudit(AuditLog):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def append(self, entries: list[AuditEntry]) -> None:
        self.b.append_audit(entries)

    async def entries(
        self,
        *,
        numbers: set[str] | None = None,
        include_global: bool = True,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[AuditEntry]:
        keep = records.AuditFilter(numbers, include_global, actor, action)
        out: list[AuditEntry] = []
        skip = offset
        if limit <= 0:
            return out
        for raw in reversed(self.b.audit):
            entry = records.audit_of(raw)
            if not keep(entry):
                continue
            if skip > 0:
                skip -= 1
                continue
            out.append(entry)
            if len(out) >= limit:
                break
        return out
