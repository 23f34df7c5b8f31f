"""Loading request documents (JSON or YAML files, or mappings) and dumping models as documents.

Loading reads a null member of a structure as an absent one (as AWS's JSON protocol does, so a
file, a mapping and a server request mean the same), fills the fields a local user would not
have, turns relative local paths into absolute ones (so a stored document is self-contained),
validates the shapes and then the AWS rules, and reports every problem as one
ValidationException.
"""

from __future__ import annotations

import copy
import json
import os
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from tunesmith.model.errors import ValidationException
from tunesmith.model.messages import raise_if_any, validation_exception, violations_from_pydantic
from tunesmith.model.shapes import CreateHyperParameterTuningJobRequest, CreateTrainingJobRequest
from tunesmith.model.validation import (
    FILE_SCHEME,
    PROGRAM,
    SUBMIT_DIRECTORY,
    hyperparameter_value,
    multi_definition_violation,
    training_job_violations,
    tuning_job_violations,
)

PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/tunesmith-local"
DEFAULT_RESOURCE_CONFIG = {"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 1}
DEFAULT_STOPPING_CONDITION = {"MaxRuntimeInSeconds": 86400}
DEFAULT_STRATEGY = "Bayesian"
DEFAULT_INPUT_MODE = "File"
DEFAULT_S3_DATA_TYPE = "S3Prefix"

Source = str | os.PathLike[str] | Mapping[str, Any]
Model = TypeVar("Model", bound=BaseModel)


def load_tuning_job_document(
    source: Source, *, base_dir: Path | None = None
) -> CreateHyperParameterTuningJobRequest:
    """A validated CreateHyperParameterTuningJob request from a JSON/YAML file or a mapping."""
    document, base = _read(source, base_dir)
    document = _nulls_absent(document, CreateHyperParameterTuningJobRequest)
    if "TrainingJobDefinitions" in document:
        # Shape errors inside the unsupported form would hide the one that matters.
        raise_if_any([multi_definition_violation(document["TrainingJobDefinitions"])])
    _complete_tuning_job(document, base)
    request = _validate(CreateHyperParameterTuningJobRequest, document)
    raise_if_any(list(tuning_job_violations(request)))
    return request


def load_training_job_document(
    source: Source, *, base_dir: Path | None = None
) -> CreateTrainingJobRequest:
    """A validated CreateTrainingJob request from a JSON/YAML file or a mapping."""
    document, base = _read(source, base_dir)
    document = _nulls_absent(document, CreateTrainingJobRequest)
    _complete_training_job(document, base)
    request = _validate(CreateTrainingJobRequest, document)
    raise_if_any(list(training_job_violations(request)))
    return request


def to_document(
    model: BaseModel, *, timestamps: Literal["epoch", "iso"] = "epoch"
) -> dict[str, Any]:
    """The model as an AWS document: absent members left out, datetimes as epoch seconds (the
    wire format) or ISO 8601 strings (for people)."""
    return model.model_dump(exclude_none=True, context={"timestamps": timestamps})


def _validate(model: type[Model], document: dict[str, Any]) -> Model:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise validation_exception(violations_from_pydantic(error, model)) from None


def _nulls_absent(value: Any, annotation: Any) -> Any:
    """``value`` without the null members of its structures, walking it along the shape
    ``annotation`` describes. Only structure members: a null list item or map value stays, and
    is an error, as on the wire."""
    kinds = _kinds(annotation)
    if isinstance(value, dict):
        model = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
        if model is not None:
            fields = model.model_fields
            return {
                key: _nulls_absent(item, fields[key].annotation) if key in fields else item
                for key, item in value.items()
                if item is not None or key not in fields
            }
        mapping = next((k for k in kinds if get_origin(k) is dict), None)
        if mapping is not None:
            item_annotation = get_args(mapping)[1]
            return {key: _nulls_absent(item, item_annotation) for key, item in value.items()}
    if isinstance(value, list):
        sequence = next((k for k in kinds if get_origin(k) is list), None)
        if sequence is not None:
            item_annotation = get_args(sequence)[0]
            return [_nulls_absent(item, item_annotation) for item in value]
    return value


def _kinds(annotation: Any) -> list[Any]:
    """The types an annotation allows, with ``Annotated`` and unions taken apart."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kinds(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [kind for arg in get_args(annotation) for kind in _kinds(arg)]
    return [annotation]


def _read(source: Source, base_dir: Path | None) -> tuple[dict[str, Any], Path]:
    """The document as a fresh dict, and the folder its relative paths are relative to."""
    if isinstance(source, Mapping):
        document: Any = copy.deepcopy(dict(source))
        base = base_dir if base_dir is not None else Path.cwd()
    else:
        path = Path(source)
        document = _parse(path)
        base = base_dir if base_dir is not None else path.resolve().parent
    if not isinstance(document, dict):
        raise ValidationException(
            f"the document must be a mapping of request fields, got {type(document).__name__}"
        )
    return document, Path(base).resolve()


def _parse(path: Path) -> Any:
    """JSON or YAML, decided by content: every JSON document is tried as JSON first."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = (
            error.strerror if isinstance(error, OSError) and error.strerror else "not UTF-8 text"
        )
        raise ValidationException(f"cannot read the document {path}: {reason}") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid syntax"
        raise ValidationException(
            f"the document {path} is neither JSON nor YAML: {problem}{where}"
        ) from None
    except RecursionError:
        raise ValidationException(f"the document {path} is nested too deeply") from None


