"""The SageMaker operations the server answers, from checked request parameters to response
documents (AWS field names, ``datetime`` times)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tunesmith import service
from tunesmith.api import Workspace, load_request, remove_tuning_job
from tunesmith.model.errors import ResourceNotFound, ValidationException
from tunesmith.server.engines import EngineSupervisor
from tunesmith.server.training_jobs import StandaloneTrainingJobs

Params = dict[str, Any]
Document = dict[str, Any]

# SageMaker's defaults for the List operations (its API reference), not the command line's.
DEFAULT_MAX_RESULTS = 10
DEFAULT_MAX_TAGS = 50


@dataclass(frozen=True)
class Context:
    """What the operations work on."""

    workspace: Workspace
    engines: EngineSupervisor
    training_jobs: StandaloneTrainingJobs


# -- tuning jobs ------------------------------------------------------------------------------


def create_hyper_parameter_tuning_job(ctx: Context, params: Params) -> Document:
    request = load_request(params)
    arn = service.create_tuning_job_record(ctx.workspace.store, request)
    ctx.engines.launch(request["HyperParameterTuningJobName"])
    return {"HyperParameterTuningJobArn": arn}


def describe_hyper_parameter_tuning_job(ctx: Context, params: Params) -> Document:
    return service.describe_tuning_job(ctx.workspace.store, params["HyperParameterTuningJobName"])


def list_hyper_parameter_tuning_jobs(ctx: Context, params: Params) -> Document:
    _offset(params.get("NextToken"))
    return service.list_tuning_jobs(
        ctx.workspace.store,
        max_results=params.get("MaxResults", DEFAULT_MAX_RESULTS),
        next_token=params.get("NextToken"),
        sort_by=params.get("SortBy", "Name"),
        sort_order=params.get("SortOrder", "Ascending"),
        **_listing_filters(params),
    )


def list_training_jobs_for_hyper_parameter_tuning_job(ctx: Context, params: Params) -> Document:
    _offset(params.get("NextToken"))
    return service.list_training_jobs_for_tuning_job(
        ctx.workspace.store,
        params["HyperParameterTuningJobName"],
        max_results=params.get("MaxResults", DEFAULT_MAX_RESULTS),
        next_token=params.get("NextToken"),
        status_equals=params.get("StatusEquals"),
        sort_by=params.get("SortBy", "Name"),
        sort_order=params.get("SortOrder", "Ascending"),
    )


def stop_hyper_parameter_tuning_job(ctx: Context, params: Params) -> Document:
    service.stop_tuning_job(ctx.workspace.store, params["HyperParameterTuningJobName"])
    return {}


def delete_hyper_parameter_tuning_job(ctx: Context, params: Params) -> Document:
    remove_tuning_job(ctx.workspace, params["HyperParameterTuningJobName"])
    return {}


# -- training jobs ----------------------------------------------------------------------------


def create_training_job(ctx: Context, params: Params) -> Document:
    return {"TrainingJobArn": ctx.training_jobs.create(params)}


def describe_training_job(ctx: Context, params: Params) -> Document:
    return service.describe_training_job(ctx.workspace.store, params["TrainingJobName"])


def list_training_jobs(ctx: Context, params: Params) -> Document:
    _offset(params.get("NextToken"))
    return service.list_training_jobs(
        ctx.workspace.store,
        max_results=params.get("MaxResults", DEFAULT_MAX_RESULTS),
        next_token=params.get("NextToken"),
        sort_by=params.get("SortBy", "CreationTime"),
        sort_order=params.get("SortOrder", "Ascending"),
        **_listing_filters(params),
    )


def stop_training_job(ctx: Context, params: Params) -> Document:
    ctx.training_jobs.stop(params["TrainingJobName"])
    return {}


# -- tags -------------------------------------------------------------------------------------


def _existing(ctx: Context, arn: str) -> str:
    if not ctx.workspace.store.resource_exists(arn):
        raise ResourceNotFound(f"Resource {arn} does not exist.")
    return arn


def add_tags(ctx: Context, params: Params) -> Document:
    arn = _existing(ctx, params["ResourceArn"])
    tags = params["Tags"]
    ctx.workspace.store.add_tags(arn, {t["Key"]: t["Value"] for t in tags})
    return {"Tags": tags}


def list_tags(ctx: Context, params: Params) -> Document:
    arn = _existing(ctx, params["ResourceArn"])
    max_results = params.get("MaxResults", DEFAULT_MAX_TAGS)
    offset = _offset(params.get("NextToken"))
    pairs = list(ctx.workspace.store.list_tags(arn).items())
    page = pairs[offset:offset + max_results]
    result: Document = {"Tags": [{"Key": k, "Value": v} for k, v in page]}
    if offset + max_results < len(pairs):
        result["NextToken"] = str(offset + max_results)
    return result


def delete_tags(ctx: Context, params: Params) -> Document:
    arn = _existing(ctx, params["ResourceArn"])
    ctx.workspace.store.delete_tags(arn, params["TagKeys"])
    return {}


# -- helpers ----------------------------------------------------------------------------------


def _offset(token: str | None) -> int:
    """The position a ``NextToken`` stands for; anything this server did not hand out is
    refused before it reaches a query."""
    if token is None:
        return 0
    if not token.isascii() or not token.isdigit() or len(token) > 18:
        raise ValidationException(f"Value '{token[:100]}' at 'NextToken' is not a valid token")
    return int(token)


Operation = Callable[[Context, Params], Document]

OPERATIONS: dict[str, Operation] = {
    "CreateHyperParameterTuningJob": create_hyper_parameter_tuning_job,
    "DescribeHyperParameterTuningJob": describe_hyper_parameter_tuning_job,
    "ListHyperParameterTuningJobs": list_hyper_parameter_tuning_jobs,
    "ListTrainingJobsForHyperParameterTuningJob":
        list_training_jobs_for_hyper_parameter_tuning_job,
    "StopHyperParameterTuningJob": stop_hyper_parameter_tuning_job,
    "DeleteHyperParameterTuningJob": delete_hyper_parameter_tuning_job,
    "CreateTrainingJob": create_training_job,
    "DescribeTrainingJob": describe_training_job,
    "ListTrainingJobs": list_training_jobs,
    "StopTrainingJob": stop_training_job,
    "AddTags": add_tags,
    "ListTags": list_tags,
    "DeleteTags": delete_tags,
}
"""Operation name (the ``X-Amz-Target`` suffix) -> handler."""

READS = frozenset(name for name in OPERATIONS if name.startswith(("Describe", "List")))
"""Operations that change nothing (their answers may be served from the read cache)."""

MODEL_CHECKED = frozenset({"CreateHyperParameterTuningJob", "CreateTrainingJob"})
"""Operations whose requests ``tunesmith.model`` validates (the wire check is for types only)."""


def _listing_filters(params: dict[str, Any]) -> dict[str, Any]:
    """The filters ListHyperParameterTuningJobs and ListTrainingJobs share."""
    return {
        "name_contains": params.get("NameContains"),
        "status_equals": params.get("StatusEquals"),
        "creation_time_after": params.get("CreationTimeAfter"),
        "creation_time_before": params.get("CreationTimeBefore"),
        "last_modified_time_after": params.get("LastModifiedTimeAfter"),
        "last_modified_time_before": params.get("LastModifiedTimeBefore"),
    }
