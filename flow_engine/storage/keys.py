"""Every storage key is built here; nothing formats a key inline.

Three kinds of hash tag let a Redis Cluster shard the data:

- conversation-scoped keys (inbound queue, outbox, dedupe marks, conversation
  records and the known-contact marks kept after them, sent marks, partition leases)
  carry the tag of their *partition*
  ``{q<n>}``, derived from (number, contact). One Lua script can therefore
  dedupe + enqueue a message, or save a conversation + its outbox + the queue
  ack, atomically: all those keys share a slot.
- number-scoped keys (rate limit, statuses, tickets, data rollups) carry ``{n<number>}``:
  a ticket change and the rollup facts it causes are one script.
- admin data carries one tag, ``{admin}``, so one Lua script can commit a bulk change
  of hundreds of numbers' configurations with its audit entries atomically (and a
  cluster serves it from one slot):

  - ``fe:{admin}:cfg:<number>`` — string, the configuration in force (JSON): each
    process keeps what it read until a commit says it changed;
  - ``fe:{admin}:cfggen`` — integer, commits of configurations so far; every commit
    also publishes ``<generation> <number>…`` on the channel of the same name, which is
    how each process's cache learns of it (``redis_configs.py``);
  - ``fe:{admin}:cfgv:<number>`` — list, every version record of the number, oldest
    first: version n is item n - 1, the current version is the list length;
  - ``fe:{admin}:numbers`` — set of the numbers with a configuration;
  - ``fe:{admin}:audit`` — list of audit entries, newest first, trimmed to
    ``records.AUDIT_KEPT`` (200 000);
  - ``fe:{admin}:dir`` / ``fe:{admin}:dirv`` — the access directory document and its
    version (compare-and-swap).

Sign-in sessions of the web console and failed sign-ins carry ``{console}``:
``fe:{console}:session:<hash of the session id>`` and
``fe:{console}:signin_failures:<hash>``, each with a TTL.
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

    def _admin(self) -> str:
        return f"{self.prefix}:{{admin}}"

    # conversation-scoped (partition slot)
    def inbound(self, partition: int) -> str:
        return f"{self._q(partition)}:inbound"

    def outbox(self, partition: int) -> str:
        return f"{self._q(partition)}:outbox"

    def outbox_retry(self, partition: int) -> str:
        """Hash: outbox entry id → its retry state (due, attempts, first try)."""
        return f"{self._q(partition)}:outbox_retry"

    def dead_letters(self, partition: int) -> str:
        return f"{self._q(partition)}:dead"

    def dedupe(self, partition: int, message_id: str) -> str:
        return f"{self._q(partition)}:dedupe:{message_id}"

    def conversation(self, partition: int, number: str, contact: str) -> str:
        return f"{self._q(partition)}:conv:{number}:{contact}"

    def known_contact(self, partition: int, number: str, contact: str) -> str:
        """The contact wrote to the number before (kept longer than the conversation)."""
        return f"{self._q(partition)}:known:{number}:{contact}"

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

    def facts(self, partition: int) -> str:
        """Stream of the data facts the partition's commits and sends recorded, until they
        are folded into the numbers' rollups (``redis_rollups.py``)."""
        return f"{self._q(partition)}:facts"

    # admin slot
    def config(self, number: str) -> str:
        return f"{self._admin()}:cfg:{number}"

    def config_generation(self) -> str:
        """The commit counter, and the name of the channel commits are published on."""
        return f"{self._admin()}:cfggen"

    def config_versions(self, number: str) -> str:
        return f"{self._admin()}:cfgv:{number}"

    def numbers(self) -> str:
        return f"{self._admin()}:numbers"

    def audit(self) -> str:
        return f"{self._admin()}:audit"

    def directory(self) -> str:
        return f"{self._admin()}:dir"

    def directory_version(self) -> str:
        return f"{self._admin()}:dirv"

    # console slot: sessions and failed sign-ins (keys are hashes, never secrets)
    def session(self, key: str) -> str:
        return f"{self.prefix}:{{console}}:session:{key}"

    def signin_failures(self, key: str) -> str:
        return f"{self.prefix}:{{console}}:signin_failures:{key}"

    # number-scoped
    def rate(self, number: str) -> str:
        return f"{self._n(number)}:rate"

    def statuses(self, number: str) -> str:
        return f"{self._n(number)}:statuses"

    def surveys(self, number: str) -> str:
        return f"{self._n(number)}:surveys"

    def survey_answer(self, number: str, answer_id: str) -> str:
        """Marks a survey answer recorded (its inbound message id), beside the surveys."""
        return f"{self._n(number)}:survey_answer:{answer_id}"

    def send_failures(self, number: str) -> str:
        return f"{self._n(number)}:send_failures"

    def rollup(self, number: str, part: str, month: str) -> str:
        """String of 64-bit lanes (BITFIELD) of one part of a number's local month: every
        day of the month side by side (``redis_rollups.py``)."""
        return f"{self._n(number)}:r:{part}:{month}"

    def rollup_blocks(self, number: str) -> str:
        """Hash: ``<part>|<block name>`` -> block index in the number's rollup strings."""
        return f"{self._n(number)}:rblocks"

    def rollup_mark(self, number: str, mark: str) -> str:
        """Marks a fact applied once (``Rollups.apply_once``)."""
        return f"{self._n(number)}:rmark:{mark}"

    def rollup_cursor(self, number: str) -> str:
        """Hash: partition -> id of the last fact of that partition folded for the number."""
        return f"{self._n(number)}:rcursor"

    def actives(self, number: str, kind: str, month: str) -> str:
        """HyperLogLog of the contacts active (``mau``/``mis``) in a local month."""
        return f"{self._n(number)}:act:{kind}:{month}"

    def scratch(self, tag: str, index: int) -> str:
        """Temporary keys sharing one slot (``{s<tag>}``), e.g. to union HyperLogLogs."""
        return f"{self.prefix}:{{s{tag}}}:{index}"

    # global
    def processes(self) -> str:
        return f"{self.prefix}:processes"

    def events(self) -> str:
        return f"{self.prefix}:events"
