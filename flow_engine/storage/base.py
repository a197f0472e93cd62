"""Storage interfaces. Two backends implement each: memory (embedded) and Redis.

The interfaces follow what must be atomic, not table shapes:

- :class:`InboundQueue` dedupes a gateway message id and appends the message to
  its partition's queue in one step, so a redelivery can never both pass the
  dedupe and be lost;
- :class:`ConversationStore.commit` saves a conversation (version-checked), appends
  its outbound messages to the outbox and removes the inbound entry from the
  queue in one step: a message leaves the queue exactly when its effects exist.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flow_engine.domain.conversation import Conversation
from flow_engine.domain.inbound import AccountEvent, InboundMessage, StatusUpdate

if TYPE_CHECKING:
    from flow_engine.storage.tickets import TicketStore


def entry_order(entry_id: str) -> tuple[int, int]:
    """Sort key of a queue entry id (``<ms>-<seq>``, as Redis streams write them)."""
    if not entry_id:
        return (-1, -1)
    ms, _, seq = entry_id.partition("-")
    return (int(ms), int(seq or 0))


@dataclass(frozen=True)
class QueueEntry:
    """An inbound message waiting in its partition's queue."""

    id: str
    partition: int
    message: InboundMessage


@dataclass(frozen=True)
class OutboxItem:
    """A reply to send: ``kind`` is ``send`` (``message`` is an OutboundMessage as JSON)
    or ``read`` (mark ``message["message_id"]`` as read)."""

    number: str
    contact: str
    key: str  # idempotency key: "<inbound message id>:<step>"
    kind: str
    message: dict[str, Any]


@dataclass(frozen=True)
class OutboxEntry:
    id: str
    partition: int
    item: OutboxItem


@dataclass(frozen=True)
class ScheduledEvent:
    """A message to put in the conversation's queue at ``due`` (unix seconds), or, with
    ``due`` None, the cancellation of the job ``job_id``. Re-scheduling a job id moves it."""

    job_id: str
    due: float | None
    message: InboundMessage | None = None


@dataclass
class CommitResult:
    outbox: list[OutboxEntry] = field(default_factory=list)
    #: outbox entries of this conversation still unsent when the commit happened; when
    #: not 0, those go out first (a previous owner of the partition may be sending them)
    unsent_before: int = 0


class InboundQueue(ABC):
    """Per-partition durable queues of inbound messages."""

    @abstractmethod
    async def enqueue(self, partition: int, message: InboundMessage) -> bool:
        """Dedupe on ``message.message_id`` and append; False if it was seen before."""

    async def enqueue_many(self, items: list[tuple[int, InboundMessage]]) -> list[bool]:
        return [await self.enqueue(p, m) for p, m in items]

    @abstractmethod
    async def read(
        self, partition: int, after: str, count: int, block_ms: int
    ) -> list[QueueEntry]:
        """Entries after id ``after`` (``"0-0"`` for all), waiting up to ``block_ms``."""

    @abstractmethod
    async def discard(self, entry: QueueEntry) -> None:
        """Remove an entry without effects (already handled, or nothing to do)."""

    @abstractmethod
    async def release_due(self, partition: int, now: float, limit: int = 100) -> int:
        """Move scheduled events due by ``now`` into the partition's queue, each exactly
        once; returns how many moved."""

    @abstractmethod
    async def dead_letter(self, entry: QueueEntry, error: str) -> None:
        """Move an entry that cannot be processed to the partition's dead letters."""

    @abstractmethod
    async def depth(self) -> int:
        """Inbound messages not yet handled, over all partitions."""


class ConversationStore(ABC):
    @abstractmethod
    async def load(self, partition: int, number: str, contact: str) -> Conversation | None:
        """The saved record, or None for a contact never seen."""

    @abstractmethod
    async def commit(
        self,
        partition: int,
        conversation: Conversation,
        entry: QueueEntry | None,
        outbox: list[OutboxItem],
        schedule: list[ScheduledEvent] | None = None,
    ) -> CommitResult:
        """Save ``conversation`` if the stored version is ``conversation.version``
        (saving it as version + 1), append ``outbox``, apply ``schedule`` and remove
        ``entry`` from the inbound queue, all at once. Raises VersionConflict otherwise."""


