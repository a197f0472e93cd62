"""Every effect of a turn is in its commit or keyed by the inbound message id (issue 9,
defect 5): when a turn's first commit fails, or loses a version race to a concurrent
writer, the turn runs again and nothing it records is doubled or lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

import pytest

from flow_engine.domain.conversation import Conversation
from flow_engine.domain.facts import Facts
from flow_engine.domain.inbound import InboundMessage
from flow_engine.engine import events
from flow_engine.storage.conversations import CommitResult, ConversationStore
from flow_engine.storage.outbox import OutboxItem, SendClaim
from flow_engine.storage.queue import QueueEntry, ScheduledEvent
from flow_engine.web.state import STORAGE
from tests.flow.conftest import Chat, demo_config
from tests.flow.test_base_flow import ANA, CSAT, POST, PRE, api, open_ticket_id
from tests.support.clock import MovableClock
from tests.support.harness import Harness

Stack = Callable[..., Awaitable[Harness]]
Failure = Literal["error", "conflict"]
NUMBER = "100000000000001"


class FailingCommits(ConversationStore):
    """The engine's real conversation store; once armed, the next commit of a matching
    turn fails: ``error`` raises before anything is written (the store went away),
    ``conflict`` first lets a concurrent writer save the conversation, so the real
    commit finds a newer version and refuses."""

    def __init__(self, inner: ConversationStore) -> None:
        self.inner = inner
        self.when: Callable[[InboundMessage], bool] | None = None
        self.how: Failure = "error"
        self.failed = 0
        self.failed_entry: str | None = None
        self.recovered = asyncio.Event()

    def fail_next(self, when: Callable[[InboundMessage], bool], how: Failure = "error") -> None:
        self.when, self.how = when, how
        self.recovered.clear()

    async def until_recovered(self) -> None:
        """Until the turn that failed was committed on a later attempt."""
        await asyncio.wait_for(self.recovered.wait(), 15)

    async def load(self, partition: int, number: str, contact: str) -> Conversation | None:
        return await self.inner.load(partition, number, contact)

    async def commit(
        self,
        partition: int,
        conversation: Conversation,
        entry: QueueEntry | None,
        outbox: list[OutboxItem],
        schedule: list[ScheduledEvent] | None = None,
        facts: Facts | None = None,
        claim: SendClaim | None = None,
    ) -> CommitResult:
        if self.when is not None and entry is not None and self.when(entry.message):
            self.when = None
            self.failed += 1
            self.failed_entry = entry.id
            if self.how == "error":
                raise ConnectionError("injected: the store went away mid-commit")
            stored = await self.inner.load(partition, conversation.number, conversation.contact)
            assert stored is not None
            await self.inner.commit(partition, stored, None, [])  # the concurrent writer
        result = await self.inner.commit(
            partition, conversation, entry, outbox, schedule, facts, claim=claim
        )
        if entry is not None and entry.id == self.failed_entry:
            self.recovered.set()
        return result


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else ""


def failing_commits(h: Harness) -> FailingCommits:
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    wrapper = FailingCommits(storage.conversations)
    storage.conversations = wrapper  # the runtime reads it on every message
    return wrapper


def texts(message: InboundMessage) -> bool:
    return message.type != events.EVENT_TYPE


@pytest.mark.parametrize("how", ["error", "conflict"])
async def test_issue9_survey_answer_stored_once_when_its_first_commit_fails(
    flow_stack: Stack, store_url: str, how: Failure
) -> None:
    h = await flow_stack(demo_config(), redis_url=store_url)
    commits = failing_commits(h)
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    await chat.tap("Ventas")
    ticket = await open_ticket_id(h)
    assert (await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {}))[0] == 200
    got = await chat.received(quiet=0.5)
    assert got[0].startswith(POST) and got[1].startswith(CSAT)

    commits.fail_next(texts, how)
    got = await chat.tap(chat.option_titles()[-1])
    await commits.until_recovered()
    got += await chat.received()
    assert commits.failed == 1
    assert got[0] == "¡Gracias por su evaluación! 💙"  # sent once, after the good commit
    assert len(got) == 2 and got[1].startswith("¡Síganos")
    surveys = await h.app[STORAGE].events.surveys(NUMBER)  # type: ignore[attr-defined]
    assert [(s["score"], s["ticket_id"]) for s in surveys] == [(5, ticket)]


async def test_issue9_ticket_opened_and_message_relayed_once_when_commits_fail(
    flow_stack: Stack, store_url: str
) -> None:
    h = await flow_stack(demo_config(), redis_url=store_url)
    commits = failing_commits(h)
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    commits.fail_next(texts)
    got = await chat.tap("Ventas")  # opens the ticket; its first commit fails
    await commits.until_recovered()
    assert commits.failed == 1
    got += await chat.received()
    assert len(got) == 1 and got[0].startswith(PRE)
    status, body = await api(h, "GET", f"/api/v1/tickets?number={NUMBER}")
    assert status == 200 and len(body["tickets"]) == 1
    ticket = await open_ticket_id(h)
    commits.fail_next(texts)
    got = await chat.send("quiero comprar")  # to the ticket; its first commit fails
    await commits.until_recovered()
    assert commits.failed == 2
    assert got + await chat.received() == []
    _, body = await api(h, "GET", f"/api/v1/tickets/{ticket}")
    assert [m["text"] for m in body["transcript"]] == ["quiero comprar"]


async def test_issue9_inactivity_close_still_ends_the_service_when_its_commit_fails(
    flow_stack: Stack, store_url: str
) -> None:
    clock = MovableClock()
    config = demo_config(**{"flow.ticket_inactivity_close_minutes": 30})
    h = await flow_stack(config, clock, redis_url=store_url)
    commits = failing_commits(h)
    chat = Chat(h, ANA, clock)
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    await chat.tap("Ventas")
    ticket = await open_ticket_id(h)
    commits.fail_next(lambda m: m.event == events.TICKET_INACTIVITY)
    clock.advance(31 * 60)  # the timer closes the ticket; that turn's first commit fails
    await commits.until_recovered()
    got = await chat.received()
    assert commits.failed == 1
    assert got[:1] == [POST + got[0].removeprefix(POST)], "the service ended for the contact"
    assert len(got) == 2 and got[1].startswith(CSAT)  # and the flow went on
    _, body = await api(h, "GET", f"/api/v1/tickets/{ticket}")
    assert body["status"] == "closed_by_inactivity"
