"""Configuration files at start: every file validated, a bad one refused naming the field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flow_engine.engine.configs import read_config_dir
from flow_engine.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


def write(directory: Path, name: str, config: dict[str, object]) -> None:
    (directory / name).write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def test_the_fixtures_load() -> None:
    numbers = [c.phone_number_id for c in read_config_dir(ROOT / "fixtures")]
    assert "100000000000001" in numbers and len(numbers) == len(set(numbers))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"faq": {"questions": [{"question": "x" * 25, "answer": "a"}]}},
            "faq.questions.0.question",
        ),
        ({"queue": {"default_queue": {"name": "Otra cosa"}}}, "queue.default_queue.name"),
        (
            {"hours": {"weekdays": {"monday": [{"start": "10:00", "end": "09:00"}]}}},
            "hours.weekdays.monday.0",
        ),
        ({"unknown_tab": {}}, "unknown_tab"),
    ],
)
def test_a_bad_file_is_refused_naming_file_and_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    write(
        tmp_path,
        "bad.yaml",
        {"phone_number_id": "1000001", "display_phone_number": "1555001", **change},
    )
    with pytest.raises(ConfigurationError) as err:
        read_config_dir(tmp_path)
    assert "bad.yaml" in err.value.message
    assert any(d["field"].startswith(field) for d in err.value.details), err.value.details


def test_a_number_configured_twice_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", {"phone_number_id": "1000001", "display_phone_number": "1555001"})
    write(tmp_path, "b.json", {"phone_number_id": "1000001", "display_phone_number": "1555002"})
    with pytest.raises(ConfigurationError, match="configured twice: 1000001"):
        read_config_dir(tmp_path)


def test_serve_refuses_to_start_on_a_bad_configuration(tmp_path: Path) -> None:
    write(
        tmp_path,
        "bad.yaml",
        {"phone_number_id": "1000001", "display_phone_number": "1555001", "locale": "fr"},
    )
    env = {
        **os.environ,
        "FLOW_ENGINE_ENV": "development",
        "FLOW_ENGINE_STORE": "memory",
        "FLOW_ENGINE_PORT": "0",
        "FLOW_ENGINE_CONFIG_DIR": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "flow_engine", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "bad.yaml" in proc.stderr and "locale" in proc.stderr


def test_production_start_without_secrets_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOW_ENGINE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "flow_engine", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "FLOW_ENGINE_WHATSAPP_APP_SECRET" in proc.stderr


@pytest.mark.parametrize("which", ["config", "skill-request", "skill-reply"])
def test_schema_command_prints_json_schemas(which: str) -> None:
    import json

    proc = subprocess.run(
        [sys.executable, "-m", "flow_engine", "schema", which],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert schema["type"] == "object" and schema["properties"]
