"""``HyperparameterTuner``: a tuning job around an estimator, as in the SageMaker SDK v2.

``fit`` sends one ``CreateHyperParameterTuningJob`` request: the estimator becomes the
``TrainingJobDefinition`` (its hyperparameters, minus the tuned ones, become the static
hyperparameters, JSON-encoded for framework estimators), the ranges become ``ParameterRanges``
and every tuner argument becomes its field of ``HyperParameterTuningJobConfig``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from tunesmith.sagemaker import names
from tunesmith.sagemaker.analytics import HyperparameterTuningJobAnalytics
from tunesmith.sagemaker.errors import reject_unsupported
from tunesmith.sagemaker.estimator import (
    ESTIMATOR_CLASS_NAME,
    ESTIMATOR_MODULE,
    Estimator,
    EstimatorBase,
    SKLearn,
    estimator_params,
    format_tags,
)
from tunesmith.sagemaker.inputs import Inputs
from tunesmith.sagemaker.parameter import ParameterRange, parameter_ranges, ranges_from_document
from tunesmith.sagemaker.session import Session

GRID = "Grid"
# Estimator classes ``attach`` rebuilds by the class name a tuning job recorded; any other
# framework's script-mode job is an ``Estimator`` with a source folder.
ESTIMATOR_CLASSES: dict[str, type[EstimatorBase]] = {"SKLearn": SKLearn, "Estimator": Estimator}


class WarmStartTypes(Enum):
    """How a warm-started tuning job relates to its parents."""

    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class WarmStartConfig:
    """Parent tuning jobs (by name) whose results a new tuning job starts from."""

    def __init__(self, warm_start_type: WarmStartTypes, parents: Iterable[str]) -> None:
        if warm_start_type not in list(WarmStartTypes):
            raise ValueError(
                f"Invalid type: {warm_start_type}, valid warm start types are: "
                f"{[t.value for t in WarmStartTypes]}"
            )
        if not parents:
            raise ValueError(f"Invalid parents: {parents}, parents should not be None/empty")
        self.type = warm_start_type
        self.parents = list(dict.fromkeys(parents))

    def __repr__(self) -> str:
        return f"WarmStartConfig({self.type}, parents={self.parents!r})"

    @classmethod
    def from_job_desc(cls, warm_start_config: Mapping[str, Any] | None) -> WarmStartConfig | None:
        if not warm_start_config or "WarmStartType" not in warm_start_config:
            return None
        return cls(
            WarmStartTypes(warm_start_config["WarmStartType"]),
            [
                p["HyperParameterTuningJobName"]
                for p in warm_start_config.get("ParentHyperParameterTuningJobs") or []
            ],
        )

    def to_input_req(self) -> dict[str, Any]:
        return {
            "WarmStartType": self.type.value,
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": parent} for parent in self.parents
            ],
        }


class HyperbandStrategyConfig:
    """Resource bounds (epochs, say) of the Hyperband strategy."""

    def __init__(self, max_resource: int | None = None, min_resource: int | None = None) -> None:
        self.max_resource = max_resource
        self.min_resource = min_resource

    @classmethod
    def from_job_desc(cls, config: Mapping[str, Any]) -> HyperbandStrategyConfig:
        return cls(max_resource=config.get("MaxResource"), min_resource=config.get("MinResource"))

    def to_input_req(self) -> dict[str, Any]:
        request = {"MinResource": self.min_resource, "MaxResource": self.max_resource}
        return {k: v for k, v in request.items() if v is not None}


class StrategyConfig:
    """Strategy settings: the Hyperband configuration."""

    def __init__(self, hyperband_strategy_config: HyperbandStrategyConfig) -> None:
        self.hyperband_strategy_config = hyperband_strategy_config

    @classmethod
    def from_job_desc(cls, config: Mapping[str, Any]) -> StrategyConfig:
        return cls(HyperbandStrategyConfig.from_job_desc(config["HyperbandStrategyConfig"]))

    def to_input_req(self) -> dict[str, Any]:
        return {"HyperbandStrategyConfig": self.hyperband_strategy_config.to_input_req()}


class TuningJobCompletionCriteriaConfig:
    """When a tuning job may end before its training job budget is spent."""

    def __init__(
        self,
        max_number_of_training_jobs_not_improving: int | None = None,
        complete_on_convergence: bool | None = None,
        target_objective_metric_value: float | None = None,
    ) -> None:
        self.max_number_of_training_jobs_not_improving = max_number_of_training_jobs_not_improving
        self.complete_on_convergence = complete_on_convergence
        self.target_objective_metric_value = target_objective_metric_value

    @classmethod
    def from_job_desc(cls, config: Mapping[str, Any]) -> TuningJobCompletionCriteriaConfig:
        convergence = (config.get("ConvergenceDetected") or {}).get("CompleteOnConvergence")
        return cls(
            max_number_of_training_jobs_not_improving=(
                config.get("BestObjectiveNotImproving") or {}
            ).get("MaxNumberOfTrainingJobsNotImproving"),
            complete_on_convergence=None if convergence is None else convergence == "Enabled",
            target_objective_metric_value=config.get("TargetObjectiveMetricValue"),
        )

    def to_input_req(self) -> dict[str, Any]:
        request: dict[str, Any] = {}
        not_improving = self.max_number_of_training_jobs_not_improving
        if not_improving is not None:
            request["BestObjectiveNotImproving"] = {
                "MaxNumberOfTrainingJobsNotImproving": not_improving
            }
        if self.target_objective_metric_value is not None:
            request["TargetObjectiveMetricValue"] = self.target_objective_metric_value
        if self.complete_on_convergence is not None:
            request["ConvergenceDetected"] = {
                "CompleteOnConvergence": "Enabled" if self.complete_on_convergence else "Disabled"
            }
        return request


class TuningJob:
    """The SDK's handle on a tuning job (``tuner.latest_tuning_job``)."""

    def __init__(self, sagemaker_session: Session, job_name: str) -> None:
        self.sagemaker_session = sagemaker_session
        self.job_name = job_name

    @property
    def name(self) -> str:
        return self.job_name

    def __repr__(self) -> str:
        return f"TuningJob({self.job_name!r})"

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.describe_tuning_job(self.job_name)

    def wait(self) -> dict[str, Any]:
        return self.sagemaker_session.wait_for_tuning_job(self.job_name)

    def stop(self) -> None:
        self.sagemaker_session.stop_tuning_job(self.job_name)


