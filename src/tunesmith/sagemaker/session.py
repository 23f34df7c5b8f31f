"""Where SDK calls go: a tunesmith home in this process (the default), or a tunesmith server.

Every SDK class talks to a ``sagemaker_client`` with boto3's method and argument names. By
default that is an :class:`EmbeddedClient` answering from the tunesmith home (``$TUNESMITH_HOME``
or ``./.tunesmith``) through :mod:`tunesmith.service` and :mod:`tunesmith.api`; with
``Session(endpoint_url=...)`` it is a boto3 ``sagemaker`` client talking to ``tunesmith serve``.
Either way the same code builds the same request documents.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunesmith import api, service
from tunesmith.sagemaker.errors import UnexpectedStatusException, reject_unsupported
from tunesmith.store import TERMINAL_STATUSES

DEFAULT_REGION = "us-east-1"
LOCAL_ROLE = "arn:aws:iam::000000000000:role/tunesmith-local"
EMBEDDED_POLL_SECONDS = 0.25
REMOTE_POLL_SECONDS = 2.0


def get_execution_role(sagemaker_session: Session | None = None) -> str:
    """A role ARN for estimators: jobs run as the local user, so the role is only recorded."""
    return LOCAL_ROLE


class EmbeddedClient:
    """The SageMaker operations the SDK uses, answered from a tunesmith home in this process.

    ``detach`` (the default) runs each tuning job's engine in a process of its own, so a job
    started with ``fit(wait=False)`` keeps running after the notebook exits, as on SageMaker.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None, *, detach: bool = True) -> None:
        self.workspace = api.Workspace.open(home)
        self.detach = detach

    def create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, Any]:
        job = api.create_tuning_job(request, home=self.workspace.home, detach=self.detach)
        return {"HyperParameterTuningJobArn": job.describe()["HyperParameterTuningJobArn"]}

    def describe_hyper_parameter_tuning_job(
        self, *, HyperParameterTuningJobName: str
    ) -> dict[str, Any]:
        return service.describe_tuning_job(self.workspace.store, HyperParameterTuningJobName)

    def stop_hyper_parameter_tuning_job(
        self, *, HyperParameterTuningJobName: str
    ) -> dict[str, Any]:
        service.stop_tuning_job(self.workspace.store, HyperParameterTuningJobName)
        return {}

    def list_training_jobs_for_hyper_parameter_tuning_job(
        self,
        *,
        HyperParameterTuningJobName: str,
        MaxResults: int = 100,
        NextToken: str | None = None,
        StatusEquals: str | None = None,
        SortBy: str = "Name",
        SortOrder: str = "Ascending",
    ) -> dict[str, Any]:
        return service.list_training_jobs_for_tuning_job(
            self.workspace.store,
            HyperParameterTuningJobName,
            max_results=MaxResults,
            next_token=NextToken,
            status_equals=StatusEquals,
            sort_by=SortBy,
            sort_order=SortOrder,
        )

    def create_training_job(self, **request: Any) -> dict[str, Any]:
        api.create_training_job(request, home=self.workspace.home, wait=False)
        description = service.describe_training_job(
            self.workspace.store, request["TrainingJobName"]
        )
        return {"TrainingJobArn": description["TrainingJobArn"]}

    def describe_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        return service.describe_training_job(self.workspace.store, TrainingJobName)

    def stop_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        service.stop_training_job(self.workspace.store, TrainingJobName)
        return {}


