"""The conversation record: what the engine remembers of one (number, contact)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Conversation(BaseModel):
    """State of one conversation, saved with a version check after every message.

    ``version`` grows by one on every save; ``last_entry`` is the queue id of the
    last inbound entry whose effects were saved, so a redelivered entry is skipped.
    ``state`` and ``data`` belong to the base flow; ``skill`` to the active skill;
    ``skill_vars`` are the ``skp_`` variables skills left when they returned, kept for
    this contact (the contact's context, as in the hosted product) and seen by every
    skill of the number on entry.
    """

    model_config = ConfigDict(extra="ignore")

    number: str
    contact: str
    version: int = 0
    last_entry: str = ""
    contact_name: str = ""
    state: str = "start"
    data: dict[str, Any] = Field(default_factory=dict)
    skill: dict[str, Any] = Field(default_factory=dict)
    skill_vars: dict[str, Any] = Field(default_factory=dict)
    first_seen: float = 0.0
    last_seen: float = 0.0
    messages_in: int = 0
    #: the contact wrote to this number before this record began: an earlier record
    #: expired (the stores' retention) while the contact was still known
    returning: bool = False

    @classmethod
    def known_again(cls, number: str, contact: str, first_seen: float) -> Conversation:
        """The new record of a contact whose earlier one expired while still known."""
        return cls(number=number, contact=contact, first_seen=first_seen, returning=True)

    @property
    def is_new(self) -> bool:
        return self.version == 0
