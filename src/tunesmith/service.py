"""The SageMaker tuning operations on a store, answering with AWS response documents.

Every interface (CLI, Python API, server, SDK) calls these functions, so they all answer alike.
Documents use AWS field names; times are timezone-aware ``datetime`` values, as boto3 returns
them (the server turns them into epoch seconds, the CLI into ISO 8601).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunesmith.model.errors import ConflictException, ResourceInUse, ValidationException
from tunesmith.model.names import training_job_arn, tuning_job_arn
from tunesmith.recording import transition
from tunesmith.store import (
    TERMINAL_STATUSES,
    Counters,
    Listing,
    Store,
    TrainingJobRecord,
    TuningJobRecord,
)
from tunesmith.warm_start import fingerprint, overall_best, validate_warm_start

Document = dict[str, Any]
TRAINING_JOB_STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")
TUNING_JOB_STATUSES = ("Completed", "InProgress", "Failed", "Stopped", "Stopping", "Deleting")


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _compact(document: Mapping[str, Any]) -> Document:
    return {k: v for k, v in document.items() if v is not None}


def create_tuning_job_record(store: Store, request: Mapping[str, Any]) -> str:
    """Store a validated ``CreateHyperParameterTuningJob`` request as a new tuning job
    (status ``InProgress``) and return its ARN; an engine must then run it."""
    name = request["HyperParameterTuningJobName"]
    config = request["HyperParameterTuningJobConfig"]
    objective = config["HyperParameterTuningJobObjective"]
    validate_warm_start(store, request)
    arn = tuning_job_arn(name)
    now = time.time()
    store.create_tuning_job(
        name=name,
        arn=arn,
        status="InProgress",
        strategy=config.get("Strategy") or "Bayesian",
        objective_metric=objective["MetricName"],
        objective_type=objective["Type"],
        request=dict(request),
        fingerprint=fingerprint(request),
        created=now,
        last_modified=now,
    )
    if request.get("Tags"):
        store.add_tags(arn, {t["Key"]: t["Value"] for t in request["Tags"]})
    return arn


def create_training_job_record(store: Store, request: Mapping[str, Any]) -> str:
    """Store a validated ``CreateTrainingJob`` request as a new training job (status
    ``InProgress``) and return its ARN; a runner must then run it."""
    name = request["TrainingJobName"]
    arn = training_job_arn(name)
    now = time.time()
    store.create_training_job(
        name=name,
        arn=arn,
        tuning_job=None,
        seq=0,
        status="InProgress",
        secondary_status="Starting",
        hyperparameters=dict(request.get("HyperParameters") or {}),
        created=now,
        notes=[],
        transitions=[transition("Starting", now, "Launching the training job")],
        definition=dict(request),
    )
    if request.get("Tags"):
        store.add_tags(arn, {t["Key"]: t["Value"] for t in request["Tags"]})
    return arn


def stop_training_job(store: Store, name: str) -> None:
    """Ask whoever runs the training job to stop it."""
    record = store.get_training_job(name)
    if record.status in TERMINAL_STATUSES:
        raise ValidationException(
            f"The training job '{name}' has already ended with status {record.status}."
        )
    store.update_training_job(name, status="Stopping")


def list_training_jobs(
    store: Store,
    *,
    max_results: int = 100,
    next_token: str | None = None,
    sort_by: str = "CreationTime",
    sort_order: str = "Descending",
    name_contains: str | None = None,
    status_equals: str | None = None,
    creation_time_after: datetime | None = None,
    creation_time_before: datetime | None = None,
    last_modified_time_after: datetime | None = None,
    last_modified_time_before: datetime | None = None,
) -> Document:
    """The ``ListTrainingJobs`` response: training jobs of tuning jobs and single ones."""
    _check_listing(
        sort_by,
        ("Name", "CreationTime", "Status"),
        sort_order,
        status_equals,
        TRAINING_JOB_STATUSES,
        max_results,
    )
    offset = _offset(next_token)
    records = store.list_training_jobs(
        _listing(
            offset,
            max_results,
            sort_by,
            sort_order,
            name_contains,
            status_equals,
            creation_time_after,
            creation_time_before,
            last_modified_time_after,
            last_modified_time_before,
        )
    )
    summaries = [
        _compact(
            {
                "TrainingJobName": r.name,
                "TrainingJobArn": r.arn,
                "CreationTime": _time(r.created),
                "TrainingEndTime": _time(r.end_time),
                "LastModifiedTime": _time(r.end_time or r.start_time or r.created),
                "TrainingJobStatus": r.status,
                "SecondaryStatus": r.secondary_status,
            }
        )
        for r in records[:max_results]
    ]
    return _compact(
        {
            "TrainingJobSummaries": summaries,
            "NextToken": str(offset + max_results) if len(records) > max_results else None,
        }
    )


def stop_tuning_job(store: Store, name: str) -> None:
    """Ask the engine running the job to stop it; stopping a finished job is an error, as in
    SageMaker."""
    job = store.get_tuning_job(name)
    if job.status in TERMINAL_STATUSES:
        raise ValidationException(
            f"The hyperparameter tuning job '{name}' has already ended with status {job.status}."
        )
    store.update_tuning_job(
        name, status="Stopping", last_modified=time.time(), only_if_status=["InProgress"]
    )


def delete_tuning_job(store: Store, name: str) -> int:
    """Forget a tuning job that has ended: its record, its training jobs' records, their metric
    values and tags; returns how many training jobs went with it."""
    job = store.get_tuning_job(name)
    if job.status not in TERMINAL_STATUSES:
        raise ResourceInUse(
            f"Hyperparameter tuning job '{name}' is {job.status}; stop it and wait until it "
            "ends before deleting it."
        )
    records = store.training_jobs(name)
    for arn in [job.arn, *(record.arn for record in records)]:
        store.delete_tags(arn, list(store.list_tags(arn)))
    store.delete_tuning_job(name)
    return len(records)


def _engine_silence_seconds() -> float:
    return float(os.environ.get("TUNESMITH_ENGINE_SILENCE_SECONDS", "15"))


def engine_alive(job: TuningJobRecord, now: float | None = None) -> bool:
    """Whether some engine still runs the tuning job: its process lives on this host, or, for an
    engine of another host, its heartbeat is recent (engines beat every second)."""
    if job.status in TERMINAL_STATUSES:
        return False
    now = time.time() if now is None else now
    here = job.engine_pid is not None and job.engine_host == socket.gethostname()
    if here and not _process_exists(job.engine_pid):  # type: ignore[arg-type]
        # An engine of this host that is gone is known dead at once, whatever its heartbeat.
        return False
    if job.heartbeat is not None and now - job.heartbeat < _engine_silence_seconds():
        return True
    return here


def engine_lost(job: TuningJobRecord, now: float | None = None) -> bool:
    """Whether an unfinished tuning job has no engine any more (a crash, a reboot, a lost
    cluster), though one has had time to take it: ``resume`` continues it."""
    now = time.time() if now is None else now
    if job.status in TERMINAL_STATUSES or engine_alive(job, now):
        return False
    # A job just created waits for the engine starting for it to claim it.
    return job.heartbeat is not None or now - job.created >= _engine_silence_seconds()


def _process_exists(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def check_resumable(store: Store, name: str) -> TuningJobRecord:
    """The tuning job, if it is unfinished and no engine runs it any more."""
    job = store.get_tuning_job(name)
    if job.status in TERMINAL_STATUSES:
        raise ValidationException(
            f"The hyperparameter tuning job '{name}' has already ended with status {job.status}."
        )
    if engine_alive(job):
        raise ConflictException(
            f"The hyperparameter tuning job '{name}' is still being run by engine process "
            f"{job.engine_pid} on {job.engine_host}."
        )
    return job


def training_job_summary(record: TrainingJobRecord, job: TuningJobRecord) -> Document:
    """A ``HyperParameterTrainingJobSummary``."""
    objective = None
    if record.final_objective is not None:
        objective = {
            "Type": job.objective_type,
            "MetricName": job.objective_metric,
            "Value": record.final_objective,
        }
    return _compact(
        {
            "TrainingJobName": record.name,
            "TrainingJobArn": record.arn,
            "TuningJobName": job.name,
            "CreationTime": _time(record.created),
            "TrainingStartTime": _time(record.start_time),
            "TrainingEndTime": _time(record.end_time),
            "TrainingJobStatus": _public_status(record.status),
            "TunedHyperParameters": record.hyperparameters,
            "FailureReason": record.failure_reason,
            "FinalHyperParameterTuningJobObjectiveMetric": objective,
            "ObjectiveStatus": record.objective_status,
        }
    )


def _public_status(status: str) -> str:
    return "InProgress" if status == "Stopping" else status


def _counter_documents(counters: Counters) -> Document:
    """``TrainingJobStatusCounters`` and ``ObjectiveStatusCounters`` of a tuning job."""
    return {
        "TrainingJobStatusCounters": {
            "Completed": counters.completed,
            "InProgress": counters.in_progress,
            "RetryableError": counters.retryable_failed,
            "NonRetryableError": counters.failed - counters.retryable_failed,
            "Stopped": counters.stopped,
        },
        "ObjectiveStatusCounters": {
            "Succeeded": counters.objective_succeeded,
            "Pending": counters.objective_pending,
            "Failed": counters.objective_failed,
        },
    }


def describe_tuning_job(store: Store, name: str) -> Document:
    """The ``DescribeHyperParameterTuningJob`` response."""
    with store.read() as conn:
        job = store.get_tuning_job(name, conn)
        counters = store.counters(name, conn)
        best = store.best_training_job(name, job.objective_type, conn)
    request = job.request
    not_improving = 0
    if best is not None and best.end_time is not None:
        not_improving = store.finished_after(name, best.end_time)
    document: Document = {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": job.arn,
        "HyperParameterTuningJobConfig": request["HyperParameterTuningJobConfig"],
        "TrainingJobDefinition": request.get("TrainingJobDefinition"),
        "HyperParameterTuningJobStatus": job.status,
        "CreationTime": _time(job.created),
        "HyperParameterTuningEndTime": _time(job.end_time),
        "LastModifiedTime": _time(job.last_modified),
        **_counter_documents(counters),
        "BestTrainingJob": None if best is None else training_job_summary(best, job),
        "OverallBestTrainingJob": _overall_best(store, job, best),
        "WarmStartConfig": request.get("WarmStartConfig"),
        "FailureReason": job.failure_reason,
        "TuningJobCompletionDetails": _compact(
            {
                "NumberOfTrainingJobsObjectiveNotImproving": not_improving,
                "ConvergenceDetectedTime": _time(job.convergence_time),
            }
        ),
        "ConsumedResources": {
            "RuntimeInSeconds": int(store.consumed_seconds(name, job.end_time or time.time()))
        },
    }
    return _compact(document)


def _overall_best(
    store: Store, job: TuningJobRecord, best: TrainingJobRecord | None
) -> Document | None:
    """Best across the job and its warm-start ancestors (only for warm-started jobs)."""
    if not job.request.get("WarmStartConfig"):
        return None
    found = overall_best(store, job, best)
    return None if found is None else training_job_summary(found[1], found[0])


def list_tuning_jobs(
    store: Store,
    *,
    max_results: int = 100,
    next_token: str | None = None,
    sort_by: str = "CreationTime",
    sort_order: str = "Descending",
    name_contains: str | None = None,
    status_equals: str | None = None,
    creation_time_after: datetime | None = None,
    creation_time_before: datetime | None = None,
    last_modified_time_after: datetime | None = None,
    last_modified_time_before: datetime | None = None,
) -> Document:
    """The ``ListHyperParameterTuningJobs`` response."""
    _check_listing(
        sort_by,
        ("Name", "Status", "CreationTime"),
        sort_order,
        status_equals,
        TUNING_JOB_STATUSES,
        max_results,
    )
    offset = _offset(next_token)
    jobs = store.list_tuning_jobs(
        _listing(
            offset,
            max_results,
            sort_by,
            sort_order,
            name_contains,
            status_equals,
            creation_time_after,
            creation_time_before,
            last_modified_time_after,
            last_modified_time_before,
        )
    )
    summaries = []
    for job in jobs[:max_results]:
        counters = store.counters(job.name)
        config = job.request["HyperParameterTuningJobConfig"]
        summaries.append(
            _compact(
                {
                    "HyperParameterTuningJobName": job.name,
                    "HyperParameterTuningJobArn": job.arn,
                    "HyperParameterTuningJobStatus": job.status,
                    "Strategy": job.strategy,
                    "CreationTime": _time(job.created),
                    "HyperParameterTuningEndTime": _time(job.end_time),
                    "LastModifiedTime": _time(job.last_modified),
                    **_counter_documents(counters),
                    "ResourceLimits": config.get("ResourceLimits"),
                }
            )
        )
    return _compact(
        {
            "HyperParameterTuningJobSummaries": summaries,
            "NextToken": str(offset + max_results) if len(jobs) > max_results else None,
        }
    )


def list_training_jobs_for_tuning_job(
    store: Store,
    name: str,
    *,
    max_results: int = 100,
    next_token: str | None = None,
    status_equals: str | None = None,
    sort_by: str = "Name",
    sort_order: str = "Ascending",
) -> Document:
    """The ``ListTrainingJobsForHyperParameterTuningJob`` response."""
    _check_listing(
        sort_by,
        ("Name", "CreationTime", "Status", "FinalObjectiveMetricValue"),
        sort_order,
        status_equals,
        TRAINING_JOB_STATUSES,
        max_results,
    )
    job = store.get_tuning_job(name)
    offset = _offset(next_token)
    descending = sort_order == "Descending"
    if sort_by == "FinalObjectiveMetricValue" and job.objective_type == "Minimize":
        # SageMaker sorts "best first" when descending; for Minimize the best is smallest.
        descending = not descending
    records = store.training_jobs(
        name,
        status=status_equals,
        sort_by=sort_by,  # type: ignore[arg-type]
        descending=descending,
        offset=offset,
        limit=max_results + 1,
    )
    return _compact(
        {
            "TrainingJobSummaries": [training_job_summary(r, job) for r in records[:max_results]],
            "NextToken": str(offset + max_results) if len(records) > max_results else None,
        }
    )


def describe_training_job(store: Store, name: str) -> Document:
    """The ``DescribeTrainingJob`` response of a training job of a tuning job."""
    record = store.get_training_job(name)
    job = store.get_tuning_job(record.tuning_job) if record.tuning_job else None
    definition = record.definition or (job.request["TrainingJobDefinition"] if job else {})
    static = dict(
        definition.get("StaticHyperParameters") or definition.get("HyperParameters") or {}
    )
    hyperparameters = {**static, **record.hyperparameters}
    if job is not None:
        hyperparameters["_tuning_objective_metric"] = job.objective_metric
    final_metrics = [
        {"MetricName": p.metric, "Value": p.value, "Timestamp": _time(p.timestamp)}
        for p in store.final_metrics(name)
    ]
    training_seconds = None
    if record.start_time is not None and record.end_time is not None:
        training_seconds = max(1, round(record.end_time - record.start_time))
    algorithm = dict(definition.get("AlgorithmSpecification") or {})
    return _compact(
        {
            "TrainingJobName": record.name,
            "TrainingJobArn": record.arn,
            "TuningJobArn": job.arn if job else None,
            "ModelArtifacts": {"S3ModelArtifacts": record.model_artifacts or ""},
            "TrainingJobStatus": _public_status(record.status),
            "SecondaryStatus": record.secondary_status,
            "FailureReason": record.failure_reason,
            "HyperParameters": hyperparameters,
            "AlgorithmSpecification": algorithm,
            "RoleArn": definition.get("RoleArn"),
            "InputDataConfig": definition.get("InputDataConfig"),
            "OutputDataConfig": definition.get("OutputDataConfig"),
            "ResourceConfig": definition.get("ResourceConfig")
            or {"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": definition.get("StoppingCondition") or {},
            "CreationTime": _time(record.created),
            "TrainingStartTime": _time(record.start_time),
            "TrainingEndTime": _time(record.end_time),
            "LastModifiedTime": _time(record.end_time or record.start_time or record.created),
            "SecondaryStatusTransitions": [
                _compact(
                    {**t, "StartTime": _time(t["StartTime"]), "EndTime": _time(t.get("EndTime"))}
                )
                for t in record.transitions
            ],
            "FinalMetricDataList": final_metrics or None,
            "Environment": definition.get("Environment"),
            "RetryStrategy": definition.get("RetryStrategy"),
            "TrainingTimeInSeconds": training_seconds,
            "BillableTimeInSeconds": training_seconds,
        }
    )


def _listing(
    offset: int,
    max_results: int,
    sort_by: str,
    sort_order: str,
    name_contains: str | None,
    status: str | None,
    *times: datetime | None,
) -> Listing:
    """The store's listing for a List operation's arguments (one row more than a page, to know
    whether another page follows)."""
    created_after, created_before, modified_after, modified_before = map(_epoch, times)
    return Listing(
        name_contains=name_contains,
        status=status,
        created_after=created_after,
        created_before=created_before,
        modified_after=modified_after,
        modified_before=modified_before,
        sort_by=sort_by,  # type: ignore[arg-type]
        descending=sort_order == "Descending",
        offset=offset,
        limit=max_results + 1,
    )


def all_pages(fetch: Callable[[str | None], Document], key: str) -> list[Document]:
    """Every item of a paginated List operation: ``fetch(next_token)`` answers one page."""
    items: list[Document] = []
    token = None
    while True:
        page = fetch(token)
        items.extend(page[key])
        token = page.get("NextToken")
        if token is None:
            return items


def _check_listing(
    sort_by: str,
    sorts: tuple[str, ...],
    sort_order: str,
    status: str | None,
    statuses: tuple[str, ...],
    max_results: int,
) -> None:
    """The arguments every List operation shares."""
    _one_of("SortBy", sort_by, sorts)
    _one_of("SortOrder", sort_order, ("Ascending", "Descending"))
    if status is not None:
        _one_of("StatusEquals", status, statuses)
    _at_least("MaxResults", max_results, 1, 100)


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValidationException(
            f"1 validation error detected: Value '{str(value)[:100]}' at '{field}' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
        )


def _at_least(field: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: Member must have value between {low} and {high}"
        )


def _offset(next_token: str | None) -> int:
    if next_token is None:
        return 0
    if not (next_token.isascii() and next_token.isdigit() and len(next_token) <= 12):
        raise ValidationException(f"Value '{next_token[:100]}' at 'NextToken' is not a valid token")
    return int(next_token)


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


__all__ = [
    "all_pages",
    "create_training_job_record",
    "create_tuning_job_record",
    "describe_training_job",
    "describe_tuning_job",
    "list_training_jobs",
    "list_training_jobs_for_tuning_job",
    "list_tuning_jobs",
    "stop_training_job",
    "stop_tuning_job",
]
