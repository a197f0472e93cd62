"""Custom skills (PRODUCT §2, R-SKILL-1 … 8): the envelope, the per-number attachment,
and the model of a declarative flow file.

A number attaches at most one skill to each extension point (``serviceName``),
naming the base-flow service that calls it and that it returns to
(``parentServiceName``, fixed by :data:`PARENT_OF`, R-SKILL-6). Entering a skill
sends it an :class:`Envelope`; the skill gives the same shape back to return.

A declarative flow file (YAML or JSON, the shape Blip Builder users know) is
validated when it is loaded: unknown states, a missing start, a state without a
default output, malformed JSONPath and anything that would open human service
(R-SKILL-5: an output to ``@desk`` or an action such as ``open_ticket``) are field
errors. Conditions are described in :mod:`flow_engine.domain.skill_conditions`.
Pure: no I/O here (the engine reads the files).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
    model_validator,
)

from flow_engine.domain.config_base import ConfigModel, field_errors
from flow_engine.domain.error_kinds import ErrorKind
from flow_engine.domain.outbound import OutboundMessage
from flow_engine.domain.skill_conditions import parse_condition, parse_path

ExtensionPoint = Literal["PreMain", "PreFaq", "PreDesk", "PreSurvey", "PosSurvey", "PreEnd"]
ParentService = Literal["Main", "Desk", "NotaCerta"]
SkillKind = Literal["declarative", "http", "python"]

EXTENSION_POINTS: tuple[ExtensionPoint, ...] = (
    "PreMain",
    "PreFaq",
    "PreDesk",
    "PreSurvey",
    "PosSurvey",
    "PreEnd",
)
#: R-SKILL-6: the base-flow service that calls the skill at each point, and that it returns to.
PARENT_OF: dict[str, ParentService] = {
    "PreMain": "Main",
    "PreFaq": "Main",
    "PreEnd": "Main",
    "PreDesk": "Desk",
    "PreSurvey": "NotaCerta",
    "PosSurvey": "NotaCerta",
}
#: where a declarative output returns control to the base flow
RETURN = "@return"
#: prefix of skill variables in the conversation record (the manual's ``skp``)
VAR_PREFIX = "skp_"

VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
STATE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
VarName = Annotated[str, Field(pattern=VAR_NAME)]
StateName = Annotated[str, Field(pattern=STATE_NAME)]
_HUMAN_WORDS = ("desk", "ticket", "attendant", "human", "handoff", "agent", "service", "transfer")
_HUMAN_REFUSED = "a skill may not open human service (R-SKILL-5)"
#: the errors of a skill's attachment (the console's skills tab)
SKILL_NEEDS = ErrorKind("skill_needs", "a skill of kind {kind} needs {field}", "missing")
SKILL_SUFFIX = ErrorKind("skill_suffix", "a flow file ends in .yaml, .yml or .json", "suffix")
SKILL_URL = ErrorKind("skill_url", "must be an absolute http:// or https:// URL", "url")
SKILL_TARGET = ErrorKind("skill_target", "must be module.path:ClassName", "target")


def opens_human_service(name: str) -> bool:
    """True for an action type or output target that would hand the contact to a person."""
    word = re.sub(r"[^a-z]", "", name.lower())
    return any(w in word for w in _HUMAN_WORDS)


# ------------------------------------------------------------------------ envelope
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvelopeInput(_Strict):
    content: str = Field(description="What the contact sent (text, reply title or caption).")
    type: str = Field(
        description="text/plain for texts and replies, else the message type (image, …)."
    )


class Envelope(_Strict):
    """What a skill receives, and gives back to return control (R-SKILL-2)."""

    origin: str = Field(description="The calling base-flow service (parentServiceName).")
    flow: str = Field(description="The extension point the skill was entered at.")
    input: EnvelopeInput


# --------------------------------------------------------------------- attachment
class SkillAttachment(ConfigModel):
    """One skill attached to a number at an extension point (R-SKILL-6, R-SKILL-8)."""

    model_config = ConfigDict(populate_by_name=True)

    service_name: ExtensionPoint = Field(
        alias="serviceName", description="The extension point the skill runs at."
    )
    parent_service_name: ParentService = Field(
        alias="parentServiceName",
        description="The base-flow service that calls the skill and that it returns to.",
    )
    kind: SkillKind = Field(description="declarative flow file, HTTP service or Python class.")
    path: str | None = Field(
        None,
        min_length=1,
        description="declarative: the flow file (.yaml/.yml/.json), relative to the config dir.",
    )
    url: str | None = Field(
        None, min_length=1, max_length=2000, description="http: where the envelope is POSTed."
    )
    target: str | None = Field(
        None, description="python: the class, as module:Class.", examples=["my_skills:Consent"]
    )
    timeout_s: float = Field(
        5.0, gt=0, le=30, description="Most a skill may take to answer one message."
    )

    @model_validator(mode="after")
    def _check(self) -> SkillAttachment:
        errors: list[tuple[tuple[str | int, ...], str, str]] = []
        expected = PARENT_OF[self.service_name]
        if self.parent_service_name != expected:
            errors.append(
                (
                    ("parentServiceName",),
                    "parent_service",
                    f"a skill at {self.service_name} returns to {expected}, "
                    f"not {self.parent_service_name}",
                )
            )
        needed = {"declarative": "path", "http": "url", "python": "target"}[self.kind]
        for name in ("path", "url", "target"):
            value = getattr(self, name)
            if name == needed and value is None:
                needs = SKILL_NEEDS.text(kind=self.kind, field=name)
                errors.append(((name,), SKILL_NEEDS.type, needs))
            elif name != needed and value is not None:
                errors.append(
                    ((name,), "extra", f"{name} is not used by a skill of kind {self.kind}")
                )
        if self.path is not None and not self.path.endswith((".yaml", ".yml", ".json")):
            errors.append((("path",), SKILL_SUFFIX.type, SKILL_SUFFIX.text()))
        if self.url is not None and not re.match(r"^https?://[^\s/]+", self.url):
            errors.append((("url",), SKILL_URL.type, SKILL_URL.text()))
        if self.target is not None and not re.fullmatch(
            r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", self.target
        ):
            errors.append((("target",), SKILL_TARGET.type, SKILL_TARGET.text()))
        field_errors("SkillAttachment", errors)
        return self


def _one_per_point(skills: list[SkillAttachment]) -> list[SkillAttachment]:
    seen: set[str] = set()
    errors: list[tuple[tuple[str | int, ...], str, str]] = []
    for i, skill in enumerate(skills):
        if skill.service_name in seen:
            errors.append(
                ((i, "serviceName"), "duplicate", f"{skill.service_name} already has a skill")
            )
        seen.add(skill.service_name)
    field_errors("SkillsTab", errors)
    return skills


#: The skills of one number: at most one per extension point.
SkillsTab = Annotated[list[SkillAttachment], AfterValidator(_one_per_point)]


def attachment_at(skills: list[SkillAttachment], point: str) -> SkillAttachment | None:
    for skill in skills:
        if skill.service_name == point:
            return skill
    return None


# ---------------------------------------------------------- declarative flow file
class Validation(ConfigModel):
    """How an answer is checked: a regular expression, a type, or both."""

    regex: str | None = Field(None, min_length=1)
    type: Literal["text", "number", "integer", "email", "phone"] | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class InputSpec(ConfigModel):
    """Wait for the contact's answer, check it, keep it in a variable."""

    variable: VarName | None = None
    validation: Validation | None = None
    reask: str | None = Field(None, min_length=1, description="Sent after an invalid answer.")
    max_attempts: int = Field(3, ge=1, le=10, description="Answers tried before on_invalid.")
    on_invalid: str = Field(RETURN, description="Where to go when the attempts are spent.")


