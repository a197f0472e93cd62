"""Number configurations for the runtime: loaded from files at start, read per message."""

from __future__ import annotations

from pathlib import Path

import structlog

from flow_engine.domain.config import NumberConfig
from flow_engine.engine.documents import read_document
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.errors import ConfigurationError
from flow_engine.gateway.skill_http import SkillHttpClient
from flow_engine.storage.base import ConfigStore

log = structlog.get_logger()

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def read_config_file(path: Path) -> NumberConfig:
    """Parse and validate one configuration file (YAML or JSON)."""
    return read_document(path, NumberConfig, "configuration")


def read_config_dir(directory: Path) -> list[NumberConfig]:
    if not directory.is_dir():
        raise ConfigurationError(f"configuration directory {directory} does not exist")
    files = sorted(p for p in directory.iterdir() if p.suffix in CONFIG_SUFFIXES)
    configs = [read_config_file(p) for p in files]
    seen: dict[str, int] = {}
    for c in configs:
        seen[c.phone_number_id] = seen.get(c.phone_number_id, 0) + 1
    dupes = sorted(n for n, count in seen.items() if count > 1)
    if dupes:
        raise ConfigurationError(f"{directory}: numbers configured twice: {', '.join(dupes)}")
    return configs


async def load_config_dir(directory: Path, store: ConfigStore) -> list[str]:
    """Validate every file first, then store them all; returns the numbers loaded."""
    configs = read_config_dir(directory)
    loader = SkillLoader(directory, SkillHttpClient())  # check() loads, never calls
    for c in configs:
        loader.check(c.skills)  # a missing or invalid skill stops the start, named
    for c in configs:
        await store.put(c.phone_number_id, c.model_dump(mode="json"))
    log.info("configs_loaded", directory=str(directory), numbers=len(configs))
    return [c.phone_number_id for c in configs]


class ConfigCache:
    """Reads a number's configuration from the store on every call (so a pushed
    change applies on the next message, in every process) and re-validates it
    only when the stored document changed."""

    def __init__(self, store: ConfigStore) -> None:
        self.store = store
        self._cache: dict[str, tuple[str, NumberConfig]] = {}

    async def get(self, number: str) -> NumberConfig | None:
        raw = await self.store.get_raw(number)
        if raw is None:
            self._cache.pop(number, None)
            return None
        cached = self._cache.get(number)
        if cached is not None and cached[0] == raw:
            return cached[1]
        config = NumberConfig.model_validate_json(raw)
        self._cache[number] = (raw, config)
        return config
