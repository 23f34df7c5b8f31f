from __future__ import annotations

import pandas as pd
import pytest
from vizfixtures import tiny_job

from tunesmith.model.errors import ValidationException
from tunesmith.viz.data import TuningJobData, check_comparable
from tunesmith.viz.demo import DEMO_SPACE, synthetic_tuning_job


def test_missing_trial_columns_are_named() -> None:
    job = tiny_job("a", ["Completed"], [0.5])
    with pytest.raises(ValidationException, match=r"trials: missing columns \['TrainingEndTime'\]"):
        TuningJobData(
            "a", "Random", "loss", "Minimize", job.space, job.trials.drop(columns="TrainingEndTime")
        )


def test_missing_hyperparameter_column_is_named() -> None:
    job = synthetic_tuning_job("a", n_trials=3, with_metrics=False)
    trials = job.trials.drop(columns="max-depth")
    with pytest.raises(ValidationException, match="max-depth"):
        TuningJobData("a", "Random", "valid-f1", "Maximize", DEMO_SPACE, trials)


def test_missing_metric_columns_are_named() -> None:
    job = tiny_job("a", ["Completed"], [0.5])
    metrics = pd.DataFrame(columns=["TrainingJobName", "MetricName", "Value"])
    with pytest.raises(
        ValidationException, match=r"metrics: missing columns \['Timestamp', 'Step'\]"
    ):
        TuningJobData("a", "Random", "loss", "Minimize", job.space, job.trials, metrics)


def test_objective_type_must_be_known() -> None:
    job = tiny_job("a", ["Completed"], [0.5])
    with pytest.raises(ValidationException, match="objective_type"):
        TuningJobData("a", "Random", "loss", "Lower", job.space, job.trials)  # type: ignore[arg-type]


def test_jobs_of_one_report_share_the_objective() -> None:
    minimizing = tiny_job("a", ["Completed"], [0.5])
    maximizing = synthetic_tuning_job("b", n_trials=3, with_metrics=False)
    with pytest.raises(ValidationException, match="share the objective"):
        check_comparable([minimizing, maximizing])


def test_job_names_of_one_report_are_unique() -> None:
    job = tiny_job("a", ["Completed"], [0.5])
    with pytest.raises(ValidationException, match="unique"):
        check_comparable([job, job])


def test_scored_keeps_jobs_with_an_objective() -> None:
    job = tiny_job("a", ["Completed", "Failed", "Stopped"], [0.5, float("nan"), 0.7])
    assert list(job.scored["TrainingJobStatus"]) == ["Completed", "Stopped"]
