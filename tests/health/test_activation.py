"""Activation by voice code against the stand-in Graph API: the happy path, a wrong code
(502 with Meta's error as it came), a second request within 60 s (429), a wrong PIN, and
the PIN in no log line and no answer."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.health.conftest import LINES, N1, N2, WABA, Stack

PIN = "246813"


def not_the(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_activation_happy_path(stack: Stack) -> None:
    stack.set_number(N1, code_verification_status="NOT_VERIFIED", status="PENDING")
    view = await stack.admin.call("GET", f"/numbers/{N1}/activation")
    assert view.status == 200, view.body
    assert view.body == {
        "number": N1,
        "waba_id": None,  # not known yet: no configuration or webhook named it
        "display_phone_number": LINES[N1][0],
        "verified_name": LINES[N1][1],
        "code_verification_status": "NOT_VERIFIED",
        "status": "PENDING",
        "code_requested_at": None,
        "code_method": None,
        "verified_at": None,
        "registered_at": None,
        "pin_kept": False,
    }
    asked = await stack.admin.call(
        "POST", f"/numbers/{N1}/activation/request-code", {"method": "VOICE", "language": "es"}
    )
    assert asked.status == 200, asked.body
    assert asked.body["method"] == "VOICE"
    ((number, method, code),) = stack.codes  # the "voice call"
    assert (number, method) == (N1, "VOICE")
    done = await stack.admin.call(
        "POST", f"/numbers/{N1}/activation/verify", {"code": code, "pin": PIN}
    )
    assert done.status == 200, done.body
    assert done.body["code_verification_status"] == "VERIFIED"
    assert done.body["status"] == "CONNECTED"
    assert done.body["registered_at"] is not None and done.body["pin_kept"] is True
    assert PIN not in json.dumps(done.body)
    assert stack.numbers.load(N1)["pin"] == PIN  # registered with it at the gateway
    # the health facts follow what activation read
    facts = (await stack.admin.call("GET", f"/numbers/{N1}")).body["gateway"]
    assert facts["fields"]["code_verification_status"]["value"] == "VERIFIED"


async def test_a_wrong_code_is_a_502_with_metas_details_then_the_right_one_works(
    stack: Stack,
) -> None:
    await stack.quality_update(N2, "ONBOARDING")  # names the WABA of the number
    stack.set_number(N2, code_verification_status="NOT_VERIFIED", status="PENDING")
    view = (await stack.admin.call("GET", f"/numbers/{N2}/activation")).body
    assert view["waba_id"] == WABA
    asked = await stack.admin.call("POST", f"/numbers/{N2}/activation/request-code", {})
    assert asked.status == 200 and asked.body["method"] == "VOICE"  # the default
    ((_n, _m, code),) = stack.codes
    wrong = await stack.admin.call(
        "POST", f"/numbers/{N2}/activation/verify", {"code": not_the(code), "pin": PIN}
    )
    assert wrong.status == 502
    error = wrong.body["error"]
    assert error["code"] == "gateway_error"
    details = error["details"]
    assert details["code"] == 136025
    assert details["title"] == "Incorrect code"
    assert details["message"].startswith("Code couldn't be verified")
    assert details["fbtrace_id"].startswith("Fake")
    assert details["error"]["error_subcode"] == 2388093  # Meta's error, whole
    assert details["error"]["message"] == "(#136025) Verify code error"
    assert PIN not in json.dumps(wrong.body)
    state = (await stack.admin.call("GET", f"/numbers/{N2}/activation")).body
    assert state["code_verification_status"] == "NOT_VERIFIED" and state["pin_kept"] is True
    # the right code, and the PIN kept from the call before
    done = await stack.admin.call("POST", f"/numbers/{N2}/activation/verify", {"code": code})
    assert done.status == 200, done.body
    assert done.body["code_verification_status"] == "VERIFIED"
    assert stack.numbers.load(N2)["pin"] == PIN


async def test_a_second_request_within_60_s_is_a_429(stack: Stack) -> None:
    first = await stack.admin.call(
        "POST", f"/numbers/{N1}/activation/request-code", {"method": "SMS", "language": "pt_BR"}
    )
    assert first.status == 200
    again = await stack.admin.call("POST", f"/numbers/{N1}/activation/request-code", {})
    assert again.status == 429
    assert again.body["error"]["code"] == "too_many_requests"
    retry_after = int(again.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert again.body["error"]["details"]["retry_after"] == retry_after
    assert len(stack.codes) == 1  # the gateway was not asked twice
    # another number is not held back
    other = await stack.admin.call("POST", f"/numbers/{N2}/activation/request-code", {})
    assert other.status == 200


async def test_a_request_the_gateway_refuses_does_not_hold_the_next_one(stack: Stack) -> None:
    stack.numbers.last_request[N1] = stack.numbers.clock()  # the gateway thinks: too soon
    refused = await stack.admin.call("POST", f"/numbers/{N1}/activation/request-code", {})
    assert refused.status == 502
    assert refused.body["error"]["details"]["code"] == 136024
    stack.numbers.last_request.clear()
    assert (
        await stack.admin.call("POST", f"/numbers/{N1}/activation/request-code", {})
    ).status == 200


async def test_bad_bodies_are_422_naming_the_field(stack: Stack) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("request-code", {"method": "PIGEON"}, "method"),
        ("request-code", {"language": "spanish!"}, "language"),
        ("request-code", {"surprise": 1}, "surprise"),
        ("verify", {"code": "12ab56", "pin": PIN}, "code"),
        ("verify", {"code": "123456", "pin": "12"}, "pin"),
        ("verify", {"code": "123456", "pin": "١٢٣٤٥٦"}, "pin"),  # digits, not ASCII ones
        ("verify", {"code": "123456"}, "pin"),  # no PIN given and none kept
    ]
    for path, body, field in cases:
        reply = await stack.admin.call("POST", f"/numbers/{N1}/activation/{path}", body)
        assert reply.status == 422, (path, body, reply.body)
        assert field in [d["field"] for d in reply.body["error"]["details"]], reply.body
        assert all("input" not in d for d in reply.body["error"]["details"])  # not echoed
    missing = await stack.admin.call("GET", "/numbers/999/activation")
    assert missing.status == 404


async def test_the_pin_appears_in_no_log_line(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.set_number(N1, pin="135790")  # the number has a two-step PIN already
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        await stack.admin.call("POST", f"/numbers/{N1}/activation/request-code", {})
        ((_n, _m, code),) = stack.codes
        wrong_pin = await stack.admin.call(
            "POST", f"/numbers/{N1}/activation/verify", {"code": code, "pin": PIN}
        )
        assert wrong_pin.status == 502
        assert wrong_pin.body["error"]["details"]["code"] == 133005
        assert PIN not in json.dumps(wrong_pin.body)
        # refused as wrong: not kept, so the next call must give one
        view = (await stack.admin.call("GET", f"/numbers/{N1}/activation")).body
        assert view["pin_kept"] is False
        done = await stack.admin.call(
            "POST", f"/numbers/{N1}/activation/verify", {"code": code, "pin": "135790"}
        )
        assert done.status == 200, done.body
    events = [e for e in logs if e["event"].startswith(("activation_", "whatsapp_"))]
    assert {e["event"] for e in events} >= {
        "activation_code_requested",
        "activation_register_refused",
        "activation_registered",
    }
    everything = repr(logs) + caplog.text + repr([r.__dict__ for r in caplog.records])
    for secret in (PIN, "135790"):
        assert secret not in everything
