"""Phone numbers for the recording gateway: every number is healthy and verified unless a
test says otherwise (``phone_numbers[id] = {...}``); activation accepts any code and PIN
unless a refusal is scripted (``refuse_next``). Every call is recorded in ``number_calls``
(the PIN never: only that one was given)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flow_engine.errors import GatewayError
from flow_engine.gateway.phone_numbers import PhoneNumberApi


def healthy_number(phone_number_id: str) -> dict[str, Any]:
    return {
        "id": phone_number_id,
        "display_phone_number": "",
        "verified_name": "Recording Business",
        "quality_rating": "GREEN",
        "status": "CONNECTED",
        "name_status": "APPROVED",
        "code_verification_status": "VERIFIED",
        "throughput": {"level": "STANDARD"},
        "whatsapp_business_manager_messaging_limit": "TIER_2K",
    }


class RecordingPhoneNumbers(PhoneNumberApi):
    @property
    def phone_numbers(self) -> dict[str, dict[str, Any]]:
        """Fields served per phone number id (a healthy default for any other)."""
        found: dict[str, dict[str, Any]] = self.__dict__.setdefault("_phone_numbers", {})
        return found

    @property
    def number_calls(self) -> list[tuple[str, str]]:
        """``(call, phone_number_id)`` of every phone-number call, in order."""
        found: list[tuple[str, str]] = self.__dict__.setdefault("_number_calls", [])
        return found

    def refuse_next(self, call: str, error: GatewayError) -> None:
        """Make the next ``call`` (``phone_number``, ``request_code``, ``verify_code`` or
        ``register``) raise ``error``."""
        self.__dict__.setdefault("_refusals", {})[call] = error

    def _call(self, call: str, phone_number_id: str) -> None:
        self.number_calls.append((call, phone_number_id))
        refused = self.__dict__.get("_refusals", {}).pop(call, None)
        if refused is not None:
            raise refused

    async def phone_number(self, phone_number_id: str, fields: Sequence[str]) -> dict[str, Any]:
        self._call("phone_number", phone_number_id)
        doc = self.phone_numbers.get(phone_number_id) or healthy_number(phone_number_id)
        return {"id": phone_number_id, **{f: doc[f] for f in fields if f in doc}}

    async def request_code(self, phone_number_id: str, method: str, language: str) -> None:
        self._call("request_code", phone_number_id)

    async def verify_code(self, phone_number_id: str, code: str) -> None:
        self._call("verify_code", phone_number_id)

    async def register(self, phone_number_id: str, pin: str) -> None:
        self._call("register", phone_number_id)
