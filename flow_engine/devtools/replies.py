"""What a contact receives in a local conversation, as the terminal shows it: one
:class:`Reply` per message (a long menu's list and its "more" buttons count as one),
with its readable text, its body and the options a tap can answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flow_engine.devtools import webhooks
from flow_engine.domain import menus


@dataclass
class Reply:
    """One message received by the contact (a long menu's list and its "more" buttons
    count as one): ``text`` as shown in a terminal, ``options`` the menu's titles."""

    text: str
    body: str
    options: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    #: (inbound kind, id, title) of each option: what a tap sends back
    choices: list[tuple[str, str, str]] = field(default_factory=list)


def body_of(payload: dict[str, Any]) -> str:
    if payload.get("type") == "text":
        return str(payload.get("text", {}).get("body", ""))
    if payload.get("type") == "interactive":
        return str((payload.get("interactive") or {}).get("body", {}).get("text", ""))
    return "\n".join(webhooks.describe_payload(payload))


def replies_of(payloads: list[dict[str, Any]]) -> list[Reply]:
    """Sent payloads as replies; "more" buttons after a menu join that menu."""
    out: list[Reply] = []
    for payload in payloads:
        choices = webhooks.options_of(payload)
        body = body_of(payload)
        continued = (
            payload.get("type") == "interactive"
            and (payload.get("interactive") or {}).get("type") == "button"
            and body == menus.MORE_BODY_DEFAULT
        )
        if continued and out and out[-1].choices:
            last = out[-1]
            last.choices.extend(choices)
            last.options = [t for _k, _i, t in last.choices]
            last.payloads.append(payload)
            last.text = render_reply(last)
            continue
        reply = Reply(
            text="",
            body=body,
            options=[t for _k, _i, t in choices],
            payloads=[payload],
            choices=list(choices),
        )
        reply.text = render_reply(reply)
        out.append(reply)
    return out


def render_reply(reply: Reply) -> str:
    """The readable text of a reply; a merged menu is numbered straight through."""
    first = webhooks.describe_payload(reply.payloads[0])
    if len(reply.payloads) == 1:
        return "\n".join(first)
    lines = [line for line in first if not _is_option_line(line)]
    lines.extend(f"  {n}. {title}" for n, title in enumerate(reply.options, 1))
    return "\n".join(lines)


def _is_option_line(line: str) -> bool:
    head, _, _ = line.strip().partition(". ")
    return line.startswith("  ") and head.isdigit()
