"""The AWS rules of CreateHyperParameterTuningJob and CreateTrainingJob that apply locally.

The generated shapes check types, lengths, patterns and enums; the rules here relate fields to
each other (ranges, objective, strategy) or to the machine (the program, data URIs). Each rule
yields a ``Violation`` naming the full field path, so one call reports every broken rule.
"""

from __future__ import annotations

import json
import math
import re
import tarfile
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tunesmith.model.messages import (
    NULL,
    Violation,
    raise_if_any,
    validation_exception,
    violations_from_pydantic,
)
from tunesmith.model.shapes import (
    AlgorithmSpecification,
    Channel,
    CheckpointConfig,
    CreateHyperParameterTuningJobRequest,
    CreateTrainingJobRequest,
    HyperParameterAlgorithmSpecification,
    HyperParameterTrainingJobDefinition,
    HyperParameterTuningJobConfig,
    OutputDataConfig,
)

Part = TypeVar("Part", bound=BaseModel)
CONFIG = "HyperParameterTuningJobConfig"
DEFINITION = "TrainingJobDefinition"
MAX_TUNED_PARAMETERS = 30
DEFAULT_MIN_RESOURCE = 1
# Static hyperparameters Hyperband reads as the training budget when MaxResource is absent.
EPOCH_HYPERPARAMETERS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
FILE_SCHEME = "file://"


def hyperparameter_value(raw: str) -> str:
    """A hyperparameter value without the JSON quotes the SageMaker SDK adds (``'"train.py"'``)."""
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        try:
            decoded = json.loads(raw)
        except ValueError:
            return raw
        if isinstance(decoded, str):
            return decoded
    return raw


def local_path(uri: str) -> Path | None:
    """The local path a data or source URI names, or None when it names a remote location."""
    if uri.startswith(FILE_SCHEME):
        return Path(uri[len(FILE_SCHEME) :])
    if "://" in uri:
        return None
    return Path(uri)


def validate_tuning_job_request(request: CreateHyperParameterTuningJobRequest) -> None:
    """Raise one ValidationException listing every broken rule of the request."""
    raise_if_any(list(tuning_job_violations(request)))


def validate_training_job_request(request: CreateTrainingJobRequest) -> None:
    raise_if_any(list(training_job_violations(request)))


def tuning_job_violations(request: CreateHyperParameterTuningJobRequest) -> Iterator[Violation]:
    config = request.HyperParameterTuningJobConfig
    definition = request.TrainingJobDefinition
    if request.TrainingJobDefinitions is not None:
        yield multi_definition_violation(request.TrainingJobDefinitions)
    elif definition is None:
        yield Violation(DEFINITION, NULL, "Member must not be null")
    statics = (definition.StaticHyperParameters or {}) if definition else {}
    yield from _range_violations(config, statics)
    yield from _strategy_violations(config)
    if config.Strategy == "Hyperband":
        yield from _hyperband_violations(config, statics)
    if config.HyperParameterTuningJobObjective is None:
        yield Violation(
            f"{CONFIG}.HyperParameterTuningJobObjective", NULL, "Member must not be null"
        )
    if definition is not None:
        yield from _definition_violations(config, definition)


def multi_definition_violation(definitions: Any) -> Violation:
    return Violation(
        "TrainingJobDefinitions",
        definitions,
        "only TrainingJobDefinition (a single training job definition) is supported",
    )


def training_job_violations(request: CreateTrainingJobRequest) -> Iterator[Violation]:
    spec = request.AlgorithmSpecification
    if spec is None:
        yield Violation("AlgorithmSpecification", NULL, "Member must not be null")
        return
    hyperparameters = request.HyperParameters or {}
    # A training job runs its ContainerEntrypoint, or else the SageMaker SDK's program.
    if spec.ContainerEntrypoint is None or PROGRAM in hyperparameters:
        yield from _program_violations("HyperParameters", hyperparameters)
    yield from _metric_violations("AlgorithmSpecification", spec)
    yield from _data_violations(
        "", request.InputDataConfig, request.OutputDataConfig, request.CheckpointConfig
    )


