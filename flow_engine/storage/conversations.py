"""Conversation records. :meth:`ConversationStore.commit` saves a conversation
(version-checked), appends its outbound messages to the outbox, applies its timers and
removes the inbound entry from the queue in one step: a message leaves the queue exactly
when its effects exist — its data facts included."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from flow_engine.domain.conversation import Conversation
from flow_engine.domain.facts import Facts
from flow_engine.storage.outbox import OutboxEntry, OutboxItem, SendClaim
from flow_engine.storage.queue import QueueEntry, ScheduledEvent


@dataclass(frozen=True)
class Retention:
    """How long an idle conversation record is kept (restarted by every commit; 0: for
    ever), and how long after its last message the contact is still *known*: a record
    that expired while the contact is known starts again as a returning contact's
    (:attr:`Conversation.returning`). A contact retention not longer than the
    conversation's keeps no mark: a contact coming back after the record expired is a
    first contact again."""

    conversation_s: float = 0.0
    contact_s: float = 0.0

    @property
    def marks_contacts(self) -> bool:
        return self.contact_s > self.conversation_s > 0


@dataclass
class CommitResult:
    outbox: list[OutboxEntry] = field(default_factory=list)
    #: outbox entries of this conversation still unsent when the commit happened; when
    #: not 0, those go out first (a previous owner of the partition may be sending them)
    unsent_before: int = 0


class ConversationStore(ABC):
    @abstractmethod
    async def load(self, partition: int, number: str, contact: str) -> Conversation | None:
        """The saved record; a new record (version 0, ``returning``, the contact's
        ``first_seen``) when it expired but the contact is still known (:class:`Retention`);
        None for a contact never seen, or forgotten. Each call returns an object of its
        own (the runtime changes it in place during a turn)."""

    @abstractmethod
    async def commit(
        self,
        partition: int,
        conversation: Conversation,
        entry: QueueEntry | None,
        outbox: list[OutboxItem],
        schedule: list[ScheduledEvent] | None = None,
        facts: Facts | None = None,
        claim: SendClaim | None = None,
    ) -> CommitResult:
        """Save ``conversation`` if the stored version is ``conversation.version``
        (saving it as version + 1), append ``outbox``, apply ``schedule``, append
        ``facts`` to the partition's fact stream (``rollups.py``) and remove ``entry``
        from the inbound queue, all at once. Raises VersionConflict otherwise. With
        ``claim``, the send claim of every appended entry is taken in the same step (as
        :meth:`Outbox.claim` would take it), and the entries returned carry
        ``claimed_at``."""
