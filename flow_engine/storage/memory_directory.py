"""The access directory in this process."""

from __future__ import annotations

from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.directory import DirectoryStore
from flow_engine.storage.memory_backend import MemoryBackend


class MemoryDirectory(DirectoryStore):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def load(self) -> tuple[int, str | None]:
        return self.b.directory

    async def current_version(self) -> int:
        return self.b.directory[0]

    async def swap(self, expected: int, document: str, audit: list[AuditEntry]) -> int | None:
        if self.b.directory[0] != expected:
            return None
        self.b.directory = (expected + 1, document)
        self.b.append_audit(audit)
        return expected + 1
