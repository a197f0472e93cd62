"""The health store (R-HEALTH, R-ACTIVATE): each number's standing with the gateway, its
daily snapshots, its class changes and account events, the jobs of the health service,
the lease of the daily read, and where each number's activation stands.

Two backends: ``memory_health.py`` and ``redis_health.py``; one contract test suite runs
on both (``tests/health/test_store_contract.py``). What must be atomic:

- :meth:`HealthStore.update` saves a number's record version-checked, and in the same step
  its snapshot of the day, the class change it caused and the jobs that change needs (the
  alert to post, the listeners to tell): a change is recorded exactly when it happens;
- :meth:`HealthStore.record_event` keeps an event once, however often it is redelivered;
- jobs (:meth:`schedule`, :meth:`claim`, :meth:`finish`) are claimed for a while by one
  process; one not finished (the process died) comes due again when the claim runs out, and
  one scheduled again while claimed runs again after;
- :meth:`daily_begin` lets one process at a time run the day's read, and none once the day
  is done; :meth:`claim_code_request` refuses a second code request within the interval.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from flow_engine.domain.activation import ActivationRecord
from flow_engine.domain.health import ClassChange, DailySnapshot, HealthEvent, NumberHealth
from flow_engine.errors import VersionConflict

UPDATE_ATTEMPTS = 10
DailyState = Literal["ok", "busy", "done"]
#: What a change of a record brings: the record after, the change of class it caused, and
#: the snapshot of the day to keep (None: keep none).
Outcome = tuple[NumberHealth, ClassChange | None, DailySnapshot | None]


@dataclass(frozen=True)
class Job:
    """Work for the health service: ``kind`` (``refresh``: key is a number; ``alert`` and
    ``change``: key is a change id), its ``payload`` (JSON text, may be empty), how many
    ``attempts`` failed so far, and ``token``: the due time it was claimed under."""

    kind: str
    key: str
    payload: str = ""
    attempts: int = 0
    token: float = 0.0


@dataclass(frozen=True)
class NewJob:
    """A job to schedule: due at ``due``. ``replace`` moves an existing job's due time (a
    refresh asked again); otherwise an existing job with that key is left as it is."""

    kind: str
    key: str
    due: float
    payload: str = ""
    replace: bool = False


class HealthStore(ABC):
    # ------------------------------------------------------------------ records
    @abstractmethod
    async def get(self, number: str) -> NumberHealth | None: ...

    @abstractmethod
    async def many(self, numbers: list[str]) -> dict[str, NumberHealth]:
        """The records of those numbers that have one."""

    @abstractmethod
    async def _save(
        self,
        expected_version: int,
        after: NumberHealth,
        snapshot: DailySnapshot | None,
        oldest_day: str,
        change: ClassChange | None,
        jobs: list[NewJob],
    ) -> bool:
        """If the stored version of ``after.number`` is ``expected_version`` (0: none
        stored), store ``after`` (its version already ``expected_version + 1``), put
        ``snapshot`` as its day's (dropping snapshots before ``oldest_day``), append
        ``change`` and schedule ``jobs``, all at once; False (nothing written) otherwise."""

    async def update(
        self,
        number: str,
        change: Callable[[NumberHealth], Outcome],
        *,
        oldest_day: str,
        jobs: Callable[[ClassChange], list[NewJob]] = lambda _c: [],
    ) -> tuple[NumberHealth, ClassChange | None]:
        """Load the record (a new one when there is none), apply ``change`` and save the
        outcome if nobody saved the record meanwhile (optimistic; ``change`` must be pure);
        a class change is saved with ``jobs(change)``. Returns the record saved and the
        change. VersionConflict when every attempt lost a race."""
        for attempt in range(UPDATE_ATTEMPTS):
            current = await self.get(number) or NumberHealth(number=number)
            after, klass, snapshot = change(current)
            if after == current and snapshot is None:
                return current, None
            saved = after.model_copy(update={"version": current.version + 1})
            todo = jobs(klass) if klass is not None else []
            if await self._save(current.version, saved, snapshot, oldest_day, klass, todo):
                return saved, klass
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise VersionConflict(
            f"the health record of {number} kept changing; gave up after {UPDATE_ATTEMPTS}",
            details={"number": number},
        )

    @abstractmethod
    async def snapshots(self, number: str) -> list[DailySnapshot]:
        """The number's daily snapshots, oldest day first."""

    @abstractmethod
    async def changes(self, number: str, limit: int = 100) -> list[ClassChange]:
        """Class changes, newest first."""

    # ------------------------------------------------------------------ events
    @abstractmethod
    async def record_event(self, event: HealthEvent) -> bool:
        """Keep ``event`` in its number's history; False when its id is kept already."""

    @abstractmethod
    async def events(self, number: str, limit: int = 100) -> list[HealthEvent]:
        """The number's events, newest recorded first."""

    # ------------------------------------------------------------------ jobs
    @abstractmethod
    async def schedule(self, jobs: list[NewJob]) -> None: ...

    @abstractmethod
    async def claim(self, kind: str, now: float, lease_s: float, limit: int = 50) -> list[Job]:
        """Jobs of ``kind`` due by ``now``, each claimed until ``now + lease_s`` (their
        ``token``); earliest due first."""

    @abstractmethod
    async def finish(self, job: Job) -> bool:
        """Drop a claimed job, unless it was scheduled again since (then False: it runs
        again)."""

    @abstractmethod
    async def retry(self, job: Job, due: float) -> bool:
        """Make a claimed job due again at ``due`` with one more failed attempt (False, and
        nothing changed, when it was scheduled again since)."""

    @abstractmethod
    async def pending(self, kind: str) -> int:
        """Jobs of ``kind`` waiting or claimed."""

    # ------------------------------------------------------------------ the daily read
    @abstractmethod
    async def daily_begin(self, day: str, owner: str, now: float, ttl_s: float) -> DailyState:
        """``done`` when ``day``'s read is done; ``busy`` when another owner holds an
        unexpired lease; else ``ok``: ``owner`` holds the lease until ``now + ttl_s``."""

    @abstractmethod
    async def daily_renew(self, day: str, owner: str, now: float, ttl_s: float) -> bool:
        """Extend ``owner``'s lease; False when it is no longer theirs."""

    @abstractmethod
    async def daily_finish(self, day: str, owner: str) -> bool:
        """Mark ``day`` done and drop the lease, if ``owner`` still holds it."""

    @abstractmethod
    async def daily_done(self) -> str | None:
        """The last day whose read is done."""

    # ------------------------------------------------------------------ activation
    @abstractmethod
    async def activation(self, number: str) -> ActivationRecord | None: ...

    @abstractmethod
    async def claim_code_request(
        self, number: str, now: float, interval_s: float, method: str
    ) -> float:
        """Record a code request at ``now``, unless one was recorded less than
        ``interval_s`` ago: then record nothing and return the seconds left (else 0)."""

    @abstractmethod
    async def cancel_code_request(self, number: str, at: float) -> None:
        """Forget the request recorded at ``at`` (the gateway refused it)."""

    @abstractmethod
    async def mark_activation(
        self, number: str, *, verified_at: float | None = None, registered_at: float | None = None
    ) -> None:
        """Set the times given (a registration clears ``verified_at``)."""

    @abstractmethod
    async def keep_pin(self, number: str, pin: str | None) -> None:
        """Keep the number's two-step PIN for later registrations (never shown); None
        forgets it."""

    @abstractmethod
    async def pin(self, number: str) -> str | None: ...
