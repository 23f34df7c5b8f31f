"""Writing what a runner reports about a training job into the store.

Shared by the tuning engine and by single training jobs (``CreateTrainingJob``), so a training
job is recorded the same way whoever started it. ``transitions`` is the job's
``SecondaryStatusTransitions`` list, kept in memory by the caller and extended here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from tunesmith.runner.base import TrainingJobEnded, TrainingJobStarted
from tunesmith.store import Store


def transition(status: str, start: float, message: str) -> dict[str, Any]:
    return {"Status": status, "StartTime": start, "StatusMessage": message}


def advance(transitions: list[dict[str, Any]], status: str, time: float, message: str) -> None:
    """End the current secondary status and enter the next one."""
    if transitions:
        transitions[-1]["EndTime"] = time
    transitions.append(transition(status, time, message))


def record_started(
    store: Store, conn: Connection, event: TrainingJobStarted, transitions: list[dict[str, Any]]
) -> None:
    advance(transitions, "Training", event.time, "Training job in progress")
    store.update_training_job(
        event.name,
        conn,
        start_time=event.time,
        pid=event.pid,
        secondary_status="Training",
        transitions=transitions,
    )


def record_ended(
    store: Store,
    conn: Connection,
    event: TrainingJobEnded,
    transitions: list[dict[str, Any]],
    *,
    objective: float | None = None,
    objective_metric: str | None = None,
) -> str | None:
    """Record the end of a training job; returns its failure reason (``None`` if it has none).

    With an ``objective_metric`` (a tuning job's training job), the job's final objective is
    ``objective``; a job that completed without printing one has ``ObjectiveStatus`` Failed.
    """
    notes = list(event.notes)
    if objective_metric is not None and objective is None and event.status == "Completed":
        notes.append(
            f"No value of the objective metric {objective_metric} was found in the training "
            "job's output"
        )
    # SageMaker's FailureReason holds at most 1024 characters.
    failure = (event.failure_reason or "; ".join(notes))[:1024] or None
    advance(transitions, event.secondary_status, event.time, _status_message(event))
    values: dict[str, Any] = {}
    if objective_metric is not None:
        values = {
            "final_objective": objective,
            "objective_status": "Succeeded" if objective is not None else "Failed",
        }
    store.update_training_job(
        event.name,
        conn,
        status=event.status,
        secondary_status=event.secondary_status,
        end_time=event.time,
        exit_code=event.exit_code,
        failure_reason=failure,
        model_artifacts=event.model_artifacts,
        notes=notes,
        transitions=transitions,
        retryable=event.status == "Failed" and event.retryable,
        **values,
    )
    return failure


def _status_message(event: TrainingJobEnded) -> str:
    if event.status == "Completed":
        return "Training job completed"
    return event.failure_reason or f"Training job {event.status.lower()}"
