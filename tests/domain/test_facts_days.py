"""The local day of a fact, at the instants where it changes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flow_engine.domain.facts import local_date, local_day, zone_of

ZONES = ["America/Sao_Paulo", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe"]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("day", ["2026-01-31", "2026-03-08", "2026-10-04", "2026-11-01"])
def test_the_day_changes_at_local_midnight_to_the_microsecond(zone: str, day: str) -> None:
    midnight = datetime.fromisoformat(day).replace(tzinfo=zone_of(zone)).timestamp()
    before = (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()
    assert local_day(midnight - 1e-6, zone) == before
    assert local_day(midnight, zone) == day
    assert local_day(midnight + 0.999999, zone) == day


@given(st.floats(min_value=-2e9, max_value=4e9), st.sampled_from(ZONES))
def test_the_cached_day_is_the_date_of_the_instant(ts: float, zone: str) -> None:
    assert local_day(ts, zone) == local_date(ts, zone).isoformat()
