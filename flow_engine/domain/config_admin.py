"""The tabs edited outside the flow screens: active templates (R-CONF-6) and the general
human-service settings (R-DESK-4)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool

from flow_engine.domain import limits
from flow_engine.domain.config_base import ConfigModel, distinct

#: A WhatsApp message template name: lower-case letters, digits and underscores.
TemplateName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=limits.TEMPLATE_NAME_MAX,
        pattern=r"^[a-z0-9_]+$",
        examples=["atendimento_esta_disponivel"],
    ),
]


TemplateList = Annotated[
    list[TemplateName], Field(max_length=limits.TEMPLATES_MAX), distinct("TemplateList")
]
Tag = Annotated[str, Field(min_length=1, max_length=limits.TAG_MAX, pattern=r"\S")]


class TemplatesTab(ConfigModel):
    """Templates active on the number (R-CONF-6): the ones its members may send."""

    active: TemplateList = Field(
        default_factory=list,
        description="Names of the WhatsApp templates active on this number (approved in WABA).",
    )


class ActiveMessaging(ConfigModel):
    """Active (business-initiated) messaging from this number. Never replicated (R-CONF-3).
    Enforced by the notifications (docs/notifications.md)."""

    enabled: StrictBool = Field(
        True,
        description="Whether active notifications (individual and campaigns) may be sent "
        "from this number; false refuses them with a 409.",
    )
    daily_limit: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="The number's own cap on contacts reached by active notifications in a "
        "rolling 24 h, below the messaging limit (the gateway's tier, or "
        "notifications.messaging_limit; the lower applies); null: none.",
    )


class NotificationsTab(ConfigModel):
    """How the number sends active notifications (R-NOTIFY). Never replicated."""

    messaging_limit: int | None = Field(
        250,
        ge=1,
        le=10_000_000,
        description="Distinct contacts the number may reach with business-initiated "
        "messages in a rolling 24 h while the gateway's tier is not known (never read, or "
        "read more than 48 h ago: the tier the health service read wins); null: unlimited. "
        "A campaign waits (waiting_limit) instead of sending past it.",
    )
    max_share: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Largest share of the number's send rate a campaign may take, so the "
        "bot keeps answering while it runs.",
    )


class DeskTab(ConfigModel):
    """General human-service settings of the number (R-DESK-4)."""

    tags: Annotated[list[Tag], Field(max_length=limits.TAGS_MAX), distinct("TagList")] = Field(
        default_factory=list, description="Tags attendants can put on tickets."
    )
    active_messaging: ActiveMessaging = Field(
        ActiveMessaging(), description="Active messaging settings (never replicated)."
    )
