"""From a training job definition (part of a validated tuning job document) to what a runner runs.

The definition is read as the stored document (AWS field names), so a job keeps running with the
exact definition it was created with.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunesmith.runner.base import MetricDefinition, TrainingJobSpec
from tunesmith.runner.resources import this_machine, training_job_resources

DEFAULT_STOP_GRACE_SECONDS = 10.0


def training_job_directory(home: Path, name: str, tuning_job: str | None) -> Path:
    """The folder standing in for ``/opt/ml`` of a training job."""
    if tuning_job is None:
        return home / "training-jobs" / name
    return tuning_job_directory(home, tuning_job) / name


def tuning_job_directory(home: Path, name: str) -> Path:
    """The folder of a tuning job's training jobs and its engine's log."""
    return home / "jobs" / name


def _path(uri: str) -> Path:
    from tunesmith.model.validation import local_path

    # The document layer resolved relative paths and rejected remote URIs.
    path = local_path(uri)
    assert path is not None, uri
    return path


def _interpreter(algorithm: Mapping[str, Any]) -> str | None:
    """``TrainingImage`` names an interpreter when it is an executable file or an environment
    folder with ``bin/python``; anything else (an image URI) means the running interpreter."""
    image = algorithm.get("TrainingImage")
    if not image:
        return None
    path = Path(image).expanduser()
    if path.is_dir() and (path / "bin" / "python").exists():
        return str(path / "bin" / "python")
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    return None


def training_job_spec(
    definition: Mapping[str, Any],
    *,
    name: str,
    directory: Path,
    tuned: Mapping[str, str] | None = None,
    objective_metric: str | None = None,
    tuning_job_name: str | None = None,
) -> TrainingJobSpec:
    """The spec of one training job: of a tuning job's ``TrainingJobDefinition`` (with its
    ``tuned`` values and objective), or of a ``CreateTrainingJob`` request."""
    # Loaded with the document shapes when a job runs; reading commands import this module too.
    from tunesmith.model.validation import PROGRAM, SUBMIT_DIRECTORY, hyperparameter_value

    static = dict(
        definition.get("StaticHyperParameters") or definition.get("HyperParameters") or {}
    )
    hyperparameters = {**static, **(tuned or {})}
    if objective_metric is not None:
        hyperparameters["_tuning_objective_metric"] = objective_metric
    algorithm = definition.get("AlgorithmSpecification") or {}
    command = tuple(algorithm.get("ContainerEntrypoint") or ()) + tuple(
        algorithm.get("ContainerArguments") or ()
    )
    program = hyperparameter_value(static.get(PROGRAM, ""))
    source_dir = _path(hyperparameter_value(static.get(SUBMIT_DIRECTORY) or "."))
    channels = {
        channel["ChannelName"]: _path(channel["DataSource"]["S3DataSource"]["S3Uri"])
        for channel in definition.get("InputDataConfig") or []
    }
    output = (definition.get("OutputDataConfig") or {}).get("S3OutputPath")
    # The SageMaker SDK sends a tuning job's resources as HyperParameterTuningResourceConfig.
    resources = definition.get("ResourceConfig") or definition.get(
        "HyperParameterTuningResourceConfig", {}
    )
    stopping = definition.get("StoppingCondition") or {}
    request = training_job_resources(definition, len(this_machine().gpus))
    return TrainingJobSpec(
        name=name,
        directory=directory,
        source_dir=source_dir,
        entry_point=program,
        hyperparameters=hyperparameters,
        channels=channels,
        environment=dict(definition.get("Environment") or {}),
        metric_definitions=tuple(
            MetricDefinition(m["Name"], m["Regex"])
            for m in algorithm.get("MetricDefinitions") or []
        ),
        output_path=_path(output) / name / "output" if output else None,
        max_runtime_seconds=stopping.get("MaxRuntimeInSeconds"),
        stop_grace_seconds=float(
            os.environ.get("TUNESMITH_STOP_GRACE_SECONDS", DEFAULT_STOP_GRACE_SECONDS)
        ),
        interpreter=_interpreter(algorithm) or sys.executable,
        instance_type=resources.get("InstanceType", "local"),
        instance_count=int(resources.get("InstanceCount", 1)),
        cpus=request.cpus or os.cpu_count() or 1,
        resources=request,
        input_mode=algorithm.get("TrainingInputMode", "File"),
        tuning_job_name=tuning_job_name,
        command=command,
    )
