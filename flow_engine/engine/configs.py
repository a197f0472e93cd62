"""Number configurations for the runtime: seeded from files at start, read per message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from flow_engine.domain.config import NumberConfig
from flow_engine.engine.documents import read_document
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.engine.skills.policy import SkillPolicy
from flow_engine.errors import ConfigurationError
from flow_engine.gateway.skill_http import SkillHttpClient
from flow_engine.storage.configs import (
    ConfigStore,
    ConfigVersion,
    StaleVersions,
    config_digest,
    new_change,
)

log = structlog.get_logger()

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
FILE_SOURCE = "file"  # ConfigVersion.source of versions written from a configuration file
FILE_AUTHOR = "config-dir"
SCAN_PAGE = 50


def read_config_file(path: Path) -> NumberConfig:
    """Parse and validate one configuration file (YAML or JSON)."""
    return read_document(path, NumberConfig, "configuration")


def read_config_files(directory: Path) -> list[tuple[Path, NumberConfig]]:
    """Every configuration file of ``directory`` with its validated content."""
    if not directory.is_dir():
        raise ConfigurationError(f"configuration directory {directory} does not exist")
    files = sorted(p for p in directory.iterdir() if p.suffix in CONFIG_SUFFIXES)
    configs = [(p, read_config_file(p)) for p in files]
    seen: dict[str, int] = {}
    for _p, c in configs:
        seen[c.phone_number_id] = seen.get(c.phone_number_id, 0) + 1
    dupes = sorted(n for n, count in seen.items() if count > 1)
    if dupes:
        raise ConfigurationError(f"{directory}: numbers configured twice: {', '.join(dupes)}")
    return configs


def read_config_dir(directory: Path) -> list[NumberConfig]:
    return [c for _p, c in read_config_files(directory)]


async def last_seeded(store: ConfigStore, number: str) -> ConfigVersion | None:
    """The newest version of ``number`` written from a configuration file, if any."""
    offset = 0
    while True:
        page = await store.versions(number, limit=SCAN_PAGE, offset=offset)
        for v in page:
            if v.source == FILE_SOURCE:
                return v
        if len(page) < SCAN_PAGE:
            return None
        offset += SCAN_PAGE


async def seed_config(store: ConfigStore, path: Path, config: dict[str, Any]) -> str:
    """Store one file's configuration unless it is what was last seeded from the file
    (then changes made since, through the admin API, are kept). Returns what was done:
    ``seeded`` (first configuration), ``kept`` or ``updated`` (the file changed)."""
    number = str(config["phone_number_id"])
    digest = config_digest(config)
    while True:
        head = await store.head(number)
        if head is not None:
            seeded = await last_seeded(store, number)
            if seeded is not None and seeded.digest == digest:
                log.info("config_kept", number=number, file=path.name, version=head.version)
                return "kept"
        summary = f"{'seeded' if head is None else 'updated'} from file {path.name}"
        change = new_change(
            head, number, config, author=FILE_AUTHOR, summary=summary, source=FILE_SOURCE
        )
        try:
            (written,) = await store.commit([change])
        except StaleVersions:  # another process seeding or an admin change: look again
            continue
        outcome = "seeded" if head is None else "updated"
        log.info(f"config_{outcome}", number=number, file=path.name, version=written.version)
        return outcome


async def load_config_dir(
    directory: Path, store: ConfigStore, skills: SkillLoader | None = None
) -> list[str]:
    """Validate every file first — their skills loaded by ``skills``, the engine's loader
    (the same checks as an admin write; default: the default settings' policy, which
    allows no URL and no module) — then seed the store from them (see
    :func:`seed_config`); returns the numbers of the files."""
    files = read_config_files(directory)
    loader = skills
    if loader is None:
        policy = SkillPolicy.restricted(Path("skills"))
        loader = SkillLoader(policy, SkillHttpClient(allow=policy.url_allow))
    for path, c in files:
        try:
            await loader.check(c.skills)  # a missing or invalid skill stops the start, named
        except ConfigurationError as exc:
            raise ConfigurationError(f"{path}: {exc.message}", details=exc.details) from None
    outcomes: dict[str, int] = {}
    for path, c in files:
        outcome = await seed_config(store, path, c.model_dump(mode="json"))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    log.info("configs_loaded", directory=str(directory), numbers=len(files), **outcomes)
    return [c.phone_number_id for _p, c in files]


class ConfigurationMissing(Exception):
    """A number known to be configured has no configuration in the store (the store lost
    it): its messages wait, in order, until the configuration is back."""

    def __init__(self, number: str) -> None:
        super().__init__(f"the configuration of {number} is missing from the store")
        self.number = number


class ConfigCache:
    """Reads a number's configuration from the store on every call (so a pushed
    change applies on the next message, in every process) and re-validates it
    only when the stored document changed.

    It also remembers which numbers are *known* to be configured — seeded from the
    configuration files, seen in the store, or served — and which of them the store has
    no configuration for now (:attr:`missing`): a store that lost its data (a Redis
    restarted without persistence) must not turn their messages into
    ``number_not_configured`` drops."""

    def __init__(self, store: ConfigStore) -> None:
        self.store = store
        self._cache: dict[str, tuple[str, NumberConfig]] = {}
        self.known: set[str] = set()
        self.missing: set[str] = set()

    async def get(self, number: str) -> NumberConfig | None:
        raw = await self.store.get_raw(number)
        if raw is None:
            self._cache.pop(number, None)
            if number in self.known:
                self.missing.add(number)
            return None
        self.known.add(number)
        self.missing.discard(number)
        cached = self._cache.get(number)
        if cached is not None and cached[0] == raw:
            return cached[1]
        config = NumberConfig.model_validate_json(raw)
        self._cache[number] = (raw, config)
        return config

    async def require(self, number: str) -> NumberConfig | None:
        """The configuration of ``number`` for a message: None for a number never
        configured; :class:`ConfigurationMissing` for a known one the store lost."""
        config = await self.get(number)
        if config is None and number in self.known:
            raise ConfigurationMissing(number)
        return config

    async def check(self) -> set[str]:
        """Learn the numbers the store has, and find the known ones it has no
        configuration for: the new :attr:`missing` (two round trips on Redis)."""
        self.known.update(await self.store.numbers())
        known = sorted(self.known)
        present = await self.store.present(known)
        self.missing = {n for n in known if n not in present}
        return self.missing
