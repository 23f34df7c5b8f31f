"""Estimators: one training script with its hyperparameters, resources and data channels.

``Estimator`` and ``SKLearn`` take the SageMaker Python SDK v2 arguments. Locally a training
job runs the ``entry_point`` script from ``source_dir`` with the interpreter running tunesmith
(or the one ``image_uri`` names, when it names a local interpreter or environment), the way
SageMaker's script mode runs it in a container. ``fit`` runs one training job; a
``HyperparameterTuner`` uses the estimator as the definition of all its training jobs.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from tunesmith.sagemaker import names
from tunesmith.sagemaker.analytics import TrainingJobAnalytics
from tunesmith.sagemaker.errors import reject_unsupported
from tunesmith.sagemaker.inputs import LOCAL_INPUT_MODES, Inputs, input_data_config, local_uri
from tunesmith.sagemaker.session import LOCAL_ROLE, Session

PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
CONTAINER_LOG_LEVEL = "sagemaker_container_log_level"
JOB_NAME = "sagemaker_job_name"
REGION = "sagemaker_region"
TUNING_OBJECTIVE = "_tuning_objective_metric"
ESTIMATOR_CLASS_NAME = "sagemaker_estimator_class_name"
ESTIMATOR_MODULE = "sagemaker_estimator_module"
SCRIPT_MODE_HYPERPARAMETERS = (PROGRAM, SUBMIT_DIRECTORY, CONTAINER_LOG_LEVEL, JOB_NAME, REGION)
RESERVED_HYPERPARAMETERS = (
    *SCRIPT_MODE_HYPERPARAMETERS,
    TUNING_OBJECTIVE,
    ESTIMATOR_CLASS_NAME,
    ESTIMATOR_MODULE,
)

# SDK v2 arguments with no local equivalent: giving one is an error, not a silent no-op.
UNSUPPORTED_ARGUMENTS = frozenset(
    {
        "model_uri",
        "rules",
        "debugger_hook_config",
        "tensorboard_output_config",
        "profiler_config",
        "git_config",
        "dependencies",
        "instance_groups",
        "training_repository_access_mode",
        "training_repository_credentials_provider_arn",
        "enable_infra_check",
        "container_entry_point",
        "container_arguments",
        "enable_remote_debug",
        "enable_session_tag_chaining",
        "training_plan",
        "instance_placement_config",
    }
)
_INSTANCE_TYPE = re.compile(r"^(local|local_gpu|ml\.[a-z0-9-]+\.[a-z0-9]+)$")


def format_tags(tags: Mapping[str, str] | list[dict[str, str]] | None) -> list[dict[str, str]]:
    """Tags as the API takes them (``[{"Key": ..., "Value": ...}]``) from a list or a dict."""
    if tags is None:
        return []
    if isinstance(tags, Mapping):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [dict(tag) for tag in tags]


def role_arn(role: str | None) -> str:
    """The role as an ARN: a bare role name becomes a local account's role ARN."""
    if role is None:
        return LOCAL_ROLE
    return role if role.startswith("arn:") else f"arn:aws:iam::000000000000:role/{role}"


