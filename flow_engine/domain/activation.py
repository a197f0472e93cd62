"""Number activation (PRODUCT §9, R-ACTIVATE): request a verification code by voice call
(or SMS), submit it, and register the number with its two-step PIN.

The gateway calls are ``request_code``, ``verify_code`` and ``register``
(WHATSAPP.md, "Phone numbers"). The PIN is a secret: no model here carries it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from flow_engine.domain.error_kinds import ErrorKind

#: A second code request for the same number within this many seconds is refused (429).
CODE_REQUEST_INTERVAL_S = 60
#: A verified code lets ``register`` be retried without a new code for this long (Meta's
#: codes live about 10 minutes).
VERIFIED_FOR_S = 600
CODE_PATTERN = r"^[0-9]{6}$"
PIN_PATTERN = r"^[0-9]{6}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(_[A-Z]{2})?$"
PIN_FORMAT = ErrorKind("pin_format", "the PIN is {digits} digits", "value_error")


class CodeMethod(StrEnum):
    VOICE = "VOICE"
    SMS = "SMS"


class ActivationRecord(BaseModel):
    """Where a number's activation stands: when a code was last requested (and how), when
    one was verified, when the number was registered."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    number: str
    requested_at: float | None = None
    method: CodeMethod | None = None
    verified_at: float | None = None
    registered_at: float | None = None

    def verified_recently(self, now: float) -> bool:
        return self.verified_at is not None and now - self.verified_at < VERIFIED_FOR_S
