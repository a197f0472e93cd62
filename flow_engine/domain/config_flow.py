"""The "Flujo conversacional" tab: call center, greetings, survey, timeouts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, StrictBool

from flow_engine.domain import limits
from flow_engine.domain.config_base import ConfigModel, Message

SurveyKind = Literal["csat", "nps"]


class SurveySettings(ConfigModel):
    """The satisfaction survey after a human service (R-FLOW-11).

    Frequency rule: a contact always gets the survey after their first service
    (they have never been surveyed). After that, the survey is offered when at
    least every_n_services services have ended since the last survey and at
    least min_days_between days have passed since it. The defaults
    (1 and 0) survey every service.
    """

    enabled: StrictBool = Field(False, description="Offer a survey at the end of a human service.")
    kind: SurveyKind = Field(
        "csat",
        description="csat: satisfaction from 1 to 5; nps: likelihood to recommend from 0 to 10.",
    )
    every_n_services: int = Field(
        1,
        ge=1,
        le=1000,
        description=(
            "Offer the survey again only after this many services have ended since the last "
            "survey (1 = after every service). The first service always gets it."
        ),
    )
    min_days_between: int = Field(
        0,
        ge=0,
        le=365,
        description=(
            "And only when at least this many days have passed since the contact's last "
            "survey (0 = no minimum). The first service always gets it."
        ),
    )

    def is_due(
        self,
        *,
        services_since_survey: int | None,
        last_survey_at: datetime | None,
        now: datetime,
    ) -> bool:
        """Whether the service that just ended gets the survey.

        ``services_since_survey`` counts the services ended since the contact's last
        survey, the one that just ended included; ``None`` (or ``last_survey_at``
        ``None``) means the contact was never surveyed, which always gets it.
        """
        if not self.enabled:
            return False
        if services_since_survey is None or last_survey_at is None:
            return True
        if services_since_survey < self.every_n_services:
            return False
        return now - last_survey_at >= timedelta(days=self.min_days_between)


class FlowTab(ConfigModel):
    """Call center, greetings, survey and the flow's time limits."""

    call_center: StrictBool = Field(
        False,
        description=(
            "On: the contact chooses a service queue from a menu (queue tab). Off: tickets "
            "go straight to the number's attendants (queue.attendants)."
        ),
    )
    initial_greeting: Message = Field(
        Message(),
        description="Greeting sent the first time a contact ever writes (R-FLOW-2).",
    )
    return_greeting: Message = Field(
        Message(),
        description=(
            "Greeting sent when a known contact starts a new conversation (R-FLOW-2, R-FLOW-13)."
        ),
    )
    survey: SurveySettings = Field(
        SurveySettings(), description="Satisfaction survey after human service (R-FLOW-11)."
    )
    restart_after_minutes: int = Field(
        30,
        ge=1,
        le=7 * 24 * 60,
        description=(
            "A contact silent for this long while the bot waits for an answer starts again "
            "from the beginning, with the return greeting."
        ),
    )
    ticket_inactivity_close_minutes: int = Field(
        24 * 60,
        ge=5,
        le=7 * 24 * 60,
        description=(
            "An open ticket with no message from either side for this long is closed by "
            "inactivity (R-FLOW-9)."
        ),
    )
    max_invalid_retries: int = Field(
        2,
        ge=0,
        le=limits.MAX_INVALID_RETRIES_MAX,
        description=(
            "How many times a menu or survey question is asked again after an answer that "
            "matches no option; after that the flow moves on."
        ),
    )