class HyperparameterTuner:
    """Tunes an estimator's hyperparameters over ``hyperparameter_ranges`` for an objective
    metric (one of the metric definitions)."""

    TUNING_JOB_NAME_MAX_LENGTH = names.TUNING_JOB_NAME_MAX_LENGTH
    SAGEMAKER_ESTIMATOR_MODULE = ESTIMATOR_MODULE
    SAGEMAKER_ESTIMATOR_CLASS_NAME = ESTIMATOR_CLASS_NAME

    def __init__(
        self,
        estimator: EstimatorBase,
        objective_metric_name: str,
        hyperparameter_ranges: Mapping[str, ParameterRange],
        metric_definitions: list[dict[str, str]] | None = None,
        strategy: str = "Bayesian",
        objective_type: str = "Maximize",
        max_jobs: int | None = None,
        max_parallel_jobs: int = 1,
        max_runtime_in_seconds: int | None = None,
        tags: Mapping[str, str] | list[dict[str, str]] | None = None,
        base_tuning_job_name: str | None = None,
        warm_start_config: WarmStartConfig | None = None,
        strategy_config: StrategyConfig | None = None,
        completion_criteria_config: TuningJobCompletionCriteriaConfig | None = None,
        early_stopping_type: str = "Off",
        estimator_name: str | None = None,
        random_seed: int | None = None,
        autotune: bool = False,
        hyperparameters_to_keep_static: list[str] | None = None,
    ) -> None:
        reject_unsupported(
            "HyperparameterTuner",
            estimator_name=estimator_name,
            autotune=autotune,
            hyperparameters_to_keep_static=hyperparameters_to_keep_static,
        )
        if not isinstance(estimator, EstimatorBase):
            raise ValueError(
                f"estimator must be a tunesmith.sagemaker estimator (Estimator, SKLearn), "
                f"not {type(estimator).__name__}"
            )
        if not hyperparameter_ranges:
            raise ValueError("Need to specify hyperparameter ranges")
        if not objective_metric_name:
            raise ValueError("Need to specify objective_metric_name")
        self.estimator = estimator
        self.objective_metric_name = objective_metric_name
        self._hyperparameter_ranges = dict(hyperparameter_ranges)
        self.metric_definitions = metric_definitions
        self.strategy = strategy
        self.objective_type = objective_type
        # As in the SDK: one training job unless a Grid search counts its own.
        self.max_jobs = max_jobs if max_jobs is not None or strategy == GRID else 1
        self.max_parallel_jobs = max_parallel_jobs
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.tags = format_tags(tags)
        self.base_tuning_job_name = base_tuning_job_name
        self.warm_start_config = warm_start_config
        self.strategy_config = strategy_config
        self.completion_criteria_config = completion_criteria_config
        self.early_stopping_type = early_stopping_type
        self.random_seed = random_seed
        self._current_job_name: str | None = None
        self.latest_tuning_job: TuningJob | None = None

    def __repr__(self) -> str:
        return (
            f"HyperparameterTuner({self.strategy}, objective={self.objective_metric_name!r}, "
            f"latest_tuning_job={self._current_job_name!r})"
        )

    @property
    def sagemaker_session(self) -> Session:
        return self.estimator.sagemaker_session

    # -- the request ---------------------------------------------------------------------

    def hyperparameter_ranges(self) -> dict[str, Any]:
        """The ``ParameterRanges`` document (categorical values JSON-quoted for framework
        estimators, as their containers decode every hyperparameter)."""
        return parameter_ranges(
            self._hyperparameter_ranges, json_categoricals=self.estimator.json_hyperparameters
        )

    def _static_hyperparameters(self, include_cls_metadata: bool) -> dict[str, str]:
        estimator = self.estimator
        training_job_name = names.training_job_name(estimator._base_job_name())
        static = {
            **estimator.hyperparameters(),
            **estimator._script_mode_hyperparameters(training_job_name),
        }
        for name in self._hyperparameter_ranges:
            static.pop(name, None)
        if include_cls_metadata or estimator.json_hyperparameters:
            static[ESTIMATOR_CLASS_NAME] = json.dumps(type(estimator).__name__)
            static[ESTIMATOR_MODULE] = json.dumps(type(estimator).__module__)
        return static

    def _tuning_job_config(self) -> dict[str, Any]:
        limits: dict[str, Any] = {"MaxParallelTrainingJobs": self.max_parallel_jobs}
        if self.max_jobs is not None:
            limits["MaxNumberOfTrainingJobs"] = self.max_jobs
        if self.max_runtime_in_seconds is not None:
            limits["MaxRuntimeInSeconds"] = self.max_runtime_in_seconds
        config: dict[str, Any] = {
            "Strategy": self.strategy,
            "HyperParameterTuningJobObjective": {
                "Type": self.objective_type,
                "MetricName": self.objective_metric_name,
            },
            "ResourceLimits": limits,
            "ParameterRanges": self.hyperparameter_ranges(),
            "TrainingJobEarlyStoppingType": self.early_stopping_type,
        }
        if self.random_seed is not None:
            config["RandomSeed"] = self.random_seed
        if self.strategy_config is not None:
            config["StrategyConfig"] = self.strategy_config.to_input_req()
        if self.completion_criteria_config is not None:
            config["TuningJobCompletionCriteria"] = self.completion_criteria_config.to_input_req()
        return config

    def _tuning_job_request(
        self, inputs: Inputs | None, job_name: str, include_cls_metadata: bool = False
    ) -> dict[str, Any]:
        """The ``CreateHyperParameterTuningJob`` request ``fit(inputs)`` sends."""
        estimator = self.estimator
        metric_definitions = self.metric_definitions or estimator.metric_definitions
        definition = {
            "StaticHyperParameters": self._static_hyperparameters(include_cls_metadata),
            "AlgorithmSpecification": estimator._algorithm_specification(metric_definitions),
            **estimator._job_definition(inputs),
        }
        request: dict[str, Any] = {
            "HyperParameterTuningJobName": job_name,
            "HyperParameterTuningJobConfig": self._tuning_job_config(),
            "TrainingJobDefinition": definition,
        }
        if self.warm_start_config is not None:
            request["WarmStartConfig"] = self.warm_start_config.to_input_req()
        tags = self.tags + [t for t in estimator.tags if t not in self.tags]
        if tags:
            request["Tags"] = tags
        return request

    # -- running -------------------------------------------------------------------------

    def fit(
        self,
        inputs: Inputs | None = None,
        job_name: str | None = None,
        include_cls_metadata: bool = False,
        estimator_kwargs: dict[str, Any] | None = None,
        wait: bool = True,
        **kwargs: Any,
    ) -> None:
        """Start a tuning job on ``inputs`` (as ``Estimator.fit`` takes them); with ``wait``,
        block until it ends."""
        reject_unsupported("HyperparameterTuner.fit", estimator_kwargs=estimator_kwargs, **kwargs)
        name = job_name or names.tuning_job_name(
            self.base_tuning_job_name or self.estimator._base_job_name()
        )
        self.sagemaker_session.create_tuning_job(
            self._tuning_job_request(inputs, name, include_cls_metadata)
        )
        self._current_job_name = name
        self.latest_tuning_job = TuningJob(self.sagemaker_session, name)
        if wait:
            self.latest_tuning_job.wait()

    def _latest(self) -> TuningJob:
        if self.latest_tuning_job is None:
            raise ValueError("No tuning job available: call fit() or attach() first")
        return self.latest_tuning_job

    def wait(self) -> None:
        """Block until the latest tuning job ends."""
        self._latest().wait()

    def describe(self) -> dict[str, Any]:
        """The ``DescribeHyperParameterTuningJob`` response of the latest tuning job."""
        return self._latest().describe()

    def stop_tuning_job(self) -> None:
        self._latest().stop()

    def best_training_job(self) -> str:
        """The name of the best training job so far."""
        return self._best_training_job()["TrainingJobName"]

    def _best_training_job(self) -> dict[str, Any]:
        best = self.describe().get("BestTrainingJob")
        if best is None:
            raise RuntimeError(
                f"Best training job not available for tuning job: {self._latest().name}"
            )
        return best

    def best_estimator(self, best_training_job: Mapping[str, Any] | None = None) -> EstimatorBase:
        """An estimator attached to the best training job (``model_data`` is its model)."""
        best = best_training_job or self._best_training_job()
        return type(self.estimator).attach(
            best["TrainingJobName"], sagemaker_session=self.sagemaker_session
        )

    def analytics(self) -> HyperparameterTuningJobAnalytics:
        return HyperparameterTuningJobAnalytics(self._latest().name, self.sagemaker_session)

    # -- warm start ----------------------------------------------------------------------

    def identical_dataset_and_algorithm_tuner(
        self, additional_parents: Iterable[str] | None = None
    ) -> HyperparameterTuner:
        """A new tuner like this one, warm-started from its latest tuning job (and
        ``additional_parents``) on the same data and script."""
        return self._warm_start_tuner(
            additional_parents, WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM
        )

    def transfer_learning_tuner(
        self,
        additional_parents: Iterable[str] | None = None,
        estimator: EstimatorBase | None = None,
    ) -> HyperparameterTuner:
        """A new tuner warm-started from this one's latest tuning job, for changed data, script
        or ranges (``estimator`` replaces this tuner's)."""
        return self._warm_start_tuner(
            additional_parents, WarmStartTypes.TRANSFER_LEARNING, estimator
        )

    def _warm_start_tuner(
        self,
        additional_parents: Iterable[str] | None,
        warm_start_type: WarmStartTypes,
        estimator: EstimatorBase | None = None,
    ) -> HyperparameterTuner:
        parents = [self._latest().name, *(additional_parents or [])]
        return HyperparameterTuner(
            estimator=estimator or self.estimator,
            objective_metric_name=self.objective_metric_name,
            hyperparameter_ranges=self._hyperparameter_ranges,
            metric_definitions=self.metric_definitions,
            strategy=self.strategy,
            strategy_config=self.strategy_config,
            completion_criteria_config=self.completion_criteria_config,
            objective_type=self.objective_type,
            max_jobs=self.max_jobs,
            max_parallel_jobs=self.max_parallel_jobs,
            max_runtime_in_seconds=self.max_runtime_in_seconds,
            warm_start_config=WarmStartConfig(warm_start_type, parents),
            early_stopping_type=self.early_stopping_type,
            random_seed=self.random_seed,
        )

    # -- attach --------------------------------------------------------------------------

    @classmethod
    def attach(
        cls,
        tuning_job_name: str,
        sagemaker_session: Session | None = None,
        job_details: Mapping[str, Any] | None = None,
        estimator_cls: str | None = None,
    ) -> HyperparameterTuner:
        """A tuner for an existing tuning job, rebuilt from its description."""
        session = sagemaker_session or Session()
        details = job_details or session.describe_tuning_job(tuning_job_name)
        if "TrainingJobDefinition" not in details:
            raise ValueError(
                f"tuning job {tuning_job_name} has several training job definitions "
                f"(TrainingJobDefinitions); tunesmith.sagemaker attaches to one only"
            )
        definition = details["TrainingJobDefinition"]
        static = definition.get("StaticHyperParameters") or {}
        estimator_class = _estimator_class(estimator_cls, static)
        estimator = estimator_class(
            **estimator_params(static, definition), sagemaker_session=session
        )
        config = details["HyperParameterTuningJobConfig"]
        objective = config.get("HyperParameterTuningJobObjective") or {}
        limits = config.get("ResourceLimits") or {}
        completion = config.get("TuningJobCompletionCriteria")
        strategy_config = config.get("StrategyConfig")
        tuner = cls(
            estimator=estimator,
            objective_metric_name=objective.get("MetricName"),
            objective_type=objective.get("Type", "Maximize"),
            hyperparameter_ranges=ranges_from_document(config.get("ParameterRanges") or {}),
            metric_definitions=(definition.get("AlgorithmSpecification") or {}).get(
                "MetricDefinitions"
            ),
            strategy=config.get("Strategy", "Bayesian"),
            max_jobs=limits.get("MaxNumberOfTrainingJobs"),
            max_parallel_jobs=limits.get("MaxParallelTrainingJobs", 1),
            max_runtime_in_seconds=limits.get("MaxRuntimeInSeconds"),
            base_tuning_job_name=names.base_from_name(tuning_job_name),
            warm_start_config=WarmStartConfig.from_job_desc(details.get("WarmStartConfig")),
            strategy_config=None
            if not strategy_config
            else StrategyConfig.from_job_desc(strategy_config),
            completion_criteria_config=None
            if not completion
            else TuningJobCompletionCriteriaConfig.from_job_desc(completion),
            early_stopping_type=config.get("TrainingJobEarlyStoppingType", "Off"),
            random_seed=config.get("RandomSeed"),
        )
        tuner._current_job_name = tuning_job_name
        tuner.latest_tuning_job = TuningJob(session, tuning_job_name)
        return tuner


def _estimator_class(estimator_cls: str | None, static: Mapping[str, str]) -> type[EstimatorBase]:
    if estimator_cls is not None:
        module, _, name = estimator_cls.rpartition(".")
        return getattr(importlib.import_module(module), name)
    recorded = static.get(ESTIMATOR_CLASS_NAME)
    name = json.loads(recorded) if recorded else "Estimator"
    return ESTIMATOR_CLASSES.get(name, Estimator)
