"""A pytest plugin: every ``*.test.yaml`` conversation file is a test.

Registered as the ``pytest11`` entry point ``flow_engine``, so a skill
repository runs its conversation files with plain ``pytest``; a failure shows
the readable diff of the first mismatching step.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

#: conversation files (as in ``convtest.SUFFIX``; the engine is imported only when one runs)
SUFFIX = ".test.yaml"


class ConversationFailed(Exception):
    """A conversation file did not go as written (or could not be loaded)."""


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIX):
        collected: pytest.Collector = ConversationFile.from_parent(parent, path=file_path)
        return collected
    return None


class ConversationFile(pytest.File):
    def collect(self) -> list[pytest.Item]:
        return [ConversationItem.from_parent(self, name=self.path.name.removesuffix(SUFFIX))]


class ConversationItem(pytest.Item):
    def runtest(self) -> None:
        from flow_engine.devtools.convtest import load_conversation_file
        from flow_engine.errors import ConfigurationError

        try:
            cf = load_conversation_file(self.path)
            result = _run(cf)  # an invalid skill file is found when the engine starts
        except ConfigurationError as exc:
            raise ConversationFailed(exc.message) from None
        if not result.ok:
            raise ConversationFailed(result.failure or "failed")

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        if isinstance(excinfo.value, ConversationFailed):
            return f"{self.path}\n{excinfo.value}"
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"conversation: {self.name}"


def _run(cf: Any) -> Any:
    """Run on a fresh event loop (pytest items are synchronous)."""
    from flow_engine.devtools.convtest import run_conversation

    runner = asyncio.Runner()
    try:
        return runner.run(run_conversation(cf))
    finally:
        runner.close()
