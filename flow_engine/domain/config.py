"""The configuration of one WhatsApp business number (PRODUCT §3, R-CONF).

One :class:`NumberConfig` per number shapes the base flow: the tabs of the
hosted product are the nested models ``flow``, ``faq``, ``queue``, ``service``
and ``hours``. Every model refuses unknown fields and every limit fails with a
field-level error whose location names the field (``faq.questions.3.question``).
Messages left null use the default text of the number's locale
(:mod:`flow_engine.domain.locales`). See ``docs/configuration.md``.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from flow_engine.domain import limits
from flow_engine.domain.config_admin import (
    ActiveMessaging,
    DeskTab,
    NotificationsTab,
    TemplatesTab,
)
from flow_engine.domain.config_base import (
    ButtonsMessage,
    ConfigModel,
    Message,
    Name,
    PhoneNumberId,
    field_errors,
)
from flow_engine.domain.config_flow import FlowTab, SurveyKind, SurveySettings
from flow_engine.domain.config_hours import Holiday, HoursTab, Interval, WeekSchedule
from flow_engine.domain.config_menus import DefaultQueue, FaqItem, FaqTab, Queue, QueueTab
from flow_engine.domain.config_service import (
    AbsenceMessage,
    ContactCard,
    ServiceTab,
    SocialNetworks,
)
from flow_engine.domain.error_kinds import ErrorKind
from flow_engine.domain.flow_versions import DEFAULT_FLOW_VERSION, FLOW_VERSIONS
from flow_engine.domain.locales import Locale, MessageKey, default_message
from flow_engine.domain.skills import SkillsTab

__all__ = [
    "AbsenceMessage",
    "ActiveMessaging",
    "ButtonsMessage",
    "ContactCard",
    "DefaultQueue",
    "DeskTab",
    "FaqItem",
    "FaqTab",
    "FlowTab",
    "Holiday",
    "HoursTab",
    "Interval",
    "Message",
    "NotificationsTab",
    "NumberConfig",
    "Queue",
    "QueueTab",
    "ServiceTab",
    "SocialNetworks",
    "SurveyKind",
    "SurveySettings",
    "TemplatesTab",
    "WeekSchedule",
    "config_json_schema",
]

SCHEMA_ID = "urn:flow-engine:schema:number-config:1"
_DIGITS = rf"^[0-9]{{{limits.PHONE_DIGITS_MIN},{limits.PHONE_DIGITS_MAX}}}$"
UNKNOWN_TIME_ZONE = ErrorKind("time_zone", "unknown IANA time zone {zone}", "value_error")


class NumberConfig(ConfigModel):
    """Configuration of one WhatsApp business number and its base flow."""

    phone_number_id: PhoneNumberId = Field(
        description="Cloud API phone number id (digits); names the number everywhere.",
        examples=["100000000000001"],
    )
    display_phone_number: str = Field(
        pattern=_DIGITS,
        description="The phone number as contacts see it: country code and number, digits.",
        examples=["15550000001"],
    )
    name: Name = Field(
        "",
        max_length=limits.NAME_MAX,
        description="Bot / agent name (placeholder {{number.name}}).",
    )
    waba_id: str | None = Field(
        None,
        pattern=r"^[0-9]{1,32}$",
        description="The WhatsApp Business Account the number belongs to: its template "
        "catalog is read from there (docs/notifications.md).",
        examples=["100000000000000"],
    )
    locale: Locale = Field("es", description="Language of the default messages.")
    timezone: str = Field(
        "America/Sao_Paulo",
        description="IANA time zone of the service hours, e.g. America/Sao_Paulo.",
    )
    send_rate_per_second: float | None = Field(
        None,
        gt=0,
        le=limits.SEND_RATE_MAX,
        description="Messages per second this number may send; null uses the engine default.",
    )
    flow_version: int = Field(
        DEFAULT_FLOW_VERSION,
        description=(
            "Version of the base flow this number runs (see GET /api/v1/flow-versions); "
            "changed by an upgrade."
        ),
    )
    flow: FlowTab = Field(FlowTab(), description="Conversational flow tab.")
    faq: FaqTab = Field(FaqTab(), description="FAQ menu tab.")
    queue: QueueTab = Field(QueueTab(), description="Service queue tab.")
    service: ServiceTab = Field(ServiceTab(), description="Service and social networks tabs.")
    hours: HoursTab = Field(HoursTab(), description="Service hours tab.")
    templates: TemplatesTab = Field(TemplatesTab(), description="Active templates (R-CONF-6).")
    desk: DeskTab = Field(DeskTab(), description="General human-service settings (R-DESK-4).")
    notifications: NotificationsTab = Field(
        NotificationsTab(), description="Active notifications: messaging limit, rate share."
    )
    skills: SkillsTab = Field(
        default_factory=list,
        description=(
            "Custom skills at the extension points (PreMain, PreFaq, PreDesk, PreSurvey, "
            "PosSurvey, PreEnd); at most one per point. See docs/skills.md."
        ),
    )

    @field_validator("phone_number_id", "display_phone_number", mode="before")
    @classmethod
    def _digits_written_as_a_number(cls, value: Any) -> Any:
        """An unquoted YAML number (``phone_number_id: 100000000000001``) is its digits,
        also under the API's strict JSON rule; ``true`` is not."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("flow_version")
    @classmethod
    def _known_flow_version(cls, version: int) -> int:
        if version not in FLOW_VERSIONS:
            known = ", ".join(str(v) for v in sorted(FLOW_VERSIONS))
            raise ValueError(f"unknown flow version {version} (known: {known})")
        return version

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, key: str) -> str:
        try:
            ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(UNKNOWN_TIME_ZONE.text(zone=repr(key))) from None
        return key

    @model_validator(mode="after")
    def _service_button_distinct(self) -> NumberConfig:
        label = self.text("service_button").casefold()
        if any(q.question.casefold() == label for q in self.faq.questions):
            field_errors(
                "NumberConfig",
                [
                    (
                        ("faq", "service_button_label"),
                        "duplicate",
                        "the service button has the same title as a question",
                    )
                ],
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def text(self, key: MessageKey) -> str:
        """The admin's text for ``key`` when set, else the locale default (switches ignored)."""
        custom = {
            "initial_greeting": self.flow.initial_greeting.text,
            "return_greeting": self.flow.return_greeting.text,
            "faq_intro": self.faq.intro,
            "service_button": self.faq.service_button_label,
            "queue_message": self.queue.message,
            "pre_service": self.service.pre_service.text,
            "post_service": self.service.post_service.text,
            "absence": self.service.absence.text,
            "social_networks": self.service.social_networks.text,
            "unavailable": self.service.unavailable.text,
        }.get(key)
        return custom if custom is not None else default_message(self.locale, key)

    def message(self, key: MessageKey) -> str | None:
        """Like :meth:`text`, but ``None`` when the message's switch is off.

        Keys without a switch of their own always give their text.
        """
        switch = {
            "initial_greeting": self.flow.initial_greeting,
            "return_greeting": self.flow.return_greeting,
            "pre_service": self.service.pre_service,
            "post_service": self.service.post_service,
            "absence": self.service.absence,
            "social_networks": self.service.social_networks,
            "unavailable": self.service.unavailable,
        }.get(key)
        if switch is not None and not switch.enabled:
            return None
        return self.text(key)

    def greeting(self, returning: bool) -> str | None:
        """The return greeting (``returning``) or initial greeting template, or ``None``
        when that greeting is disabled."""
        return self.message("return_greeting" if returning else "initial_greeting")

    def queue_names(self) -> list[str]:
        """Menu options of the queue menu: the configured queues, then the default queue."""
        return [q.name for q in self.queue.queues] + [self.queue.default_queue.name]

    def queue_attendants(self, name: str) -> list[str] | None:
        """Attendant e-mails of the queue called ``name`` (ignoring case), or ``None``."""
        wanted = name.strip().casefold()
        queues: list[Queue | DefaultQueue] = [*self.queue.queues, self.queue.default_queue]
        for queue in queues:
            if queue.name.casefold() == wanted:
                return list(queue.attendants)
        return None


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a number's configuration, as published."""
    schema = NumberConfig.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "flow-engine number configuration",
        "description": (
            "Configuration of one WhatsApp business number and its base flow (tabs: flow, "
            "faq, queue, service, hours). Unknown fields are refused. Null messages use "
            "the default text of the number's locale."
        ),
    }
