"""One conversation with a number's configuration, in process, through the real engine.

:class:`LocalConversation` wires what ``web/app.py`` wires — the base flow with a
skill dispatcher, the runtime (load → flow → version-checked commit) and the
outbox sender — on the memory store and a recording gateway. Each message is
built as a Cloud API webhook and parsed like one, so taps on list rows and
reply buttons reach the flow exactly as they would from WhatsApp. The clock is
movable (:meth:`LocalConversation.set_time`); timers that fall due are run
before the next message.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from flow_engine.desk.service import DeskService
from flow_engine.devtools import webhooks
from flow_engine.devtools.replies import Reply, replies_of
from flow_engine.domain import menus
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.inbound import InboundMessage, WebhookPayload, parse_webhook
from flow_engine.domain.outbound import to_cloud_payload
from flow_engine.domain.skills import VAR_PREFIX
from flow_engine.domain.tickets import Ticket
from flow_engine.engine.base_flow import BaseFlow, FlowServices
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.engine.outbox import OutboxSender
from flow_engine.engine.runtime import Runtime
from flow_engine.engine.skills.dispatch import FailureReport, SkillDispatcher, resume_after
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.engine.skills.policy import SkillPolicy
from flow_engine.errors import FlowEngineError
from flow_engine.gateway.recording import RecordingGateway
from flow_engine.gateway.retry import RetryPolicy
from flow_engine.gateway.skill_http import SkillHttpClient
from flow_engine.metrics.registry import Metrics
from flow_engine.storage.base import Storage
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.rates import RateLimiter

PARTITION = 0
OWNER = "local"
#: who answers as the attendant in a local conversation
ATTENDANT = "attendant@example.com"
#: what an attendant does: ``take``, ``say TEXT``, ``close``, ``transfer QUEUE``
ATTENDANT_ACTIONS = ("take", "say", "close", "transfer")


def local_policy(config_dir: Path) -> SkillPolicy:
    """The local tools' skills: relative paths next to the configuration, else in
    ``FLOW_ENGINE_SKILLS_DIR`` (default ``skills`` here), as an engine finds them."""
    skills_dir = Path(os.environ.get("FLOW_ENGINE_SKILLS_DIR") or "skills")
    return SkillPolicy.local(config_dir, also=(skills_dir,))


def attendant_action(text: str) -> tuple[str, str]:
    """``say "¡Hola!"`` → ``("say", "¡Hola!")``; ``ValueError`` for anything else."""
    verb, _, rest = text.strip().partition(" ")
    arg = rest.strip()
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        arg = arg[1:-1]
    if verb not in ATTENDANT_ACTIONS:
        raise ValueError(
            f"unknown attendant action {verb!r}: take, say TEXT, close, transfer QUEUE"
        )
    if verb in ("say", "transfer") and not arg:
        raise ValueError(f"attendant: {verb} needs {'a text' if verb == 'say' else 'a queue'}")
    if verb in ("take", "close") and arg:
        raise ValueError(f"attendant: {verb} takes nothing after it")
    return verb, arg


class NoWaitRates(RateLimiter):
    """Nobody to protect from bursts in a local conversation."""

    async def reserve(self, number: str, per_second: float) -> float:
        return 0.0


class LocalConversation:
    """A contact talking to ``config`` (skill files relative to ``config_dir``)."""

    def __init__(
        self,
        config: NumberConfig,
        config_dir: Path,
        *,
        contact: str = "5491100000000",
        name: str = "Ana",
        now: datetime | None = None,
    ) -> None:
        self.config = config
        self.config_dir = config_dir
        self.contact = contact
        self.name = name
        self.offset = 0.0
        if now is not None:
            self.set_time(now)
        self.http = SkillHttpClient()
        self.gateway = RecordingGateway()
        self.metrics = Metrics()
        self.last: list[Reply] = []
        #: every skill failure so far; ``failed``: those of the last message handled
        self.failures: list[FailureReport] = []
        self.failed: list[FailureReport] = []
        self._checked = False
        self._build()

    def loader(self) -> SkillLoader:
        """The developer's own files: paths relative to ``config_dir``, any URL and module
        (an engine checks them against its settings, docs/skills.md)."""
        return SkillLoader(local_policy(self.config_dir), self.http)

    async def start(self) -> None:
        """Load every skill now, so a broken one is named before the first message."""
        if not self._checked:
            await self.loader().check(self.config.skills)
            self._checked = True

    # ------------------------------------------------------------------ wiring
    def _build(self) -> None:
        storage = memory_storage()
        self.storage: Storage = dataclasses.replace(storage, rates=NoWaitRates())
        self._stored = False
        configs = self.configs = ConfigCache(self.storage.configs)
        sender = OutboxSender(
            self.storage,
            self.gateway,
            configs,
            self.metrics,
            policy=RetryPolicy(budget_s=1.0),
            default_rate=1000.0,
            claim_ttl_ms=10_000,
        )
        skills = SkillDispatcher(self.loader(), self.metrics, on_failure=self.failures.append)
        self.flow = BaseFlow(
            FlowServices(tickets=self.storage.tickets, events=self.storage.events),
            hook=skills,
            on_skill=skills.on_message,
        )
        skills.resume = resume_after(self.flow)
        self.runtime = Runtime(
            self.storage,
            sender,
            configs,
            self.flow,
            self.metrics,
            mark_read=False,
            block_ms=0,
            clock=self.clock,
            owner=OWNER,
        )

    def clock(self) -> float:
        return time.time() + self.offset

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), self.config.zone)

    def set_time(self, when: datetime) -> None:
        """Move the clock to ``when`` (naive: the number's time zone); it runs on from there."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.config.zone)
        self.offset = when.timestamp() - time.time()

    def reset(self) -> None:
        """Forget everything: conversation, tickets, timers (the clock stays)."""
        self.gateway.clear()
        self.last = []
        self.failed = []
        self._build()

    async def close(self) -> None:
        await self.http.close()
        await self.storage.close()

    async def __aenter__(self) -> LocalConversation:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -------------------------------------------------------------- messages
    async def send(self, text: str) -> list[Reply]:
        """The contact sends ``text``; the replies it gets (timers due first)."""
        payload = webhooks.build_text_webhook(
            wa_id=self.contact,
            name=self.name,
            text=text,
            phone_number_id=self.config.phone_number_id,
            display_phone_number=self.config.display_phone_number,
        )
        return await self._deliver(payload)

    async def tap(self, option: int | str) -> list[Reply]:
        """Tap an option of the last menu: its 1-based number, or its title."""
        kind, reply_id, title = self.choice(option)
        builder = (
            webhooks.build_list_reply_webhook
            if kind == "list_reply"
            else webhooks.build_button_reply_webhook
        )
        payload = builder(
            wa_id=self.contact,
            name=self.name,
            reply_id=reply_id,
            title=title,
            phone_number_id=self.config.phone_number_id,
            display_phone_number=self.config.display_phone_number,
        )
        return await self._deliver(payload)

    def last_menu(self) -> Reply | None:
        for reply in reversed(self.last):
            if reply.choices:
                return reply
        return None

    def choice(self, option: int | str) -> tuple[str, str, str]:
        menu = self.last_menu()
        if menu is None:
            raise LookupError("no menu to answer: the last replies offered no options")
        if isinstance(option, int) and not isinstance(option, bool):
            if not 1 <= option <= len(menu.choices):
                raise LookupError(f"no option {option}: the menu has {len(menu.choices)}")
            return menu.choices[option - 1]
        for wanted in (str(option), menus.loose(str(option))):
            for kind, reply_id, title in menu.choices:
                if wanted in (title, menus.loose(title)):
                    return kind, reply_id, title
        raise LookupError(f"no option {option!r} in {menu.options}")

    async def _deliver(self, payload: dict[str, Any]) -> list[Reply]:
        parsed = parse_webhook(WebhookPayload.model_validate(payload))
        return await self._handle(parsed.messages)

    async def run_due(self) -> list[Reply]:
        """Run the timers due at the current time (none sent by the contact)."""
        return await self._handle([])

    async def _handle(self, messages: list[InboundMessage]) -> list[Reply]:
        await self.start()
        if not self._stored:
            await self.storage.configs.put(
                self.config.phone_number_id, self.config.model_dump(mode="json")
            )
            self._stored = True
        before, failures_before = len(self.gateway.sent), len(self.failures)
        await self.storage.queue.release_due(PARTITION, self.clock())
        for message in messages:
            await self.storage.queue.enqueue(PARTITION, message)
        while True:
            entries = await self.storage.queue.read(PARTITION, "0-0", 100, 0)
            if not entries:
                break
            for entry in entries:
                await self.runtime.handle_entry(entry, OWNER)
        self.failed = self.failures[failures_before:]
        sent = self.gateway.sent[before:]
        replies = replies_of([to_cloud_payload(s.message, s.to) for s in sent])
        if replies:
            self.last = replies
        return replies

    # -------------------------------------------------------------- attendant
    async def ticket(self) -> Ticket | None:
        """The contact's open ticket (waiting or in service), if any."""
        return await self.storage.tickets.open_for(self.config.phone_number_id, self.contact)

    async def attendant(self, action: str, arg: str = "") -> list[Reply]:
        """What an attendant does through the real desk service (``take``, ``say`` a
        text, ``close``, ``transfer`` to a queue), then the replies the contact gets.
        ``LookupError`` when the contact has no ticket or the ticket refuses it."""
        await self.start()
        ticket = await self.ticket()
        if ticket is None:
            raise LookupError(f"cannot {action}: the contact has no open ticket")
        desk = DeskService(self.storage, self.configs, 1, clock=self.clock)
        try:
            if action == "take":
                await desk.take(ticket.id, ATTENDANT)
            elif action == "say":
                await desk.answer(ticket.id, uuid.uuid4().hex, arg, ATTENDANT)
            elif action == "close":
                await desk.close(ticket.id, ATTENDANT)
            elif action == "transfer":
                await desk.transfer(ticket.id, arg, ATTENDANT)
            else:
                raise LookupError(f"unknown attendant action {action!r}")
        except FlowEngineError as exc:
            why = exc.message
            if isinstance(exc.details, list):
                why = "; ".join(str(d.get("message", d)) for d in exc.details)
            raise LookupError(f"cannot {action}: {why}") from None
        return await self._handle([])

    # ----------------------------------------------------------------- state
    async def record(self) -> dict[str, Any]:
        stored = await self.storage.conversations.load(
            PARTITION, self.config.phone_number_id, self.contact
        )
        return {} if stored is None else stored.model_dump(mode="json")

    @property
    def state(self) -> str:
        """Where the conversation stands (the base flow's machine state)."""
        return str(self._record().get("state", "start"))

    @property
    def skill_vars(self) -> dict[str, Any]:
        """The skill variables, as stored (``skp_`` prefix): the active skill's, or, when
        none is active, the ones kept for this contact when the last skill returned."""
        record = self._record()
        skill = record.get("skill") or {}
        if skill:
            return dict(skill.get("vars") or {})
        return dict(record.get("skill_vars") or {})

    @property
    def skill(self) -> dict[str, Any]:
        return dict(self._record().get("skill") or {})

    def _record(self) -> dict[str, Any]:
        # the memory store keeps records as JSON; reading it needs no await
        backend = self.storage.backend
        raw = backend.records.get((self.config.phone_number_id, self.contact))
        if raw is None:
            return {}
        record: dict[str, Any] = json.loads(raw)
        return record


def skill_var(variables: dict[str, Any], name: str) -> tuple[bool, Any]:
    """A skill variable by name, with or without its ``skp_`` prefix."""
    for key in (name, VAR_PREFIX + name):
        if key in variables:
            return True, variables[key]
    return False, None
