"""Charts of tuning jobs named the ways a user names them: a name, a handle, a tuner."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import altair as alt

from tunesmith.api import Workspace
from tunesmith.job_analytics import TuningJobAnalytics
from tunesmith.store import Store
from tunesmith.viz.charts import build_report
from tunesmith.viz.data import TuningJobData
from tunesmith.viz.export import save_report
from tunesmith.warm_start import parent_names

JobRef = str | TuningJobData | Any
"""A tuning job name, a :class:`TuningJobData`, a ``tunesmith.TuningJob`` handle or a
``tunesmith.sagemaker.HyperparameterTuner``."""


def tuning_job_data(store: Store, name: str) -> TuningJobData:
    """Everything the charts need about one tuning job in a store."""
    results = TuningJobAnalytics(store, name)
    return TuningJobData(
        name=name,
        strategy=results.job.strategy,
        objective_name=results.job.objective_metric,
        objective_type=results.job.objective_type,  # type: ignore[arg-type]
        space=results.space,
        trials=results.dataframe(),
        metrics=results.metrics(),
        parents=tuple(parent_names(results.job.request)),
    )


def _resolve(job: JobRef, home: str | os.PathLike[str] | None) -> TuningJobData:
    if isinstance(job, TuningJobData):
        return job
    if isinstance(job, str):
        return tuning_job_data(Workspace.open(home).store, job)
    if hasattr(job, "workspace") and hasattr(job, "name"):  # tunesmith.TuningJob
        return tuning_job_data(job.workspace.store, job.name)
    latest = getattr(job, "latest_tuning_job", None)
    if latest is not None:  # a SageMaker-style tuner
        session_home = getattr(getattr(job, "sagemaker_session", None), "home", None)
        return tuning_job_data(Workspace.open(session_home or home).store, latest.name)
    raise TypeError(
        f"cannot chart {type(job).__name__}: give tuning job names, tunesmith.TuningJob "
        "handles or tuners"
    )


def visualize_tuning_job(
    jobs: JobRef | Sequence[JobRef],
    advanced: bool = False,
    trials_only: bool = False,
    *,
    home: str | os.PathLike[str] | None = None,
) -> alt.TopLevelMixin:
    """The linked charts of one or several tuning jobs, as the seed's amtviz call draws them."""
    refs = [jobs] if isinstance(jobs, str) or not isinstance(jobs, Sequence) else list(jobs)
    return build_report(
        [_resolve(j, home) for j in refs], advanced=advanced, trials_only=trials_only
    )


def write_report(
    names: Sequence[str],
    path: str | os.PathLike[str],
    *,
    advanced: bool = True,
    trials_only: bool = False,
    home: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the report of tuning jobs to ``path`` (.html, .png, .svg or .pdf)."""
    return save_report(
        visualize_tuning_job(list(names), advanced, trials_only, home=home), Path(path)
    )
