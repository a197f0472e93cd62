"""The state graph of the base flow (transitions), one machine per flow version.

The only module that imports ``transitions``. Each flow version's machine is built
once, at import, and its transition table read out of it into a lookup of
``(trigger, state) → next state``; per message the conversation's state is a small
:class:`FlowModel` moved through that lookup (no ``add_model`` / ``remove_model``
per message: those cost about a tenth of the engine's CPU per message). A trigger
from a state that does not allow it is a bug and raises ``MachineError``, as the
machine would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transitions import MachineError
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


#: one flow version's moves: (trigger, state) → the state it leads to
Table = dict[tuple[str, str], str]


class FlowModel:
    """What the machine moves: the state of one conversation during one message. Each
    trigger moves it along its flow version's table (or raises ``MachineError`` from a
    state the table does not allow it from) and returns True, as the machine's would."""

    __slots__ = ("_table", "state")

    def __init__(self, state: str, table: Table) -> None:
        self.state = state
        self._table = table

    def _move(self, trigger: str) -> bool:
        try:
            self.state = self._table[(trigger, self.state)]
        except KeyError:
            raise MachineError(f"Can't trigger event {trigger} from state {self.state}!") from None
        return True

    async def show_faq(self) -> bool:
        return self._move("show_faq")

    async def show_queues(self) -> bool:
        return self._move("show_queues")

    async def ask_notify(self) -> bool:
        return self._move("ask_notify")

    async def open_service(self) -> bool:
        return self._move("open_service")

    async def ask_survey(self) -> bool:
        return self._move("ask_survey")

    async def enter_skill(self) -> bool:
        return self._move("enter_skill")

    async def end(self) -> bool:
        return self._move("end")


def build_machine(transitions: list[dict[str, Any]]) -> AsyncMachine:
    return AsyncMachine(
        model=None,
        states=STATES,
        transitions=transitions,
        initial=IDLE,
        auto_transitions=False,
        model_override=True,
    )


def table_of(built: AsyncMachine) -> Table:
    """The moves of a built machine: its own expansion of the sources (``"*"``: every
    state). A table entry with conditions or callbacks would need the machine itself:
    refused here, at import."""
    table: Table = {}
    for trigger, event in built.events.items():
        for source, moves in event.transitions.items():
            for move in moves:
                if move.conditions or move.prepare or move.before or move.after:
                    raise AssertionError(f"transition {trigger} from {source}: callbacks")
                if (trigger, source) not in table:  # the machine takes the first one
                    table[(trigger, source)] = move.dest or source
    return table


#: One machine per flow version, built at import (a machine holds no conversation state:
#: its table is read out of it once, below, and never gets a model).
MACHINES: dict[int, AsyncMachine] = {
    version: build_machine(table) for version, table in TRANSITIONS.items()
}
TABLES: dict[int, Table] = {version: table_of(m) for version, m in MACHINES.items()}

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
        table = TABLES[version]
    except KeyError:
        raise KeyError(f"no state machine for flow version {version}") from None
    yield FlowModel(state if state in STATES else IDLE, table)
