"""Seeding from FLOW_ENGINE_CONFIG_DIR keeps changes made through the admin API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from structlog.testing import capture_logs

from flow_engine.engine.configs import load_config_dir
from flow_engine.errors import ConfigurationError
from flow_engine.storage.base import Storage
from flow_engine.storage.configs import new_change

A = "1000001"
B = "1000002"


def write(directory: Path, number: str, **extra: Any) -> dict[str, Any]:
    config = {"phone_number_id": number, "display_phone_number": f"1555{number}", **extra}
    path = directory / f"{number}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return config


async def api_edit(storage: Storage, number: str, **changes: Any) -> None:
    """What the admin API does: a new version from the head, source "api"."""
    head = await storage.configs.head(number)
    assert head is not None
    config = {**head.config, **changes}
    change = new_change(head, number, config, author="member:1", summary="edit", source="api")
    await storage.configs.commit([change])


async def test_first_start_seeds_every_file(storage: Storage, tmp_path: Path) -> None:
    write(tmp_path, A, name="Alpha")
    write(tmp_path, B)
    with capture_logs() as logs:
        assert await load_config_dir(tmp_path, storage.configs) == [A, B]
    assert await storage.configs.numbers() == [A, B]
    (v,) = await storage.configs.versions(A)
    assert (v.version, v.source, v.author) == (1, "file", "config-dir")
    assert v.summary == f"seeded from file {A}.yaml"
    stored = await storage.configs.get(A)
    assert stored is not None and stored["name"] == "Alpha"
    assert [e["event"] for e in logs if e["event"].startswith("config")] == [
        "config_seeded",
        "config_seeded",
        "configs_loaded",
    ]


async def test_unchanged_file_keeps_admin_changes(storage: Storage, tmp_path: Path) -> None:
    write(tmp_path, A, name="Alpha")
    await load_config_dir(tmp_path, storage.configs)
    await api_edit(storage, A, name="Edited in the admin")
    with capture_logs() as logs:
        assert await load_config_dir(tmp_path, storage.configs) == [A]  # a restart
    assert next(e["event"] for e in logs) == "config_kept"
    head = await storage.configs.head(A)
    assert head is not None and head.version == 2 and head.source == "api"
    assert head.config["name"] == "Edited in the admin"


async def test_changed_file_is_applied_as_a_new_version(storage: Storage, tmp_path: Path) -> None:
    write(tmp_path, A, name="Alpha")
    await load_config_dir(tmp_path, storage.configs)
    await api_edit(storage, A, name="Edited in the admin")
    write(tmp_path, A, name="Alpha 2")
    await load_config_dir(tmp_path, storage.configs)
    head = await storage.configs.head(A)
    assert head is not None and (head.version, head.source) == (3, "file")
    assert head.config["name"] == "Alpha 2" and head.summary == f"updated from file {A}.yaml"
    assert [v.source for v in await storage.configs.versions(A)] == ["file", "api", "file"]
    # then the API again, and the file unchanged since: kept
    await api_edit(storage, A, name="Edited again")
    await load_config_dir(tmp_path, storage.configs)
    stored = await storage.configs.get(A)
    assert stored is not None and stored["name"] == "Edited again"


async def test_a_file_back_to_an_older_content_is_applied(
    storage: Storage, tmp_path: Path
) -> None:
    write(tmp_path, A, name="One")
    await load_config_dir(tmp_path, storage.configs)
    write(tmp_path, A, name="Two")
    await load_config_dir(tmp_path, storage.configs)
    await api_edit(storage, A, name="Admin")
    write(tmp_path, A, name="One")  # not the last seeded content: a change
    await load_config_dir(tmp_path, storage.configs)
    stored = await storage.configs.get(A)
    assert stored is not None and stored["name"] == "One"


async def test_a_number_configured_through_the_api_only_takes_a_new_file(
    storage: Storage, tmp_path: Path
) -> None:
    await storage.configs.put(A, {"phone_number_id": A, "display_phone_number": "1", "name": "X"})
    write(tmp_path, A, name="From file")
    await load_config_dir(tmp_path, storage.configs)
    head = await storage.configs.head(A)
    assert head is not None and head.version == 2 and head.config["name"] == "From file"


async def test_the_last_seeded_version_is_found_behind_many_edits(
    storage: Storage, tmp_path: Path
) -> None:
    write(tmp_path, A, name="Alpha")
    await load_config_dir(tmp_path, storage.configs)
    for i in range(60):  # more than one page of versions
        await api_edit(storage, A, name=f"edit {i}")
    await load_config_dir(tmp_path, storage.configs)
    head = await storage.configs.head(A)
    assert head is not None and head.version == 61 and head.config["name"] == "edit 59"


async def test_a_bad_file_stores_nothing(storage: Storage, tmp_path: Path) -> None:
    write(tmp_path, A)
    write(tmp_path, B, locale="fr")
    with pytest.raises(ConfigurationError):
        await load_config_dir(tmp_path, storage.configs)
    assert await storage.configs.numbers() == []


async def test_processes_starting_together_seed_once(storage: Storage, tmp_path: Path) -> None:
    write(tmp_path, A)
    write(tmp_path, B)
    with capture_logs() as logs:
        await asyncio.gather(*(load_config_dir(tmp_path, storage.configs) for _ in range(4)))
    events = [e["event"] for e in logs]
    assert (events.count("config_seeded"), events.count("config_kept")) == (2, 6)
    for number in (A, B):
        assert [v.version for v in await storage.configs.versions(number)] == [1]


@pytest.mark.parametrize(
    ("attachment", "field", "why"),
    [
        ({"kind": "declarative", "path": "../outside.yaml"}, "skills.0.path", "climbs out"),
        ({"kind": "declarative", "path": "missing.yaml"}, "skills.0.path", "cannot read"),
        ({"kind": "http", "url": "http://127.0.0.1:1/x"}, "skills.0.url", "is not in"),
        ({"kind": "python", "target": "os:PathLike"}, "skills.0.target", "PYTHON_SKILL"),
    ],
)
async def test_a_file_whose_skills_cannot_run_stops_the_start_named(
    storage: Storage, tmp_path: Path, attachment: dict[str, Any], field: str, why: str
) -> None:
    """The start loads a file's skills as an admin write does (issue 9.6): the default
    policy (no skills folder here, no URL, no module) refuses each of these."""
    skill = {"serviceName": "PreMain", "parentServiceName": "Main", **attachment}
    write(tmp_path, A, skills=[skill])
    with pytest.raises(ConfigurationError) as exc:
        await load_config_dir(tmp_path, storage.configs)
    assert exc.value.message.startswith(str(tmp_path / f"{A}.yaml"))
    (detail,) = exc.value.details
    assert detail["field"] == field and why in detail["message"]
    assert await storage.configs.numbers() == []
