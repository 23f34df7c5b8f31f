"""What the engine asks of a backend that runs training jobs, and what it hears back.

A runner starts training jobs from a :class:`TrainingJobSpec`, follows each one's output and
reports through a *sink* (a callable given at construction, called from the runner's threads)
with :data:`RunnerEvent` values. The engine never touches processes itself.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tunesmith.runner.resources import ResourceRequest

SHARES_MACHINE = ResourceRequest(0, 0)

TrainingJobEndStatus = Literal["Completed", "Failed", "Stopped"]


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    regex: str


@dataclass(frozen=True)
class TrainingJobSpec:
    """Everything needed to run one training job under the training contract (design §4)."""

    name: str
    directory: Path
    """The job's own folder, standing in for ``/opt/ml``."""
    source_dir: Path
    entry_point: str
    """The program, relative to ``source_dir`` (``sagemaker_program``)."""
    hyperparameters: Mapping[str, str]
    """Every hyperparameter as a string (``sagemaker_*``, ``_tuning_objective_metric`` too)."""
    channels: Mapping[str, Path] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    metric_definitions: Sequence[MetricDefinition] = ()
    output_path: Path | None = None
    """Folder that receives ``model.tar.gz`` (default: ``<directory>/output``)."""
    max_runtime_seconds: float | None = None
    stop_grace_seconds: float = 10.0
    interpreter: str | None = None
    """Interpreter for ``.py`` programs (default: the one running tunesmith)."""
    instance_type: str = "local"
    instance_count: int = 1
    cpus: int = 1
    """CPUs the script is told it has (``SM_NUM_CPUS``)."""
    gpus: tuple[int, ...] = ()
    """GPU ids assigned to the job; a runner assigns ``resources.gpus`` of them when empty."""
    resources: ResourceRequest = SHARES_MACHINE
    """What the job holds while it runs (default: nothing in particular)."""
    input_mode: str = "File"
    tuning_job_name: str | None = None
    attempt: int = 1
    """Which run of the training job this is (``RetryStrategy`` runs it again after an
    infrastructure failure)."""
    command: tuple[str, ...] = ()
    """CreateTrainingJob's ``ContainerEntrypoint`` + ``ContainerArguments``: when given, this
    runs instead of the entry point, without hyperparameter arguments (they stay in
    ``hyperparameters.json`` and ``SM_HPS``), as a container with an overridden entrypoint."""


@dataclass(frozen=True)
class TrainingJobStarted:
    name: str
    pid: int
    time: float


@dataclass(frozen=True)
class MetricValue:
    metric: str
    value: float
    timestamp: float


@dataclass(frozen=True)
class MetricsObserved:
    """Metric values read from one burst of output lines, in order."""

    name: str
    values: tuple[MetricValue, ...]
    log_offset: int | None = None
    """Where the output not yet read starts (the end of the lines these values came from): a
    runner that adopts the job later continues from there, so no value is read twice."""


@dataclass(frozen=True)
class TrainingJobEnded:
    name: str
    status: TrainingJobEndStatus
    secondary_status: str
    """``Completed``, ``Failed``, ``Stopped`` or ``MaxRuntimeExceeded`` (SageMaker's words)."""
    time: float
    exit_code: int | None = None
    failure_reason: str | None = None
    model_artifacts: str | None = None
    notes: tuple[str, ...] = ()
    """Things the user should know, e.g. a metric regex that matched text that is no number."""
    retryable: bool = False
    """A ``Failed`` end caused by the infrastructure (killed by a signal, out of memory, the
    process lost), not by the script: ``RetryStrategy`` may run the job again."""
    lost: bool = False
    """The process ended while no runner watched it and left no exit status (the machine lost
    it): nothing is known of how it ended."""


RunnerEvent = TrainingJobStarted | MetricsObserved | TrainingJobEnded
EventSink = Callable[[RunnerEvent], None]


class Runner(ABC):
    """Starts, follows and stops training jobs; reports to the sink it was given."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink

    @abstractmethod
    def start(self, spec: TrainingJobSpec) -> None:
        """Start a training job and return at once; a ``TrainingJobStarted`` event follows.

        A job that cannot start (missing program, say) is reported by a ``TrainingJobEnded``
        event with status ``Failed``, not by an exception.
        """

    @abstractmethod
    def stop(self, name: str, reason: str) -> None:
        """Stop a running training job gracefully (SIGTERM, grace period, SIGKILL to its whole
        process group); its ``TrainingJobEnded`` event has status ``Stopped`` and ``reason``
        as failure reason. Stopping a job that already ended does nothing."""

    def slots(self, request: ResourceRequest) -> int | None:
        """How many training jobs asking for ``request`` this backend runs at once (``None``:
        as many as asked); a request it can never satisfy is a ``ValidationException``."""
        return None

    def adopt(self, spec: TrainingJobSpec, log_offset: int | None) -> None:
        """Take over a training job that an earlier runner (of an engine that died) started as
        attempt ``spec.attempt``: follow its output from ``log_offset`` and report its end, like a
        started job. A runner that cannot reach such a process reports the job ``Failed``
        (retryable), which is what this default does."""
        self.sink(
            TrainingJobEnded(
                spec.name, "Failed", "Failed", time.time(), retryable=True,
                failure_reason="InternalServerError: the training job's process was lost with "
                "the engine that ran it",
            )
        )

    @abstractmethod
    def running(self) -> list[str]:
        """Names of the training jobs started and not yet reported ended."""

    @abstractmethod
    def close(self) -> None:
        """Stop every running job and wait until each one's end has been reported."""
