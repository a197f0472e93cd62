"""Which store a start uses: FLOW_ENGINE_STORE, FLOW_ENGINE_REDIS_URL, FLOW_ENGINE_DATA_DIR."""

from __future__ import annotations

from pathlib import Path

import pytest

from flow_engine.errors import ConfigurationError
from flow_engine.settings import Settings

DEV = {"FLOW_ENGINE_ENV": "development"}


def test_development_defaults_to_the_embedded_store_under_dot_data() -> None:
    s = Settings.from_env(DEV)
    assert (s.store_kind, s.data_dir) == ("embedded", Path(".data"))
    s.require_production_store()


def test_a_redis_url_means_an_external_redis_in_any_environment() -> None:
    for env in ({}, DEV):
        s = Settings.from_env({**env, "FLOW_ENGINE_REDIS_URL": "redis://r:6379/0"})
        assert s.store_kind == "redis"
        s.require_production_store()


def test_memory_and_embedded_on_request() -> None:
    s = Settings.from_env({**DEV, "FLOW_ENGINE_STORE": "memory"})
    assert s.store_kind == "memory"
    s = Settings.from_env({"FLOW_ENGINE_STORE": "embedded", "FLOW_ENGINE_DATA_DIR": "/var/fe"})
    assert (s.store_kind, s.data_dir) == ("embedded", Path("/var/fe"))
    s.require_production_store()


def test_production_without_a_store_refuses_and_says_what_to_set() -> None:
    s = Settings.from_env({})
    with pytest.raises(ConfigurationError) as err:
        s.require_production_store()
    message = err.value.message
    assert "FLOW_ENGINE_REDIS_URL" in message and "FLOW_ENGINE_STORE" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"FLOW_ENGINE_STORE": "redis"}, "FLOW_ENGINE_REDIS_URL"),
        ({"FLOW_ENGINE_STORE": "memory", "FLOW_ENGINE_REDIS_URL": "redis://r/0"}, "unset one"),
        ({"FLOW_ENGINE_STORE": "embedded", "FLOW_ENGINE_REDIS_URL": "redis://r/0"}, "unset one"),
        ({"FLOW_ENGINE_STORE": "disk"}, "FLOW_ENGINE_STORE"),
    ],
)
def test_contradictory_or_unknown_store_settings_are_refused(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigurationError) as err:
        Settings.from_env(env)
    assert named in err.value.message
    assert "FLOW_ENGINE_:" not in err.value.message


def test_settings_built_in_code_without_a_url_stay_in_memory() -> None:
    """What the test suite does: no Redis URL and no store is the memory store, never a
    redis-server started by accident."""
    for env in ("production", "development"):
        assert Settings.model_validate({"env": env}).store_kind == "memory"
