"""A tuning job's results as pandas DataFrames.

``dataframe()`` has the columns of the SageMaker SDK's ``HyperparameterTuningJobAnalytics``:
one column per tuned hyperparameter, typed by its range (``int``, ``float`` or ``str``), then
:data:`RESULT_COLUMNS`. ``metrics()`` holds every metric value read from the training jobs'
output, in long form (:data:`METRIC_COLUMNS`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from tunesmith.model.validation import hyperparameter_value
from tunesmith.space import SearchSpace
from tunesmith.store import Store, TrainingJobRecord, TuningJobRecord

RESULT_COLUMNS = (
    "TrainingJobName",
    "TrainingJobStatus",
    "FinalObjectiveValue",
    "TrainingStartTime",
    "TrainingEndTime",
    "TrainingElapsedTimeSeconds",
    "TuningJobName",
)
METRIC_COLUMNS = ("TrainingJobName", "MetricName", "Timestamp", "Value", "Step")


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class TuningJobAnalytics:
    """Results of one tuning job in a store."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self.job: TuningJobRecord = store.get_tuning_job(name)
        config = self.job.request["HyperParameterTuningJobConfig"]
        self.space = SearchSpace.from_parameter_ranges(config.get("ParameterRanges") or {})

    def dataframe(self) -> pd.DataFrame:
        """One row per training job, in launch order."""
        rows = [self._row(r) for r in self.store.training_jobs(self.name)]
        columns = [*self.space.names, *RESULT_COLUMNS]
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("TrainingStartTime", "TrainingEndTime"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        frame["FinalObjectiveValue"] = frame["FinalObjectiveValue"].astype(float)
        frame["TrainingElapsedTimeSeconds"] = frame["TrainingElapsedTimeSeconds"].astype(float)
        return frame

    def _row(self, record: TrainingJobRecord) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for parameter in self.space.parameters:
            text = hyperparameter_value(record.hyperparameters.get(parameter.name, ""))
            try:
                row[parameter.name] = parameter.parse(text)
            except ValueError:
                row[parameter.name] = text
        elapsed = (
            record.end_time - record.start_time
            if record.end_time is not None and record.start_time is not None
            else math.nan
        )
        row.update(
            TrainingJobName=record.name,
            TrainingJobStatus="InProgress" if record.status == "Stopping" else record.status,
            FinalObjectiveValue=math.nan
            if record.final_objective is None
            else record.final_objective,
            TrainingStartTime=_time(record.start_time),
            TrainingEndTime=_time(record.end_time),
            TrainingElapsedTimeSeconds=elapsed,
            TuningJobName=self.name,
        )
        return row

    def metrics(self) -> pd.DataFrame:
        """Every metric value of every training job, in order of its step."""
        points = self.store.metric_values_of_tuning_job(self.name)
        frame = pd.DataFrame(
            [(p.training_job, p.metric, p.timestamp, p.value, p.step) for p in points],
            columns=list(METRIC_COLUMNS),
        )
        frame["Timestamp"] = pd.to_datetime(frame["Timestamp"], unit="s", utc=True)
        return frame
