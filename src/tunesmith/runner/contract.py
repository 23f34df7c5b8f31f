"""The training contract: the folder, arguments and environment a training script sees.

It follows SageMaker script mode and the SageMaker training toolkit, with ``/opt/ml`` replaced by
the training job's own folder. :func:`prepare` lays the folder out and returns the process to run;
it does not start it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.runner.base import TrainingJobSpec

HOST = "algo-1"
INSTANCE_GROUP = "homogeneousCluster"
NETWORK_INTERFACE = "eth0"
LOG_LEVEL = 20
# sagemaker_* hyperparameters the toolkit consumes itself; the others are framework parameters.
TOOLKIT_HYPERPARAMETERS = frozenset(
    {
        "sagemaker_program",
        "sagemaker_submit_directory",
        "sagemaker_region",
        "sagemaker_job_name",
        "sagemaker_container_log_level",
        "sagemaker_enable_cloudwatch_metrics",
    }
)


class TrainingSetupError(Exception):
    """The training job cannot start: its program, source folder or data is missing."""


@dataclass(frozen=True)
class TrainingJobPaths:
    """Where everything of one training job lives; ``root`` stands for ``/opt/ml``."""

    root: Path

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def config(self) -> Path:
        return self.input / "config"

    @property
    def data(self) -> Path:
        return self.input / "data"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def output_data(self) -> Path:
        return self.output / "data"

    @property
    def output_intermediate(self) -> Path:
        return self.output / "intermediate"

    @property
    def failure(self) -> Path:
        return self.output / "failure"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def code(self) -> Path:
        """Where a ``.tar.gz`` source folder is extracted (``/opt/ml/code``)."""
        return self.root / "code"

    @property
    def log(self) -> Path:
        """Both output streams of the script, line by line, as CloudWatch would hold them."""
        return self.root / "logs" / "training.log"


@dataclass(frozen=True)
class TrainingProcess:
    """What to execute for one training job."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    paths: TrainingJobPaths


def decode_hyperparameter(value: str) -> Any:
    """A hyperparameter value JSON-decoded where it parses (``"0.1"`` -> 0.1, ``'"gini"'`` ->
    ``gini``), else the text itself, as the training toolkit reads hyperparameters.json."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def argument_text(value: Any) -> str:
    """A decoded hyperparameter as one command-line argument, the toolkit's way."""
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "" if value is None else str(value)


def env_name(name: str) -> str:
    """``name`` as the tail of an environment variable name: upper case, ``-`` (and anything else
    a shell could not name) as ``_``."""
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def env_value(value: Any) -> str:
    """An environment value the toolkit's way: text as is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def prepare(spec: TrainingJobSpec, parent_env: Mapping[str, str] | None = None) -> TrainingProcess:
    """Lay out the training job's folder and describe its process.

    Raises :class:`TrainingSetupError` when the program, the source folder or a channel's data
    does not exist.
    """
    paths = TrainingJobPaths(Path(spec.directory).absolute())
    for folder in (
        paths.config,
        paths.data,
        paths.model,
        paths.output_data,
        paths.output_intermediate,
        paths.checkpoints,
        paths.log.parent,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    # A failure file left by an earlier attempt in the same folder is not this attempt's reason.
    paths.failure.unlink(missing_ok=True)
    code_dir = _source_folder(spec, paths)
    program = code_dir / spec.entry_point
    if not spec.command and not program.is_file():
        raise TrainingSetupError(
            f"the training program {spec.entry_point} does not exist in {code_dir}"
        )
    _link_channels(spec, paths)

    hyperparameters = {k: decode_hyperparameter(v) for k, v in spec.hyperparameters.items()}
    user_hps = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
    arguments = [
        item for name in sorted(user_hps) for item in (f"--{name}", argument_text(user_hps[name]))
    ]
    resource_config = _resource_config(spec)
    input_data_config = _input_data_config(spec)
    _write_json(paths.config / "hyperparameters.json", dict(spec.hyperparameters))
    _write_json(paths.config / "resourceconfig.json", resource_config)
    _write_json(paths.config / "inputdataconfig.json", input_data_config)

    toolkit = _toolkit_environment(
        spec,
        paths,
        code_dir,
        hyperparameters,
        user_hps,
        arguments,
        resource_config,
        input_data_config,
    )
    env = dict(os.environ if parent_env is None else parent_env)
    env.update(toolkit)
    # Only assigned GPUs are imposed. With none assigned the parent's own restriction (or none)
    # stays: hiding every GPU would silently move training to the CPU on a host where nothing
    # schedules GPUs.
    if spec.gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(gpu) for gpu in spec.gpus)
    env["PYTHONUNBUFFERED"] = "1"
    env["TRAINING_JOB_NAME"] = spec.name
    env["PWD"] = str(code_dir)  # as a shell starting the script in its folder sets it
    env.update(spec.environment)
    return TrainingProcess(
        argv=spec.command or (*_program_command(spec, program), *arguments),
        env=env,
        cwd=code_dir,
        paths=paths,
    )


def _source_folder(spec: TrainingJobSpec, paths: TrainingJobPaths) -> Path:
    source = Path(spec.source_dir).absolute()
    if source.is_dir():
        return source
    if source.is_file() and source.name.endswith((".tar.gz", ".tgz")):
        shutil.rmtree(paths.code, ignore_errors=True)
        paths.code.mkdir(parents=True)
        try:
            with tarfile.open(source, "r:gz") as archive:
                archive.extractall(paths.code, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise TrainingSetupError(
                f"cannot extract the source archive {source}: {error}"
            ) from error
        return paths.code
    raise TrainingSetupError(
        f"the source folder {source} (sagemaker_submit_directory) does not exist"
    )


def _link_channels(spec: TrainingJobSpec, paths: TrainingJobPaths) -> None:
    """``input/data/<channel>`` links to the channel's folder, or holds a link to its file."""
    for channel, location in spec.channels.items():
        target = Path(location).absolute()
        if not target.exists():
            raise TrainingSetupError(f"the data of channel {channel} does not exist: {target}")
        link = paths.data / channel
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        if target.is_dir():
            link.symlink_to(target, target_is_directory=True)
        else:
            link.mkdir()
            (link / target.name).symlink_to(target)