def _definition_violations(
    config: HyperParameterTuningJobConfig, definition: HyperParameterTrainingJobDefinition
) -> Iterator[Violation]:
    statics = definition.StaticHyperParameters or {}
    yield from _program_violations(f"{DEFINITION}.StaticHyperParameters", statics)
    spec_path = f"{DEFINITION}.AlgorithmSpecification"
    yield from _metric_violations(spec_path, definition.AlgorithmSpecification)
    objective = config.HyperParameterTuningJobObjective
    metrics = definition.AlgorithmSpecification.MetricDefinitions or []
    names = [metric.Name for metric in metrics]
    if objective is not None and objective.MetricName not in names:
        yield Violation(
            f"{CONFIG}.HyperParameterTuningJobObjective.MetricName",
            objective.MetricName,
            f"must be the Name of one of {spec_path}.MetricDefinitions"
            f" ({', '.join(names) or 'none'})",
        )
    yield from _data_violations(
        f"{DEFINITION}.",
        definition.InputDataConfig,
        definition.OutputDataConfig,
        definition.CheckpointConfig,
    )


def _range_violations(
    config: HyperParameterTuningJobConfig, statics: Mapping[str, str]
) -> Iterator[Violation]:
    ranges = config.ParameterRanges
    if ranges is None:
        return
    base = f"{CONFIG}.ParameterRanges"
    seen: list[tuple[str, str]] = []
    for i, integer in enumerate(ranges.IntegerParameterRanges or []):
        path = f"{base}.IntegerParameterRanges[{i}]"
        seen.append((integer.Name, path))
        yield from _bounds_violations(
            path, integer.MinValue, integer.MaxValue, integer.ScalingType, is_integer=True
        )
    for i, continuous in enumerate(ranges.ContinuousParameterRanges or []):
        path = f"{base}.ContinuousParameterRanges[{i}]"
        seen.append((continuous.Name, path))
        yield from _bounds_violations(
            path, continuous.MinValue, continuous.MaxValue, continuous.ScalingType, is_integer=False
        )
    for i, categorical in enumerate(ranges.CategoricalParameterRanges or []):
        path = f"{base}.CategoricalParameterRanges[{i}]"
        seen.append((categorical.Name, path))
        repeated = sorted(v for v, n in Counter(categorical.Values).items() if n > 1)
        if repeated:
            yield Violation(f"{path}.Values", repeated, "categorical values must be unique")
    counts = Counter(name for name, _ in seen)
    for name, path in seen:
        if counts[name] > 1:
            yield Violation(
                f"{path}.Name", name, "parameter names must be unique across the three range lists"
            )
        if name in statics:
            yield Violation(
                f"{path}.Name",
                name,
                f"a tuned hyperparameter must not also be in {DEFINITION}.StaticHyperParameters",
            )
    if len(seen) > MAX_TUNED_PARAMETERS:
        yield Violation(
            base,
            f"{len(seen)} parameters",
            f"at most {MAX_TUNED_PARAMETERS} hyperparameters can be tuned",
        )


def _bounds_violations(
    path: str, low_text: str, high_text: str, scaling: str | None, *, is_integer: bool
) -> Iterator[Violation]:
    kind = "an integer" if is_integer else "a finite number"
    low = _parse_bound(low_text, is_integer)
    high = _parse_bound(high_text, is_integer)
    if low is None:
        yield Violation(f"{path}.MinValue", low_text, f"MinValue must be {kind}")
    if high is None:
        yield Violation(f"{path}.MaxValue", high_text, f"MaxValue must be {kind}")
    if low is None or high is None:
        return
    if low >= high:
        yield Violation(
            f"{path}.MinValue", low_text, f"MinValue must be less than MaxValue ({high_text})"
        )
    if scaling == "Logarithmic" and low <= 0:
        yield Violation(
            f"{path}.MinValue", low_text, "Logarithmic scaling requires MinValue greater than 0"
        )
    if scaling == "ReverseLogarithmic":
        if is_integer:
            yield Violation(
                f"{path}.ScalingType",
                scaling,
                "ReverseLogarithmic scaling applies only to ContinuousParameterRanges",
            )
        elif not (0 <= low < high < 1):
            yield Violation(
                f"{path}.MinValue",
                low_text,
                "ReverseLogarithmic scaling requires 0 <= MinValue < MaxValue < 1",
            )


def _parse_bound(text: str, is_integer: bool) -> float | int | None:
    try:
        value = int(text.strip()) if is_integer else float(text)
    except ValueError:
        return None
    if not is_integer and not math.isfinite(value):
        return None
    return value