class SetVariable(ConfigModel):
    type: Literal["set_variable"]
    variable: VarName
    value: JsonValue = Field(description="Strings may hold placeholders ({{input.content}}).")


class HttpAction(ConfigModel):
    """An HTTP request; its JSON answer is mapped to variables with JSONPath."""

    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(min_length=1, max_length=2000)
    headers: dict[str, str] = Field(default_factory=dict)
    body: JsonValue = None
    timeout_s: float = Field(5.0, gt=0, le=30)
    map: dict[VarName, str] = Field(default_factory=dict, description="variable: JSONPath")
    status_variable: VarName | None = Field(
        None,
        description="Keeps the HTTP status (0 when unreachable) and lets outputs decide; "
        "without it a failed request fails the skill.",
    )

    @field_validator("map")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        errors: list[tuple[tuple[str | int, ...], str, str]] = []
        for var, path in value.items():
            try:
                parse_path(path)
            except ValueError as exc:
                errors.append(((var,), "jsonpath", str(exc)))
        field_errors("HttpAction", errors)
        return value


Action = Annotated[SetVariable | HttpAction, Field(discriminator="type")]


class Output(ConfigModel):
    condition: str | None = Field(None, min_length=1, description="JSONPath condition.")
    to: str = Field(min_length=1, description="A state, or @return.")

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        if value is not None:
            parse_condition(value)
        return value

    @field_validator("to")
    @classmethod
    def _target(cls, value: str) -> str:
        _check_target(value)
        return value


