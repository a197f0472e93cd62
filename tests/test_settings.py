from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from flow_engine.errors import ConfigurationError
from flow_engine.logging import _mask_processor, mask_phone
from flow_engine.settings import GRAPH_API_URL, Settings
from flow_engine.web.app import create_app


def test_defaults_match_the_documented_contract() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port, s.redis_url) == ("127.0.0.1", 8080, "")
    assert s.whatsapp_api_url == GRAPH_API_URL
    assert s.whatsapp_api_version == "v23.0"
    assert s.env == "production"


def test_every_variable_is_read() -> None:
    env = {
        "FLOW_ENGINE_HOST": "0.0.0.0",
        "FLOW_ENGINE_PORT": "9000",
        "FLOW_ENGINE_REDIS_URL": "redis://r:6379/1",
        "FLOW_ENGINE_WHATSAPP_API_URL": "http://gw",
        "FLOW_ENGINE_WHATSAPP_API_VERSION": "v22.0",
        "FLOW_ENGINE_WHATSAPP_TOKEN": "tok-SECRET-42",
        "FLOW_ENGINE_WHATSAPP_APP_SECRET": "s",
        "FLOW_ENGINE_WHATSAPP_VERIFY_TOKEN": "v",
        "FLOW_ENGINE_ADMIN_TOKEN": "a",
        "FLOW_ENGINE_CONFIG_DIR": "fixtures",
    }
    s = Settings.from_env(env)
    assert (s.host, s.port, s.redis_url, s.whatsapp_api_url, s.whatsapp_api_version) == (
        "0.0.0.0",
        9000,
        "redis://r:6379/1",
        "http://gw",
        "v22.0",
    )
    assert s.whatsapp_token.get_secret_value() == "tok-SECRET-42"
    assert str(s.config_dir) == "fixtures"
    assert "tok-SECRET-42" not in repr(s) and "tok-SECRET-42" not in str(s.model_dump())
    s.require_production_secrets()


def test_production_without_secrets_refuses_clearly() -> None:
    s = Settings.from_env({"FLOW_ENGINE_WHATSAPP_TOKEN": "t"})
    with pytest.raises(ConfigurationError) as err:
        s.require_production_secrets()
    assert "FLOW_ENGINE_WHATSAPP_APP_SECRET" in err.value.message
    assert "FLOW_ENGINE_WHATSAPP_TOKEN" not in err.value.message


def test_development_has_working_defaults() -> None:
    s = Settings.from_env({"FLOW_ENGINE_ENV": "development"})
    s.require_production_secrets()  # no error: dev secrets filled in
    assert s.whatsapp_api_url == "http://127.0.0.1:8081"


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ConfigurationError) as err:
        Settings.from_env({"FLOW_ENGINE_PORT": "eighty"})
    assert "FLOW_ENGINE_PORT" in err.value.message


def test_logs_mask_phones_and_redact_secrets() -> None:
    assert mask_phone("5491100000000") == "*********0000"
    event = _mask_processor(
        None, "info", {"event": "x", "contact": "5491100000000", "token": "abc", "count": 3}
    )
    assert event == {"event": "x", "contact": "*********0000", "token": "[redacted]", "count": 3}
    with capture_logs() as logs:
        import structlog

        structlog.get_logger().info("hello", number="100")
    assert logs[0]["event"] == "hello"


def test_skill_settings_default_to_nothing_in_production_and_loopback_in_development() -> None:
    s = Settings.from_env({})
    assert (str(s.skills_dir), s.skill_url_allow, s.python_skill_modules) == ("skills", "", "")
    dev = Settings.from_env({"FLOW_ENGINE_ENV": "development"})
    assert dev.skill_url_allow == "localhost,127.0.0.1,::1"
    assert dev.python_skill_modules == ""
    given = Settings.from_env(
        {
            "FLOW_ENGINE_ENV": "development",
            "FLOW_ENGINE_SKILL_URL_ALLOW": "https://skills.example.com/",
            "FLOW_ENGINE_SKILLS_DIR": "/srv/skills",
            "FLOW_ENGINE_PYTHON_SKILL_MODULES": "shop_skills,greeting",
        }
    )
    assert given.skill_url_allow == "https://skills.example.com/"
    assert str(given.skills_dir) == "/srv/skills"
    assert given.python_skill_modules == "shop_skills,greeting"


def test_a_bad_skill_url_allow_entry_stops_the_start_named() -> None:
    env = {
        "FLOW_ENGINE_ENV": "development",
        "FLOW_ENGINE_STORE": "memory",
        "FLOW_ENGINE_SKILL_URL_ALLOW": "localhost ftp://x.example.com",
    }
    with pytest.raises(ConfigurationError) as err:
        create_app(Settings.from_env(env))
    assert err.value.message == (
        "invalid settings: FLOW_ENGINE_SKILL_URL_ALLOW: 'ftp://x.example.com': "
        "must be an absolute http:// or https:// URL"
    )