class Outbox(ABC):
    @abstractmethod
    async def pending(self, partition: int) -> list[OutboxEntry]:
        """Every unsent outbox entry of the partition, oldest first."""

    @abstractmethod
    async def was_sent(self, partition: int, key: str) -> bool: ...

    @abstractmethod
    async def claim(self, entry: OutboxEntry, owner: str, ttl_ms: int) -> str:
        """Before each send attempt: ``"ok"`` (``owner`` may send for ``ttl_ms``),
        ``"sent"`` (already sent: skip) or ``"busy"`` (another process is sending it)."""

    @abstractmethod
    async def complete(self, entry: OutboxEntry, gateway_id: str | None) -> None:
        """Mark the entry's key as sent (for the dedupe TTL), drop its claim, remove it."""

    @abstractmethod
    async def depth(self) -> int: ...


class LeaseStore(ABC):
    """Partition ownership across engine processes."""

    @abstractmethod
    async def acquire(self, partition: int, owner: str, ttl_ms: int) -> bool: ...

    @abstractmethod
    async def renew(self, partition: int, owner: str, ttl_ms: int) -> bool: ...

    async def renew_many(self, partitions: list[int], owner: str, ttl_ms: int) -> list[bool]:
        """Renew several leases at once (one round trip where the backend can)."""
        return [await self.renew(p, owner, ttl_ms) for p in partitions]

    @abstractmethod
    async def release(self, partition: int, owner: str) -> None: ...

    @abstractmethod
    async def heartbeat(self, owner: str, ttl_ms: int) -> int:
        """Announce ``owner`` alive; return how many processes are alive."""

    @abstractmethod
    async def leave(self, owner: str) -> None: ...


