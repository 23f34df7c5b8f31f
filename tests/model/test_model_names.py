"""ARNs and training job names."""

from __future__ import annotations

import pytest

from tunesmith.model import shapes
from tunesmith.model.names import training_job_arn, training_job_name, tuning_job_arn


def test_tuning_job_arn_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUNESMITH_REGION", raising=False)
    monkeypatch.delenv("TUNESMITH_ACCOUNT", raising=False)
    assert tuning_job_arn("RF-Digits") == (
        "arn:aws:sagemaker:us-east-1:000000000000:hyper-parameter-tuning-job/rf-digits"
    )


def test_arns_follow_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_REGION", "eu-west-2")
    monkeypatch.setenv("TUNESMITH_ACCOUNT", "123456789012")
    assert training_job_arn("Job-001-abcdef12") == (
        "arn:aws:sagemaker:eu-west-2:123456789012:training-job/job-001-abcdef12"
    )


def test_explicit_region_and_account_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_REGION", "eu-west-2")
    assert tuning_job_arn("a", region="ap-northeast-1", account="111111111111") == (
        "arn:aws:sagemaker:ap-northeast-1:111111111111:hyper-parameter-tuning-job/a"
    )


@pytest.mark.parametrize(
    ("seq", "expected"),
    [
        (1, "rf-001-0a1b2c3d"),
        (42, "rf-042-0a1b2c3d"),
        (999, "rf-999-0a1b2c3d"),
        (1000, "rf-1000-0a1b2c3d"),
    ],
)
def test_training_job_name(seq: int, expected: str) -> None:
    assert training_job_name("rf", seq, "0a1b2c3d") == expected


def test_names_and_arns_satisfy_the_aws_shapes() -> None:
    name = training_job_name("a" * 32, 1234, "deadbeef")
    summary = shapes.HyperParameterTrainingJobSummary(
        TrainingJobName=name,
        TrainingJobArn=training_job_arn(name),
        CreationTime=0,
        TrainingJobStatus="Completed",
        TunedHyperParameters={},
    )
    assert summary.TrainingJobName == name
    shapes.HyperParameterTuningJobSummary(
        HyperParameterTuningJobName="A" * 32,
        HyperParameterTuningJobArn=tuning_job_arn("A" * 32),
        HyperParameterTuningJobStatus="InProgress",
        Strategy="Bayesian",
        CreationTime=0,
        TrainingJobStatusCounters={},
        ObjectiveStatusCounters={},
    )
