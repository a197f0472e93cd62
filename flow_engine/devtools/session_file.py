"""``/save FILE`` in ``flow-engine chat``: the session so far as a conversation file.

Each message, tap and attendant action of the session becomes a step that expects the
replies it got (each reply's body, and a menu's option titles) and the state it
reached; ``/time`` becomes a step that only lets time pass (``wait``), and real time
that passed between two steps (a minute or more) a ``wait`` before the second, so the
file runs the conversation again as it went. ``/reset`` starts a new session. The file
names the chat's configuration by a path relative to where it is written, and passes
with ``flow-engine test`` as long as the number and its skills answer the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from flow_engine.devtools.replies import Reply

#: real time shorter than this between two steps is not written as a wait
MIN_WAIT_S = 60


def wait_text(seconds: float) -> str:
    """``5400`` → ``90m``: the largest unit that says it exactly (``d``, ``h``, ``m``, ``s``);
    waits of ten minutes or more are rounded to the minute (the seconds the terminal took
    do not matter there)."""
    seconds = round(seconds / 60) * 60 if seconds >= 600 else int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def expect_of(reply: Reply) -> dict[str, Any]:
    expect: dict[str, Any] = {"text": reply.body}
    if reply.options:
        expect["options"] = list(reply.options)
    return expect


@dataclass
class Session:
    """What the contact and the attendant did in a chat, since it began (or /reset)."""

    config_file: Path
    phone: str
    name: str
    started: datetime
    last: datetime
    steps: list[dict[str, Any]] = field(default_factory=list)
    #: what the file cannot say (the clock moved back), told when saving
    notes: list[str] = field(default_factory=list)

    @classmethod
    def begin(cls, config_file: Path, phone: str, name: str, now: datetime) -> Session:
        return cls(config_file, phone, name, started=now, last=now)

    def record(
        self, action: dict[str, Any], replies: list[Reply], state: str, before: datetime
    ) -> None:
        """One step: ``action`` (``{"send": …}``, ``{"tap": 2}``, ``{"attendant": …}``)
        done at ``before``, what came back, the state reached."""
        step: dict[str, Any] = {}
        waited = (before - self.last).total_seconds()
        if waited >= MIN_WAIT_S:
            step["wait"] = wait_text(waited)
        step.update(action)
        step["expect"] = [expect_of(r) for r in replies]
        step["state"] = state
        self.steps.append(step)
        self.last = before

    def moved(self, after: datetime, replies: list[Reply], state: str) -> None:
        """``/time``: the clock moved to ``after``; the timers that fell due answered
        ``replies``. A step that only waits (real time since the last step included)."""
        seconds = (after - self.last).total_seconds()
        if seconds < 0:
            self.notes.append(
                f"the clock was moved back after step {len(self.steps)}: "
                "a conversation file only lets time pass; that move is not in the file"
            )
        elif seconds >= 1:
            self.steps.append(
                {
                    "wait": wait_text(seconds),
                    "expect": [expect_of(r) for r in replies],
                    "state": state,
                }
            )
        self.last = after

    def document(self, target: Path) -> dict[str, Any]:
        config = os.path.relpath(self.config_file.resolve(), target.resolve().parent)
        return {
            "config": Path(config).as_posix(),
            "contact": {"phone": self.phone, "name": self.name},
            "now": self.started.isoformat(timespec="seconds"),
            "steps": self.steps,
        }

    def save(self, target: Path) -> Path:
        """Write the file (never over an existing one); ``ValueError`` saying why not."""
        if not self.steps:
            raise ValueError("nothing to save yet: send a message first")
        if target.exists():
            raise ValueError(f"{target} exists; not overwriting it")
        header = (
            f"# Saved by flow-engine chat (/save). Run it: flow-engine test {target.as_posix()}\n"
        )
        text = yaml.safe_dump(self.document(target), allow_unicode=True, sort_keys=False, width=88)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(header + text, encoding="utf-8")
        return target
