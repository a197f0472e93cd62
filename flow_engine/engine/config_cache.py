"""The number configurations a process reads on every message, kept until a commit by any
process says they changed."""

from __future__ import annotations

from flow_engine.domain.config import NumberConfig
from flow_engine.storage.configs import ConfigStore


class ConfigurationMissing(Exception):
    """A number known to be configured has no configuration in the store (the store lost
    it): its messages wait, in order, until the configuration is back."""

    def __init__(self, number: str) -> None:
        super().__init__(f"the configuration of {number} is missing from the store")
        self.number = number


class ConfigCache:
    """A number's configuration for the runtime, the outbox and the desk.

    While :meth:`follow` runs and its store has confirmed that it tells every commit
    (``ConfigStore.watch``), a number's configuration is read from the store once and then
    served from memory until a commit names the number, in whichever process it happens:
    on a Redis Cluster all the configurations live in one slot, and one read per message
    would make that slot every node's hot spot. Until then, and whenever the telling is
    interrupted, every call reads the store (a pushed change still applies to the next
    message) and re-validates only a document that changed.

    A read that an invalidation overtakes is not kept (each invalidation moves an epoch
    the read compares before keeping what it read), so a stale document is never cached
    after the commit that replaced it was told.

    It also remembers which numbers are *known* to be configured and which of them the
    store has no configuration for now (:attr:`missing`): a store that lost its data (a
    Redis restarted without persistence) must not turn their messages into
    ``number_not_configured`` drops (``config_watch.py`` seeds them again).
    """

    def __init__(self, store: ConfigStore) -> None:
        self.store = store
        #: numbers known to be configured (seeded from the files, seen in the store, or
        #: served), and those of them the store has no configuration for now
        self.known: set[str] = set()
        self.missing: set[str] = set()
        self.live = False
        self.generation = 0
        self._epoch = 0
        self._configs: dict[str, NumberConfig | None] = {}
        self._parsed: dict[str, tuple[str, NumberConfig]] = {}

    async def get(self, number: str) -> NumberConfig | None:
        if self.live and number in self._configs:
            return self._configs[number]
        epoch = self._epoch
        raw = await self.store.get_raw(number)
        config: NumberConfig | None = None
        if raw is None:
            self._parsed.pop(number, None)
            if number in self.known:
                self.missing.add(number)
        else:
            self.known.add(number)
            self.missing.discard(number)
            config = self._parse(number, raw)
        if self.live and epoch == self._epoch:
            self._configs[number] = config
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
        for number in self.missing:  # never served from memory while lost
            self._configs.pop(number, None)
        return self.missing

    def _parse(self, number: str, raw: str) -> NumberConfig:
        parsed = self._parsed.get(number)
        if parsed is not None and parsed[0] == raw:
            return parsed[1]
        config = NumberConfig.model_validate_json(raw)
        self._parsed[number] = (raw, config)
        return config

    async def follow(self) -> None:
        """Learn of every configuration commit until cancelled (a task of the app)."""
        await self.store.watch(self)

    # ConfigListener
    def resync(self, generation: int) -> None:
        self._forget_all()
        self.generation = generation
        self.live = True

    def changed(self, generation: int, numbers: list[str]) -> None:
        self._epoch += 1
        if generation > self.generation + 1:
            self._configs.clear()  # a commit in between went untold
        else:
            for number in numbers:
                self._configs.pop(number, None)
        self.generation = max(self.generation, generation)

    def lost(self) -> None:
        self.live = False
        self._forget_all()

    def _forget_all(self) -> None:
        self._epoch += 1
        self._configs.clear()
