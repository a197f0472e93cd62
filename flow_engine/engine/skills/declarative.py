"""The interpreter of declarative skills (flow files in YAML or JSON, R-SKILL-8).

A file names a ``start`` state and its ``states``. Entering a state sends its
``messages`` (texts or outbound message objects; strings may hold placeholders
such as ``{{vars.order_id}}``, ``{{input.content}}`` or ``{{contact.name}}``). A
state with an ``input`` then waits for the contact's next message: the answer is
checked (``validation``: ``regex``, searched — anchor it with ``^…$`` — and/or
``type`` text, number, integer, email, phone), an invalid one is re-asked
(``reask``, else the state's messages again) until ``max_attempts`` answers were
tried, then the skill goes to ``on_invalid`` (``@return`` by default). A valid
answer is kept in ``variable`` (numbers as numbers, e-mails in lower case, phones
as digits). Then the state's ``actions`` run in order:

- ``set_variable``: ``value`` (strings rendered, other JSON kept);
- ``http``: a request (url, headers and string values of the body rendered;
  placeholders in the url are URL-encoded) whose JSON answer is mapped to
  variables with JSONPath (``map: {order_status: $.status}``; no match sets
  ``null``). With ``status_variable`` the status (0 when unreachable) is kept for
  the outputs to decide; without it a failed request fails the skill.

Last, the first output whose ``condition`` holds gives the next state, or
``@return`` to give the envelope back (the last output has no condition).
Conditions are JSONPath over ``{input, contact, vars, config}``: a path is true
when it finds a truthy value, and ``path == value`` style comparisons exist (see
:mod:`flow_engine.domain.skill_conditions`). States entered on one message are
capped (``max_transitions_per_input``, default 20): a loop fails the skill.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import JsonValue, ValidationError

from flow_engine.domain.outbound import OUTBOUND_ADAPTER, OutboundMessage, text_messages
from flow_engine.domain.skill_conditions import find, parse_condition
from flow_engine.domain.skills import (
    RETURN,
    DeclarativeFlow,
    Envelope,
    HttpAction,
    State,
    Validation,
)
from flow_engine.domain.templating import render
from flow_engine.engine.documents import read_document
from flow_engine.engine.skills.base import Skill, SkillContext, SkillFailure, SkillResult
from flow_engine.gateway.skill_http import SkillHttpClient, SkillHttpError


def read_flow_file(path: Path) -> DeclarativeFlow:
    """Parse and validate a flow file (``${NAME}`` replaced from the environment, so a URL
    can point at each deployment's API); ``ConfigurationError`` with field details if bad."""
    return read_document(path, DeclarativeFlow, "skill", environ=os.environ)


class DeclarativeSkill(Skill):
    """Runs one :class:`~flow_engine.domain.skills.DeclarativeFlow`."""

    def __init__(self, flow: DeclarativeFlow, http: SkillHttpClient | None = None) -> None:
        self.flow = flow
        self.http = http

    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        return await _Run(self, envelope, variables, context).go()


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


def check_answer(validation: Validation | None, content: str) -> tuple[bool, JsonValue]:
    """Whether ``content`` passes ``validation``, and the value to keep."""
    text = content.strip()
    if validation is None:
        return True, text
    if validation.regex is not None and re.search(validation.regex, text) is None:
        return False, None
    kind = validation.type
    if kind == "text":
        return (True, text) if text else (False, None)
    if kind == "integer":
        return (True, int(text)) if _INTEGER.match(text) else (False, None)
    if kind == "number":
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            return False, None
        if number != number or number in (float("inf"), float("-inf")):
            return False, None
        return True, int(text) if _INTEGER.match(text) else number
    if kind == "email":
        return (True, text.lower()) if _EMAIL.match(text) else (False, None)
    if kind == "phone":
        digits = re.sub(r"[\s().-]", "", text)
        return (True, digits.removeprefix("+")) if _PHONE.match(digits) else (False, None)
    return True, text


def _quoted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _quoted(v) for k, v in value.items()}
    if isinstance(value, str):
        return quote(value, safe="")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


