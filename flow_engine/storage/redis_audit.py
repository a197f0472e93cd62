"""The audit log in Redis: one list, newest first, trimmed."""

from __future__ import annotations

from flow_engine.storage import records, redis_scripts
from flow_engine.storage.audit import AuditEntry, AuditLog
from flow_engine.storage.redis_backend import RedisBackend


class RedisAudit(AuditLog):
    #: entries read per round trip while filtering
    CHUNK = 1000

    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.append_script = b.script(redis_scripts.AUDIT_APPEND)
        self.head_script = b.script(redis_scripts.AUDIT_HEAD)

    async def append(self, entries: list[AuditEntry]) -> None:
        if not entries:
            return
        await self.append_script(
            keys=[self.k.audit()],
            args=[self.b.audit_kept, *(records.audit_json(e) for e in entries)],
        )

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
        """Scans the list newest first in chunks. After the first chunk, positions are
        counted from the oldest end, which entries appended meanwhile do not move."""
        out: list[AuditEntry] = []
        if limit <= 0:
            return out
        keep = records.AuditFilter(numbers, include_global, actor, action)
        skip = max(offset, 0)
        key = self.k.audit()
        head = await self.head_script(keys=[key], args=[self.CHUNK])
        length, chunk = int(head[0]), head[1:]
        start = 0  # position of ``chunk[0]``, newest first, in the list of ``length`` entries
        while True:
            for raw in chunk:
                entry = records.audit_of(raw)
                if not keep(entry):
                    continue
                if skip > 0:
                    skip -= 1
                    continue
                out.append(entry)
                if len(out) >= limit:
                    return out
            start += self.CHUNK
            if len(chunk) < self.CHUNK or start >= length:
                return out
            end = min(start + self.CHUNK, length) - 1
            chunk = await self.b.r.lrange(key, start - length, end - length)