def _check_target(value: str) -> None:
    if value.startswith("@") and value != RETURN:
        if opens_human_service(value):
            raise ValueError(f"{_HUMAN_REFUSED}: {value!r} is refused; use {RETURN}")
        raise ValueError(f"unknown target {value!r}: a state name or {RETURN}")


class State(ConfigModel):
    """Send messages, maybe wait for an input, run actions, then take the first output
    whose condition holds (the last output has no condition)."""

    messages: list[Annotated[str, Field(min_length=1)] | OutboundMessage] = Field(
        default_factory=list
    )
    input: InputSpec | None = None
    actions: list[Action] = Field(default_factory=list)
    outputs: list[Output] = Field(min_length=1)

    @field_validator("actions", mode="before")
    @classmethod
    def _no_human_service(cls, value: Any) -> Any:
        if isinstance(value, list):
            errors: list[tuple[tuple[str | int, ...], str, str]] = []
            for i, action in enumerate(value):
                kind = action.get("type") if isinstance(action, dict) else None
                known = kind in ("http", "set_variable")
                if isinstance(kind, str) and not known and opens_human_service(kind):
                    errors.append(((i, "type"), "human_service", _HUMAN_REFUSED))
            field_errors("State", errors)
        return value

    @field_validator("outputs")
    @classmethod
    def _default_last(cls, outputs: list[Output]) -> list[Output]:
        if outputs[-1].condition is not None:
            raise ValueError("the last output must have no condition (the default output)")
        return outputs


class DeclarativeFlow(ConfigModel):
    """A declarative skill file: states, the one to start at, a cap on transitions."""

    start: StateName
    max_transitions_per_input: int = Field(20, ge=1, le=200)
    states: dict[StateName, State] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _start_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and "start" not in data:
            field_errors("DeclarativeFlow", [(("start",), "missing", "name the first state")])
        return data

    @model_validator(mode="after")
    def _targets_exist(self) -> DeclarativeFlow:
        errors: list[tuple[tuple[str | int, ...], str, str]] = []
        if self.start not in self.states:
            errors.append((("start",), "unknown_state", f"no state {self.start!r}"))
        for name, state in self.states.items():
            for i, output in enumerate(state.outputs):
                if output.to != RETURN and output.to not in self.states:
                    loc: tuple[str | int, ...] = ("states", name, "outputs", i, "to")
                    errors.append((loc, "unknown_state", f"no state {output.to!r}"))
            if state.input is not None:
                target = state.input.on_invalid
                try:
                    _check_target(target)
                except ValueError as exc:
                    errors.append((("states", name, "input", "on_invalid"), "target", str(exc)))
                    continue
                if target != RETURN and target not in self.states:
                    errors.append(
                        (
                            ("states", name, "input", "on_invalid"),
                            "unknown_state",
                            f"no state {target!r}",
                        )
                    )
        field_errors("DeclarativeFlow", errors)
        return self
