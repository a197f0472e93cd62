"""The menus of the base flow: the FAQ tab and the service-queue tab."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, field_validator

from flow_engine.domain import limits
from flow_engine.domain.config_base import (
    ConfigModel,
    EmailList,
    Name,
    duplicates,
    field_errors,
)
from flow_engine.domain.error_kinds import ErrorKind

QUESTION_TWICE = ErrorKind("question_twice", "this question is already in the menu", "duplicate")
QUEUE_TWICE = ErrorKind("queue_twice", "another queue already has this name", "duplicate")
DEFAULT_QUEUE_NAME = ErrorKind(
    "default_queue_name",
    "{name} is the fixed default queue; set its attendants in queue.default_queue",
    "value_error",
)


class FaqItem(ConfigModel):
    """One question of the FAQ menu and its answer."""

    question: Name = Field(
        min_length=1,
        max_length=limits.ROW_TITLE_MAX,
        description="The menu option (a WhatsApp list row title, so at most 24 characters).",
    )
    answer: str = Field(
        min_length=1,
        max_length=limits.TEXT_MAX,
        description="Sent when the contact picks the question; may use placeholders.",
    )


class FaqTab(ConfigModel):
    """The FAQ menu shown after the greeting (R-FLOW-4)."""

    enabled: StrictBool = Field(
        False,
        description=(
            "On: after the greeting the contact gets the FAQ menu. Off: the contact goes "
            "straight on to human service (overflow)."
        ),
    )
    intro: str | None = Field(
        None,
        min_length=1,
        max_length=limits.INTERACTIVE_BODY_MAX,
        description=(
            "Message before the menu (the body of the list message, at most 1024 characters). "
            "Null uses the locale default."
        ),
    )
    questions: list[FaqItem] = Field(
        [],
        max_length=limits.FAQ_QUESTIONS_MAX,
        description="Up to 10 questions, in menu order; question titles must be distinct.",
    )
    service_button_label: Name | None = Field(
        None,
        min_length=1,
        max_length=limits.ROW_TITLE_MAX,
        description=(
            "The menu option that leads to human service (a list row, at most 24 characters). "
            "Null uses the locale default."
        ),
    )

    @field_validator("questions")
    @classmethod
    def _distinct_questions(cls, questions: list[FaqItem]) -> list[FaqItem]:
        repeated = duplicates(q.question for q in questions)
        twice = QUESTION_TWICE.type, QUESTION_TWICE.text()
        field_errors("FaqTab", [((i, "question"), *twice) for i in repeated])
        return questions


class Queue(ConfigModel):
    """A service queue the contact may choose when the call center is on."""

    name: Name = Field(
        min_length=1,
        max_length=limits.ROW_TITLE_MAX,
        description=(
            f"Menu option (a list row, at most 24 characters); distinct, ignoring case, and "
            f"never {limits.DEFAULT_QUEUE_NAME!r}, which is the fixed default queue."
        ),
    )
    attendants: EmailList = Field([], description="E-mails of the attendants of this queue.")

    @field_validator("name")
    @classmethod
    def _not_default(cls, name: str) -> str:
        if name.casefold() == limits.DEFAULT_QUEUE_NAME.casefold():
            raise ValueError(DEFAULT_QUEUE_NAME.text(name=repr(limits.DEFAULT_QUEUE_NAME)))
        return name


class DefaultQueue(ConfigModel):
    """The fixed default queue "Otros asuntos", always offered last."""

    name: Literal["Otros asuntos"] = Field(
        "Otros asuntos",
        description="Fixed; it cannot be renamed (any other value is refused).",
    )
    attendants: EmailList = Field(
        [], description="E-mails of the attendants of the default queue."
    )


class QueueTab(ConfigModel):
    """Where tickets go (R-FLOW-7)."""

    attendants: EmailList = Field(
        [],
        description=(
            "Call center off: e-mails of the attendants who receive every ticket of the number."
        ),
    )
    message: str | None = Field(
        None,
        min_length=1,
        max_length=limits.INTERACTIVE_BODY_MAX,
        description=(
            "Call center on: message before the queue menu (body of the list message, at "
            "most 1024 characters). Null uses the locale default."
        ),
    )
    queues: list[Queue] = Field(
        [],
        max_length=limits.QUEUES_MAX,
        description=(
            "Call center on: up to 10 queues, in menu order; the default queue is always added "
            "after them."
        ),
    )
    default_queue: DefaultQueue = Field(
        DefaultQueue(), description=f"The fixed default queue {limits.DEFAULT_QUEUE_NAME!r}."
    )

    @field_validator("queues")
    @classmethod
    def _distinct_names(cls, queues: list[Queue]) -> list[Queue]:
        repeated = duplicates(q.name for q in queues)
        twice = QUEUE_TWICE.type, QUEUE_TWICE.text()
        field_errors("QueueTab", [((i, "name"), *twice) for i in repeated])
        return queues
