"""Cloud API error codes the engine knows (spec/WHATSAPP.md): which are retried, which are
never retried, and which other ones may appear (the metric labels name only these)."""

from __future__ import annotations

from flow_engine.metrics.labels import OTHER

#: Codes worth retrying: throughput, pair rate, maintenance, app/account rate limits.
TRANSIENT_CODES = frozenset({130429, 131056, 131057, 80007, 4})
#: Codes that are never retried, whatever the HTTP status says.
PERMANENT_CODES = frozenset({131026, 131047, 131048, 131049, 131050, 368}) | frozenset(
    range(132000, 132017)
)
#: Other documented codes: generic, auth, parameter, service and recipient errors.
OTHER_CODES = frozenset(
    {0, 1, 2, 3, 10, 100, 190, 200, 131000, 131005, 131008, 131009, 131016, 131021, 131031}
    | {131037, 131042, 131045, 131051, 131052, 131053, 133000, 133004, 133010, 135000}
)
KNOWN_CODES = TRANSIENT_CODES | PERMANENT_CODES | OTHER_CODES


def code_label(api_code: int | None, http_status: int | None) -> str:
    """A gateway failure as a metric label: its Cloud API code when known, else ``other``;
    without a code, the HTTP status (at most a few hundred values), or ``network`` when
    there was no answer."""
    if api_code:
        return str(api_code) if api_code in KNOWN_CODES else OTHER
    if http_status:
        return str(http_status) if 100 <= http_status <= 599 else OTHER
    return "network"