def decode_hyperparameter(value: str) -> Any:
    """A hyperparameter value as the estimator was given it (framework values are JSON)."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


class EstimatorBase:
    """What ``Estimator`` and the framework estimators share: the SDK v2 arguments and the
    request documents they become."""

    json_hyperparameters: ClassVar[bool] = False
    """Framework estimators JSON-encode every hyperparameter (their containers decode them)."""
    default_base_job_name: ClassVar[str] = "training-job"

    def __init__(
        self,
        *,
        entry_point: str | os.PathLike[str] | None = None,
        source_dir: str | os.PathLike[str] | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        image_uri: str | None = None,
        role: str | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        keep_alive_period_in_seconds: int | None = None,
        volume_size: int = 30,
        volume_kms_key: str | None = None,
        max_run: int = 24 * 60 * 60,
        input_mode: str = "File",
        output_path: str | os.PathLike[str] | None = None,
        output_kms_key: str | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        tags: Mapping[str, str] | list[dict[str, str]] | None = None,
        subnets: list[str] | None = None,
        security_group_ids: list[str] | None = None,
        model_channel_name: str = "model",
        metric_definitions: list[dict[str, str]] | None = None,
        encrypt_inter_container_traffic: bool | None = None,
        use_spot_instances: bool = False,
        max_wait: int | None = None,
        checkpoint_s3_uri: str | os.PathLike[str] | None = None,
        checkpoint_local_path: str | None = None,
        enable_sagemaker_metrics: bool | None = None,
        enable_network_isolation: bool | None = None,
        disable_profiler: bool | None = None,
        environment: Mapping[str, str] | None = None,
        max_retry_attempts: int | None = None,
        container_log_level: int = logging.INFO,
        code_location: str | None = None,
        disable_output_compression: bool = False,
        **unsupported: Any,
    ) -> None:
        owner = type(self).__name__
        unknown = sorted(set(unsupported) - UNSUPPORTED_ARGUMENTS)
        if unknown:
            raise TypeError(f"{owner}() got an unexpected keyword argument '{unknown[0]}'")
        reject_unsupported(
            owner,
            **unsupported,
            enable_network_isolation=enable_network_isolation,
            disable_output_compression=disable_output_compression,
        )
        if entry_point is None:
            raise ValueError(
                f"{owner} needs entry_point: locally a training job runs a script "
                f"(there is no container image to run)"
            )
        self.instance_type = instance_type or "local"
        if not _INSTANCE_TYPE.match(self.instance_type):
            raise ValueError(
                f"instance_type {self.instance_type!r} must be 'local', 'local_gpu' or an "
                f"'ml.*' instance type"
            )
        self.instance_count = 1 if instance_count is None else int(instance_count)
        if self.instance_count < 1:
            raise ValueError(f"instance_count must be at least 1, not {self.instance_count}")
        if input_mode not in LOCAL_INPUT_MODES:
            raise ValueError(
                f"input_mode {input_mode!r} is not supported locally: use one of "
                f"{', '.join(LOCAL_INPUT_MODES)}"
            )
        _check_spot(use_spot_instances, max_run, max_wait)
        if checkpoint_local_path is not None and checkpoint_s3_uri is None:
            raise ValueError(
                "checkpoint_local_path needs checkpoint_s3_uri (the checkpoints' home)"
            )
        if (subnets is None) != (security_group_ids is None):
            raise ValueError("subnets and security_group_ids go together: give both or neither")

        self.entry_point, self.source_dir = _script_location(entry_point, source_dir)
        self.image_uri = image_uri
        self.role = role
        self.keep_alive_period_in_seconds = keep_alive_period_in_seconds
        self.volume_size = volume_size
        self.volume_kms_key = volume_kms_key
        self.max_run = max_run
        self.input_mode = input_mode
        self.output_path = None if output_path is None else local_uri(output_path)
        self.output_kms_key = output_kms_key
        self.base_job_name = base_job_name
        self.sagemaker_session = sagemaker_session or Session()
        self.tags = format_tags(tags)
        self.subnets = subnets
        self.security_group_ids = security_group_ids
        self.model_channel_name = model_channel_name
        self.metric_definitions = metric_definitions
        self.encrypt_inter_container_traffic = encrypt_inter_container_traffic
        self.use_spot_instances = use_spot_instances
        self.max_wait = max_wait
        self.checkpoint_s3_uri = None if checkpoint_s3_uri is None else local_uri(checkpoint_s3_uri)
        self.checkpoint_local_path = checkpoint_local_path
        self.enable_sagemaker_metrics = enable_sagemaker_metrics
        self.disable_profiler = disable_profiler
        self.environment = dict(environment) if environment is not None else None
        self.max_retry_attempts = max_retry_attempts
        self.container_log_level = container_log_level
        self.code_location = code_location
        self._hyperparameters: dict[str, Any] = dict(hyperparameters or {})
        self._current_job_name: str | None = None
        self.latest_training_job: TrainingJob | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.entry_point!r}, source_dir={self.source_dir!r})"

    # -- hyperparameters -----------------------------------------------------------------

    def set_hyperparameters(self, **hyperparameters: Any) -> None:
        self._hyperparameters.update(hyperparameters)

    def _encodes_json(self) -> bool:
        return self.json_hyperparameters

    def _encode(self, value: Any) -> str:
        return json.dumps(value) if self._encodes_json() else str(value)

    def hyperparameters(self) -> dict[str, str]:
        """The hyperparameters as the training job receives them (strings)."""
        return {str(k): self._encode(v) for k, v in self._hyperparameters.items()}

    def _script_mode_hyperparameters(self, job_name: str) -> dict[str, str]:
        # Always JSON, as the SDK sends them and the training toolkit reads them.
        return {
            SUBMIT_DIRECTORY: json.dumps(self.source_dir),
            PROGRAM: json.dumps(self.entry_point),
            CONTAINER_LOG_LEVEL: json.dumps(self.container_log_level),
            JOB_NAME: json.dumps(job_name),
            REGION: json.dumps(self.sagemaker_session.boto_region_name),
        }

    def training_image_uri(self) -> str | None:
        return self.image_uri

    def _base_job_name(self) -> str:
        if self.base_job_name:
            return self.base_job_name
        if self.image_uri:
            match = re.match(r"^(.+/)?([^:/]+)(:[^:]+)?$", self.image_uri)
            return match.group(2) if match else self.image_uri
        return self.default_base_job_name

    # -- request documents ---------------------------------------------------------------

    def _algorithm_specification(
        self, metric_definitions: list[dict[str, str]] | None
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {"TrainingInputMode": self.input_mode}
        if self.image_uri:
            spec["TrainingImage"] = self.image_uri
        if metric_definitions:
            spec["MetricDefinitions"] = [dict(m) for m in metric_definitions]
        return spec

    def _job_definition(self, inputs: Inputs | None) -> dict[str, Any]:
        """The fields a ``CreateTrainingJob`` request and a tuning job's
        ``TrainingJobDefinition`` share."""
        output: dict[str, Any] = {
            "S3OutputPath": self.output_path or self.sagemaker_session.default_bucket()
        }
        if self.output_kms_key is not None:
            output["KmsKeyId"] = self.output_kms_key
        resources: dict[str, Any] = {
            "InstanceType": self.instance_type,
            "InstanceCount": self.instance_count,
            "VolumeSizeInGB": self.volume_size,
        }
        if self.volume_kms_key is not None:
            resources["VolumeKmsKeyId"] = self.volume_kms_key
        stopping: dict[str, Any] = {"MaxRuntimeInSeconds": self.max_run}
        if self.max_wait is not None:
            stopping["MaxWaitTimeInSeconds"] = self.max_wait
        definition: dict[str, Any] = {
            "RoleArn": role_arn(self.role),
            "OutputDataConfig": output,
            "ResourceConfig": resources,
            "StoppingCondition": stopping,
        }
        channels = input_data_config(inputs)
        if channels:
            definition["InputDataConfig"] = channels
        if self.subnets is not None:
            definition["VpcConfig"] = {
                "Subnets": list(self.subnets),
                "SecurityGroupIds": list(self.security_group_ids or []),
            }
        if self.encrypt_inter_container_traffic is not None:
            definition["EnableInterContainerTrafficEncryption"] = (
                self.encrypt_inter_container_traffic
            )
        if self.use_spot_instances:
            definition["EnableManagedSpotTraining"] = True
        if self.checkpoint_s3_uri is not None:
            checkpoint = {"S3Uri": self.checkpoint_s3_uri}
            if self.checkpoint_local_path is not None:
                checkpoint["LocalPath"] = self.checkpoint_local_path
            definition["CheckpointConfig"] = checkpoint
        if self.max_retry_attempts is not None:
            definition["RetryStrategy"] = {"MaximumRetryAttempts": self.max_retry_attempts}
        if self.environment:
            definition["Environment"] = dict(self.environment)
        return definition

    def _training_job_request(self, inputs: Inputs | None, job_name: str) -> dict[str, Any]:
        """The ``CreateTrainingJob`` request of ``fit(inputs)``."""
        algorithm = self._algorithm_specification(self.metric_definitions)
        if self.enable_sagemaker_metrics is not None:
            algorithm["EnableSageMakerMetricsTimeSeries"] = self.enable_sagemaker_metrics
        request: dict[str, Any] = {
            "TrainingJobName": job_name,
            "AlgorithmSpecification": algorithm,
            "HyperParameters": {
                **self.hyperparameters(),
                **self._script_mode_hyperparameters(job_name),
            },
            **self._job_definition(inputs),
        }
        if self.keep_alive_period_in_seconds is not None:
            request["ResourceConfig"]["KeepAlivePeriodInSeconds"] = (
                self.keep_alive_period_in_seconds
            )
        if self.tags:
            request["Tags"] = list(self.tags)
        return request

    # -- running -------------------------------------------------------------------------

    def fit(
        self,
        inputs: Inputs | None = None,
        wait: bool = True,
        logs: bool | str = "All",
        job_name: str | None = None,
        experiment_config: dict[str, str] | None = None,
    ) -> None:
        """Run one training job on ``inputs`` (a path or URI, a ``TrainingInput``, or a dict
        of channel names to them); with ``wait``, block until it ends, printing its output
        when ``logs``."""
        reject_unsupported(type(self).__name__ + ".fit", experiment_config=experiment_config)
        name = job_name or names.training_job_name(self._base_job_name())
        self.sagemaker_session.create_training_job(self._training_job_request(inputs, name))
        self._current_job_name = name
        self.latest_training_job = TrainingJob(self.sagemaker_session, name)
        if wait:
            self.latest_training_job.wait(logs=logs not in (False, "None", None))

    @property
    def model_data(self) -> str:
        """Where the trained model (``model.tar.gz``) of the latest training job is."""
        return self._latest().describe()["ModelArtifacts"]["S3ModelArtifacts"]

    @property
    def training_job_analytics(self) -> TrainingJobAnalytics:
        """The metric series of the latest training job."""
        return TrainingJobAnalytics(self._latest().name, sagemaker_session=self.sagemaker_session)

    def _latest(self) -> TrainingJob:
        if self.latest_training_job is None:
            raise ValueError("Estimator is not associated with a training job: call fit() first")
        return self.latest_training_job

    @classmethod
    def attach(
        cls,
        training_job_name: str,
        sagemaker_session: Session | None = None,
        model_channel_name: str = "model",
    ) -> EstimatorBase:
        """An estimator rebuilt from an existing training job (of ``fit`` or of a tuner)."""
        session = sagemaker_session or Session()
        description = session.describe_training_job(training_job_name)
        estimator = cls(
            **cls._init_params_from_description(description),
            sagemaker_session=session,
            model_channel_name=model_channel_name,
        )
        estimator._current_job_name = training_job_name
        estimator.latest_training_job = TrainingJob(session, training_job_name)
        return estimator

    @classmethod
    def _init_params_from_description(cls, description: Mapping[str, Any]) -> dict[str, Any]:
        return estimator_params(
            description.get("HyperParameters") or {},
            description,
        )


def estimator_params(
    hyperparameters: Mapping[str, str], definition: Mapping[str, Any]
) -> dict[str, Any]:
    """Estimator arguments from a training job's hyperparameters and definition (a
    ``DescribeTrainingJob`` response or a tuning job's ``TrainingJobDefinition``)."""
    if PROGRAM not in hyperparameters:
        raise ValueError(
            f"the training job has no '{PROGRAM}' hyperparameter: tunesmith.sagemaker rebuilds "
            f"estimators of script-mode jobs only"
        )
    algorithm = definition.get("AlgorithmSpecification") or {}
    resources = definition.get("ResourceConfig") or {}
    stopping = definition.get("StoppingCondition") or {}
    params: dict[str, Any] = {
        "entry_point": decode_hyperparameter(hyperparameters[PROGRAM]),
        "source_dir": decode_hyperparameter(hyperparameters.get(SUBMIT_DIRECTORY, '"."')),
        "hyperparameters": {
            k: decode_hyperparameter(v)
            for k, v in hyperparameters.items()
            if k not in RESERVED_HYPERPARAMETERS
        },
        "image_uri": algorithm.get("TrainingImage"),
        "metric_definitions": algorithm.get("MetricDefinitions"),
        "input_mode": algorithm.get("TrainingInputMode", "File"),
        "role": definition.get("RoleArn"),
        "instance_type": resources.get("InstanceType"),
        "instance_count": resources.get("InstanceCount"),
        "volume_size": resources.get("VolumeSizeInGB", 30),
        "max_run": stopping.get("MaxRuntimeInSeconds", 24 * 60 * 60),
        "max_wait": stopping.get("MaxWaitTimeInSeconds"),
        "use_spot_instances": bool(definition.get("EnableManagedSpotTraining")),
        "output_path": (definition.get("OutputDataConfig") or {}).get("S3OutputPath"),
        "environment": definition.get("Environment"),
        "max_retry_attempts": (definition.get("RetryStrategy") or {}).get("MaximumRetryAttempts"),
    }
    if CONTAINER_LOG_LEVEL in hyperparameters:
        params["container_log_level"] = decode_hyperparameter(hyperparameters[CONTAINER_LOG_LEVEL])
    checkpoint = definition.get("CheckpointConfig")
    if checkpoint:
        params["checkpoint_s3_uri"] = checkpoint["S3Uri"]
        params["checkpoint_local_path"] = checkpoint.get("LocalPath")
    return params


