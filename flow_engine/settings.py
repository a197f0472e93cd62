"""Settings, read from an injected mapping (``Settings.from_env(os.environ)``).

Nothing here reads the environment at import time. Secrets are ``SecretStr`` so
they never show in a repr or a log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from flow_engine.errors import ConfigurationError

GRAPH_API_URL = "https://graph.facebook.com"
DEV_GATEWAY_URL = "http://127.0.0.1:8081"

#: Development defaults used when FLOW_ENGINE_ENV=development (what ``make run`` sets).
DEV_SECRETS = {
    "whatsapp_token": "dev-whatsapp-token",
    "whatsapp_app_secret": "dev-app-secret",
    "whatsapp_verify_token": "dev-verify-token",
    "admin_token": "dev-admin-token",
}
#: What HTTP skills may reach in development: this machine, on any port.
DEV_SKILL_URL_ALLOW = "localhost,127.0.0.1,::1"

PREFIX = "FLOW_ENGINE_"
DAY_S = 24 * 3600
#: FLOW_ENGINE_HEALTH_CHECK_TIME when unset: the daily health read at 06:00.
DAILY_HEALTH_CHECK = "06:00"

#: ``memory``: in the process, nothing survives a restart; ``redis``: the external Redis of
#: ``FLOW_ENGINE_REDIS_URL``; ``embedded``: a redis-server the engine starts and owns, with
#: append-only persistence under ``FLOW_ENGINE_DATA_DIR``.
StoreKind = Literal["memory", "redis", "embedded"]

#: What one process does (``flow-engine serve --role``): ``web`` verifies, dedupes and
#: enqueues webhooks and answers them, and serves the APIs (``/api/v1``, and the console's
#: pages); ``worker`` handles the queues: partitions, flows, sends, timers, and every
#: background loop (leases, schedulers, campaign drivers, health readers); ``all`` both.
#: Every role serves ``/healthz``, ``/readyz`` and ``/metrics``.
Role = Literal["all", "web", "worker"]


class Settings(BaseModel):
    """Everything the engine can be told from its environment.

    Each field maps to ``FLOW_ENGINE_<FIELD NAME IN UPPER CASE>``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: Literal["development", "production"] = "production"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    redis_url: str = ""
    #: Unset: ``redis`` with a Redis URL, else ``embedded`` in development (from_env) and
    #: ``memory`` for settings built in code; a production start requires a choice.
    store: StoreKind | None = None
    #: Where the embedded store keeps its files (relative to the working directory).
    data_dir: Path = Path(".data")
    whatsapp_api_url: str = GRAPH_API_URL
    whatsapp_api_version: str = "v23.0"
    whatsapp_token: SecretStr = SecretStr("")
    whatsapp_app_secret: SecretStr = SecretStr("")
    whatsapp_verify_token: SecretStr = SecretStr("")
    admin_token: SecretStr = SecretStr("")
    config_dir: Path | None = None
    log_level: str = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    #: Inbound partitions; every process sharing one Redis must use the same number.
    partitions: int = Field(32, ge=1, le=4096)
    #: How long a process owns a partition without renewing it.
    lease_ttl_ms: int = Field(5000, ge=200)
    #: How long a gateway message id is remembered to drop redeliveries (7 days).
    dedupe_ttl_s: int = Field(7 * 24 * 3600, ge=60)
    #: Days an idle conversation record is kept (each message restarts it); 0: for ever.
    conversation_retention_days: float = Field(90.0, ge=0)
    #: Days after their last message a contact is still known, so that coming back after
    #: the record expired they are a returning contact (a small mark per contact); not
    #: longer than the conversation retention: they are a first contact again.
    contact_retention_days: float = Field(730.0, ge=0)
    #: Default per-number send rate (messages/second); a number's config may override it.
    send_rate_per_second: float = Field(80.0, gt=0)
    #: Seconds before a Send API call is abandoned as a timeout.
    whatsapp_timeout_s: float = Field(10.0, gt=0)
    #: Longest total time a single outbound message is retried before it is recorded failed.
    send_retry_budget_s: float = Field(120.0, gt=0)
    #: Mark each inbound message as read (blue ticks) when the engine handles it.
    mark_read: bool = True
    #: Largest webhook body accepted (bytes); Meta sends up to 3 MB.
    max_body_bytes: int = Field(3 * 1024 * 1024, ge=1024)
    #: Declarative skills' flow files (and Python skill modules): attachments name paths
    #: inside this folder (relative to the working directory unless absolute).
    skills_dir: Path = Path("skills")
    #: Where HTTP skills may be reached: URL prefixes, hosts, addresses; empty = nowhere
    #: (parsed by the engine's skill policy, which names a bad entry at start).
    skill_url_allow: str = ""
    #: Packages (or modules) Python skills may be imported from; empty = none.
    python_skill_modules: str = ""
    #: Web console: a session unused for this long is signed out (idle expiry).
    console_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    #: Web console: failed sign-ins of one e-mail before it is locked (an address: 4x this).
    console_signin_attempts: int = Field(5, ge=1, le=100)
    #: Web console: how long a lockout lasts, counted from the first failure.
    console_lockout_minutes: int = Field(15, ge=1, le=24 * 60)
    #: Local time (HH:MM, in health_timezone) of the daily read of every number's health;
    #: None: no daily read (FLOW_ENGINE_HEALTH_CHECK_TIME=off). From the environment it is
    #: 06:00 unless set; settings built in code (tests) have none unless they say.
    health_check_time: str | None = Field(None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    #: IANA time zone of the daily health read and of the days of the health history.
    health_timezone: str = "UTC"
    #: Where each change of a number's health class is POSTed as JSON; empty: nowhere. A
    #: secret (such URLs often carry a token): never shown in a log line.
    alert_webhook_url: SecretStr = SecretStr("")

    #: What this process does (see :data:`Role`); ``web`` and ``worker`` need a shared Redis.
    role: Role = "all"
    #: Messages one process handles at once (load, flow, commit); the others wait their
    #: turn. Raise it when flows wait long on HTTP skills.
    worker_concurrency: int = Field(64, ge=1, le=100_000)
    #: Allocations between two young-generation garbage collections once the process
    #: serves; the objects of its start are frozen out of the collector then
    #: (``web/gc_tuning.py``). ``0`` leaves Python's defaults (700, nothing frozen).
    gc_threshold: int = Field(50_000, ge=0, le=10_000_000)

    @field_validator("health_timezone")
    @classmethod
    def _known_zone(cls, key: str) -> str:
        try:
            ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {key!r}") from None
        return key

    @field_validator("alert_webhook_url")
    @classmethod
    def _http_url(cls, url: SecretStr) -> SecretStr:
        value = url.get_secret_value()
        if value and (not value.startswith(("http://", "https://")) or " " in value):
            raise ValueError("expected an http:// or https:// URL")
        return url

    #: Largest campaign upload (CSV and spec) accepted by POST /api/v1/campaigns (bytes).
    max_upload_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    #: First backoff of a campaign lane after a throughput error (130429), doubled each time.
    notify_retry_base_s: float = Field(0.5, gt=0, le=60)
    #: Record the data facts of messages and surveys (R-DATA, docs/data.md); off only to
    #: measure what they cost (ticket facts are part of the ticket's own save).
    data_facts: bool = True
    #: Days a closed ticket stays in the history (R-DESK-3); older ones leave the store.
    ticket_retention_days: int = Field(93, ge=1, le=3650)
    #: Longest a webhook (and ``/readyz``) waits for the store before it answers 503, so
    #: that the gateway retries instead of waiting on a store that does not answer.
    store_timeout_s: float = Field(2.0, gt=0, le=60)
    #: Socket and connect timeout of each Redis command (a blocking read of the queue gets
    #: this on top of its block time); a command that times out is retried twice.
    redis_timeout_s: float = Field(5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _store_matches_url(self) -> Settings:
        if self.store == "redis" and not self.redis_url:
            raise PydanticCustomError(
                "store", "FLOW_ENGINE_STORE=redis needs FLOW_ENGINE_REDIS_URL=redis://…"
            )
        if self.store in ("memory", "embedded") and self.redis_url:
            raise PydanticCustomError(
                "store",
                "FLOW_ENGINE_STORE={store} contradicts FLOW_ENGINE_REDIS_URL (an external "
                "Redis): unset one of them",
                {"store": self.store},
            )
        if self.role != "all" and self.store_kind != "redis":
            raise PydanticCustomError(
                "role",
                "FLOW_ENGINE_ROLE={role} needs a Redis shared with the other role: set "
                "FLOW_ENGINE_REDIS_URL (the {store} store belongs to one process)",
                {"role": self.role, "store": self.store_kind},
            )
        return self

    @property
    def retention_s(self) -> tuple[float, float]:
        """(conversation, contact) retention in seconds."""
        return self.conversation_retention_days * DAY_S, self.contact_retention_days * DAY_S

    @property
    def serves_requests(self) -> bool:
        """The webhook and the APIs (roles ``web`` and ``all``)."""
        return self.role != "worker"

    @property
    def runs_workers(self) -> bool:
        """The partitions and every background loop (roles ``worker`` and ``all``)."""
        return self.role != "web"

    @property
    def store_kind(self) -> StoreKind:
        """The store this start uses (see :attr:`store`)."""
        if self.store is not None:
            return self.store
        return "redis" if self.redis_url else "memory"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``FLOW_ENGINE_*`` variables; empty values count as unset."""
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = environ.get(PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        values.setdefault("health_check_time", DAILY_HEALTH_CHECK)
        if values["health_check_time"] == "off":
            values["health_check_time"] = None
        env = values.get("env", "production")
        if env == "development":
            for name, default in DEV_SECRETS.items():
                values.setdefault(name, default)
            values.setdefault("whatsapp_api_url", DEV_GATEWAY_URL)
            if "redis_url" not in values:
                values.setdefault("store", "embedded")
            values.setdefault("skill_url_allow", DEV_SKILL_URL_ALLOW)
        try:
            settings = cls.model_validate(values)
        except ValidationError as exc:
            problems = [
                f"{PREFIX}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                if err["loc"]
                else err["msg"]
                for err in exc.errors()
            ]
            raise ConfigurationError(
                "invalid settings: " + "; ".join(problems), details=problems
            ) from None
        return settings

    def missing_secrets(self) -> list[str]:
        """Names of the secrets a production start needs but that are empty."""
        names = ["whatsapp_token", "whatsapp_app_secret", "whatsapp_verify_token", "admin_token"]
        return [PREFIX + n.upper() for n in names if not getattr(self, n).get_secret_value()]

    def require_production_secrets(self) -> None:
        missing = self.missing_secrets()
        if self.env == "production" and missing:
            raise ConfigurationError(
                "refusing to start in production without secrets: set "
                + ", ".join(missing)
                + " (or FLOW_ENGINE_ENV=development for local development defaults)",
                details=missing,
            )

    def require_production_store(self) -> None:
        """A production start names its store: nothing is kept by default by accident."""
        if self.env == "production" and self.store is None and not self.redis_url:
            raise ConfigurationError(
                "refusing to start in production without a store: set "
                "FLOW_ENGINE_REDIS_URL=redis://… (or FLOW_ENGINE_STORE=embedded for a local "
                "redis-server keeping its data in FLOW_ENGINE_DATA_DIR, or "
                "FLOW_ENGINE_STORE=memory to keep nothing across restarts)",
                details=["FLOW_ENGINE_REDIS_URL", "FLOW_ENGINE_STORE"],
            )
