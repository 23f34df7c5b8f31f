"""Standalone training jobs (``CreateTrainingJob``): one run of a script, outside any tuning job.

The server runs them with the local runner in its own process and writes what the runner
reports to the store, so ``DescribeTrainingJob`` and its waiter follow them as they follow the
training jobs of a tuning job. A standalone training job has no tuning job; the store keeps its
whole ``CreateTrainingJob`` request as its definition.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from tunesmith.api import Workspace
from tunesmith.model import load_training_job_document, to_document
from tunesmith.model.errors import ResourceInUse, ValidationException
from tunesmith.model.names import training_job_arn
from tunesmith.runner.base import (
    MetricsObserved,
    Runner,
    RunnerEvent,
    TrainingJobEnded,
    TrainingJobStarted,
)
from tunesmith.runner.local import LocalRunner
from tunesmith.server.engines import process_alive
from tunesmith.server.queries import standalone_training_jobs
from tunesmith.store import TERMINAL_STATUSES
from tunesmith.training import (
    PROGRAM,
    SUBMIT_DIRECTORY,
    training_job_directory,
    training_job_spec,
)

log = logging.getLogger("tunesmith.server")

STARTUP_GRACE_SECONDS = 30.0
"""How long a training job may stay without a process before it counts as lost."""


def _transition(status: str, start: float, message: str) -> dict[str, Any]:
    return {"Status": status, "StartTime": start, "StatusMessage": message}


def load_training_job_request(params: Mapping[str, Any]) -> dict[str, Any]:
    """A validated ``CreateTrainingJob`` request, with the model's defaults, that this server
    can run: the program named by ``sagemaker_program`` (a container entry point has no local
    meaning)."""
    request = to_document(load_training_job_document(params))
    algorithm = request.get("AlgorithmSpecification") or {}
    for member in ("ContainerEntrypoint", "ContainerArguments"):
        if algorithm.get(member):
            raise ValidationException(
                f"AlgorithmSpecification.{member}: local training jobs run the program named "
                f"by the {PROGRAM} hyperparameter in {SUBMIT_DIRECTORY}; leave {member} out"
            )
    return request


@dataclass(frozen=True)
class _StopRequested:
    """Queued with the runner's events, so that a job that ended meanwhile is not marked
    ``Stopping`` after its end was recorded."""

    name: str


class StandaloneTrainingJobs:
    """Runs ``CreateTrainingJob`` training jobs with a runner of this process."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.events: queue.Queue[RunnerEvent | _StopRequested | None] = queue.Queue()
        self.runner: Runner = LocalRunner(self.events.put)
        self.transitions: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._record_events, name="tunesmith-training-jobs", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop the running training jobs (they end ``Stopped``) and record their end."""
        self.runner.close()
        self.events.put(None)
        self._thread.join()

    def fail_lost(self) -> list[str]:
        """Mark ``Failed`` the running standalone training jobs no process runs any more (a
        server that ran them was killed); returns their names."""
        store = self.workspace.store
        now = time.time()
        lost = []
        for row in standalone_training_jobs(store, ["InProgress", "Stopping"]):
            if row.name in self.runner.running():
                continue
            if row.pid is not None and process_alive(row.pid):
                continue
            if row.pid is None and now - row.created < STARTUP_GRACE_SECONDS:
                continue
            record = store.get_training_job(row.name)
            transitions = list(record.transitions)
            _advance(transitions, "Failed", now, "The server running this training job stopped")
            store.update_training_job(
                row.name, status="Failed", secondary_status="Failed", end_time=now,
                failure_reason="The server running this training job stopped unexpectedly",
                transitions=transitions,
            )
            lost.append(row.name)
        return lost

    def create(self, params: Mapping[str, Any]) -> str:
        """Record and start a training job from a ``CreateTrainingJob`` request; returns its
        ARN."""
        request = load_training_job_request(params)
        name = request["TrainingJobName"]
        arn = training_job_arn(name)
        now = time.time()
        transitions = [_transition("Starting", now, "Launching the training job")]
        store = self.workspace.store
        try:
            store.create_training_job(
                name=name, arn=arn, tuning_job=None, status="InProgress",
                secondary_status="Starting", hyperparameters={}, created=now, notes=[],
                transitions=transitions, definition=request,
            )
        except IntegrityError:
            raise ResourceInUse(f"Training job '{name}' already exists.") from None
        if request.get("Tags"):
            store.add_tags(arn, {t["Key"]: t["Value"] for t in request["Tags"]})
        definition = {**request, "StaticHyperParameters": request.get("HyperParameters") or {}}
        spec = training_job_spec(
            definition, name=name,
            directory=training_job_directory(self.workspace.home, name, None), tuned={},
            objective_metric=None, tuning_job_name=None,
        )
        with self._lock:
            self.transitions[name] = transitions
        self.runner.start(spec)
        return arn

    def stop(self, name: str) -> None:
        """Stop a standalone training job, as ``StopTrainingJob``."""
        store = self.workspace.store
        record = store.get_training_job(name)
        if record.tuning_job is not None:
            raise ValidationException(
                f"Training job '{name}' belongs to hyperparameter tuning job "
                f"'{record.tuning_job}'; stop the tuning job instead"
            )
        if record.status in TERMINAL_STATUSES:
            raise ValidationException(
                f"The training job '{name}' has already ended with status {record.status}."
            )
        if name in self.runner.running():
            self.events.put(_StopRequested(name))
            self.runner.stop(name, "Stopped by request")
            return
        # Nobody runs it (its server is gone): it ends here.
        now = time.time()
        transitions = list(record.transitions)
        _advance(transitions, "Stopped", now, "Stopped by request")
        store.update_training_job(
            name, status="Stopped", secondary_status="Stopped", end_time=now,
            failure_reason="Stopped by request", transitions=transitions,
        )

    def _record_events(self) -> None:
        while (event := self.events.get()) is not None:
            try:
                self._record(event)
            except Exception:
                log.exception("recording %s failed", event)

    def _record(self, event: RunnerEvent | _StopRequested) -> None:
        store = self.workspace.store
        with self._lock:
            transitions = self.transitions.get(event.name)
        if transitions is None:
            return
        if isinstance(event, _StopRequested):
            _advance(transitions, "Stopping", time.time(), "Stopping the training job")
            store.update_training_job(event.name, status="Stopping", secondary_status="Stopping",
                                      transitions=transitions)
        elif isinstance(event, TrainingJobStarted):
            _advance(transitions, "Training", event.time, "Training job in progress")
            store.update_training_job(
                event.name, start_time=event.time, pid=event.pid, secondary_status="Training",
                transitions=transitions,
            )
        elif isinstance(event, MetricsObserved):
            store.add_metric_values(
                event.name, [(v.metric, v.timestamp, v.value) for v in event.values]
            )
        elif isinstance(event, TrainingJobEnded):
            message = ("Training job completed" if event.status == "Completed"
                       else event.failure_reason or f"Training job {event.status.lower()}")
            _advance(transitions, event.secondary_status, event.time, message)
            store.update_training_job(
                event.name, status=event.status, secondary_status=event.secondary_status,
                end_time=event.time, exit_code=event.exit_code,
                failure_reason=event.failure_reason or ("; ".join(event.notes) or None),
                model_artifacts=event.model_artifacts, notes=list(event.notes),
                transitions=transitions,
            )
            with self._lock:
                del self.transitions[event.name]


def _advance(transitions: list[dict[str, Any]], status: str, time_: float, message: str) -> None:
    """End the current secondary status and enter the next one."""
    if transitions:
        transitions[-1]["EndTime"] = time_
    transitions.append(_transition(status, time_, message))
