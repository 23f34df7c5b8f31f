"""The request and response documents of the SageMaker API, and their validation.

Every interface (CLI file, Python API, HTTP server, SDK) loads requests through this package, so
all of them accept the same documents and report the same errors.
"""

import importlib
from typing import TYPE_CHECKING, Any

# Loaded on first use: the pydantic shapes take a while to build, and reading commands need few.
_PUBLIC = {
    "ConflictException": "tunesmith.model.errors",
    "CreateHyperParameterTuningJobRequest": "tunesmith.model.shapes",
    "CreateHyperParameterTuningJobResponse": "tunesmith.model.shapes",
    "CreateTrainingJobRequest": "tunesmith.model.shapes",
    "CreateTrainingJobResponse": "tunesmith.model.shapes",
    "DescribeHyperParameterTuningJobResponse": "tunesmith.model.shapes",
    "DescribeTrainingJobResponse": "tunesmith.model.shapes",
    "ListHyperParameterTuningJobsResponse": "tunesmith.model.shapes",
    "ListTrainingJobsForHyperParameterTuningJobResponse": "tunesmith.model.shapes",
    "ListTrainingJobsResponse": "tunesmith.model.shapes",
    "PLACEHOLDER_ROLE_ARN": "tunesmith.model.documents",
    "ResourceInUse": "tunesmith.model.errors",
    "ResourceLimitExceeded": "tunesmith.model.errors",
    "ResourceNotFound": "tunesmith.model.errors",
    "TunesmithError": "tunesmith.model.errors",
    "ValidationException": "tunesmith.model.errors",
    "hyperband_resources": "tunesmith.model.validation",
    "hyperparameter_value": "tunesmith.model.validation",
    "load_training_job_document": "tunesmith.model.documents",
    "load_tuning_job_document": "tunesmith.model.documents",
    "local_path": "tunesmith.model.validation",
    "to_document": "tunesmith.model.documents",
    "training_job_arn": "tunesmith.model.names",
    "training_job_name": "tunesmith.model.names",
    "tuning_job_arn": "tunesmith.model.names",
    "validate_training_job_request": "tunesmith.model.validation",
    "validate_tuning_job_request": "tunesmith.model.validation",
}

if TYPE_CHECKING:
    from tunesmith.model.documents import (
        PLACEHOLDER_ROLE_ARN,
        load_training_job_document,
        load_tuning_job_document,
        to_document,
    )
    from tunesmith.model.errors import (
        ConflictException,
        ResourceInUse,
        ResourceLimitExceeded,
        ResourceNotFound,
        TunesmithError,
        ValidationException,
    )
    from tunesmith.model.names import training_job_arn, training_job_name, tuning_job_arn
    from tunesmith.model.shapes import (
        CreateHyperParameterTuningJobRequest,
        CreateHyperParameterTuningJobResponse,
        CreateTrainingJobRequest,
        CreateTrainingJobResponse,
        DescribeHyperParameterTuningJobResponse,
        DescribeTrainingJobResponse,
        ListHyperParameterTuningJobsResponse,
        ListTrainingJobsForHyperParameterTuningJobResponse,
        ListTrainingJobsResponse,
    )
    from tunesmith.model.validation import (
        hyperband_resources,
        hyperparameter_value,
        local_path,
        validate_training_job_request,
        validate_tuning_job_request,
    )


__all__ = [
    "PLACEHOLDER_ROLE_ARN",
    "ConflictException",
    "CreateHyperParameterTuningJobRequest",
    "CreateHyperParameterTuningJobResponse",
    "CreateTrainingJobRequest",
    "CreateTrainingJobResponse",
    "DescribeHyperParameterTuningJobResponse",
    "DescribeTrainingJobResponse",
    "ListHyperParameterTuningJobsResponse",
    "ListTrainingJobsForHyperParameterTuningJobResponse",
    "ListTrainingJobsResponse",
    "ResourceInUse",
    "ResourceLimitExceeded",
    "ResourceNotFound",
    "TunesmithError",
    "ValidationException",
    "hyperband_resources",
    "hyperparameter_value",
    "load_training_job_document",
    "load_tuning_job_document",
    "local_path",
    "to_document",
    "training_job_arn",
    "training_job_name",
    "tuning_job_arn",
    "validate_training_job_request",
    "validate_tuning_job_request",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'tunesmith.model' has no attribute {name!r}")
