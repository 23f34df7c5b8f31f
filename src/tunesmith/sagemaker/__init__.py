"""The SageMaker Python SDK v2 training and tuning classes, running on tunesmith.

A notebook written for the SDK runs locally by changing its ``from sagemaker... import ...``
lines to ``from tunesmith.sagemaker import ...`` and giving local paths where it gave S3 URIs::

    from tunesmith.sagemaker import SKLearn, HyperparameterTuner, IntegerParameter

    estimator = SKLearn("train.py", source_dir="src", instance_type="ml.m5.large",
                        metric_definitions=[{"Name": "f1", "Regex": r"f1: ([0-9.]+)"}])
    tuner = HyperparameterTuner(estimator, "f1", {"n-estimators": IntegerParameter(10, 200)},
                                max_jobs=20, max_parallel_jobs=2)
    tuner.fit({"train": "data"})

Jobs go to the tunesmith home by default, or to a tunesmith server with
``Session(endpoint_url=...)`` passed as ``sagemaker_session``.
"""

from tunesmith.sagemaker.analytics import HyperparameterTuningJobAnalytics, TrainingJobAnalytics
from tunesmith.sagemaker.errors import UnexpectedStatusException
from tunesmith.sagemaker.estimator import Estimator, EstimatorBase, SKLearn
from tunesmith.sagemaker.inputs import TrainingInput
from tunesmith.sagemaker.parameter import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParameterRange,
)
from tunesmith.sagemaker.session import Session, get_execution_role
from tunesmith.sagemaker.tuner import (
    HyperbandStrategyConfig,
    HyperparameterTuner,
    StrategyConfig,
    TuningJobCompletionCriteriaConfig,
    WarmStartConfig,
    WarmStartTypes,
)

__all__ = [
    "CategoricalParameter",
    "ContinuousParameter",
    "Estimator",
    "EstimatorBase",
    "HyperbandStrategyConfig",
    "HyperparameterTuner",
    "HyperparameterTuningJobAnalytics",
    "IntegerParameter",
    "ParameterRange",
    "SKLearn",
    "Session",
    "StrategyConfig",
    "TrainingInput",
    "TrainingJobAnalytics",
    "TuningJobCompletionCriteriaConfig",
    "UnexpectedStatusException",
    "WarmStartConfig",
    "WarmStartTypes",
    "get_execution_role",
]