class RateLimiter(ABC):
    @abstractmethod
    async def reserve(self, number: str, per_second: float) -> float:
        """Reserve one send slot for ``number``; return seconds to wait before using it."""


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who changed what (R-CONF-5, issue 5)."""

    at: float
    actor: str  # "admin" (the super-admin token) or "member:<id>"
    action: str  # e.g. "config.put", "config.bulk", "member.create"
    summary: str
    number: str | None = None  # the number concerned, when there is one
    target: str | None = None  # the profile/member/token id concerned, when there is one
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigVersion:
    """One stored version of a number's configuration. Versions count 1, 2, 3… per number;
    the newest is the configuration in force."""

    number: str
    version: int
    config: dict[str, Any]
    author: str
    at: float
    summary: str
    source: str  # "api", "bulk", "replicate", "restore", "upgrade", "templates", "file", "system"
    digest: str  # sha256 of the canonical JSON of ``config``
    #: last change time of each top-level key of the configuration (``templates`` → when
    #: the active templates last changed), carried from version to version
    changed_at: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigChange:
    """A new version to write, computed from version ``expected_version`` (0: the number
    has no configuration yet)."""

    number: str
    expected_version: int
    config: dict[str, Any]
    author: str
    summary: str
    source: str
    at: float
    digest: str
    changed_at: dict[str, float] = field(default_factory=dict)


class StaleVersions(Exception):
    """A commit refused because some numbers moved on: ``actual`` maps each such number
    to its current version. Nothing was written."""

    def __init__(self, actual: dict[str, int]) -> None:
        super().__init__(f"stale versions: {actual}")
        self.actual = actual


class ConfigStore(ABC):
    """Number configurations as JSON documents (validated by the caller), with every
    version kept. Writes go through :meth:`commit`, all or nothing."""

    @abstractmethod
    async def get_raw(self, number: str) -> str | None:
        """The configuration in force, as stored (read by the runtime on every message)."""

    async def get(self, number: str) -> dict[str, Any] | None:
        raw = await self.get_raw(number)
        return None if raw is None else dict(json.loads(raw))

    @abstractmethod
    async def numbers(self) -> list[str]:
        """Every number with a configuration, sorted."""

    @abstractmethod
    async def heads(self, numbers: list[str]) -> dict[str, ConfigVersion]:
        """The newest version of each number that has one (absent numbers are left out)."""

    async def head(self, number: str) -> ConfigVersion | None:
        return (await self.heads([number])).get(number)

    @abstractmethod
    async def versions(
        self, number: str, *, limit: int = 50, offset: int = 0
    ) -> list[ConfigVersion]:
        """Versions newest first, skipping ``offset``."""

    @abstractmethod
    async def version(self, number: str, version: int) -> ConfigVersion | None: ...

    @abstractmethod
    async def commit(
        self, changes: list[ConfigChange], audit: list[AuditEntry] | None = None
    ) -> list[ConfigVersion]:
        """Write every change as its number's next version, set it in force, and append
        ``audit`` — in one atomic step. If any number's current version is not the change's
        ``expected_version``, write nothing and raise :class:`StaleVersions`. At most one
        change per number."""

    async def put(
        self, number: str, config: dict[str, Any], *, author: str = "system"
    ) -> ConfigVersion:
        """Write ``config`` as a new version whatever the current one is (seeding, tests)."""
        while True:
            head = await self.head(number)
            change = new_change(
                head, number, config, author=author, summary="set", source="system"
            )
            try:
                return (await self.commit([change]))[0]
            except StaleVersions:
                continue


def config_digest(config: dict[str, Any]) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_change(
    head: ConfigVersion | None,
    number: str,
    config: dict[str, Any],
    *,
    author: str,
    summary: str,
    source: str,
    at: float | None = None,
) -> ConfigChange:
    """The change that makes ``config`` the version after ``head``; ``changed_at`` carries
    over, with the time of each top-level key that differs from ``head``."""
    at = time.time() if at is None else at
    before = head.config if head else {}
    changed_at = dict(head.changed_at) if head else {}
    for key in set(before) | set(config):
        if before.get(key) != config.get(key):
            changed_at[key] = at
    return ConfigChange(
        number=number,
        expected_version=head.version if head else 0,
        config=config,
        author=author,
        summary=summary,
        source=source,
        at=at,
        digest=config_digest(config),
        changed_at=changed_at,
    )


class AuditLog(ABC):
    """Who changed what, newest first. Appended to atomically with the change itself by
    :meth:`ConfigStore.commit` and :meth:`DirectoryStore.swap`."""

    @abstractmethod
    async def append(self, entries: list[AuditEntry]) -> None: ...

    @abstractmethod
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
        """Newest first. ``numbers`` (None: all) keeps entries of those numbers, plus the
        entries without a number when ``include_global``; ``actor``/``action`` filter
        exactly (``action`` may end in ``.*`` for a prefix)."""


class DirectoryStore(ABC):
    """The access directory (profiles, members, links, tokens, owners: ``admin/directory.py``)
    as one versioned JSON document, replaced by compare-and-swap."""

    @abstractmethod
    async def load(self) -> tuple[int, str | None]:
        """``(version, document)``; ``(0, None)`` before the first swap."""

    @abstractmethod
    async def current_version(self) -> int:
        """The version alone (cheap: checked on every API request)."""

    @abstractmethod
    async def swap(self, expected: int, document: str, audit: list[AuditEntry]) -> int | None:
        """Store ``document`` as version ``expected + 1`` and append ``audit``, atomically,
        if the version is still ``expected``; return the new version, or None (nothing
        written) if another writer got there first."""


class EventLog(ABC):
    """Delivery statuses and account events, kept for metrics."""

    @abstractmethod
    async def record_statuses(self, statuses: list[StatusUpdate]) -> None: ...

    @abstractmethod
    async def record_events(self, events: list[AccountEvent]) -> None: ...

    @abstractmethod
    async def statuses(self, number: str, limit: int = 100) -> list[StatusUpdate]:
        """Newest last."""

    @abstractmethod
    async def record_send_failure(
        self, number: str, contact: str, key: str, code: int | None, reason: str
    ) -> None: ...

    @abstractmethod
    async def send_failures(self, number: str, limit: int = 100) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def record_survey(
        self, number: str, contact: str, kind: str, score: int, ticket_id: str, at: float
    ) -> None:
        """A survey answer (R-FLOW-11), kept for the metrics."""

    @abstractmethod
    async def surveys(self, number: str, limit: int = 100) -> list[dict[str, Any]]:
        """Newest last."""


@dataclass
class Storage:
    """All state of the engine, from one backend."""

    queue: InboundQueue
    conversations: ConversationStore
    outbox: Outbox
    leases: LeaseStore
    rates: RateLimiter
    configs: ConfigStore
    events: EventLog
    tickets: TicketStore
    audit: AuditLog
    directory: DirectoryStore
    backend: Any = None  # the backend object, for ping() and close()

    async def ping(self) -> bool:
        result: bool = await self.backend.ping()
        return result

    async def close(self) -> None:
        await self.backend.close()
