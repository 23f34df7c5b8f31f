"""What the charts are drawn from: one tuning job's trials and metric series.

The shape follows the SageMaker SDK's ``HyperparameterTuningJobAnalytics.dataframe()`` so that a
frame taken from either source can be charted: one row per training job, one typed column per
tuned hyperparameter, and the columns named in :data:`TRIAL_COLUMNS`. Intermediate metric values
come in long form (:data:`METRIC_COLUMNS`), one row per value a metric definition extracted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from tunesmith.job_analytics import METRIC_COLUMNS, RESULT_COLUMNS
from tunesmith.model.errors import ValidationException
from tunesmith.space import SearchSpace

ObjectiveType = Literal["Maximize", "Minimize"]

TRIAL_COLUMNS = RESULT_COLUMNS


@dataclass(frozen=True, eq=False)
class TuningJobData:
    """Everything a report needs about one tuning job.

    ``trials`` has one row per training job with the columns of :data:`TRIAL_COLUMNS` plus one
    column per tuned hyperparameter of ``space`` (``int``, ``float`` or ``str`` values);
    ``FinalObjectiveValue`` is NaN where a training job reported none. ``metrics`` is ``None``
    when intermediate values were not collected.
    """

    name: str
    strategy: str
    objective_name: str
    objective_type: ObjectiveType
    space: SearchSpace
    trials: pd.DataFrame
    metrics: pd.DataFrame | None = None
    parents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.objective_type not in ("Maximize", "Minimize"):
            raise ValidationException(
                f"objective_type: must be Maximize or Minimize, got {self.objective_type!r}"
            )
        _require_columns("trials", self.trials, (*TRIAL_COLUMNS, *self.space.names))
        if self.metrics is not None:
            _require_columns("metrics", self.metrics, METRIC_COLUMNS)

    @property
    def minimize(self) -> bool:
        return self.objective_type == "Minimize"

    @property
    def scored(self) -> pd.DataFrame:
        """The training jobs that reported a final objective value."""
        return self.trials[self.trials["FinalObjectiveValue"].notna()]


def _require_columns(what: str, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationException(f"{what}: missing columns {missing}")


def check_comparable(jobs: Sequence[TuningJobData]) -> None:
    """Jobs charted together must share one objective axis and be told apart by name."""
    if not jobs:
        raise ValidationException("jobs: at least one tuning job is needed for a report")
    first = jobs[0]
    for job in jobs[1:]:
        if (job.objective_name, job.objective_type) != (first.objective_name, first.objective_type):
            raise ValidationException(
                f"jobs: all tuning jobs of one report must share the objective; {job.name} "
                f"{job.objective_type}s {job.objective_name}, {first.name} "
                f"{first.objective_type}s {first.objective_name}"
            )
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise ValidationException(f"jobs: tuning job names must be unique, got {names}")
