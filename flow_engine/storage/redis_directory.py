"""The access directory in Redis: one document and its version, swapped by a script."""

from __future__ import annotations

from flow_engine.storage import records, redis_scripts
from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.directory import DirectoryStore
from flow_engine.storage.redis_backend import RedisBackend, text


class RedisDirectory(DirectoryStore):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.swap_script = b.script(redis_scripts.DIRECTORY_SWAP)

    async def load(self) -> tuple[int, str | None]:
        # one MGET of two keys of the admin slot: both read at one instant
        version, document = await self.b.r.mget([self.k.directory_version(), self.k.directory()])
        return int(version or 0), None if document is None else text(document)

    async def current_version(self) -> int:
        return int(await self.b.r.get(self.k.directory_version()) or 0)

    async def swap(self, expected: int, document: str, audit: list[AuditEntry]) -> int | None:
        version = await self.swap_script(
            keys=[self.k.directory(), self.k.directory_version(), self.k.audit()],
            args=[expected, document, self.b.audit_kept, *(records.audit_json(e) for e in audit)],
        )
        return int(version) or None