class Estimator(EstimatorBase):
    """A training script with its settings (the SDK's generic ``Estimator``).

    ``image_uri`` is kept as the training image; it selects the interpreter when it names a
    local one (a Python executable or an environment folder). Hyperparameters are sent as
    strings, JSON-encoded when ``source_dir`` is given, as the SDK does.
    """

    def __init__(
        self,
        image_uri: str | None = None,
        role: str | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            image_uri=image_uri,
            role=role,
            instance_count=instance_count,
            instance_type=instance_type,
            **kwargs,
        )
        self._json_hyperparameters = kwargs.get("source_dir") is not None

    def _encodes_json(self) -> bool:
        return self._json_hyperparameters


class SKLearn(EstimatorBase):
    """A scikit-learn training script (the SDK's ``sagemaker.sklearn.SKLearn``).

    ``framework_version`` and ``py_version`` are accepted and recorded: the script runs with
    the scikit-learn installed next to tunesmith (or in the environment ``image_uri`` names).
    """

    json_hyperparameters = True
    default_base_job_name = "sagemaker-scikit-learn"

    def __init__(
        self,
        entry_point: str | os.PathLike[str],
        framework_version: str | None = None,
        py_version: str = "py3",
        source_dir: str | os.PathLike[str] | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        image_uri: str | None = None,
        image_uri_region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            entry_point=entry_point,
            source_dir=source_dir,
            hyperparameters=hyperparameters,
            image_uri=image_uri,
            **kwargs,
        )
        self.framework_version = framework_version
        self.py_version = py_version
        self.image_uri_region = image_uri_region


