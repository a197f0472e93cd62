"""Skill dispatch: the base flow's hook at the six extension points (R-SKILL-1 … 5).

At a point with a skill, :class:`SkillDispatcher` enters it with the envelope of
the current message. A skill that stays keeps the conversation (machine state
``skill``); its record lives in ``conversation.skill``::

    {"point": "PreFaq", "origin": "Main", "kind": "declarative",
     "state": "ask_order", "attempts": 0, "vars": {"skp_order_id": "123"}}

Variables carry the ``skp_`` prefix there and nowhere else: a skill sees and sets
them without it, and can never reach ``conversation.state`` or ``data``. A skill
enters with the variables skills left for this contact (``conversation.skill_vars``),
and when it returns, its variables are kept there for the next time (a consent
given once is remembered); a failure keeps the variables as they were before the
run. The next contact messages go to :meth:`SkillDispatcher.on_message` until the
skill returns; then the record is cleared and the base flow resumes at the step of
the point (``resume``). A skill that returns on the message that entered it simply lets the
base flow go on. Any failure (exception, timeout, bad reply, transition cap) is
logged as ``skill_failed`` (with the last frames of the traceback when a skill
raised), counted in ``skill_failures{point, reason}``, handed to ``on_failure`` (the
local tools show it inline), clears the record and lets the base flow go on the same
way, so no contact is stranded. A point without a skill returns ``False`` at once,
with no I/O.
"""

from __future__ import annotations

import asyncio
import copy
import json
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.skills import (
    EXTENSION_POINTS,
    VAR_PREFIX,
    Envelope,
    EnvelopeInput,
    SkillAttachment,
    attachment_at,
)
from flow_engine.engine import events, machine
from flow_engine.engine.base_flow import RESUME, BaseFlow, Step
from flow_engine.engine.skills.base import (
    REASONS,
    Skill,
    SkillContext,
    SkillFailure,
    SkillResult,
)
from flow_engine.engine.skills.python import as_result
from flow_engine.errors import ConfigurationError
from flow_engine.metrics.registry import Metrics

log = structlog.get_logger()

#: Resume the base flow at the step of an extension point, without its hook.
Resume = Callable[[Step, str], Awaitable[None]]
AttachmentsOf = Callable[[NumberConfig], Sequence[SkillAttachment]]

#: most a skill's variables may weigh, serialized (the record is saved every message)
MAX_VARS_BYTES = 16_384
TEXT_TYPES = ("text", "interactive", "button")
#: frames of a skill's traceback kept in ``skill_failed`` (the innermost ones)
TRACEBACK_FRAMES = 5
_SKILLS_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class FailureReport:
    """One skill failure, as logged: where, what kind, why, and the traceback's last
    frames when the skill raised (empty otherwise)."""

    point: str
    kind: str
    reason: str
    message: str
    traceback: str = ""


def skill_traceback(exc: BaseException, frames: int = TRACEBACK_FRAMES) -> str:
    """The last ``frames`` frames of ``exc``'s traceback below the engine's own skill
    machinery (the dispatcher and its wrappers), and the exception line."""
    stack = traceback.extract_tb(exc.__traceback__)
    while stack and Path(stack[0].filename).resolve().parent == _SKILLS_PACKAGE:
        stack = traceback.StackSummary.from_list(stack[1:])
    kept = traceback.StackSummary.from_list(stack[-frames:])
    lines = ["Traceback (most recent call last):\n", *kept.format()]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip("\n")


class SkillSource(Protocol):
    """Where the dispatcher gets a runnable skill (``SkillLoader`` in the engine)."""

    def load(self, attachment: SkillAttachment) -> Skill: ...


def config_attachments(config: NumberConfig) -> Sequence[SkillAttachment]:
    """The skills of a number (``NumberConfig.skills``; none when the field is absent)."""
    skills: Sequence[SkillAttachment] | None = getattr(config, "skills", None)
    return skills or ()


def resume_after(flow: BaseFlow) -> Resume:
    """Resume ``flow`` at the step of a point, then on through the next points."""

    async def resume(step: Step, point: str) -> None:
        if await RESUME[point](flow, step):
            return
        index = EXTENSION_POINTS.index(point)
        if index + 1 < len(EXTENSION_POINTS):
            await flow.run_from(step, EXTENSION_POINTS[index + 1])

    return resume


def envelope_for(step: Step, attachment: SkillAttachment) -> Envelope:
    """The envelope of the message being handled (R-SKILL-2)."""
    msg = step.turn.message
    if msg.type == events.EVENT_TYPE:
        content, kind = msg.event or "", "event"
    else:
        content, kind = msg.text, "text/plain" if msg.type in TEXT_TYPES else msg.type
    return Envelope(
        origin=attachment.parent_service_name,
        flow=attachment.service_name,
        input=EnvelopeInput(content=content, type=kind),
    )


def context_for(step: Step, record: dict[str, Any], first: bool) -> SkillContext:
    conv, config = step.turn.conversation, step.config
    return SkillContext(
        point=str(record["point"]),
        origin=str(record["origin"]),
        first=first,
        state=str(record.get("state") or ""),
        attempts=int(record.get("attempts") or 0),
        contact={"name": conv.contact_name, "phone": conv.contact},
        number={
            "phone_number_id": config.phone_number_id,
            "name": config.name,
            "display_phone_number": config.display_phone_number,
            "locale": config.locale,
        },
        config=config,
        message_id=step.turn.message.message_id,
    )


def skill_variables(record: dict[str, Any]) -> dict[str, Any]:
    """The skill's variables without their ``skp_`` prefix."""
    stored: dict[str, Any] = record.get("vars") or {}
    return {k.removeprefix(VAR_PREFIX): v for k, v in stored.items()}


