"""Completion criteria: when a tuning job stops launching training jobs, and why.

Each criterion reads a :class:`Progress` snapshot and answers with a :class:`Completion` or
``None``. The engine checks them after every finished training job and on its clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

FAILURES_BEFORE_GIVING_UP = 5


@dataclass(frozen=True)
class Completion:
    status: Literal["Completed", "Stopped", "Failed"]
    reason: str
    stop_running: bool
    """Whether training jobs still running are stopped (else they are waited for)."""


@dataclass(frozen=True)
class Progress:
    created: int
    finished: int
    succeeded: int
    """Finished training jobs with an objective value."""
    elapsed_seconds: float
    best_objective: float | None
    not_improving: int
    """Finished training jobs since the best one (``NumberOfTrainingJobsObjectiveNotImproving``)."""
    failure_reasons: Sequence[str] = ()


def no_success(finished: int, failure_reasons: Sequence[str]) -> Completion:
    """The tuning job fails: training jobs finished and none produced an objective value."""
    quoted = "; ".join(dict.fromkeys(r for r in failure_reasons if r))
    return Completion(
        "Failed",
        f"No training job succeeded after {finished} attempts. "
        f"Failure reasons: {quoted or 'no objective metric value was found'}"[:1024],
        stop_running=True,
    )


@dataclass(frozen=True)
class CompletionCriteria:
    objective_type: Literal["Maximize", "Minimize"]
    max_training_jobs: int | None
    max_runtime_seconds: int | None
    target_objective: float | None
    max_not_improving: int | None
    complete_on_convergence: bool

    @classmethod
    def from_config(cls, config: Mapping[str, Any], capacity: int | None) -> CompletionCriteria:
        """From a ``HyperParameterTuningJobConfig`` document; ``capacity`` caps the number of
        training jobs where the strategy can propose only so many (Grid)."""
        limits = config.get("ResourceLimits") or {}
        criteria = config.get("TuningJobCompletionCriteria") or {}
        max_jobs = limits.get("MaxNumberOfTrainingJobs")
        if capacity is not None:
            max_jobs = capacity if max_jobs is None else min(max_jobs, capacity)
        return cls(
            objective_type=config["HyperParameterTuningJobObjective"]["Type"],
            max_training_jobs=max_jobs,
            max_runtime_seconds=limits.get("MaxRuntimeInSeconds"),
            target_objective=criteria.get("TargetObjectiveMetricValue"),
            max_not_improving=(criteria.get("BestObjectiveNotImproving") or {}).get(
                "MaxNumberOfTrainingJobsNotImproving"
            ),
            complete_on_convergence=(criteria.get("ConvergenceDetected") or {}).get(
                "CompleteOnConvergence"
            )
            == "Enabled",
        )

    def may_launch(self, progress: Progress) -> bool:
        return self.max_training_jobs is None or progress.created < self.max_training_jobs

    def check(self, progress: Progress) -> Completion | None:
        """The first criterion that holds, in order of precedence."""
        if progress.finished >= FAILURES_BEFORE_GIVING_UP and progress.succeeded == 0:
            return no_success(progress.finished, progress.failure_reasons)
        if self.target_objective is not None and progress.best_objective is not None:
            reached = (
                progress.best_objective >= self.target_objective
                if self.objective_type == "Maximize"
                else progress.best_objective <= self.target_objective
            )
            if reached:
                return Completion(
                    "Completed",
                    f"TargetObjectiveMetricValue {self.target_objective:g} reached "
                    f"(best {progress.best_objective:g})",
                    stop_running=True,
                )
        if self.max_not_improving is not None and progress.not_improving >= self.max_not_improving:
            return Completion(
                "Completed",
                f"{progress.not_improving} training jobs did not improve on the best "
                f"(MaxNumberOfTrainingJobsNotImproving {self.max_not_improving})",
                stop_running=True,
            )
        if (
            self.max_runtime_seconds is not None
            and progress.elapsed_seconds >= self.max_runtime_seconds
        ):
            return Completion(
                "Completed",
                f"MaxRuntimeInSeconds {self.max_runtime_seconds} reached",
                stop_running=True,
            )
        if self.max_training_jobs is not None and progress.created >= self.max_training_jobs:
            return Completion(
                "Completed",
                f"MaxNumberOfTrainingJobs {self.max_training_jobs} reached",
                stop_running=False,
            )
        return None

    def seconds_left(self, elapsed_seconds: float) -> float | None:
        if self.max_runtime_seconds is None:
            return None
        return max(0.0, self.max_runtime_seconds - elapsed_seconds)
