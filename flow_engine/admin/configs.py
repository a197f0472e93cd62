"""Changing number configurations (R-CONF-1 … R-CONF-6): one number, many at once, from a
reference, replication of the human-service settings, restores, flow upgrades, templates.

Every write is validated by :class:`NumberConfig` (a refusal lists each bad field by its
path) and carries the version it was computed from, so a stale write is refused instead
of overwriting someone else's change. A write to many numbers is one atomic commit.

Skills are what the engine calls, reads and imports, so a write that attaches, changes or
detaches one needs the ``skills`` module on that number besides the route's own (403
naming the numbers), and every write loads the skills of the result as the start does
(a 422 naming ``skills.N.path`` / ``url`` / ``target`` and why): ``skills_guard.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from flow_engine.admin.config_paths import check_copy_paths
from flow_engine.admin.jsondoc import copy_paths, diff, merge_patch, summarize
from flow_engine.admin.permissions import Principal
from flow_engine.admin.skills_guard import SkillCheck, SkillsGuard
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.flow_versions import FLOW_VERSIONS
from flow_engine.domain.text import WRITTEN
from flow_engine.errors import (
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    UnprocessableEntity,
    validation_message,
)
from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.configs import (
    ConfigChange,
    ConfigStore,
    ConfigVersion,
    StaleVersions,
    new_change,
)

#: The general human-service settings (R-DESK-4) copied by a replication (R-CONF-3):
#: queues, service messages, hours and the desk settings — never the active-messaging
#: settings (``desk.active_messaging``), nor the number's identity, FAQ, skills or templates.
HUMAN_SERVICE_PATHS = [
    "flow.call_center",
    "flow.ticket_inactivity_close_minutes",
    "queue",
    "service",
    "hours",
    "timezone",
    "desk.tags",
]

#: What a bulk edit from a reference number copies by default: everything but the
#: number's identity (id, phone number, name) and its active-messaging settings.
REFERENCE_PATHS = [
    "locale",
    "timezone",
    "flow_version",
    "flow",
    "faq",
    "queue",
    "service",
    "hours",
    "templates",
    "desk.tags",
    "skills",
]

IDENTITY = ("phone_number_id", "display_phone_number")


#: Who writes: a principal (its actor id and e-mail are recorded), or an actor id alone.
Author = Principal | str


def author_of(author: Author) -> tuple[str, str | None]:
    """The actor id and e-mail recorded for ``author``."""
    if isinstance(author, Principal):
        return author.actor, author.email
    return author, None


#: ``if_match`` of a write that may only create the number (the header ``If-None-Match: *``):
#: refused (412) once the number has a configuration. ``"*"`` is ``If-Match: *``: any
#: version in force, refused (412) while the number has none.
CREATE_ONLY = "If-None-Match: *"


def etag_of(version: ConfigVersion) -> str:
    return f'"{version.version}-{version.digest[:16]}"'


def parse_etag(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value


def validate_config(number: str, doc: Any, *, prefix: tuple[str | int, ...] = ()) -> NumberConfig:
    """The configuration ``doc`` (JSON values) for ``number``, or 422 naming every bad field.

    Validated as strict JSON, as every API body is: ``true`` is not 1 and ``"3"`` is not 3
    (a ``daily_limit: true`` read as 1 would stop a number's notifications at the first)."""
    try:
        config = NumberConfig.model_validate_json(
            json.dumps(doc), strict=True, context={WRITTEN: True}
        )
    except ValidationError as exc:
        raise UnprocessableEntity(
            f"invalid configuration for {number}", details=config_errors(number, exc, prefix)
        ) from None
    if config.phone_number_id != number:
        raise UnprocessableEntity(
            f"invalid configuration for {number}",
            details=[
                {
                    "number": number,
                    "field": ".".join(str(p) for p in (*prefix, "phone_number_id")),
                    "message": f"must be {number}, the number in the URL",
                    "type": "number_mismatch",
                }
            ],
        )
    return config


def config_errors(
    number: str, exc: ValidationError, prefix: tuple[str | int, ...] = ()
) -> list[dict[str, Any]]:
    return [
        {
            "number": number,
            "field": ".".join(str(p) for p in (*prefix, *e["loc"])) or "(body)",
            "message": validation_message(e),
            "type": e["type"],
        }
        for e in exc.errors(include_url=False, include_input=False)
    ]


def check_if_match(numbers: list[str], if_match: dict[str, str] | None, *, required: bool) -> None:
    """``if_match`` of a write to many numbers: an ETag per number of ``numbers`` (422 for
    one that is not among them; when ``required``, 428 naming those it lacks)."""
    given = if_match or {}
    wanted = set(numbers)
    strays = [n for n in given if n not in wanted]
    if strays:
        raise UnprocessableEntity(
            "if_match names numbers that are not written",
            details=[
                {
                    "field": f"if_match.{n}",
                    "message": "not one of the numbers of this write",
                    "type": "unknown_number",
                }
                for n in strays
            ],
        )
    lacking = [n for n in numbers if n not in given]
    if required and lacking:
        raise PreconditionRequired(
            "this write needs if_match: the etag of every number, as the dry run "
            '(dry_run: true) shows them — or "force": true to overwrite whatever is there',
            details={"field": "if_match", "missing": lacking},
        )


@dataclass(frozen=True)
class Planned:
    """What a write would do to one number."""

    number: str
    head: ConfigVersion | None
    config: dict[str, Any]
    changes: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "from_version": self.head.version if self.head else 0,
            "etag": etag_of(self.head) if self.head else None,
            "changed": bool(self.changes),
            "changes": self.changes,
        }


