"""The directory as a service: read it cheaply on every request, change it atomically."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from flow_engine.admin.directory import Directory
from flow_engine.admin.permissions import Principal
from flow_engine.errors import Conflict, NotFound
from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.configs import ConfigStore
from flow_engine.storage.directory import DirectoryStore

T = TypeVar("T")

SWAP_ATTEMPTS = 20


class DirectoryService:
    """Keeps the parsed directory of the last version seen: each request costs one read of
    the version number, and a reload only when another process changed the directory.
    Nobody is linked to a number without a configuration (``configs``), whichever route
    or page links them."""

    def __init__(
        self,
        store: DirectoryStore,
        configs: ConfigStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.configs = configs
        self.clock = clock
        self._cached: tuple[int, Directory] = (0, Directory())

    async def _fresh(self) -> Directory:
        """The cached directory, reloaded if another writer moved it on (never mutate)."""
        version = await self.store.current_version()
        if version != self._cached[0]:
            version, raw = await self.store.load()
            self._cached = (version, Directory.model_validate_json(raw) if raw else Directory())
        return self._cached[1]

    async def current(self) -> Directory:
        """A copy of the current directory, free to change (changes are not stored)."""
        return (await self._fresh()).model_copy(deep=True)

    async def authenticate(self, token: str) -> Principal | None:
        """The principal of a member token, from the directory as it is now: a token
        revoked by any process stops working at its next request."""
        return (await self._fresh()).authenticate(token)

    async def change(
        self,
        apply: Callable[[Directory], T],
        audit: Callable[[T, float], list[AuditEntry]],
    ) -> T:
        """Run ``apply`` on a fresh copy of the directory and store the result with its audit
        entries, atomically; retried from a fresh copy when another writer won the race.
        An exception from ``apply`` leaves everything as it was; so does a new link to a
        number without a configuration (404 naming the numbers). A change that changes
        nothing and records nothing (no audit entry) writes nothing."""
        for _ in range(SWAP_ATTEMPTS):
            version, raw = await self.store.load()
            doc = Directory.model_validate_json(raw) if raw else Directory()
            before = {m.id: m.numbers for m in doc.members.values()}
            result = apply(doc)
            await self._configured(new_numbers(before, doc))
            now = self.clock()
            entries, new_raw = audit(result, now), doc.model_dump_json()
            if not entries and new_raw == raw:
                return result
            new_version = await self.store.swap(version, new_raw, entries)
            if new_version is not None:
                self._cached = (new_version, doc.model_copy(deep=True))
                return result
        raise Conflict("the directory is changing too fast: try again")

    async def _configured(self, numbers: list[str]) -> None:
        if not numbers:
            return
        missing = sorted(set(numbers) - await self.configs.present(numbers))
        if missing:
            raise NotFound(
                "numbers without configuration: " + ", ".join(missing),
                details={"numbers": missing},
            )


def new_numbers(before: dict[str, list[str]], after: Directory) -> list[str]:
    """The numbers members of ``after`` are linked to and were not in ``before`` (member id
    -> numbers)."""
    return sorted(
        {
            n
            for m in after.members.values()
            for n in set(m.numbers).difference(before.get(m.id, ()))
        }
    )
