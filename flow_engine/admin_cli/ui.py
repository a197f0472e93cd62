"""The terminal side of ``flow-engine admin``: messages, tables, confirmation, progress.

With ``--json`` standard output carries only the JSON answer, so every message for
people goes to standard error. A confirmation is asked only on a terminal: without one
(CI, a pipe) a write that needs it must be given ``--yes``, else :class:`UsageError`.
Progress bars (tqdm) go to standard error, and only when it is a terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO, TypeVar

from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

T = TypeVar("T")


def local_time(at: Any) -> str:
    """A timestamp (seconds since the epoch) in the local time zone, naming the zone:
    ``2026-11-20 16:40:03 CET``, or its UTC offset when the zone has no name of its own
    (``2026-11-20 12:40:03 UTC-03:00``). Anything else is shown as it is."""
    if isinstance(at, bool) or not isinstance(at, int | float):
        return "" if at is None else str(at)
    moment = datetime.fromtimestamp(at).astimezone()
    name = moment.tzname() or ""
    if not name.isalpha():
        offset = moment.strftime("%z")
        name = f"UTC{offset[:3]}:{offset[3:]}"
    return f"{moment:%Y-%m-%d %H:%M:%S} {name}"


class UsageError(Exception):
    """The command line cannot be carried out as given (exit status 2)."""


class Aborted(Exception):
    """The user answered no to a confirmation."""


@dataclass
class Ui:
    json: bool = False
    quiet: bool = False
    yes: bool = False

    @property
    def out(self) -> TextIO:
        """Where results go: standard output."""
        return sys.stdout

    @property
    def info(self) -> TextIO:
        """Where messages for people go: standard output, or standard error with --json."""
        return sys.stderr if self.json else sys.stdout

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.info)

    def warn(self, message: str) -> None:
        print(message, file=sys.stderr)

    def emit(self, data: Any) -> None:
        """The machine-readable answer (--json)."""
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str), file=self.out)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        cells = [[str(h) for h in headers]] + [
            ["" if c is None else str(c) for c in row] for row in rows
        ]
        widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
        for r in cells:
            print(
                "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip(),
                file=self.out,
            )

    def confirm(self, question: str) -> None:
        """Go on only if confirmed: ``--yes``, or "y" typed on a terminal.

        Raises UsageError without a terminal (and without --yes), Aborted on "no"."""
        if self.yes:
            return
        stdin = sys.stdin
        if stdin is None or not stdin.isatty():
            raise UsageError(
                f"{question} — confirmation needed, but standard input is not a terminal: "
                "rerun with --yes to confirm (nothing was changed)"
            )
        print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
        answer = stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise Aborted("aborted: nothing was changed")

    def bar(self, *, total: int, desc: str) -> Any:
        """A progress bar to ``update(n)`` by hand (use it as a context manager)."""
        return tqdm(
            total=total,
            desc=desc,
            unit="number",
            file=sys.stderr,
            disable=self.quiet or not sys.stderr.isatty(),
            leave=False,
            dynamic_ncols=True,
        )

    def progress(self, items: Iterable[T], *, total: int, desc: str) -> Iterator[T]:
        """``items`` with a progress bar on standard error (a terminal, and not --quiet)."""
        disabled = self.quiet or not sys.stderr.isatty()
        bar = tqdm(
            items,
            total=total,
            desc=desc,
            unit="number",
            file=sys.stderr,
            disable=disabled,
            leave=False,
            dynamic_ncols=True,
        )
        try:
            yield from bar
        finally:
            bar.close()
