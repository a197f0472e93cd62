"""Every storage key is built here; nothing formats a key inline.

Two kinds of hash tag let a Redis Cluster shard the data:

- conversation-scoped keys (inbound queue, outbox, dedupe marks, conversation
  records, sent marks, partition leases) carry the tag of their *partition*
  ``{q<n>}``, derived from (number, contact). One Lua script can therefore
  dedupe + enqueue a message, or save a conversation + its outbox + the queue
  ack, atomically: all those keys share a slot.
- number-scoped keys (configuration, rate limit, statuses) carry ``{n<number>}``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

PREFIX = "fe"


def partition_of(number: str, contact: str, partitions: int) -> int:
    """The partition of a conversation: stable across processes and restarts."""
    return zlib.crc32(f"{number}:{contact}".encode()) % partitions


@dataclass(frozen=True)
class ConversationKey:
    number: str
    contact: str


@dataclass(frozen=True)
class KeyBuilder:
    prefix: str = PREFIX

    def _q(self, partition: int) -> str:
        return f"{self.prefix}:{{q{partition}}}"

    def _n(self, number: str) -> str:
        return f"{self.prefix}:{{n{number}}}"

    # conversation-scoped (partition slot)
    def inbound(self, partition: int) -> str:
        return f"{self._q(partition)}:inbound"

    def outbox(self, partition: int) -> str:
        return f"{self._q(partition)}:outbox"

    def dead_letters(self, partition: int) -> str:
        return f"{self._q(partition)}:dead"

    def dedupe(self, partition: int, message_id: str) -> str:
        return f"{self._q(partition)}:dedupe:{message_id}"

    def conversation(self, partition: int, number: str, contact: str) -> str:
        return f"{self._q(partition)}:conv:{number}:{contact}"

    def sent(self, partition: int, idempotency_key: str) -> str:
        return f"{self._q(partition)}:sent:{idempotency_key}"

    def schedule(self, partition: int) -> str:
        return f"{self._q(partition)}:schedule"

    def jobs(self, partition: int) -> str:
        return f"{self._q(partition)}:jobs"

    def claim(self, partition: int, idempotency_key: str) -> str:
        return f"{self._q(partition)}:claim:{idempotency_key}"

    def lease(self, partition: int) -> str:
        return f"{self._q(partition)}:lease"

    # number-scoped
    def config(self, number: str) -> str:
        return f"{self._n(number)}:config"

    def rate(self, number: str) -> str:
        return f"{self._n(number)}:rate"

    def statuses(self, number: str) -> str:
        return f"{self._n(number)}:statuses"

    def surveys(self, number: str) -> str:
        return f"{self._n(number)}:surveys"

    def send_failures(self, number: str) -> str:
        return f"{self._n(number)}:send_failures"

    # global
    def numbers(self) -> str:
        return f"{self.prefix}:numbers"

    def processes(self) -> str:
        return f"{self.prefix}:processes"

    def events(self) -> str:
        return f"{self.prefix}:events"