def _strategy_violations(config: HyperParameterTuningJobConfig) -> Iterator[Violation]:
    strategy = config.Strategy
    limits = config.ResourceLimits
    ranges = config.ParameterRanges
    if strategy == "Grid" and ranges is not None:
        for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
            if getattr(ranges, kind):
                yield Violation(
                    f"{CONFIG}.ParameterRanges.{kind}",
                    f"{len(getattr(ranges, kind))} ranges",
                    "Grid strategy accepts only CategoricalParameterRanges",
                )
    if strategy == "Grid" and not (ranges and ranges.CategoricalParameterRanges):
        yield Violation(
            f"{CONFIG}.ParameterRanges.CategoricalParameterRanges",
            NULL,
            "Grid strategy requires at least one categorical range",
        )
    if (
        limits.MaxNumberOfTrainingJobs is None
        and strategy != "Grid"
        and limits.MaxRuntimeInSeconds is None
    ):
        yield Violation(
            f"{CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs",
            NULL,
            "required unless Strategy is Grid or ResourceLimits.MaxRuntimeInSeconds is given",
        )
    if config.StrategyConfig is not None and strategy != "Hyperband":
        yield Violation(
            f"{CONFIG}.StrategyConfig",
            "StrategyConfig",
            f"StrategyConfig is only valid with Strategy Hyperband, not {strategy}",
        )


def _hyperband_violations(
    config: HyperParameterTuningJobConfig, statics: Mapping[str, str]
) -> Iterator[Violation]:
    if config.TrainingJobEarlyStoppingType not in (None, "Off"):
        yield Violation(
            f"{CONFIG}.TrainingJobEarlyStoppingType",
            config.TrainingJobEarlyStoppingType,
            "Hyperband strategy requires TrainingJobEarlyStoppingType Off",
        )
    try:
        _hyperband_resources(config, statics)
    except _ResourceError as error:
        yield error.violation


class _ResourceError(Exception):
    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message())
        self.violation = violation


def hyperband_resources(
    request: CreateHyperParameterTuningJobRequest | Mapping[str, Any],
) -> tuple[int, int]:
    """Hyperband's ``(MinResource, MaxResource)``, MaxResource inferred from an epochs-like static
    hyperparameter when the document gives none. A mapping needs only the tuning job config and
    the static hyperparameters."""
    if isinstance(request, CreateHyperParameterTuningJobRequest):
        config = request.HyperParameterTuningJobConfig
        definition = request.TrainingJobDefinition
        statics = (definition.StaticHyperParameters or {}) if definition else {}
    else:
        config = _parse_part(HyperParameterTuningJobConfig, request.get(CONFIG), CONFIG)
        raw_definition = request.get(DEFINITION)
        raw_statics = (
            raw_definition.get("StaticHyperParameters")
            if isinstance(raw_definition, Mapping)
            else None
        )
        statics = {k: v for k, v in (raw_statics or {}).items() if isinstance(v, str)}
    try:
        return _hyperband_resources(config, statics)
    except _ResourceError as error:
        raise validation_exception([error.violation]) from None


def _parse_part(model: type[Part], value: Any, path: str) -> Part:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        violations = violations_from_pydantic(error, model)
        raise validation_exception(
            [
                Violation(f"{path}.{v.path}" if v.path != model.__name__ else path, v.value, v.rule)
                for v in violations
            ]
        ) from None


def _hyperband_resources(
    config: HyperParameterTuningJobConfig, statics: Mapping[str, str]
) -> tuple[int, int]:
    path = f"{CONFIG}.StrategyConfig.HyperbandStrategyConfig"
    hyperband = config.StrategyConfig.HyperbandStrategyConfig if config.StrategyConfig else None
    low = (hyperband.MinResource if hyperband else None) or DEFAULT_MIN_RESOURCE
    high = hyperband.MaxResource if hyperband else None
    if high is None:
        high = _epochs(statics)
        if high is None:
            raise _ResourceError(
                Violation(
                    f"{path}.MaxResource",
                    NULL,
                    "required unless a static hyperparameter "
                    f"({', '.join(EPOCH_HYPERPARAMETERS)})"
                    " gives the number of epochs as an integer",
                )
            )
    if low >= high:
        raise _ResourceError(
            Violation(
                f"{path}.MinResource", low, f"MinResource must be less than MaxResource ({high})"
            )
        )
    return low, high


def _epochs(statics: Mapping[str, str]) -> int | None:
    for name in EPOCH_HYPERPARAMETERS:
        if name in statics:
            try:
                return int(hyperparameter_value(statics[name]).strip())
            except ValueError:
                return None
    return None