def _complete_tuning_job(document: dict[str, Any], base: Path) -> None:
    """Defaults and absolute paths, applied only where the document has the expected types (the
    validator reports the rest)."""
    config = document.get("HyperParameterTuningJobConfig")
    if isinstance(config, dict):
        config.setdefault("Strategy", DEFAULT_STRATEGY)
        ranges = config.get("ParameterRanges")
        if isinstance(ranges, dict):
            _stringify_ranges(ranges)
    definition = document.get("TrainingJobDefinition")
    if isinstance(definition, dict):
        _complete_definition(definition, "StaticHyperParameters", base)


def _complete_training_job(document: dict[str, Any], base: Path) -> None:
    _complete_definition(document, "HyperParameters", base)


def _complete_definition(definition: dict[str, Any], hyperparameters_key: str, base: Path) -> None:
    definition.setdefault("RoleArn", PLACEHOLDER_ROLE_ARN)
    definition.setdefault("ResourceConfig", dict(DEFAULT_RESOURCE_CONFIG))
    definition.setdefault("StoppingCondition", dict(DEFAULT_STOPPING_CONDITION))
    spec = definition.get("AlgorithmSpecification")
    if isinstance(spec, dict):
        spec.setdefault("TrainingInputMode", DEFAULT_INPUT_MODE)
    hyperparameters = definition.get(hyperparameters_key)
    if isinstance(hyperparameters, dict):
        _stringify_values(hyperparameters)
        if PROGRAM in hyperparameters:
            hyperparameters.setdefault(SUBMIT_DIRECTORY, str(base))
        _resolve_hyperparameter(hyperparameters, SUBMIT_DIRECTORY, base)
    for channel in _dicts(definition.get("InputDataConfig")):
        s3 = _dig(channel, "DataSource", "S3DataSource")
        if s3 is not None:
            s3.setdefault("S3DataType", DEFAULT_S3_DATA_TYPE)
            _resolve_member(s3, "S3Uri", base)
    output = definition.get("OutputDataConfig")
    if isinstance(output, dict):
        _resolve_member(output, "S3OutputPath", base)
    checkpoint = definition.get("CheckpointConfig")
    if isinstance(checkpoint, dict):
        _resolve_member(checkpoint, "S3Uri", base)


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _dig(value: Any, *keys: str) -> dict[str, Any] | None:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, dict) else None


def _resolve_member(container: dict[str, Any], key: str, base: Path) -> None:
    value = container.get(key)
    if isinstance(value, str):
        container[key] = _absolute(value, base)


def _resolve_hyperparameter(hyperparameters: dict[str, Any], key: str, base: Path) -> None:
    """Resolve a path hyperparameter, keeping the JSON quotes if the document used them."""
    raw = hyperparameters.get(key)
    if not isinstance(raw, str):
        return
    plain = hyperparameter_value(raw)
    resolved = _absolute(plain, base)
    hyperparameters[key] = json.dumps(resolved) if plain != raw else resolved


def _absolute(uri: str, base: Path) -> str:
    """Relative local paths (plain or file://) become absolute; remote URIs stay as they are."""
    if uri.startswith(FILE_SCHEME):
        path = uri[len(FILE_SCHEME) :]
        return uri if Path(path).is_absolute() else str(base / path)
    if "://" in uri or not uri:
        return uri
    path = Path(uri).expanduser()
    return str(path if path.is_absolute() else base / path)


def _stringify_ranges(ranges: dict[str, Any]) -> None:
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for item in _dicts(ranges.get(kind)):
            _stringify_values(item, keys=("MinValue", "MaxValue"))
    for item in _dicts(ranges.get("CategoricalParameterRanges")):
        values = item.get("Values")
        if isinstance(values, list):
            item["Values"] = [_wire_string(value) for value in values]


def _stringify_values(mapping: dict[str, Any], keys: tuple[str, ...] | None = None) -> None:
    """YAML turns ``epochs: 10`` into a number; AWS documents carry such values as strings."""
    for key in keys if keys is not None else list(mapping):
        if key in mapping:
            mapping[key] = _wire_string(mapping[key])


def _wire_string(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


__all__ = [
    "PLACEHOLDER_ROLE_ARN",
    "Source",
    "load_training_job_document",
    "load_tuning_job_document",
    "to_document",
]
