"""Whatever a reliability test's outcome, it leaves no engine, training process or fork server
behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from reliability_support import FORKED, kill_and_reap


@pytest.fixture(autouse=True)
def no_leftovers(tmp_path: Path) -> Iterator[None]:
    yield
    while FORKED:
        kill_and_reap(FORKED.pop())
    for process in psutil.process_iter():
        try:
            # A forked training script and its fork server show their server's command line.
            cwd_or_args = " ".join([process.cwd(), *process.cmdline()])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if str(tmp_path) in cwd_or_args:
            try:
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