class _Run:
    """One message through a declarative skill."""

    def __init__(
        self,
        skill: DeclarativeSkill,
        envelope: Envelope,
        variables: dict[str, Any],
        context: SkillContext,
    ) -> None:
        self.skill = skill
        self.flow = skill.flow
        self.envelope = envelope
        self.context = context
        self.vars: dict[str, Any] = dict(variables)
        self.messages: list[OutboundMessage] = []
        self.transitions = 0
        self._config: dict[str, Any] | None = None

    # ------------------------------------------------------------------ documents
    def scope(self) -> dict[str, Any]:
        return {
            "input": self.envelope.input.model_dump(),
            "contact": dict(self.context.contact),
            "number": dict(self.context.number),
            "vars": self.vars,
        }

    def document(self) -> dict[str, Any]:
        if self._config is None:
            config = self.context.config
            self._config = {} if config is None else config.model_dump(mode="json")
        return {**self.scope(), "config": self._config}

    def rendered(self, value: Any) -> Any:
        if isinstance(value, str):
            return render(value, self.scope())
        if isinstance(value, list):
            return [self.rendered(v) for v in value]
        if isinstance(value, dict):
            return {k: self.rendered(v) for k, v in value.items()}
        return value

    # ------------------------------------------------------------------- running
    async def go(self) -> SkillResult:
        if self.context.first or not self.context.state:
            return await self.walk(self.flow.start)
        name = self.context.state
        state = self.flow.states.get(name)
        if state is None or state.input is None:
            raise SkillFailure("error", f"the skill has no state {name!r} waiting for input")
        spec = state.input
        ok, value = check_answer(spec.validation, self.envelope.input.content)
        if not ok:
            attempts = self.context.attempts + 1
            if attempts >= spec.max_attempts:
                return await self.walk(spec.on_invalid)
            if spec.reask is not None:
                self.say(spec.reask)
            else:
                self.say_state(state)
            return self.result(stay=True, state=name, attempts=attempts)
        if spec.variable is not None:
            self.vars[spec.variable] = value
        return await self.walk(await self.leave(state))

    async def walk(self, target: str) -> SkillResult:
        while target != RETURN:
            self.transitions += 1
            if self.transitions > self.flow.max_transitions_per_input:
                raise SkillFailure(
                    "transition_cap",
                    f"more than {self.flow.max_transitions_per_input} states on one message "
                    f"(at {target!r})",
                )
            state = self.flow.states[target]
            self.say_state(state)
            if state.input is not None:
                return self.result(stay=True, state=target)
            target = await self.leave(state)
        envelope = Envelope(
            origin=self.context.origin, flow=self.context.point, input=self.envelope.input
        )
        return self.result(stay=False, envelope=envelope)

    async def leave(self, state: State) -> str:
        for action in state.actions:
            if isinstance(action, HttpAction):
                await self.http(action)
            else:
                self.vars[action.variable] = self.rendered(action.value)
        document = self.document()
        for output in state.outputs:
            if output.condition is None or parse_condition(output.condition).holds(document):
                return output.to
        raise AssertionError("unreachable: the last output has no condition")

    def say(self, text: str) -> None:
        self.messages.extend(text_messages(render(text, self.scope())))

    def say_state(self, state: State) -> None:
        for message in state.messages:
            if isinstance(message, str):
                self.say(message)
                continue
            raw = self.rendered(message.model_dump(mode="json", exclude_none=True))
            try:
                self.messages.append(OUTBOUND_ADAPTER.validate_python(raw))
            except ValidationError as exc:
                raise SkillFailure(
                    "error", f"a message is invalid once rendered: {exc.errors()[0]['msg']}"
                ) from None

    async def http(self, action: HttpAction) -> None:
        client = self.skill.http
        if client is None:
            raise SkillFailure("error", "no HTTP client for the skill's http action")
        url = render(action.url, _quoted(self.scope()))
        headers = {k: render(v, self.scope()) for k, v in action.headers.items()}
        status_var = action.status_variable
        try:
            answer = await client.request(
                action.method,
                url,
                json_body=self.rendered(action.body),
                headers=headers,
                timeout_s=action.timeout_s,
            )
        except SkillHttpError as exc:
            if status_var is not None:
                self.vars[status_var] = 0
                return
            raise SkillFailure("timeout" if exc.timeout else "action_failed", str(exc)) from None
        if status_var is not None:
            self.vars[status_var] = answer.status
        if answer.ok:
            for var, path in action.map.items():
                values = find(path, answer.json)
                self.vars[var] = values[0] if values else None
        elif status_var is None:
            raise SkillFailure("action_failed", f"{action.method} {url}: HTTP {answer.status}")

    def result(
        self,
        *,
        stay: bool,
        state: str = "",
        attempts: int = 0,
        envelope: Envelope | None = None,
    ) -> SkillResult:
        return SkillResult(
            messages=self.messages,
            variables=dict(self.vars),
            stay=stay,
            envelope=envelope,
            state=state,
            attempts=attempts,
        )
