"""The single thread a model runs its forwards on, below the event loop's CPU priority.

Under overload on a few cores, a forward's threads would otherwise share the CPU evenly with the
event loop that answers health checks and refuses excess requests, so a 503 could wait behind a
whole batch. Linux's nice value is per thread and inherited by the threads a thread starts, so
lowering it on this thread also lowers torch's intra-op pool that the forwards start from here.
The forward still gets every cycle the event loop leaves idle: throughput is unchanged.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

DEFAULT_NICE = 10


def _lower_priority(increment: int) -> None:
    # setpriority(PRIO_PROCESS, 0) means the calling thread on Linux only; elsewhere it would
    # lower the whole process, event loop included, which defeats the purpose.
    if increment and sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, 0, min(19, os.getpriority(os.PRIO_PROCESS, 0) + increment))


def inference_executor(name: str, nice: int = DEFAULT_NICE) -> ThreadPoolExecutor:
    """One worker (forwards never run concurrently), `nice` steps below the caller's priority."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=_lower_priority, initargs=(nice,))
