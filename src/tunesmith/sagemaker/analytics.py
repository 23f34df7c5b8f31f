"""Tuning and training job results as pandas DataFrames, with the SageMaker SDK's columns.

:func:`training_jobs_dataframe` (a store and a tuning job name) is the builder every interface
can share; the SDK classes call :func:`summaries_dataframe` on whatever their session lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from tunesmith import service
from tunesmith.job_analytics import RESULT_COLUMNS
from tunesmith.model.validation import hyperparameter_value

if TYPE_CHECKING:
    from tunesmith.sagemaker.session import Session
    from tunesmith.store import Store


def _value(value: str) -> Any:
    # As the SDK does, numbers become floats; JSON-quoted strings (framework jobs) lose quotes.
    try:
        return float(value)
    except (TypeError, ValueError):
        return hyperparameter_value(value)


def _row(summary: Mapping[str, Any]) -> dict[str, Any]:
    row = {name: _value(v) for name, v in (summary.get("TunedHyperParameters") or {}).items()}
    start, end = summary.get("TrainingStartTime"), summary.get("TrainingEndTime")
    row.update(
        TrainingJobName=summary["TrainingJobName"],
        TrainingJobStatus=summary["TrainingJobStatus"],
        FinalObjectiveValue=(summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get(
            "Value"
        ),
        TrainingStartTime=start,
        TrainingEndTime=end,
        TrainingElapsedTimeSeconds=(end - start).total_seconds() if start and end else None,
        TuningJobName=summary.get("TuningJobName"),
    )
    if "TrainingJobDefinitionName" in summary:
        row["TrainingJobDefinitionName"] = summary["TrainingJobDefinitionName"]
    return row


def summaries_dataframe(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per ``HyperParameterTrainingJobSummary``: the tuned hyperparameters, then
    :data:`RESULT_COLUMNS`."""
    rows = [_row(s) for s in summaries]
    if not rows:
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    return pd.DataFrame(rows)


def training_jobs_dataframe(store: Store, tuning_job_name: str) -> pd.DataFrame:
    """The training jobs of a tuning job in a store, as ``HyperparameterTuningJobAnalytics``
    shows them."""
    summaries: list[dict[str, Any]] = []
    token = None
    while True:
        page = service.list_training_jobs_for_tuning_job(store, tuning_job_name, next_token=token)
        summaries.extend(page["TrainingJobSummaries"])
        token = page.get("NextToken")
        if token is None:
            return summaries_dataframe(summaries)


def _default_session() -> Session:
    from tunesmith.sagemaker.session import Session

    return Session()


class HyperparameterTuningJobAnalytics:
    """The training jobs of a tuning job (``dataframe()``) and its description."""

    def __init__(
        self, hyperparameter_tuning_job_name: str, sagemaker_session: Session | None = None
    ) -> None:
        self._session = sagemaker_session or _default_session()
        self._name = hyperparameter_tuning_job_name
        self.clear_cache()

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<tunesmith.sagemaker.HyperparameterTuningJobAnalytics for {self._name}>"

    def clear_cache(self) -> None:
        self._dataframe: pd.DataFrame | None = None
        self._description: dict[str, Any] | None = None
        self._summaries: list[dict[str, Any]] | None = None

    def dataframe(self, force_refresh: bool = False) -> pd.DataFrame:
        if force_refresh:
            self.clear_cache()
        if self._dataframe is None:
            self._dataframe = summaries_dataframe(self.training_job_summaries())
        return self._dataframe

    def export_csv(self, filename: str) -> None:
        self.dataframe().to_csv(filename)

    def description(self, force_refresh: bool = False) -> dict[str, Any]:
        if force_refresh:
            self.clear_cache()
        if self._description is None:
            self._description = self._session.describe_tuning_job(self._name)
        return self._description

    def training_job_summaries(self, force_refresh: bool = False) -> list[dict[str, Any]]:
        if force_refresh:
            self.clear_cache()
        if self._summaries is None:
            self._summaries = self._session.training_job_summaries(self._name)
        return self._summaries

    @property
    def tuning_ranges(self) -> dict[str, dict[str, Any]]:
        """Each tuned hyperparameter's range document, by name."""
        ranges = self.description()["HyperParameterTuningJobConfig"].get("ParameterRanges") or {}
        return {entry["Name"]: entry for kind in ranges.values() for entry in kind}


class TrainingJobAnalytics:
    """The metric values a training job printed: ``dataframe()`` has the SDK's columns
    ``timestamp`` (seconds since the metric's first value), ``metric_name`` and ``value``.

    Locally every printed value is kept; ``period`` (seconds) averages them per period, as
    CloudWatch does; ``start_time``/``end_time`` (datetimes) bound them. Through a server only
    the final values are reachable.
    """

    def __init__(
        self,
        training_job_name: str,
        metric_names: list[str] | None = None,
        sagemaker_session: Session | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        period: int | None = None,
    ) -> None:
        self._session = sagemaker_session or _default_session()
        self._name = training_job_name
        self._metric_names = metric_names
        self._start_time = start_time
        self._end_time = end_time
        self._period = period
        self.clear_cache()

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<tunesmith.sagemaker.TrainingJobAnalytics for {self._name}>"

    def clear_cache(self) -> None:
        self._dataframe: pd.DataFrame | None = None

    def dataframe(self, force_refresh: bool = False) -> pd.DataFrame:
        if force_refresh:
            self.clear_cache()
        if self._dataframe is None:
            self._dataframe = self._fetch()
        return self._dataframe

    def export_csv(self, filename: str) -> None:
        self.dataframe().to_csv(filename)

    def _points(self) -> list[tuple[float, str, float]]:
        series = self._session.metric_series(self._name)
        if series is not None:
            return series
        description = self._session.describe_training_job(self._name)
        return [
            (m["Timestamp"].timestamp(), m["MetricName"], m["Value"])
            for m in description.get("FinalMetricDataList") or []
        ]

    def _fetch(self) -> pd.DataFrame:
        frame = pd.DataFrame(self._points(), columns=["epoch", "metric_name", "value"])
        if self._metric_names is not None:
            frame = frame[frame["metric_name"].isin(self._metric_names)]
        if self._start_time is not None:
            frame = frame[frame["epoch"] >= self._start_time.timestamp()]
        if self._end_time is not None:
            frame = frame[frame["epoch"] <= self._end_time.timestamp()]
        if frame.empty:
            return pd.DataFrame(columns=["timestamp", "metric_name", "value"])
        # Seconds since each metric's first value, as the SDK counts them.
        first = frame.groupby("metric_name")["epoch"].transform("min")
        frame = frame.assign(timestamp=frame["epoch"] - first)
        if self._period:
            frame = (
                frame.assign(timestamp=frame["timestamp"] // self._period * self._period)
                .groupby(["metric_name", "timestamp"], as_index=False)["value"]
                .mean()
            )
        frame = frame.sort_values(["metric_name", "timestamp"], kind="stable")
        return frame[["timestamp", "metric_name", "value"]].reset_index(drop=True)
