"""What the notifications need to know of a number's standing with the gateway: the narrow
interface the health service (``flow_engine/health``) offers them, wired in ``web/app.py``.
Notifications never import the health package; without a standing (the skill tools, a
test of notifications alone) the configuration's limit applies and nothing is held."""

from __future__ import annotations

from typing import Protocol


class GatewayLimit(Protocol):
    """A number's messaging limit as the gateway last gave it."""

    @property
    def tier(self) -> str: ...  # TIER_250, TIER_2K, … UNLIMITED

    @property
    def contacts(self) -> int | None: ...  # per rolling 24 h; None: unlimited

    @property
    def read_at(self) -> float: ...


class NumberStanding(Protocol):
    async def messaging_limit(self, number: str) -> GatewayLimit | None:
        """The number's tier as last read (None: never read, or not a known tier)."""
        ...

    async def bad_since(self, numbers: list[str]) -> dict[str, str]:
        """Those of ``numbers`` rated bad (RED) now, each with the id of the change that
        made it so."""
        ...
