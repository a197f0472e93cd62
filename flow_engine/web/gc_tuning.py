"""Python's garbage collector, tuned for a server that allocates per message.

With CPython's defaults (a young-generation collection every 700 allocations of
container objects), a process handling hundreds of messages a second spent about a
tenth of its CPU collecting, and every oldest-generation collection walked the hundred
and forty thousand objects of the start (modules, configurations, compiled flows) for
about 100 ms, in the middle of the webhooks it was answering (docs/benchmark.md). Once
the process is serving, :func:`tune` freezes what the start made (``gc.freeze``: those
objects leave the collector's generations for good) and collects the young generation
every ``threshold`` allocations instead. Reference counting frees almost everything a
message allocates anyway; the collector only finds cycles.
"""

from __future__ import annotations

import gc

#: collections of a generation between two of the next one (CPython's are 10 and 10)
OLDER = (20, 10)


def tune(threshold: int) -> bool:
    """Freeze the objects alive now and collect the young generation every ``threshold``
    allocations; ``0`` leaves Python's defaults. Returns whether anything changed."""
    if threshold <= 0:
        return False
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, *OLDER)
    return True
