"""A number's configuration as the console's forms, tab by tab (the manual's tabs:
conversational flow, FAQ, service queue, service, social networks, hours; and skills).

Each tab lists its fields by their dotted path in the configuration, so an input's name
*is* the path the API's validation names in an error (``faq.questions.3.question``): the
error shows beside its field. A posted tab is applied to the configuration in force and
validated by :func:`flow_engine.admin.configs.validate_config`, exactly as the API does.
Rows left empty in a list (a question, a queue, an interval) are dropped; the indexes of
errors are mapped back to the rows of the form.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Literal

from flow_engine.console.forms import Form, field
from flow_engine.console.validation import field_message
from flow_engine.domain.config_hours import WEEKDAYS
from flow_engine.domain.skills import EXTENSION_POINTS, PARENT_OF

Kind = Literal["bool", "text", "message", "int", "number", "select", "emails"]


@dataclass(frozen=True)
class F:
    """One input: ``path`` in the configuration (relative to its row in a group)."""

    path: str
    kind: Kind = "text"
    nullable: bool = True  # an empty input is null (the default applies)
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class G:
    """A list of rows (FAQ questions, queues, intervals of a day, holidays)."""

    path: str
    columns: tuple[F, ...]
    max: int
    blank: int = 2  # empty rows offered for new items


@dataclass(frozen=True)
class Skills:
    """The skills tab: one row per extension point."""

    path: str = "skills"


@dataclass(frozen=True)
class Tab:
    key: str
    items: tuple[F | G | Skills, ...]


#: the messages with their own switch (their inputs: ``<path>.enabled``, ``<path>.text``)
MESSAGES: set[str] = set()


def message(path: str) -> tuple[F, F]:
    MESSAGES.add(path)
    return F(f"{path}.enabled", "bool"), F(f"{path}.text", "message")


TABS: dict[str, Tab] = {
    t.key: t
    for t in (
        Tab(
            "flow",
            (
                F("name", nullable=False),
                F("locale", "select", nullable=False, options=("es", "pt-BR", "en")),
                F("flow.call_center", "bool"),
                *message("flow.initial_greeting"),
                *message("flow.return_greeting"),
                F("flow.survey.enabled", "bool"),
                F("flow.survey.kind", "select", nullable=False, options=("csat", "nps")),
                F("flow.survey.every_n_services", "int", nullable=False),
                F("flow.survey.min_days_between", "int", nullable=False),
                F("flow.restart_after_minutes", "int", nullable=False),
                F("flow.ticket_inactivity_close_minutes", "int", nullable=False),
                F("flow.max_invalid_retries", "int", nullable=False),
            ),
        ),
        Tab(
            "faq",
            (
                F("faq.enabled", "bool"),
                F("faq.intro", "message"),
                F("faq.service_button_label"),
                G(
                    "faq.questions",
                    (F("question", nullable=False), F("answer", "message", nullable=False)),
                    max=10,
                ),
            ),
        ),
        Tab(
            "queue",
            (
                F("queue.attendants", "emails"),
                F("queue.message", "message"),
                G("queue.queues", (F("name", nullable=False), F("attendants", "emails")), max=10),
                F("queue.default_queue.attendants", "emails"),
            ),
        ),
        Tab(
            "service",
            (
                *message("service.pre_service"),
                *message("service.post_service"),
                *message("service.absence"),
                F("service.absence.contact_card.name"),
                F("service.absence.contact_card.phone"),
                *message("service.unavailable"),
            ),
        ),
        Tab(
            "social",
            (
                *message("service.social_networks"),
                F("service.social_networks.instagram"),
                F("service.social_networks.facebook"),
                F("service.social_networks.linkedin"),
                F("service.social_networks.youtube"),
            ),
        ),
        Tab(
            "hours",
            (
                F("timezone", nullable=False),
                F("hours.open_24h", "bool"),
                *(
                    G(f"hours.weekdays.{day}", (F("start"), F("end")), max=3, blank=1)
                    for day in WEEKDAYS
                ),
                G("hours.holidays", (F("date", nullable=False), F("start"), F("end")), max=366),
            ),
        ),
        Tab("skills", (Skills(),)),
    )
}
SKILL_KINDS = ("declarative", "http", "python")
WHERE = {"declarative": "path", "http": "url", "python": "target"}


# ---------------------------------------------------------------------- paths
def get(doc: Any, path: str) -> Any:
    node = doc
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif (
            isinstance(node, list) and part.isascii() and part.isdigit() and int(part) < len(node)
        ):
            node = node[int(part)]
        else:
            return None
    return node


def put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = doc
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[leaf] = value


# ---------------------------------------------------------------------- to the form
def shown(f: F, value: Any) -> Any:
    if f.kind == "bool":
        return bool(value)
    if f.kind == "emails":
        return "\n".join(value or [])
    return "" if value is None else str(value)


def values_of(tab: Tab, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """The inputs of ``tab`` filled from ``config``, and how many rows each list shows."""
    values: dict[str, Any] = {}
    rows: dict[str, int] = {}
    for item in tab.items:
        if isinstance(item, F):
            values[item.path] = shown(item, get(config, item.path))
        elif isinstance(item, G):
            items = get(config, item.path) or []
            for i, row in enumerate(items):
                for col in item.columns:
                    values[f"{item.path}.{i}.{col.path}"] = shown(col, get(row, col.path))
            rows[item.path] = min(item.max, len(items) + item.blank)
        else:
            for skill in config.get("skills") or []:
                # the stored configuration names it service_name; a posted one serviceName
                point = skill.get("service_name") or skill.get("serviceName")
                kind = skill.get("kind", "")
                values[f"skills.{point}.kind"] = kind
                values[f"skills.{point}.location"] = skill.get(WHERE.get(kind, "path")) or ""
                timeout = skill.get("timeout_s")
                values[f"skills.{point}.timeout_s"] = "" if timeout is None else str(timeout)
    return values, rows


def posted_values(tab: Tab, form: Form) -> tuple[dict[str, Any], dict[str, int]]:
    """The inputs as the member typed them (shown again beside the errors)."""
    values: dict[str, Any] = {}
    rows: dict[str, int] = {}
    for key in form:
        values[key] = field(form, key)
    for item in tab.items:
        if isinstance(item, F) and item.kind == "bool":
            values[item.path] = field(form, item.path) == "on"
        if isinstance(item, G):
            rows[item.path] = int(field(form, f"{item.path}.rows") or 0) or item.blank
    return values, rows


# ---------------------------------------------------------------------- from the form
def parsed(f: F, raw: str) -> Any:
    if f.kind == "bool":
        return raw == "on"
    if f.kind == "emails":
        return [e for e in re.split(r"[\s,;]+", raw) if e]
    text = raw.strip() if f.kind != "message" else raw.strip("\r\n ")
    if text == "":
        return None if f.nullable else ""
    if f.kind == "int" and re.fullmatch(r"-?\d{1,12}", text):
        return int(text)
    if f.kind == "number":
        try:
            return float(text)
        except ValueError:
            return text
    return text  # a bad number stays text: the validation names the field


@dataclass
class Parsed:
    doc: dict[str, Any]
    #: per list path: index in the configuration -> row of the form
    rows: dict[str, dict[int, int]]


def apply(tab: Tab, form: Form, current: dict[str, Any]) -> Parsed:
    """``current`` with the posted inputs of ``tab``."""
    doc = copy.deepcopy(current)
    rows: dict[str, dict[int, int]] = {}
    for item in tab.items:
        if isinstance(item, F):
            put(doc, item.path, parsed(item, field(form, item.path)))
        elif isinstance(item, G):
            count = min(int(field(form, f"{item.path}.rows") or 0), item.max)
            out: list[dict[str, Any]] = []
            mapping: dict[int, int] = {}
            for i in range(count):
                raw = {c.path: field(form, f"{item.path}.{i}.{c.path}") for c in item.columns}
                if not any(v.strip() for v in raw.values()):
                    continue
                row: dict[str, Any] = {}
                for c in item.columns:
                    put(row, c.path, parsed(c, raw[c.path]))
                mapping[len(out)] = i
                out.append({k: v for k, v in row.items() if v is not None})
            put(doc, item.path, out)
            rows[item.path] = mapping
        else:
            skills: list[dict[str, Any]] = []
            mapping = {}
            for point in EXTENSION_POINTS:
                kind = field(form, f"skills.{point}.kind")
                if not kind:
                    continue
                skill: dict[str, Any] = {
                    "serviceName": point,
                    "parentServiceName": PARENT_OF[point],
                    "kind": kind,
                }
                location = field(form, f"skills.{point}.location").strip()
                if location:
                    skill[WHERE.get(kind, "path")] = location
                timeout = field(form, f"skills.{point}.timeout_s").strip()
                if timeout:
                    skill["timeout_s"] = parsed(F("timeout_s", "number"), timeout)
                mapping[len(skills)] = EXTENSION_POINTS.index(point)
                skills.append(skill)
            doc["skills"] = skills
            rows["skills"] = mapping
    _drop_empty_card(doc)
    return Parsed(doc, rows)


def _drop_empty_card(doc: dict[str, Any]) -> None:
    card = get(doc, "service.absence.contact_card")
    if isinstance(card, dict) and not any(card.values()):
        doc["service"]["absence"]["contact_card"] = None


def field_of_error(path: str, parsed_rows: dict[str, dict[int, int]]) -> str:
    """The form input an error of the configuration belongs to."""
    for group, mapping in parsed_rows.items():
        prefix = group + "."
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            index, _, tail = rest.partition(".")
            if index.isascii() and index.isdigit() and int(index) in mapping:
                row = mapping[int(index)]
                if group == "skills":
                    point = EXTENSION_POINTS[row]
                    col = (
                        "timeout_s"
                        if tail.startswith("timeout_s")
                        else (
                            "location"
                            if tail.split(".")[0] in ("path", "url", "target")
                            else "kind"
                        )
                    )
                    return f"skills.{point}.{col}"
                return f"{group}.{row}.{tail}" if tail else f"{group}.{row}"
    return path


def errors_of(details: Any, parsed_rows: dict[str, dict[int, int]], locale: str) -> dict[str, str]:
    """The errors of the configuration's ``details`` by input, in the member's language."""
    errors: dict[str, str] = {}
    for d in details if isinstance(details, list) else []:
        name = field_of_error(str(d.get("field", "")), parsed_rows)
        errors.setdefault(name, field_message(locale, d))
    return errors
