"""A single training job outside any tuning job (``CreateTrainingJob``), run to its end.

It runs under the same training contract and is recorded the same way as a tuning job's
training jobs; a stop request (``StopTrainingJob``) reaches it through the store.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path

from tunesmith.engine import HEARTBEAT_SECONDS, RunnerFactory, local_runner
from tunesmith.recording import record_ended, record_started
from tunesmith.runner.base import (
    MetricsObserved,
    RunnerEvent,
    TrainingJobEnded,
    TrainingJobStarted,
)
from tunesmith.store import Store
from tunesmith.training import training_job_directory, training_job_spec


def run_training_job(
    store: Store, name: str, home: Path, *, runner_factory: RunnerFactory = local_runner
) -> str:
    """Run the stored training job ``name`` (status ``InProgress``); returns its final status."""
    record = store.get_training_job(name)
    assert record.definition is not None, "a tuning job's training jobs run in its engine"
    transitions = list(record.transitions)
    events: queue.Queue[RunnerEvent] = queue.Queue()
    runner = runner_factory(events.put)
    stop_sent = False
    try:
        runner.start(
            training_job_spec(
                record.definition,
                name=name,
                directory=training_job_directory(home, name, None),
            )
        )
        next_check = time.monotonic() + HEARTBEAT_SECONDS
        while True:
            try:
                event = events.get(timeout=max(0.0, next_check - time.monotonic()))
            except queue.Empty:
                event = None
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + HEARTBEAT_SECONDS
                if not stop_sent and store.get_training_job(name).status == "Stopping":
                    stop_sent = True
                    runner.stop(name, "Stopped by request")
            if event is None:
                continue
            with store.write() as conn:
                if isinstance(event, TrainingJobStarted):
                    record_started(store, conn, event, transitions)
                elif isinstance(event, MetricsObserved):
                    store.add_metric_values(
                        name, [(v.metric, v.timestamp, v.value) for v in event.values], conn
                    )
                elif isinstance(event, TrainingJobEnded):
                    record_ended(store, conn, event, transitions)
                    return event.status
    finally:
        runner.close()


def wait_for_training_job(store: Store, name: str, timeout: float | None = None) -> str:
    """Block until a training job run elsewhere ends; returns its final status."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while (status := store.get_training_job(name).status) in ("InProgress", "Stopping"):
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"training job {name} still running after {timeout} s")
        time.sleep(0.25)
    return status