def _program_command(spec: TrainingJobSpec, program: Path) -> list[str]:
    if program.suffix == ".py":
        return [spec.interpreter or sys.executable, str(program)]
    if program.suffix == ".sh":
        return ["sh", str(program)]
    return [str(program)]


def _resource_config(spec: TrainingJobSpec) -> dict[str, Any]:
    return {
        "current_host": HOST,
        "current_instance_type": spec.instance_type,
        "current_group_name": INSTANCE_GROUP,
        "hosts": [HOST],
        "instance_groups": [
            {
                "instance_group_name": INSTANCE_GROUP,
                "instance_type": spec.instance_type,
                "hosts": [HOST],
            }
        ],
        "network_interface_name": NETWORK_INTERFACE,
    }


def _input_data_config(spec: TrainingJobSpec) -> dict[str, Any]:
    return {
        channel: {
            "TrainingInputMode": spec.input_mode,
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        for channel in spec.channels
    }


def _toolkit_environment(
    spec: TrainingJobSpec,
    paths: TrainingJobPaths,
    code_dir: Path,
    hyperparameters: Mapping[str, Any],
    user_hps: Mapping[str, Any],
    arguments: list[str],
    resource_config: dict[str, Any],
    input_data_config: dict[str, Any],
) -> dict[str, str]:
    """The ``SM_*`` variables the SageMaker training toolkit sets, as far as they mean anything
    on one local host."""
    channel_dirs = {channel: str(paths.data / channel) for channel in spec.channels}
    framework_params = {
        k: v
        for k, v in hyperparameters.items()
        if k.startswith("sagemaker_") and k not in TOOLKIT_HYPERPARAMETERS
    }
    module_name = spec.entry_point[:-3] if spec.entry_point.endswith(".py") else spec.entry_point
    # Keys the toolkit puts both in SM_TRAINING_ENV and in SM_* variables of their own.
    shared: dict[str, Any] = {
        "current_host": HOST,
        "current_instance_group": INSTANCE_GROUP,
        "current_instance_type": spec.instance_type,
        "hosts": [HOST],
        "input_config_dir": str(paths.config),
        "input_data_config": input_data_config,
        "input_dir": str(paths.input),
        "log_level": LOG_LEVEL,
        "model_dir": str(paths.model),
        "module_dir": str(code_dir),
        "module_name": module_name,
        "network_interface_name": NETWORK_INTERFACE,
        "num_cpus": spec.cpus,
        "num_gpus": len(spec.gpus),
        "num_neurons": 0,
        "output_data_dir": str(paths.output_data),
        "output_dir": str(paths.output),
        "output_intermediate_dir": str(paths.output_intermediate),
        "resource_config": resource_config,
        "user_entry_point": spec.entry_point,
        "checkpoint_dir": str(paths.checkpoints),
    }
    training_env: dict[str, Any] = {
        **shared,
        "additional_framework_parameters": framework_params,
        "channel_input_dirs": channel_dirs,
        "hyperparameters": dict(user_hps),
        "instance_groups": [INSTANCE_GROUP],
        "is_master": True,
        "job_name": spec.name,
        "master_hostname": HOST,
    }
    variables: dict[str, Any] = {
        **shared,
        "channels": sorted(spec.channels),
        "framework_params": framework_params,
        "hps": dict(user_hps),
        "training_env": training_env,
        "user_args": arguments,
    }
    env = {f"SM_{name.upper()}": env_value(value) for name, value in variables.items()}
    env.update({f"SM_CHANNEL_{env_name(c)}": path for c, path in channel_dirs.items()})
    env.update({f"SM_HP_{env_name(k)}": env_value(v) for k, v in user_hps.items()})
    return env


def _write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True))
