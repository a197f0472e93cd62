"""The base flow (R-FLOW-1 … 13): every number runs it, shaped by its configuration.

Steps run in order; each extension point (PreMain, PreFaq, PreDesk, PreSurvey,
PosSurvey, PreEnd) is a hook in front of its step, so a skill entered there can
later resume the flow at that very step (``RESUME``). The legal state moves live
in ``machine.py``; this module decides which one to take.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

import flow_engine.domain.menus as menus
from flow_engine.domain import facts
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.hours import is_open, next_opening
from flow_engine.domain.locales import MessageKey, moment_context
from flow_engine.domain.notifications import ReplyTarget
from flow_engine.domain.outbound import ContactCard, Template
from flow_engine.domain.templating import render
from flow_engine.domain.tickets import Ticket, TicketStatus, ticket_id_for
from flow_engine.engine import events, machine
from flow_engine.engine.flow import Turn
from flow_engine.engine.machine import FlowModel
from flow_engine.errors import Conflict, NotFound
from flow_engine.storage.events import EventLog
from flow_engine.storage.tickets import TicketStore

log = structlog.get_logger()

NOTIFY_TEMPLATE = "atendimento_esta_disponivel"
TEMPLATE_LANGUAGE = {"es": "es", "pt-BR": "pt_BR", "en": "en"}
EXTENSION_POINTS = ("PreMain", "PreFaq", "PreDesk", "PreSurvey", "PosSurvey", "PreEnd")
#: States in which the flow waits for the contact's answer (the restart window applies).
WAITING = (*machine.MENUS, machine.SKILL)
#: ``data`` key: when an event (not the contact) left the conversation waiting for an answer,
#: e.g. the survey asked at a ticket's close; the contact's silence counts from there.
PROMPTED_AT = "prompted_at"

#: A hook returns True when it took the conversation over (a skill that stays).
Hook = Callable[["Step", str], Awaitable[bool]]


@dataclass
class FlowServices:
    """What the base flow reads and writes besides the conversation."""

    tickets: TicketStore
    events: EventLog


@dataclass
class Step:
    """One message being handled by the base flow."""

    turn: Turn
    model: FlowModel
    services: FlowServices

    @property
    def config(self) -> NumberConfig:
        return self.turn.config

    @property
    def data(self) -> dict[str, Any]:
        return self.turn.conversation.data

    @property
    def now(self) -> datetime:
        return self.turn.now

    def say(self, key: MessageKey) -> None:
        """Send a configured message (rendered) when its switch is on."""
        text = self.config.message(key)
        if text:
            self.turn.say_text(render(text, self.turn.context))

    def show(self, menu: menus.Menu) -> None:
        self.turn.say(*menus.render(menu))


async def no_hook(step: Step, point: str) -> bool:
    return False


class BaseFlow:
    """The employee flow of PRODUCT §1, as a :class:`~flow_engine.engine.flow.Flow`."""

    def __init__(
        self,
        services: FlowServices,
        hook: Hook = no_hook,
        on_skill: Callable[[Step], Awaitable[bool]] | None = None,
    ) -> None:
        self.services = services
        self.hook = hook
        self.on_skill = on_skill

    async def handle(self, turn: Turn) -> None:
        state = turn.conversation.state
        # the number's flow version, read per message: an upgrade applies on the next one
        with machine.bound(state, turn.config.flow_version) as model:
            step = Step(turn, model, self.services)
            if turn.message.type == events.EVENT_TYPE:
                await self.on_event(step)
                if model.state != state and model.state in WAITING:
                    step.data[PROMPTED_AT] = step.now.timestamp()
            else:
                await self.on_message(step)
            turn.conversation.state = model.state

    # ----------------------------------------------------------------- contact messages
    async def on_message(self, step: Step) -> None:
        state = step.model.state
        if state == machine.SERVICE:  # R-FLOW-1: an open ticket takes the message
            await self.relay_to_ticket(step)
            return
        reply = step.turn.notification
        if reply is not None and reply.queue is not None:  # R-NOTIFY-1: reply.queue
            await self.open_reply_ticket(step, reply)
            return
        if state == machine.SKILL:
            if self.silent_too_long(step):  # the contact left mid-skill: start over
                step.turn.conversation.skill = {}
            elif self.on_skill is not None and await self.on_skill(step):
                return
        if state in WAITING and self.silent_too_long(step) and not self.answers_survey(step):
            log.info("conversation_restarted", state=state)
            await step.model.end()
            state = machine.IDLE
        if state == machine.IDLE:
            await self.begin(step)
        elif state == machine.FAQ:
            await self.answer_faq(step)
        elif state == machine.QUEUE:
            await self.answer_queue(step)
        elif state == machine.UNAVAILABLE:
            await self.answer_notify(step)
        elif state == machine.SURVEY:
            await self.answer_survey(step)
        else:  # a skill state without a skill runtime: go on from the top
            await step.model.end()
            await self.begin(step)

    def silent_too_long(self, step: Step) -> bool:
        """The contact has not answered for longer than the restart window: counted from
        their last message, or from when an event asked them something (the survey after a
        ticket's close), whichever is later — never from inside the ticket."""
        seen = max(step.turn.previous_seen, float(step.data.get(PROMPTED_AT) or 0))
        limit = step.config.flow.restart_after_minutes * 60
        return bool(seen) and step.now.timestamp() - seen > limit

    def answers_survey(self, step: Step) -> bool:
        """A valid answer to the survey is taken however late it comes (R-FLOW-11); only
        something else, after the window, starts the conversation again."""
        return (
            step.model.state == machine.SURVEY
            and self.choice(step, self.survey_menu(step)) is not None
        )

    async def begin(self, step: Step) -> None:
        """R-FLOW-2, from the top: a new conversation of this contact."""
        # a contact whose earlier record expired while still known is returning too
        step.data["returning"] = bool(step.data.get("visits")) or step.turn.conversation.returning
        step.data["visits"] = int(step.data.get("visits", 0)) + 1
        step.data["invalid"] = 0
        await self.run_from(step, "PreMain")

    async def run_from(self, step: Step, point: str) -> None:
        """Run the flow from the extension point ``point`` on (its hook first)."""
        for current in EXTENSION_POINTS[EXTENSION_POINTS.index(point) :]:
            if await self.hook(step, current):
                return
            if await RESUME[current](self, step):
                return  # the step waits for the contact, or ended the conversation

    # ------------------------------------------------------------------------ steps
    # each returns True when the flow stops there (waiting for input, or ended)

    async def greet(self, step: Step) -> bool:
        """R-FLOW-2 greeting, then R-FLOW-3 absence."""
        returning = bool(step.data.get("returning"))
        text = step.config.greeting(returning=returning)
        if text:
            step.turn.say_text(render(text, step.turn.context))
        absence = step.config.service.absence
        if absence.enabled:
            step.say("absence")
            if absence.contact_card is not None:
                card = absence.contact_card
                step.turn.say(ContactCard(name=card.name, phone=card.phone))
            await step.model.end()
            return True
        return False

    async def faq_step(self, step: Step) -> bool:
        """R-FLOW-4: the FAQ menu, or straight on to human service when it is off."""
        if step.config.faq.enabled and step.config.faq.questions:
            await self.show_faq(step)
            return True
        return False

    async def desk_step(self, step: Step) -> bool:
        """R-FLOW-5 hours, R-FLOW-6 unavailable, R-FLOW-7 routing, R-FLOW-8 pre-service."""
        if not is_open(step.config, step.now):
            if step.config.service.unavailable.enabled:
                step.data["invalid"] = 0
                step.show(self.notify_menu(step))
                await step.model.ask_notify()
                return True
            if step.config.flow_version >= 2:  # v2: say when service opens (v1: nothing)
                self.say_next_opening(step)
            await self.end_conversation(step)
            return True
        if step.config.flow.call_center:
            step.data["invalid"] = 0
            step.show(self.queue_menu(step))
            await step.model.show_queues()
            return True
        await self.open_ticket(
            step, step.config.queue.default_queue.name, list(step.config.queue.attendants)
        )
        return True

    def say_next_opening(self, step: Step) -> None:
        """When human service opens next, in the number's time zone and locale; nothing
        when it does not open within the horizon of :func:`next_opening`."""
        opening = next_opening(step.config, step.now)
        if opening is None:
            return
        local = opening.astimezone(step.config.zone)
        context = {**step.turn.context, "opening": moment_context(step.config.locale, local)}
        step.turn.say_text(render(step.config.text("next_opening"), context))

    async def survey_step(self, step: Step) -> bool:
        """R-FLOW-11: the survey when due."""
        survey = step.config.flow.survey
        last = step.data.get("last_survey_at")
        due = survey.is_due(
            services_since_survey=step.data.get("services_since_survey") if last else None,
            last_survey_at=datetime.fromtimestamp(last, step.now.tzinfo) if last else None,
            now=step.now,
        )
        if not due:
            return False
        step.data["invalid"] = 0
        step.show(self.survey_menu(step))
        step.turn.record(
            facts.survey_shown(
                step.config.phone_number_id,
                survey.kind,
                step.now.timestamp(),
                step.config.timezone,
            )
        )
        await step.model.ask_survey()
        return True

    async def social_step(self, step: Step) -> bool:
        """R-FLOW-12: social networks."""
        social = step.config.service.social_networks
        if social.enabled:
            lines = [render(step.config.text("social_networks"), step.turn.context)]
            lines += [f"{name.capitalize()}: {url}" for name, url in social.links().items()]
            step.turn.say_text("\n".join(lines))
        return False

    async def end_step(self, step: Step) -> bool:
        """R-FLOW-13: the end; the next message starts again with the return greeting."""
        await self.end_conversation(step)
        return True

    async def end_conversation(self, step: Step) -> None:
        for key in ("invalid", "ticket_id", "queue"):
            step.data.pop(key, None)
        await step.model.end()

    # ---------------------------------------------------------------------- menus
    def faq_menu(self, step: Step) -> menus.Menu:
        faq = step.config.faq
        options = [menus.Option(f"faq_{i}", q.question) for i, q in enumerate(faq.questions)]
        options.append(menus.Option("faq_service", step.config.text("service_button")))
        return menus.Menu(
            body=render(step.config.text("faq_intro"), step.turn.context),
            options=options,
            button=step.config.text("list_button"),
        )

    async def show_faq(self, step: Step) -> None:
        step.show(self.faq_menu(step))
        await step.model.show_faq()

    def queue_menu(self, step: Step) -> menus.Menu:
        names = step.config.queue_names()
        options = [menus.Option(f"queue_{i}", name) for i, name in enumerate(names)]
        return menus.Menu(
            body=render(step.config.text("queue_message"), step.turn.context),
            options=options,
            button=step.config.text("list_button"),
        )

    def notify_menu(self, step: Step) -> menus.Menu:
        body = render(step.config.text("unavailable"), step.turn.context)
        return menus.yes_no_menu(
            body, step.config.text("unavailable_yes"), step.config.text("unavailable_no")
        )

    def survey_menu(self, step: Step) -> menus.Menu:
        kind = step.config.flow.survey.kind
        key: MessageKey = "survey_csat" if kind == "csat" else "survey_nps"
        return menus.score_menu(
            kind, render(step.config.text(key), step.turn.context), step.config.text("list_button")
        )

    def choice(self, step: Step, menu: menus.Menu) -> menus.Option | None:
        msg = step.turn.message
        return menus.match(menu, msg.text, msg.reply_id)

    def invalid(self, step: Step, menu: menus.Menu) -> bool:
        """Re-ask after an answer that fits no option; False once the re-asks are spent."""
        step.data["invalid"] = int(step.data.get("invalid", 0)) + 1
        if step.data["invalid"] > step.config.flow.max_invalid_retries:
            step.data["invalid"] = 0
            return False
        step.say("invalid_option")
        step.show(menu)
        return True

    # ------------------------------------------------------------------ answers
    async def answer_faq(self, step: Step) -> None:
        menu = self.faq_menu(step)
        option = self.choice(step, menu)
        if option is None:
            if self.invalid(step, menu):
                return
            option = menu.options[-1]  # re-asks spent: a person will help
        step.data["invalid"] = 0
        if option.id == "faq_service":
            await self.run_from(step, "PreDesk")
            return
        answer = step.config.faq.questions[int(option.id.removeprefix("faq_"))].answer
        step.turn.say_text(render(answer, step.turn.context))
        await self.show_faq(step)

    async def answer_queue(self, step: Step) -> None:
        menu = self.queue_menu(step)
        option = self.choice(step, menu)
        if option is None:
            if self.invalid(step, menu):
                return
            option = menu.options[-1]  # re-asks spent: the default queue "Otros asuntos"
        attendants = step.config.queue_attendants(option.title) or []
        await self.open_ticket(step, option.title, attendants)

    async def answer_notify(self, step: Step) -> None:
        menu = self.notify_menu(step)
        option = self.choice(step, menu)
        if option is None and self.invalid(step, menu):
            return
        if option is not None and option.id == "yes":
            opening = next_opening(step.config, step.now)
            if opening is not None:
                step.turn.schedule("notify_available", opening, events.NOTIFY_AVAILABLE, {})
                step.turn.say_text(
                    render(step.config.text("notify_confirmation"), step.turn.context)
                )
        else:
            step.turn.say_text(render(step.config.text("notify_declined"), step.turn.context))
        await self.end_conversation(step)

    async def answer_survey(self, step: Step) -> None:
        menu = self.survey_menu(step)
        option = self.choice(step, menu)
        if option is None:
            if self.invalid(step, menu):
                return
            await self.run_from(step, "PosSurvey")  # re-asks spent: no score, go on
            return
        score = menus.score_of(option)
        # outside the conversation's commit: keyed by the answer's message id, so a turn
        # that runs again (its commit failed or lost a race) does not record it twice
        await self.services.events.record_survey(
            step.config.phone_number_id,
            step.turn.conversation.contact,
            step.config.flow.survey.kind,
            score,
            str(step.data.get("survey_ticket", "")),
            step.now.timestamp(),
            answer_id=step.turn.message.message_id,
        )
        # the rollup fact rides in the commit: counted once with the answer's turn
        step.turn.record(
            facts.survey_answered(
                step.config.phone_number_id,
                step.config.flow.survey.kind,
                score,
                step.now.timestamp(),
                step.config.timezone,
            )
        )
        step.data["last_survey_at"] = step.now.timestamp()
        step.data["services_since_survey"] = 0
        step.turn.say_text(render(step.config.text("survey_thanks"), step.turn.context))
        await self.run_from(step, "PosSurvey")

    # ---------------------------------------------------------------- human service
    async def open_ticket(self, step: Step, queue: str, attendants: list[str]) -> None:
        conv, msg = step.turn.conversation, step.turn.message
        ticket = await self.services.tickets.open_for(conv.number, conv.contact)
        if ticket is None:  # (a re-run of this message finds the ticket it opened)
            ticket = await self.services.tickets.create(
                Ticket.open(
                    id=ticket_id_for(conv.number, conv.contact, msg.message_id),
                    number=conv.number,
                    contact=conv.contact,
                    contact_name=conv.contact_name,
                    queue=queue,
                    attendants=attendants,
                    now=step.now.timestamp(),
                    timezone=step.config.timezone,
                )
            )
        step.data["ticket_id"] = ticket.id
        step.data["queue"] = ticket.queue
        step.say("pre_service")
        self.schedule_inactivity(step, ticket.id, step.now)
        await step.model.open_service()

    async def open_reply_ticket(self, step: Step, reply: ReplyTarget) -> None:
        """The contact answered a notification whose reply goes to a queue: a ticket in
        that queue (the number's attendants when call center is off) holding the
        notification's extras and, first in its transcript, the template sent."""
        conv, msg, config = step.turn.conversation, step.turn.message, step.config
        queue: str = config.queue.default_queue.name
        attendants = list(config.queue.attendants)
        if config.flow.call_center:
            found = config.queue_attendants(reply.queue or "")
            if found is not None:
                wanted = (reply.queue or "").casefold()
                queue = next(n for n in config.queue_names() if n.casefold() == wanted)
                attendants = found
            else:
                attendants = config.queue_attendants(queue) or []
        ticket = await self.services.tickets.open_for(conv.number, conv.contact)
        if ticket is None:
            now = step.now.timestamp()
            opened = Ticket.open(
                id=ticket_id_for(conv.number, conv.contact, msg.message_id),
                number=conv.number,
                contact=conv.contact,
                contact_name=conv.contact_name,
                queue=queue,
                attendants=attendants,
                now=now,
                extras=reply.extras,
                notification=reply.ref,
            )
            opened = opened.with_message(
                reply.ref, "notification", reply.text, reply.sent_at or now, kind="template"
            ).with_message(
                msg.message_id, "contact", msg.text, now, kind=msg.type, media=msg.media
            )
            ticket = await self.services.tickets.create(opened)
        if step.model.state not in (machine.IDLE, machine.FAQ, machine.QUEUE, machine.SKILL):
            await step.model.end()
        conv.skill = {}
        step.data["ticket_id"] = ticket.id
        step.data["queue"] = ticket.queue
        step.say("pre_service")
        self.schedule_inactivity(step, ticket.id, step.now)
        await step.model.open_service()

    def schedule_inactivity(self, step: Step, ticket_id: str, since: datetime) -> None:
        minutes = step.config.flow.ticket_inactivity_close_minutes
        step.turn.schedule(
            f"inactivity:{ticket_id}",
            since + timedelta(minutes=minutes),
            events.TICKET_INACTIVITY,
            {"ticket_id": ticket_id},
        )

    async def relay_to_ticket(self, step: Step) -> None:
        msg = step.turn.message
        ticket_id = str(step.data.get("ticket_id", ""))
        try:
            await self.services.tickets.update(
                ticket_id,
                lambda t: t.with_message(
                    msg.message_id,
                    "contact",
                    msg.text,
                    step.now.timestamp(),
                    kind=msg.type,
                    media=msg.media,
                ),
            )
        except (Conflict, NotFound):
            # closed meanwhile; its close event is next in this conversation's queue
            log.info("message_after_ticket_closed", ticket_id=ticket_id)

    async def finish_service(self, step: Step) -> None:
        """After any close: R-FLOW-10 post-service, then survey, social links, end."""
        ticket_id = str(step.data.pop("ticket_id", ""))
        step.turn.cancel(f"inactivity:{ticket_id}")
        served = step.data.get("services_since_survey")
        step.data["services_since_survey"] = int(served or 0) + 1
        step.data["survey_ticket"] = ticket_id
        step.say("post_service")
        await self.run_from(step, "PreSurvey")

    # ------------------------------------------------------------------- events
    async def on_event(self, step: Step) -> None:
        msg = step.turn.message
        data = msg.data or {}
        current = step.data.get("ticket_id")
        in_service = step.model.state == machine.SERVICE
        ticket_id = data.get("ticket_id")
        if msg.event == events.NOTIFY_AVAILABLE:
            language = TEMPLATE_LANGUAGE.get(step.config.locale, "es")
            step.turn.say(Template(name=NOTIFY_TEMPLATE, language=language))
        elif not in_service or ticket_id != current:
            log.info("event_ignored", event_name=msg.event, state=step.model.state)
        elif msg.event == events.DESK_MESSAGE:
            step.turn.say_text(str(data.get("text", "")))
        elif msg.event == events.TICKET_CLOSED:
            await self.finish_service(step)
        elif msg.event == events.TICKET_TRANSFERRED:
            step.turn.cancel(f"inactivity:{current}")
            step.data["ticket_id"] = data["new_ticket_id"]
            self.schedule_inactivity(step, str(data["new_ticket_id"]), step.now)
        elif msg.event == events.TICKET_INACTIVITY:
            await self.check_inactivity(step, str(ticket_id))

    async def check_inactivity(self, step: Step, ticket_id: str) -> None:
        ticket = await self.services.tickets.get(ticket_id)
        if ticket is not None and ticket.status == TicketStatus.CLOSED_BY_INACTIVITY:
            # this timer closed it on an attempt whose commit failed (the conversation is
            # still in its service): end the service now, as that attempt did
            await self.finish_service(step)
            return
        if ticket is None or not ticket.is_open:
            return
        minutes = step.config.flow.ticket_inactivity_close_minutes
        idle_since = datetime.fromtimestamp(ticket.last_activity_at, step.now.tzinfo)
        if step.now - idle_since < timedelta(minutes=minutes):
            self.schedule_inactivity(step, ticket_id, idle_since)  # active since: check later
            return
        now = step.now.timestamp()
        try:
            await self.services.tickets.update(
                ticket_id, lambda t: t.close(TicketStatus.CLOSED_BY_INACTIVITY, now, by="system")
            )
        except Conflict:  # an attendant closed it meanwhile: their close event follows
            return
        await self.finish_service(step)


RESUME: dict[str, Callable[[BaseFlow, Step], Awaitable[bool]]] = {
    "PreMain": BaseFlow.greet,
    "PreFaq": BaseFlow.faq_step,
    "PreDesk": BaseFlow.desk_step,
    "PreSurvey": BaseFlow.survey_step,
    "PosSurvey": BaseFlow.social_step,
    "PreEnd": BaseFlow.end_step,
}
