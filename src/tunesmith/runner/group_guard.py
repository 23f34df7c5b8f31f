"""Ends the process groups of a Ray actor's training jobs when the actor's process dies.

A program the actor starts once (``python group_guard.py``), with a pipe as standard input whose
writing end only the actor holds. The actor writes ``+PGID GRACE`` when a training job's process
group has started (``GRACE``: its stop grace period in seconds) and ``-PGID`` once the group has
ended. However the actor's process dies — the engine that owned it died and Ray ended it,
``ray kill``, the out-of-memory killer — the kernel closes its end of the pipe: the guard reads
the end of its input and stops each group still listed as a stop does, ``SIGTERM`` and then
``SIGKILL`` after the grace period, so no script runs on unwatched.

It leaves the actor's process tree at once (it forks, and its first process exits): Ray kills a
dying worker's children, and would take the guard along. It uses only the standard library and
is run by path, so it starts fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

CHECK_SECONDS = 0.1
"""How often, during the grace period, the guard looks whether the groups have ended."""


def main() -> None:
    if os.fork():
        os._exit(0)  # the actor collects this first process; the guard lives on
    groups: dict[int, float] = {}
    for line in sys.stdin:  # until the actor's end of the pipe closes
        sign, fields = line[:1], line[1:].split()
        if sign == "+" and len(fields) == 2:
            groups[int(fields[0])] = float(fields[1])
        elif sign == "-" and fields:
            groups.pop(int(fields[0]), None)
    _stop(groups)


def _stop(groups: dict[int, float]) -> None:
    for group in groups:
        _signal(group, signal.SIGTERM)
    deadline = time.monotonic() + max(groups.values(), default=0.0)
    left = [group for group in groups if _alive(group)]
    while left and time.monotonic() < deadline:
        time.sleep(CHECK_SECONDS)
        left = [group for group in left if _alive(group)]
    for group in left:
        _signal(group, signal.SIGKILL)


def _signal(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    main()
