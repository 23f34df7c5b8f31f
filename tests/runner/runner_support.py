"""Shared pieces of the runner tests: an event recorder and training job specs."""

from __future__ import annotations

import sys
import textwrap
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil
import pytest

from tunesmith.runner.base import (
    MetricDefinition,
    MetricsObserved,
    RunnerEvent,
    TrainingJobEnded,
    TrainingJobSpec,
    TrainingJobStarted,
)


@pytest.fixture(params=["cold", "pool"])
def start_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with training jobs started cold and forked from the warm worker pool."""
    monkeypatch.setenv("TUNESMITH_POOL", "0" if request.param == "cold" else "1")
    return str(request.param)


class Recorder:
    """An event sink that lets a test wait for a training job's events."""

    def __init__(self) -> None:
        self.events: list[RunnerEvent] = []
        self._changed = threading.Condition()

    def __call__(self, event: RunnerEvent) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def of(self, name: str) -> list[RunnerEvent]:
        with self._changed:
            return [e for e in self.events if e.name == name]

    def started(self, name: str, timeout: float = 30.0) -> TrainingJobStarted:
        return self._wait(name, TrainingJobStarted, timeout)

    def ended(self, name: str, timeout: float = 30.0) -> TrainingJobEnded:
        return self._wait(name, TrainingJobEnded, timeout)

    def metrics(self, name: str) -> list[tuple[str, float]]:
        return [
            (v.metric, v.value)
            for e in self.of(name)
            if isinstance(e, MetricsObserved)
            for v in e.values
        ]

    def _wait(self, name: str, kind: type[Any], timeout: float) -> Any:
        def found() -> Any:
            return next((e for e in self.events if e.name == name and isinstance(e, kind)), None)

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(f"no {kind.__name__} event for {name} within {timeout} s")
            return found()


def log_text(spec: TrainingJobSpec) -> str:
    """The training job's log so far ("" before it exists)."""
    try:
        return (spec.directory / "logs" / "training.log").read_text()
    except FileNotFoundError:
        return ""


def write_script(folder: Path, source: str, program: str = "train.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / program
    path.write_text(textwrap.dedent(source))
    return path


def spec_for(
    tmp_path: Path,
    name: str = "job-001-abcdef12",
    *,
    source: str | None = None,
    program: str = "train.py",
    hyperparameters: Mapping[str, str] | None = None,
    metrics: Mapping[str, str] | None = None,
    **fields: Any,
) -> TrainingJobSpec:
    """A spec around a script written into ``tmp_path/<name>-src``."""
    source_dir = fields.pop("source_dir", tmp_path / f"{name}-src")
    if source is not None:
        write_script(source_dir, source, program)
    return TrainingJobSpec(
        name=name,
        directory=tmp_path / "jobs" / name,
        source_dir=source_dir,
        entry_point=program,
        hyperparameters={"sagemaker_program": f'"{program}"', **(hyperparameters or {})},
        metric_definitions=tuple(MetricDefinition(n, r) for n, r in (metrics or {}).items()),
        stop_grace_seconds=fields.pop("stop_grace_seconds", 1.0),
        interpreter=fields.pop("interpreter", sys.executable),
        **fields,
    )


def survivors(processes: list[psutil.Process], timeout: float = 5.0) -> list[psutil.Process]:
    """The processes still alive after at most ``timeout`` s: a SIGKILLed process may take a
    moment to finish dying; a zombie waiting for its reaper counts as dead."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in processes if _alive(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
