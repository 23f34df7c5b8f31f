"""Whatever a reliability test's outcome, it leaves no engine or training process behind.

The tests start training jobs cold: a cold start outlives a killed engine and is adopted, and its
processes carry the training job's name in their environment, which is how the tests find
orphans. The warm pool's server ends its children with their engine (they are then retried under
RetryStrategy); tests/runner/test_runner_pool.py checks that none of those survives."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from reliability_support import FORKED, kill_and_reap


@pytest.fixture(autouse=True)
def cold_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_POOL", "0")


@pytest.fixture(autouse=True)
def no_leftovers(tmp_path: Path) -> Iterator[None]:
    yield
    while FORKED:
        kill_and_reap(FORKED.pop())
    for process in psutil.process_iter():
        try:
            cwd_or_args = " ".join(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if str(tmp_path) in cwd_or_args:
            try:
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
