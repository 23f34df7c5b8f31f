"""Documents shared by the model tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tuning_request(source_dir: Path) -> dict[str, Any]:
    """The smallest document a local user writes: the fields a local run cannot do without."""
    return {
        "HyperParameterTuningJobName": "rf-digits",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "IntegerParameterRanges": [
                    {"Name": "n_estimators", "MinValue": "10", "MaxValue": "100"}
                ],
                "ContinuousParameterRanges": [
                    {
                        "Name": "lr",
                        "MinValue": "0.001",
                        "MaxValue": "0.1",
                        "ScalingType": "Logarithmic",
                    }
                ],
                "CategoricalParameterRanges": [
                    {"Name": "criterion", "Values": ["gini", "entropy"]}
                ],
            },
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": "train.py",
                "sagemaker_submit_directory": str(source_dir),
            },
            "AlgorithmSpecification": {
                "MetricDefinitions": [{"Name": "accuracy", "Regex": "accuracy: ([0-9.]+)"}]
            },
        },
    }