class Session:
    """Where jobs are created and read: ``Session()`` uses the tunesmith home (``home=`` or
    ``$TUNESMITH_HOME``); ``Session(endpoint_url="http://127.0.0.1:8080")`` a tunesmith
    server, through boto3. ``boto_session`` and ``sagemaker_client`` are used as in the
    SageMaker SDK when given."""

    def __init__(
        self,
        boto_session: Any = None,
        sagemaker_client: Any = None,
        sagemaker_runtime_client: Any = None,
        sagemaker_featurestore_runtime_client: Any = None,
        default_bucket: str | os.PathLike[str] | None = None,
        sagemaker_config: dict[str, Any] | None = None,
        settings: Any = None,
        sagemaker_metrics_client: Any = None,
        default_bucket_prefix: str | None = None,
        *,
        endpoint_url: str | None = None,
        home: str | os.PathLike[str] | None = None,
        region_name: str | None = None,
        detach: bool = True,
    ) -> None:
        reject_unsupported(
            "Session",
            sagemaker_runtime_client=sagemaker_runtime_client,
            sagemaker_featurestore_runtime_client=sagemaker_featurestore_runtime_client,
            sagemaker_config=sagemaker_config,
            settings=settings,
            sagemaker_metrics_client=sagemaker_metrics_client,
        )
        if endpoint_url is not None and home is not None:
            raise ValueError("Session takes endpoint_url (a server) or home (embedded), not both")
        self.boto_session = boto_session
        self.boto_region_name = (
            region_name
            or getattr(boto_session, "region_name", None)
            or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULT_REGION
        )
        self.endpoint_url = endpoint_url
        self._embedded: EmbeddedClient | None = None
        if sagemaker_client is not None:
            self.sagemaker_client = sagemaker_client
        elif endpoint_url is not None:
            self.sagemaker_client = self._boto3_client(boto_session, endpoint_url)
        else:
            self._embedded = EmbeddedClient(home, detach=detach)
            self.sagemaker_client = self._embedded
        self._default_bucket = None if default_bucket is None else os.fspath(default_bucket)
        self.default_bucket_prefix = default_bucket_prefix

    def _boto3_client(self, boto_session: Any, endpoint_url: str) -> Any:
        import boto3

        session = boto_session or boto3.Session(region_name=self.boto_region_name)
        return session.client(
            "sagemaker", endpoint_url=endpoint_url, region_name=self.boto_region_name
        )

    def __repr__(self) -> str:
        where = self.endpoint_url or (self.home and f"home={str(self.home)!r}") or "client"
        return f"Session({where})"

    @property
    def home(self) -> Path | None:
        """The tunesmith home of an embedded session (``None`` for a server)."""
        return None if self._embedded is None else self._embedded.workspace.home

    def default_bucket(self) -> str:
        """The local folder standing in for the SDK's default S3 bucket: estimators write
        their outputs under it when no ``output_path`` is given."""
        if self._default_bucket is not None:
            folder = Path(self._default_bucket).expanduser()
        elif self.home is not None:
            folder = self.home / "bucket"
        else:
            folder = Path("bucket")
        if self.default_bucket_prefix:
            folder = folder / self.default_bucket_prefix
        return str(folder.resolve())

    # -- tuning jobs ---------------------------------------------------------------------

    def create_tuning_job(self, request: dict[str, Any]) -> str:
        """Create a tuning job from a ``CreateHyperParameterTuningJob`` request; its ARN."""
        response = self.sagemaker_client.create_hyper_parameter_tuning_job(**request)
        return response["HyperParameterTuningJobArn"]

    def describe_tuning_job(self, job_name: str) -> dict[str, Any]:
        return self.sagemaker_client.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=job_name
        )

    def stop_tuning_job(self, name: str) -> None:
        self.sagemaker_client.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)

    def training_job_summaries(self, tuning_job_name: str) -> list[dict[str, Any]]:
        """Every ``HyperParameterTrainingJobSummary`` of a tuning job, all pages."""
        summaries: list[dict[str, Any]] = []
        token: dict[str, str] = {}
        while True:
            page = self.sagemaker_client.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=tuning_job_name, MaxResults=100, **token
            )
            summaries.extend(page["TrainingJobSummaries"])
            if not page.get("NextToken") or not page["TrainingJobSummaries"]:
                return summaries
            token = {"NextToken": page["NextToken"]}

    def wait_for_tuning_job(self, job: str, poll: float | None = None) -> dict[str, Any]:
        """Block until the tuning job ends; raise if it did not complete or stop."""
        description = self._wait(
            lambda: self.describe_tuning_job(job), "HyperParameterTuningJobStatus", poll
        )
        _check_status(
            "HyperParameterTuning", job, description, description["HyperParameterTuningJobStatus"]
        )
        return description

    # -- training jobs -------------------------------------------------------------------

    def create_training_job(self, request: dict[str, Any]) -> str:
        """Create (and start) one training job from a ``CreateTrainingJob`` request."""
        return self.sagemaker_client.create_training_job(**request)["TrainingJobArn"]

    def describe_training_job(self, job_name: str) -> dict[str, Any]:
        return self.sagemaker_client.describe_training_job(TrainingJobName=job_name)

    def stop_training_job(self, job_name: str) -> None:
        self.sagemaker_client.stop_training_job(TrainingJobName=job_name)

    def wait_for_job(
        self, job: str, poll: float | None = None, *, logs: bool = False
    ) -> dict[str, Any]:
        """Block until the training job ends, printing its output as it comes when ``logs``
        (embedded sessions: a server's logs are not reachable through the API)."""
        path = self.training_log(job) if logs else None
        follower = None if path is None else _LogFollower(path)

        def describe() -> dict[str, Any]:
            if follower is not None:
                follower.print_new()
            return self.describe_training_job(job)

        description = self._wait(describe, "TrainingJobStatus", poll)
        if follower is not None:
            follower.print_new()
        _check_status("Training", job, description, description["TrainingJobStatus"])
        return description

    def training_log(self, training_job_name: str) -> Path | None:
        """The file holding a training job's output (embedded sessions only)."""
        if self._embedded is None:
            return None
        return api.TrainingJob(training_job_name, self._embedded.workspace).log_path

    def metric_series(self, training_job_name: str) -> list[tuple[float, str, float]] | None:
        """Every value of every metric a training job printed, as ``(epoch seconds, metric,
        value)``; ``None`` for a server session (the API gives final values only)."""
        if self._embedded is None:
            return None
        points = self._embedded.workspace.store.metric_series(training_job_name)
        return [(p.timestamp, p.metric, p.value) for p in points]

    # -- helpers -------------------------------------------------------------------------

    def _wait(
        self, describe: Callable[[], dict[str, Any]], status_field: str, poll: float | None
    ) -> dict[str, Any]:
        interval = (
            poll
            if poll is not None
            else (EMBEDDED_POLL_SECONDS if self._embedded is not None else REMOTE_POLL_SECONDS)
        )
        while True:
            description = describe()
            if description[status_field] in TERMINAL_STATUSES:
                return description
            time.sleep(interval)


class _LogFollower:
    """Prints the complete lines appended to a training job's output file since last time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.pending = b""

    def print_new(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as source:
            source.seek(self.offset)
            chunk = source.read()
        self.offset += len(chunk)
        *lines, self.pending = (self.pending + chunk).split(b"\n")
        for line in lines:
            print(line.decode(errors="replace"), flush=True)


def _check_status(kind: str, job: str, description: dict[str, Any], status: str) -> None:
    if status in ("Completed", "Stopped"):
        return
    reason = description.get("FailureReason", "(No reason provided)")
    raise UnexpectedStatusException(
        f"Error for {kind} job {job}: {status}. Reason: {reason}",
        allowed_statuses=["Completed", "Stopped"],
        actual_status=status,
    )
