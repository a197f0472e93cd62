"""Holding the campaigns of a number at risk as ``needs_attention`` (WHATSAPP.md: sending on
is how numbers get banned; resuming is an admin's decision).

- **A number that turns bad** (quality rating RED): :meth:`Holds.on_health_change`, the
  health service's listener, holds at once the number's ``running`` and ``waiting_limit``
  campaigns ("quality rating RED"). A ``scheduled`` or ``paused`` campaign keeps its
  state — the number may recover before it starts — and is held by its driver when it
  would send (at its start, after a resume) if the number is still bad; so is a campaign
  created on a number already bad, before its first send.
- **A code about the number's account** (368 restricted, 131031 locked, 131042 payment:
  ``ACCOUNT_CODES``): the driver that meets it holds its campaign and, through
  :meth:`Holds.hold_number`, every other running or waiting campaign of the number.

A hold for a change to bad carries the change's id (``Campaign.held_by``, written in the
same atomic step as the state): the change delivered again, or seen again by a driver,
holds nothing — an admin's resume stays. A later change to bad holds again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from flow_engine.domain.campaigns import Campaign, CampaignState
from flow_engine.domain.health import ClassChange, HealthClass
from flow_engine.notify.standing import NumberStanding
from flow_engine.storage.notifications import NotificationStore

log = structlog.get_logger()

RED_REASON = "quality rating RED"
#: the states a hold moves at once; scheduled and paused campaigns are held when they send
HELD_AT_ONCE = frozenset({CampaignState.RUNNING, CampaignState.WAITING_LIMIT})
Reason = str | Callable[[Campaign], str]


def red_reason(doc: Campaign, numbers: Sequence[str]) -> str:
    """The reason of a RED hold; a campaign from many numbers says which."""
    return RED_REASON if doc.number is not None else f"{RED_REASON} on {', '.join(numbers)}"


class Holds:
    def __init__(self, store: NotificationStore, standing: NumberStanding | None) -> None:
        self.store = store
        self.standing = standing

    async def on_health_change(self, change: ClassChange) -> None:
        """Listener of the health service (at least once per change: idempotent)."""
        if change.after != HealthClass.BAD:
            return
        held = await self.hold_number(
            change.number, lambda doc: red_reason(doc, [change.number]), marks=[change.id]
        )
        log.info("campaigns_held", number=change.number, cause="quality", campaigns=held)

    async def hold_number(
        self,
        number: str,
        reason: Reason,
        *,
        marks: Sequence[str] = (),
        unless: str | None = None,
    ) -> list[str]:
        """Hold every running or waiting_limit campaign sending from ``number`` (but
        ``unless``) as needs_attention with ``reason``; returns the ids held now."""
        held: list[str] = []
        allowed = {s.value for s in HELD_AT_ONCE}
        for cid in await self.store.active():
            if cid == unless:
                continue
            doc = await self.store.campaign(cid)
            if doc is None or number not in doc.senders or doc.state not in HELD_AT_ONCE:
                continue
            text = reason if isinstance(reason, str) else reason(doc)
            done = await self.store.transition(
                cid, allowed, CampaignState.NEEDS_ATTENTION.value, {"reason": text}, marks=marks
            )
            if done is not None:
                held.append(cid)
        return held

    async def red_marks(self, doc: Campaign, senders: Sequence[str]) -> dict[str, str]:
        """Of ``senders``, those rated bad by a change that has not held ``doc`` yet, each
        with that change's id."""
        if self.standing is None or not senders:
            return {}
        bad = await self.standing.bad_since(sorted(senders))
        return {n: mark for n, mark in sorted(bad.items()) if mark not in doc.held_by}