def merged(variables: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = {**variables, **changes}
    out = {k: v for k, v in out.items() if v is not None}
    try:
        size = len(json.dumps(out, allow_nan=False, ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        raise SkillFailure("bad_reply", f"variables are not JSON: {exc}") from None
    if size > MAX_VARS_BYTES:
        raise SkillFailure("bad_reply", f"variables weigh {size} bytes, over {MAX_VARS_BYTES}")
    return out


class SkillDispatcher:
    """Runs a number's skills at the base flow's extension points.

    Use the instance as the base flow's ``hook``; route messages that arrive in
    state ``skill`` to :meth:`on_message`; give it ``resume`` (see
    :func:`resume_after`) so a returning skill hands the message back.
    """

    def __init__(
        self,
        loader: SkillSource,
        metrics: Metrics | None = None,
        *,
        resume: Resume | None = None,
        attachments: AttachmentsOf = config_attachments,
        on_failure: Callable[[FailureReport], None] | None = None,
    ) -> None:
        self.loader = loader
        self.metrics = metrics
        self.resume = resume
        self.attachments = attachments
        self.on_failure = on_failure

    def attachment(self, config: NumberConfig, point: str) -> SkillAttachment | None:
        return attachment_at(list(self.attachments(config)), point)

    async def __call__(self, step: Step, point: str) -> bool:
        """The hook: True when the skill at ``point`` keeps the conversation."""
        attachment = self.attachment(step.config, point)
        if attachment is None:
            return False
        record: dict[str, Any] = {
            "point": point,
            "origin": attachment.parent_service_name,
            "kind": attachment.kind,
            "state": "",
            "attempts": 0,
            "vars": dict(step.turn.conversation.skill_vars),
        }
        log.info("skill_entered", point=point, kind=attachment.kind)
        if await self._step(step, attachment, record, first=True):
            await step.model.enter_skill()
            return True
        return False

    async def on_message(self, step: Step) -> bool:
        """A message while a skill holds the conversation; False when none does (the
        record is stale or missing): the base flow then treats the message itself."""
        record = step.turn.conversation.skill
        point = record.get("point")
        if step.model.state != machine.SKILL or point not in EXTENSION_POINTS:
            step.turn.conversation.skill = {}
            return False
        attachment = self.attachment(step.config, point)
        if attachment is None:
            self._failed(point, str(record.get("kind", "")), "missing", "the skill was detached")
            step.turn.conversation.skill = {}
        elif await self._step(step, attachment, record, first=False):
            return True
        if self.resume is None:
            raise RuntimeError("SkillDispatcher.resume is not wired")
        await self.resume(step, point)
        return True

    async def _step(
        self, step: Step, attachment: SkillAttachment, record: dict[str, Any], first: bool
    ) -> bool:
        """Run the skill on this message; True when it stays. The record is updated
        (stay) or cleared (return, failure)."""
        point = attachment.service_name
        result = await self._run(step, attachment, record, first)
        if result is None:
            step.turn.conversation.skill = {}
            return False
        skill_result, variables = result
        step.turn.say(*skill_result.messages)
        if not skill_result.stay:
            self._check_return(skill_result.envelope, attachment)
            log.info("skill_returned", point=point, kind=attachment.kind)
            step.turn.conversation.skill = {}
            step.turn.conversation.skill_vars = {VAR_PREFIX + k: v for k, v in variables.items()}
            return False
        step.turn.conversation.skill = {
            **record,
            "state": skill_result.state,
            "attempts": skill_result.attempts,
            "vars": {VAR_PREFIX + k: v for k, v in variables.items()},
        }
        return True

    async def _run(
        self, step: Step, attachment: SkillAttachment, record: dict[str, Any], first: bool
    ) -> tuple[SkillResult, dict[str, Any]] | None:
        point = attachment.service_name
        variables = skill_variables(record)
        try:
            skill = self.loader.load(attachment)
            envelope = envelope_for(step, attachment)
            context = context_for(step, record, first)
            async with asyncio.timeout(attachment.timeout_s):
                answer = await skill.run(envelope, copy.deepcopy(variables), context)
            result = as_result(answer)
            return result, merged(variables, result.variables)
        except SkillFailure as exc:
            reason, message, trace = exc.reason, exc.message, ""
        except TimeoutError:
            reason, message, trace = "timeout", f"no answer in {attachment.timeout_s}s", ""
        except ConfigurationError as exc:
            reason, message, trace = "error", exc.message, ""
        except Exception as exc:
            reason, message = "error", f"{type(exc).__name__}: {exc}"
            trace = skill_traceback(exc)
        self._failed(point, attachment.kind, reason, message, trace)
        return None

    def _failed(self, point: str, kind: str, reason: str, message: str, trace: str = "") -> None:
        extra = {"traceback": trace} if trace else {}
        log.warning("skill_failed", point=point, kind=kind, reason=reason, error=message, **extra)
        if self.metrics is not None:
            # a Python skill may raise SkillFailure with any reason: the label stays bounded
            self.metrics.skill_failures.labels(
                point, reason if reason in REASONS else "error"
            ).inc()
        if self.on_failure is not None:
            self.on_failure(FailureReport(point, kind, reason, message, trace))

    def _check_return(self, envelope: Envelope | None, attachment: SkillAttachment) -> None:
        if envelope is None:
            return
        if (envelope.origin, envelope.flow) != (
            attachment.parent_service_name,
            attachment.service_name,
        ):
            # R-SKILL-3: a skill always returns to the flow that called it, whatever it says
            log.warning(
                "skill_return_elsewhere",
                point=attachment.service_name,
                origin=envelope.origin,
                flow=envelope.flow,
            )
