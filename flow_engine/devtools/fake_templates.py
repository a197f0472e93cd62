"""The development gateway's template side: a WABA template catalog served like
``GET /{version}/{waba_id}/message_templates`` (cursor paging), template sends refused
with Meta's error body when they do not match the template (132000, 132001, 132012,
132015/132016), and signed status webhooks (sent, delivered, read — or failed with a
chosen code) posted to the engine for what it accepts.

Switches (``POST /_fake/statuses``): ``mode`` ``templates`` (default: statuses for
template sends), ``all`` or ``off``; ``delay_s`` between statuses; ``fail``
``{"<wa_id>": code}`` accepts the send then posts a ``failed`` status with that code;
``refuse`` ``{"<wa_id>": code}`` refuses the send itself with that code. A burst of
130429 is a fault (``POST /_fake/faults {"code": 130429, "times": N}``).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
DEFAULT_TEMPLATES = Path("fixtures") / "catalog" / "templates.json"
PAGE_DEFAULT = 25
TITLES = {
    131026: "Message undeliverable",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "User has stopped marketing messages",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
    132012: "Parameter format does not match format in the created template",
    132015: "Template is paused",
    132016: "Template is disabled",
    368: "Temporarily blocked for policies violations",
    131031: "Business Account locked",
    131042: "Business eligibility payment issue",
}


class StatusSwitches(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["templates", "all", "off"] | None = None
    delay_s: float | None = Field(None, ge=0, le=60)
    fail: dict[str, int] | None = None
    refuse: dict[str, int] | None = None


@dataclass
class FakeCatalog:
    """WABAs with their numbers and templates (``fixtures/catalog/templates.json``)."""

    wabas: dict[str, dict[str, Any]] = field(default_factory=dict)
    mode: str = "templates"
    delay_s: float = 0.05
    #: most templates a page holds, whatever ``limit`` asks (tests page with 2)
    page_size: int = PAGE_DEFAULT
    fail: dict[str, int] = field(default_factory=dict)
    refuse: dict[str, int] = field(default_factory=dict)
    #: pages asked for so far, served or not
    reads: int = 0

    @classmethod
    def from_file(cls, path: Path | None) -> FakeCatalog:
        if path is None or not path.is_file():
            return cls()
        doc = json.loads(path.read_text(encoding="utf-8"))
        return cls(wabas=dict(doc.get("wabas", {})))

    def waba_of(self, number: str) -> str | None:
        return next((w for w, d in self.wabas.items() if number in d.get("numbers", [])), None)

    def page(self, waba: str, after: str | None, limit: int) -> dict[str, Any] | None:
        self.reads += 1
        if waba not in self.wabas:
            return None
        templates = self.wabas[waba].get("templates", [])
        limit = min(limit, self.page_size)
        start = int(after) if after and after.isascii() and after.isdigit() else 0
        data = templates[start : start + limit]
        body: dict[str, Any] = {"data": data, "paging": {"cursors": {"before": str(start)}}}
        if start + limit < len(templates):
            body["paging"]["cursors"]["after"] = str(start + limit)
            body["paging"]["next"] = f"/{waba}/message_templates?after={start + limit}"
        else:
            body["paging"]["cursors"]["after"] = str(len(templates))
        return body

    def configure(self, switches: StatusSwitches) -> None:
        if switches.mode is not None:
            self.mode = switches.mode
        if switches.delay_s is not None:
            self.delay_s = switches.delay_s
        if switches.fail is not None:
            self.fail = dict(switches.fail)
        if switches.refuse is not None:
            self.refuse = dict(switches.refuse)

    def switches(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "delay_s": self.delay_s,
            "fail": self.fail,
            "refuse": self.refuse,
        }

    def check_send(self, number: str, to: str, body: dict[str, Any]) -> tuple[int, str] | None:
        """Meta's refusal of a send, as (code, message), or None when it is accepted."""
        if to in self.refuse:
            code = self.refuse[to]
            return code, f"(#{code}) {TITLES.get(code, 'Refused by the fake gateway')}"
        if body.get("type") != "template" or not self.wabas:
            return None
        waba = self.waba_of(number)
        sent = body.get("template") or {}
        name = sent.get("name")
        language = (sent.get("language") or {}).get("code")
        templates = self.wabas.get(waba or "", {}).get("templates", [])
        found = next(
            (t for t in templates if t.get("name") == name and t.get("language") == language),
            None,
        )
        if found is None:
            return 132001, f"(#132001) {TITLES[132001]}: {name} ({language})"
        status = str(found.get("status", "")).upper()
        if status in ("PAUSED", "DISABLED"):
            code = 132015 if status == "PAUSED" else 132016
            return code, f"(#{code}) {TITLES[code]}"
        if status != "APPROVED":
            return 132001, f"(#132001) Template {name} is {status}, not approved"
        return _check_components(found, sent.get("components") or [])


def _check_components(
    template: dict[str, Any], given: list[dict[str, Any]]
) -> tuple[int, str] | None:
    named = str(template.get("parameter_format", "POSITIONAL")).upper() == "NAMED"
    by_type: dict[str, list[dict[str, Any]]] = {}
    buttons: dict[str, list[dict[str, Any]]] = {}
    for comp in given:
        kind = str(comp.get("type", "")).lower()
        if kind == "button":
            buttons[str(comp.get("index"))] = list(comp.get("parameters") or [])
        else:
            by_type[kind] = list(comp.get("parameters") or [])
    mismatch = (132000, f"(#132000) {TITLES[132000]}")
    for comp in template.get("components", []):
        kind = str(comp.get("type", "")).upper()
        if kind == "HEADER":
            fmt = str(comp.get("format", "TEXT")).upper()
            params = by_type.pop("header", [])
            if fmt == "TEXT":
                if not _same(comp.get("text", ""), params, named):
                    return mismatch
            elif fmt in ("IMAGE", "VIDEO", "DOCUMENT", "LOCATION"):
                if len(params) != 1:
                    return mismatch
                if params[0].get("type") != fmt.lower():
                    return 132012, f"(#132012) {TITLES[132012]}"
        elif kind == "BODY":
            if not _same(comp.get("text", ""), by_type.pop("body", []), named):
                return mismatch
        elif kind == "BUTTONS":
            for index, button in enumerate(comp.get("buttons") or []):
                params = buttons.pop(str(index), [])
                wants = bool(PLACEHOLDER.search(str(button.get("url", ""))))
                if button.get("type") == "URL" and wants != bool(params):
                    return mismatch
    if any(by_type.values()) or buttons:
        return mismatch
    return None


def _same(text: str, params: list[dict[str, Any]], named: bool) -> bool:
    expected = list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(text)))
    if named:
        return sorted(str(p.get("parameter_name")) for p in params) == sorted(expected)
    return len(params) == len(expected)


async def post_statuses(
    catalog: FakeCatalog,
    post: Any,
    record: dict[str, Any],
) -> None:
    """Post the status webhooks of one accepted send (``post(status, errors)``)."""
    to = record["to"]
    steps: list[tuple[str, list[dict[str, Any]] | None]] = [("sent", None)]
    if to in catalog.fail:
        code = catalog.fail[to]
        title = TITLES.get(code, "Failed in the fake gateway")
        steps.append(("failed", [{"code": code, "title": title, "message": title}]))
    else:
        steps += [("delivered", None), ("read", None)]
    for status, errors in steps:
        await asyncio.sleep(catalog.delay_s)
        await post(status, errors)