class TrainingJob:
    """The SDK's handle on a training job (``estimator.latest_training_job``)."""

    def __init__(self, sagemaker_session: Session, job_name: str) -> None:
        self.sagemaker_session = sagemaker_session
        self.job_name = job_name

    @property
    def name(self) -> str:
        return self.job_name

    def __repr__(self) -> str:
        return f"TrainingJob({self.job_name!r})"

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.describe_training_job(self.job_name)

    def wait(self, logs: bool = True) -> dict[str, Any]:
        return self.sagemaker_session.wait_for_job(self.job_name, logs=logs)

    def stop(self) -> None:
        self.sagemaker_session.stop_training_job(self.job_name)


def _check_spot(use_spot_instances: bool, max_run: int, max_wait: int | None) -> None:
    # SageMaker's own rules, so a job valid here is valid there.
    if use_spot_instances and max_wait is None:
        raise ValueError("use_spot_instances needs max_wait (seconds to wait for spot capacity)")
    if max_wait is not None and not use_spot_instances:
        raise ValueError("max_wait applies only with use_spot_instances=True")
    if max_wait is not None and max_wait < max_run:
        raise ValueError(f"max_wait ({max_wait}) must be at least max_run ({max_run})")


def _script_location(
    entry_point: str | os.PathLike[str], source_dir: str | os.PathLike[str] | None
) -> tuple[str, str]:
    """``(program relative to the source folder, absolute source folder)``; without
    ``source_dir`` the script's own folder is the source folder, as in SDK local mode."""
    if source_dir is None:
        script = Path(entry_point).expanduser().resolve()
        folder, program = script.parent, script.name
    else:
        text = os.fspath(source_dir)
        if text.startswith("s3://"):
            raise ValueError(
                f"source_dir {text!r}: an s3:// source folder is not supported "
                f"locally; give a local folder"
            )
        folder = Path(local_uri(text).removeprefix("file://")).resolve()
        program = os.fspath(entry_point)
    if not folder.is_dir():
        raise ValueError(f"source_dir {str(folder)!r} is not a folder")
    if not (folder / program).is_file():
        raise ValueError(f"No file named {program!r} was found in directory {str(folder)!r}")
    return program, str(folder)
