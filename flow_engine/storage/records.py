"""JSON records of the admin data, shared by both backends (memory stores the same
strings Redis does, so neither lets a caller mutate stored state)."""

from __future__ import annotations

import json
from typing import Any

from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.configs import ConfigChange, ConfigVersion

#: audit entries kept (newest first); older ones are trimmed on each append
AUDIT_KEPT = 200_000


def config_json(config: dict[str, Any]) -> str:
    """The configuration in force as stored: what ``ConfigStore.get_raw`` returns."""
    return json.dumps(config)


def version_json(change: ConfigChange) -> str:
    """The record of the version ``change`` writes (``expected_version + 1``)."""
    return json.dumps(
        {
            "number": change.number,
            "version": change.expected_version + 1,
            "config": change.config,
            "author": change.author,
            "at": change.at,
            "summary": change.summary,
            "source": change.source,
            "digest": change.digest,
            "changed_at": change.changed_at,
            **({"author_email": change.author_email} if change.author_email else {}),
        }
    )


def version_of(raw: bytes | str) -> ConfigVersion:
    d = json.loads(raw)
    return ConfigVersion(
        number=d["number"],
        version=int(d["version"]),
        config=d["config"],
        author=d["author"],
        at=float(d["at"]),
        summary=d["summary"],
        source=d["source"],
        digest=d["digest"],
        changed_at={k: float(v) for k, v in d.get("changed_at", {}).items()},
        author_email=d.get("author_email"),
    )


def audit_json(entry: AuditEntry) -> str:
    return json.dumps(
        {
            "at": entry.at,
            "actor": entry.actor,
            "action": entry.action,
            "summary": entry.summary,
            "number": entry.number,
            "target": entry.target,
            "details": entry.details,
        }
    )


def audit_of(raw: bytes | str) -> AuditEntry:
    d = json.loads(raw)
    return AuditEntry(
        at=float(d["at"]),
        actor=d["actor"],
        action=d["action"],
        summary=d["summary"],
        number=d.get("number"),
        target=d.get("target"),
        details=d.get("details") or {},
    )


class AuditFilter:
    """The filter of ``AuditLog.entries``: numbers (None: all numbered entries), the
    entries without a number when ``include_global``, exact actor, exact action or an
    action prefix (``config.*``)."""

    def __init__(
        self,
        numbers: set[str] | None,
        include_global: bool,
        actor: str | None,
        action: str | None,
    ) -> None:
        self.numbers = numbers
        self.include_global = include_global
        self.actor = actor
        self.prefix = action[:-1] if action is not None and action.endswith(".*") else None
        self.action = action

    def __call__(self, entry: AuditEntry) -> bool:
        if entry.number is None:
            if not self.include_global:
                return False
        elif self.numbers is not None and entry.number not in self.numbers:
            return False
        if self.actor is not None and entry.actor != self.actor:
            return False
        if self.prefix is not None:
            return entry.action.startswith(self.prefix)
        return self.action is None or entry.action == self.action


def check_changes(changes: list[ConfigChange]) -> None:
    """At most one change per number in a commit."""
    seen: set[str] = set()
    for change in changes:
        if change.number in seen:
            raise ValueError(f"two changes for number {change.number} in one commit")
        seen.add(change.number)
