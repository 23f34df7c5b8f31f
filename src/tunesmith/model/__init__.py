"""The request and response documents of the SageMaker API, and their validation.

Every interface (CLI file, Python API, HTTP server, SDK) loads requests through this package, so
all of them accept the same documents and report the same errors.
"""

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
