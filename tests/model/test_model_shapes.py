"""The generated models against botocore's SageMaker service model, and their local exceptions."""

from __future__ import annotations

import datetime
import inspect
import types
import typing
from typing import Any

import botocore.session
import pytest
from pydantic import BaseModel, ValidationError

from tunesmith.model import shapes

SERVICE = botocore.session.get_session().get_service_model("sagemaker")
# Values tunesmith accepts beyond AWS's enums (see tools/gen_model.py).
LOCAL_ENUM_VALUES = {"local", "local_gpu"}
# Each class once: the private aliases (``_Name = Name``) name them a second time.
GENERATED = sorted(
    {
        cls
        for name, cls in inspect.getmembers(shapes, inspect.isclass)
        if not name.startswith("_")
        and issubclass(cls, BaseModel)
        and cls not in (BaseModel, shapes.RequestShape, shapes.ResponseShape)
    },
    key=lambda cls: cls.__name__,
)
SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (float,),
    "double": (float,),
    "boolean": (bool,),
    "timestamp": (datetime.datetime,),
}


def unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        else:
            return annotation


def assert_compatible(annotation: Any, shape: Any, where: str) -> None:
    annotation = unwrap(annotation)
    origin = typing.get_origin(annotation)
    if shape.type_name == "structure":
        assert annotation.__name__ == shape.name, where
    elif shape.type_name == "list":
        assert origin is list, where
        assert_compatible(typing.get_args(annotation)[0], shape.member, f"{where}[]")
    elif shape.type_name == "map":
        assert origin is dict, where
        key, value = typing.get_args(annotation)
        assert_compatible(key, shape.key, f"{where}.key")
        assert_compatible(value, shape.value, f"{where}.value")
    elif origin is typing.Literal:
        assert shape.type_name == "string" and shape.enum, where
        extra = set(typing.get_args(annotation)) - set(shape.enum)
        assert extra <= LOCAL_ENUM_VALUES, f"{where}: {extra}"
    else:
        assert annotation in SCALARS[shape.type_name], f"{where}: {annotation} vs {shape.type_name}"


def test_many_shapes_were_generated() -> None:
    names = {cls.__name__ for cls in GENERATED}
    assert {
        "CreateHyperParameterTuningJobRequest",
        "DescribeHyperParameterTuningJobResponse",
        "ListTrainingJobsForHyperParameterTuningJobResponse",
        "AddTagsInput",
        "HyperbandStrategyConfig",
        "DescribeTrainingJobResponse",
    } <= names


@pytest.mark.parametrize("cls", GENERATED, ids=lambda cls: cls.__name__)
def test_every_field_exists_in_botocore_with_a_compatible_type(cls: type[BaseModel]) -> None:
    shape = SERVICE.shape_for(cls.__name__)
    assert shape.type_name == "structure"
    for name, field in cls.model_fields.items():
        assert name in shape.members, f"{cls.__name__}.{name} is not in botocore"
        assert_compatible(field.annotation, shape.members[name], f"{cls.__name__}.{name}")
        if field.is_required():
            assert name in shape.required_members, f"{cls.__name__}.{name} is required only here"


def test_request_shapes_forbid_unknown_members() -> None:
    with pytest.raises(ValidationError):
        shapes.ResourceLimits.model_validate({"MaxParallelTrainingJobs": 1, "Max": 2})


def test_response_shapes_keep_extra_members() -> None:
    counters = shapes.TrainingJobStatusCounters.model_validate({"Completed": 1, "Later": 2})
    assert counters.model_dump(exclude_none=True) == {"Completed": 1, "Later": 2}


def test_attributes_read_like_the_aws_docs() -> None:
    config = shapes.HyperParameterTuningJobConfig.model_validate(
        {
            "Strategy": "Random",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 5, "MaxParallelTrainingJobs": 2},
        }
    )
    assert config.ResourceLimits.MaxNumberOfTrainingJobs == 5
    assert config.ParameterRanges is None


@pytest.mark.parametrize("instance_type", ["local", "local_gpu", "ml.m5.xlarge"])
def test_instance_type_accepts_local(instance_type: str) -> None:
    assert shapes.ResourceConfig(InstanceType=instance_type).InstanceType == instance_type


def test_instance_type_rejects_unknown() -> None:
    with pytest.raises(ValidationError):
        shapes.ResourceConfig(InstanceType="ml.imaginary.huge")


@pytest.mark.parametrize("uri", ["/data/train", "data/train", "file:///data/train", "s3://b/k"])
def test_s3_uri_shape_carries_local_paths(uri: str) -> None:
    assert shapes.S3DataSource(S3DataType="S3Prefix", S3Uri=uri).S3Uri == uri


def test_patterns_are_anchored() -> None:
    with pytest.raises(ValidationError):
        shapes.Channel.model_validate({"ChannelName": "train data", "DataSource": {}})
    with pytest.raises(ValidationError):
        shapes.StopHyperParameterTuningJobRequest(HyperParameterTuningJobName="ok-name!")


def test_floats_reject_nan_and_infinity() -> None:
    for value in (float("nan"), float("inf")):
        with pytest.raises(ValidationError):
            shapes.TuningJobCompletionCriteria(TargetObjectiveMetricValue=value)
