"""Number configurations in this process, every version kept."""

from __future__ import annotations

import asyncio

from flow_engine.storage import records
from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.configs import (
    ConfigChange,
    ConfigListener,
    ConfigStore,
    ConfigVersion,
    StaleVersions,
)
from flow_engine.storage.memory_backend import MemoryBackend


class MemoryConfigs(ConfigStore):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b

    async def get_raw(self, number: str) -> str | None:
        return self.b.configs.get(number)

    async def numbers(self) -> list[str]:
        return sorted(self.b.configs)

    async def heads(self, numbers: list[str]) -> dict[str, ConfigVersion]:
        return {
            n: records.version_of(self.b.config_versions[n][-1])
            for n in numbers
            if self.b.config_versions.get(n)
        }

    async def versions(
        self, number: str, *, limit: int = 50, offset: int = 0
    ) -> list[ConfigVersion]:
        kept = self.b.config_versions.get(number, [])
        if limit <= 0 or offset >= len(kept):
            return []
        newest = len(kept) - max(offset, 0)
        return [records.version_of(r) for r in reversed(kept[max(newest - limit, 0) : newest])]

    async def version(self, number: str, version: int) -> ConfigVersion | None:
        kept = self.b.config_versions.get(number, [])
        if not 1 <= version <= len(kept):
            return None
        return records.version_of(kept[version - 1])

    async def commit(
        self, changes: list[ConfigChange], audit: list[AuditEntry] | None = None
    ) -> list[ConfigVersion]:
        records.check_changes(changes)
        # check everything, then write everything: no await in between
        stale = {
            c.number: len(self.b.config_versions.get(c.number, []))
            for c in changes
            if len(self.b.config_versions.get(c.number, [])) != c.expected_version
        }
        if stale:
            raise StaleVersions(stale)
        written = []
        for c in changes:
            record = records.version_json(c)
            self.b.config_versions.setdefault(c.number, []).append(record)
            self.b.configs[c.number] = records.config_json(c.config)
            written.append(records.version_of(record))
        self.b.append_audit(audit or [])
        if changes:
            self.b.config_generation += 1
            numbers = [c.number for c in changes]
            for listener in list(self.b.config_listeners):
                listener.changed(self.b.config_generation, numbers)
        return written

    async def watch(self, listener: ConfigListener) -> None:
        """Listeners are told inside :meth:`commit` itself: nothing is ever missed."""
        self.b.config_listeners.append(listener)
        try:
            listener.resync(self.b.config_generation)
            await asyncio.Event().wait()
        finally:
            self.b.config_listeners.remove(listener)
            listener.lost()