class ConfigService:
    def __init__(
        self,
        store: ConfigStore,
        clock: Callable[[], float] = time.time,
        *,
        skills: SkillCheck,
    ) -> None:
        self.store = store
        self.clock = clock
        self.skills = SkillsGuard(skills)

    # ------------------------------------------------------------------ reading
    async def head(self, number: str) -> ConfigVersion:
        head = await self.store.head(number)
        if head is None:
            raise NotFound(f"number {number} has no configuration", details={"number": number})
        return head

    async def version(self, number: str, n: int) -> ConfigVersion:
        found = await self.store.version(number, n)
        if found is None:
            raise NotFound(
                f"number {number} has no version {n}", details={"number": number, "version": n}
            )
        return found

    # ------------------------------------------------------------------ one number
    def _check(self, number: str, head: ConfigVersion | None, if_match: str | None) -> None:
        current = etag_of(head) if head else None
        if if_match is None:
            raise PreconditionRequired(
                "this write needs If-Match: the ETag of the version you changed (GET it first)"
                + (f"; current is {current}" if current else "; use If-None-Match: * to create"),
                details={"header": "If-Match", "current": current},
            )
        if if_match == CREATE_ONLY:
            if head is None:
                return
            raise PreconditionFailed(
                f"number {number} already has a configuration (version {head.version}): "
                "to replace it, send If-Match with its ETag",
                details={"header": "If-None-Match", "current": current},
            )
        if head is None:
            raise PreconditionFailed(
                f"number {number} has no configuration: to create it, send If-None-Match: *",
                details={"header": "If-Match", "given": if_match, "current": None},
            )
        if parse_etag(if_match) not in ("*", current):
            raise PreconditionFailed(
                "the configuration changed since you read it: GET it again and reapply",
                details={"header": "If-Match", "given": if_match, "current": current},
            )

    async def write(
        self,
        number: str,
        doc: dict[str, Any],
        *,
        if_match: str | None,
        author: Author,
        source: str,
        action: str,
        summary: str | None = None,
    ) -> ConfigVersion:
        """Validate ``doc`` and store it as the number's next version (412 if stale); a
        number without configuration is created (``If-None-Match: *``)."""
        return await self.update(
            number,
            lambda _current: doc,
            if_match=if_match,
            author=author,
            source=source,
            action=action,
            summary=summary,
            create=True,
        )

    async def update(
        self,
        number: str,
        build: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        if_match: str | None,
        author: Author,
        source: str,
        action: str,
        summary: str | Callable[[dict[str, Any]], str] | None = None,
        create: bool = False,
    ) -> ConfigVersion:
        """The number's next version: ``build(current configuration)``, validated, stored
        if ``if_match`` names the version read here (one read; the commit re-checks it).
        Without ``create``, a number without configuration is a 404. Changing the skills
        needs ``author`` to be a principal holding ``skills`` on the number. A
        configuration equal to the one in force is no new version: the head comes back."""
        head = await self.store.head(number)
        if head is None and not create:
            raise NotFound(f"number {number} has no configuration", details={"number": number})
        self._check(number, head, if_match)
        current = head.config if head else {}
        valid = validate_config(number, build(current))
        config = valid.model_dump(mode="json")
        who = author if isinstance(author, Principal) else None
        await self.skills.check({number: (current, valid)}, who)
        changes = diff(current, config)
        if head is not None and not changes:
            return head  # as a bulk edit: nothing to version, nothing to audit
        text = summary(current) if callable(summary) else summary
        text = text or (summarize(changes) if head else "created")
        actor, email = author_of(author)
        change = new_change(
            head,
            number,
            config,
            author=actor,
            author_email=email,
            summary=text,
            source=source,
            at=self.clock(),
        )
        audit = AuditEntry(
            at=change.at,
            actor=actor,
            action=action,
            summary=text,
            number=number,
            details={"version": change.expected_version + 1, "changes": changes[:50]},
        )
        return (await self._commit([change], [audit]))[0]

    async def _commit(
        self, changes: list[ConfigChange], audit: list[AuditEntry]
    ) -> list[ConfigVersion]:
        try:
            return await self.store.commit(changes, audit)
        except StaleVersions as exc:
            raise PreconditionFailed(
                "configuration changed meanwhile on: " + ", ".join(sorted(exc.actual)),
                details={"numbers": exc.actual},
            ) from None

    async def restore(
        self, number: str, n: int, *, if_match: str | None, author: Author
    ) -> ConfigVersion:
        old = await self.version(number, n)
        return await self.update(
            number,
            lambda _current: old.config,
            if_match=if_match,
            author=author,
            source="restore",
            action="config.restore",
            summary=f"restored version {n}",
        )

    async def set_flow_version(
        self, number: str, version: int, *, if_match: str | None, author: Author
    ) -> ConfigVersion:
        if version not in FLOW_VERSIONS:
            known = ", ".join(str(v) for v in sorted(FLOW_VERSIONS))
            raise UnprocessableEntity(
                f"unknown flow version {version}",
                details=[
                    {
                        "field": "version",
                        "message": f"unknown flow version (known: {known})",
                        "type": "unknown_flow_version",
                    }
                ],
            )

        def summary(current: dict[str, Any]) -> str:
            before = int(current.get("flow_version", 1))
            verb = "upgraded" if version > before else "downgraded" if version < before else "kept"
            return f"flow {verb} from version {before} to {version}"

        return await self.update(
            number,
            lambda current: {**current, "flow_version": version},
            if_match=if_match,
            author=author,
            source="upgrade",
            action="config.flow_version",
            summary=summary,
        )

    # ------------------------------------------------------------------ many numbers
    async def plan(
        self,
        numbers: list[str],
        build: Callable[[str, dict[str, Any]], dict[str, Any]],
        *,
        if_match: dict[str, str] | None = None,
        require_if_match: bool = False,
        who: Principal | None = None,
    ) -> list[Planned]:
        """The new configuration of each number (``build(number, current)``), validated —
        every error of every number in one 422 — and checked against ``if_match`` (412).
        With ``require_if_match`` (a write that is not forced), ``if_match`` must name
        every number (428 otherwise), as ``If-Match`` must on a single-number write.
        Numbers whose skills would change need ``who`` to hold ``skills`` on each (403)."""
        heads = await self.store.heads(numbers)
        missing = [n for n in numbers if n not in heads]
        if missing:
            raise NotFound(
                "numbers without configuration: " + ", ".join(missing),
                details={"numbers": missing},
            )
        check_if_match(numbers, if_match, required=require_if_match)
        stale = {
            n: etag_of(heads[n])
            for n, tag in (if_match or {}).items()
            if n in heads and parse_etag(tag) != etag_of(heads[n])
        }
        if stale:
            raise PreconditionFailed(
                "configuration changed since the dry run on: " + ", ".join(sorted(stale)),
                details={"current": stale},
            )
        planned: list[Planned] = []
        errors: list[dict[str, Any]] = []
        results: dict[str, tuple[dict[str, Any], NumberConfig]] = {}
        for n in numbers:
            doc = build(n, heads[n].config)
            try:
                valid = validate_config(n, doc)
            except UnprocessableEntity as exc:
                errors.extend(exc.details)
                continue
            results[n] = (heads[n].config, valid)
            config = valid.model_dump(mode="json")
            planned.append(Planned(n, heads[n], config, diff(heads[n].config, config)))
        if errors:
            raise UnprocessableEntity(
                f"the change is invalid for {len({e['number'] for e in errors})} number(s)",
                details=errors,
            )
        await self.skills.check(results, who)
        return planned

    async def apply(
        self,
        planned: list[Planned],
        *,
        author: Author,
        source: str,
        action: str,
        summary: str,
        force: bool = False,
    ) -> list[ConfigVersion]:
        """Commit every changed number of ``planned`` at once (all or nothing). ``force``
        (applied without ``if_match``) is recorded in each audit entry."""
        at = self.clock()
        actor, email = author_of(author)
        changes = [
            new_change(
                p.head,
                p.number,
                p.config,
                author=actor,
                author_email=email,
                summary=f"{summary}: {summarize(p.changes)}",
                source=source,
                at=at,
            )
            for p in planned
            if p.changes
        ]
        if not changes:
            return []
        audit = [
            AuditEntry(
                at=at,
                actor=actor,
                action=action,
                summary=f"{summary}: {summarize(p.changes)}",
                number=p.number,
                details={
                    "version": (p.head.version if p.head else 0) + 1,
                    **({"force": True} if force else {}),
                },
            )
            for p in planned
            if p.changes
        ]
        return await self._commit(changes, audit)

    @staticmethod
    def from_reference(
        reference: dict[str, Any] | None, patch: dict[str, Any] | None, paths: list[str]
    ) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
        """Copy ``paths`` from the reference (if any), then apply the merge patch (if any);
        the identity of each number is always kept. A path that is not a copyable field
        of the configuration is a 422 naming it (``paths.N``)."""
        if reference is not None:
            check_copy_paths(paths)

        def build(number: str, current: dict[str, Any]) -> dict[str, Any]:
            doc = copy_paths(reference, current, paths) if reference is not None else current
            if patch:
                doc = merge_patch(doc, patch)
            for key in IDENTITY:
                if key in current:
                    doc[key] = current[key]
            return dict(doc)

        return build