def _program_violations(path: str, hyperparameters: Mapping[str, str]) -> Iterator[Violation]:
    if PROGRAM not in hyperparameters:
        yield Violation(
            f"{path}.{PROGRAM}",
            NULL,
            "the entry script, relative to sagemaker_submit_directory, is required",
        )
        return
    program = hyperparameter_value(hyperparameters[PROGRAM])
    raw_directory = hyperparameters.get(SUBMIT_DIRECTORY)
    if raw_directory is None:
        yield Violation(f"{path}.{SUBMIT_DIRECTORY}", NULL, "the source folder is required")
        return
    directory = hyperparameter_value(raw_directory)
    source = local_path(directory)
    if source is None:
        yield _remote_violation(f"{path}.{SUBMIT_DIRECTORY}", directory)
        return
    if not program or Path(program).is_absolute() or ".." in Path(program).parts:
        yield Violation(
            f"{path}.{PROGRAM}",
            program,
            "must be a relative path inside sagemaker_submit_directory",
        )
        return
    if directory.endswith((".tar.gz", ".tgz")):
        if not _archive_has(source, program):
            yield Violation(
                f"{path}.{PROGRAM}", program, f"the program does not exist in the archive {source}"
            )
    elif not source.is_dir():
        yield Violation(f"{path}.{SUBMIT_DIRECTORY}", directory, "the source folder does not exist")
    elif not (source / program).is_file():
        yield Violation(
            f"{path}.{PROGRAM}", program, f"the program does not exist: {source / program}"
        )


def _archive_has(archive: Path, program: str) -> bool:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            names = {name.removeprefix("./") for name in tar.getnames()}
    except (OSError, tarfile.TarError):
        return False
    return program.removeprefix("./") in names


def _metric_violations(
    path: str, spec: HyperParameterAlgorithmSpecification | AlgorithmSpecification
) -> Iterator[Violation]:
    metrics = spec.MetricDefinitions or []
    counts = Counter(metric.Name for metric in metrics)
    for i, metric in enumerate(metrics):
        where = f"{path}.MetricDefinitions[{i}]"
        if counts[metric.Name] > 1:
            yield Violation(f"{where}.Name", metric.Name, "metric names must be unique")
        try:
            groups = re.compile(metric.Regex).groups
        except re.error as error:
            yield Violation(
                f"{where}.Regex", metric.Regex, f"must be a valid regular expression ({error})"
            )
            continue
        if groups != 1:
            yield Violation(
                f"{where}.Regex", metric.Regex, f"must have exactly one capture group, has {groups}"
            )


def _data_violations(
    prefix: str,
    channels: list[Channel] | None,
    output: OutputDataConfig | None,
    checkpoint: CheckpointConfig | None,
) -> Iterator[Violation]:
    names = Counter(channel.ChannelName for channel in channels or [])
    for i, channel in enumerate(channels or []):
        path = f"{prefix}InputDataConfig[{i}]"
        if names[channel.ChannelName] > 1:
            yield Violation(
                f"{path}.ChannelName", channel.ChannelName, "channel names must be unique"
            )
        if set(channel.ChannelName) <= {"."}:
            yield Violation(
                f"{path}.ChannelName",
                channel.ChannelName,
                "a channel name must name a folder of its own (not . or ..)",
            )
        s3 = channel.DataSource.S3DataSource
        if s3 is None:
            yield Violation(
                f"{path}.DataSource.S3DataSource",
                NULL,
                "a channel's data is read from S3DataSource.S3Uri (a local path or file:// URI); "
                "FileSystemDataSource is not available on this machine",
            )
        elif local_path(s3.S3Uri) is None:
            yield _remote_violation(f"{path}.DataSource.S3DataSource.S3Uri", s3.S3Uri)
    if output is not None and output.S3OutputPath and local_path(output.S3OutputPath) is None:
        yield _remote_violation(f"{prefix}OutputDataConfig.S3OutputPath", output.S3OutputPath)
    if checkpoint is not None and local_path(checkpoint.S3Uri) is None:
        yield _remote_violation(f"{prefix}CheckpointConfig.S3Uri", checkpoint.S3Uri)


def _remote_violation(path: str, uri: str) -> Violation:
    if uri.startswith("s3://"):
        return Violation(path, uri, "S3 is not configured; use a local path or file://")
    return Violation(path, uri, "must be a local path or file:// URI")
