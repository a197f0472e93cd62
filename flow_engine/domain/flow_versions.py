"""Versions of the base flow (R-CONF-5): each number runs the version its configuration
names (``flow_version``) until an admin upgrades it (``POST /api/v1/numbers/{id}/flow-version``).

A new version is added here, with its notes, and given a state machine in
``engine/machine.py``; older versions keep working unchanged for the numbers on them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FlowVersion:
    version: int
    released: str  # ISO date
    notes: str


FLOW_VERSIONS: dict[int, FlowVersion] = {
    1: FlowVersion(1, "2026-11-24", "The base flow of PRODUCT §1 (R-FLOW-1 … R-FLOW-13)."),
    2: FlowVersion(
        2,
        "2026-11-24",
        "Outside service hours with the unavailable message off, the contact is told when "
        "human service opens again (version 1 ends the conversation without a word).",
    ),
}

#: The version of numbers whose configuration does not name one.
DEFAULT_FLOW_VERSION = 1
LATEST_FLOW_VERSION = max(FLOW_VERSIONS)
