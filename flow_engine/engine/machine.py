"""The state graph of the base flow (transitions), one machine per flow version.

The only module that imports ``transitions``. Per message the conversation is
added to the machine as a model, moved by triggers, and removed again; a trigger
from a state that does not allow it is a bug and raises ``MachineError``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transitions.extensions.asyncio import AsyncMachine

from flow_engine.domain.flow_versions import DEFAULT_FLOW_VERSION, FLOW_VERSIONS

IDLE = "idle"  # nothing pending: the next contact message starts the flow (R-FLOW-1/2)
FAQ = "faq"  # the FAQ menu was shown (R-FLOW-4)
QUEUE = "queue"  # the queue menu was shown (R-FLOW-7)
UNAVAILABLE = "unavailable"  # asked whether to notify when service is back (R-FLOW-6)
SERVICE = "service"  # a ticket is open: messages go to the human service (R-FLOW-9)
SURVEY = "survey"  # the survey was asked (R-FLOW-11)
SKILL = "skill"  # a custom skill holds the conversation (R-SKILL-3)

STATES = [IDLE, FAQ, QUEUE, UNAVAILABLE, SERVICE, SURVEY, SKILL]
MENUS = (FAQ, QUEUE, UNAVAILABLE, SURVEY)

TRANSITIONS_V1: list[dict[str, Any]] = [
    {"trigger": "show_faq", "source": [IDLE, FAQ, SKILL], "dest": FAQ},
    {"trigger": "show_queues", "source": [IDLE, FAQ, QUEUE, SKILL], "dest": QUEUE},
    {"trigger": "ask_notify", "source": [IDLE, FAQ, UNAVAILABLE, SKILL], "dest": UNAVAILABLE},
    {"trigger": "open_service", "source": [IDLE, FAQ, QUEUE, SKILL], "dest": SERVICE},
    {"trigger": "ask_survey", "source": [SERVICE, SURVEY, SKILL], "dest": SURVEY},
    {"trigger": "enter_skill", "source": "*", "dest": SKILL},
    {"trigger": "end", "source": "*", "dest": IDLE},
]

#: The transition table of each flow version (``domain/flow_versions.py``). A version that
#: only changes what a step says or decides reuses the table of the version before it.
TRANSITIONS: dict[int, list[dict[str, Any]]] = {
    1: TRANSITIONS_V1,
    2: TRANSITIONS_V1,  # v2 changes what the closed desk step says, not the state graph
}

# transitions logs (and formats) a "Skip binding" line for every trigger each time a model
# is added: per message, that was a tenth of the engine's CPU. Only its errors matter here.
logging.getLogger("transitions").setLevel(logging.ERROR)


class FlowModel:
    """What the machine moves: the state of one conversation during one message."""

    state: str

    # triggers: the machine replaces these (model_override); they never run
    async def show_faq(self) -> bool:
        raise NotImplementedError

    async def show_queues(self) -> bool:
        raise NotImplementedError

    async def ask_notify(self) -> bool:
        raise NotImplementedError

    async def open_service(self) -> bool:
        raise NotImplementedError

    async def ask_survey(self) -> bool:
        raise NotImplementedError

    async def enter_skill(self) -> bool:
        raise NotImplementedError

    async def end(self) -> bool:
        raise NotImplementedError


def build_machine(transitions: list[dict[str, Any]]) -> AsyncMachine:
    return AsyncMachine(
        model=None,
        states=STATES,
        transitions=transitions,
        initial=IDLE,
        auto_transitions=False,
        model_override=True,
    )


#: One machine per flow version, built at import (a machine holds no conversation state
#: between messages: models are added and removed per message).
MACHINES: dict[int, AsyncMachine] = {
    version: build_machine(table) for version, table in TRANSITIONS.items()
}

# A flow version without a machine would fail on its numbers' first message: fail at start.
# (Not a bare ``assert``: it must hold under ``python -O`` too.)
_missing = sorted(set(FLOW_VERSIONS) - set(MACHINES))
if _missing:
    raise AssertionError(f"flow versions without a state machine: {_missing}")


@contextmanager
def bound(state: str, version: int = DEFAULT_FLOW_VERSION) -> Iterator[FlowModel]:
    """The conversation's state as a model of the machine of flow ``version``, for the
    length of one message."""
    try:
        machine = MACHINES[version]
    except KeyError:
        raise KeyError(f"no state machine for flow version {version}") from None
    model = FlowModel()
    machine.add_model(model, initial=state if state in STATES else IDLE)
    try:
        yield model
    finally:
        machine.remove_model(model)
