"""A reader that goes away (``flow-engine … | head``) ends the command quietly."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_closed_stdout_ends_the_command_without_a_traceback() -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: every write fails
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flow_engine", "schema"],
            stdout=write,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr and b"BrokenPipeError" not in done.stderr
