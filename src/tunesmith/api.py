"""The Python API: what the command line does, as functions and a tuning job handle.

    import tunesmith
    job = tunesmith.create_tuning_job("tuning.yaml")
    job.wait()
    print(job.describe()["BestTrainingJob"])

Responses are the SageMaker API's documents, as boto3 returns them (``datetime`` times).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tunesmith import service
from tunesmith.launch import run_engine, spawn_engine
from tunesmith.model.errors import ResourceNotFound
from tunesmith.runner.backend import Backend
from tunesmith.store import TERMINAL_STATUSES, Store, default_home, store_url
from tunesmith.training import training_job_directory, tuning_job_directory
from tunesmith.warm_start import with_warm_start

if TYPE_CHECKING:  # pandas, and the engine, load when used: commands that only read start fast
    from tunesmith.job_analytics import TuningJobAnalytics

Source = str | os.PathLike[str] | Mapping[str, Any]
WAIT_POLL_SECONDS = 0.25
FOLLOW_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Workspace:
    """A home folder and its store (``--home`` / ``TUNESMITH_HOME``; ``--store`` /
    ``TUNESMITH_STORE``, a ``sqlite:///`` or ``postgresql://`` URL, default the home's SQLite
    file)."""

    home: Path
    store: Store

    @classmethod
    def open(
        cls, home: str | os.PathLike[str] | None = None, store: str | None = None
    ) -> Workspace:
        path = Path(home).expanduser().resolve() if home is not None else default_home().resolve()
        return _workspace(path, store or store_url(path))


@cache
def _workspace(home: Path, url: str) -> Workspace:
    return Workspace(home, Store(url))


def load_request(
    source: Source,
    *,
    name: str | None = None,
    warm_start_from: Sequence[str] | None = None,
    warm_start_type: str = "IdenticalDataAndAlgorithm",
) -> dict[str, Any]:
    """A validated ``CreateHyperParameterTuningJob`` request document; ``name`` replaces the
    document's job name, ``warm_start_from`` its ``WarmStartConfig``."""
    # The pydantic shapes load here, not with this module: reading commands do without them.
    from tunesmith.model import load_tuning_job_document, to_document

    request = to_document(load_tuning_job_document(source))
    if name is not None:
        request["HyperParameterTuningJobName"] = name
    if warm_start_from:
        request = with_warm_start(request, warm_start_from, warm_start_type)
    if name is not None or warm_start_from:
        request = to_document(load_tuning_job_document(request))
    return request


class TuningJob:
    """A handle on a tuning job in a workspace."""

    def __init__(self, name: str, workspace: Workspace, thread: threading.Thread | None = None):
        self.name = name
        self.workspace = workspace
        self._thread = thread

    def __repr__(self) -> str:
        return f"TuningJob({self.name!r}, home={str(self.workspace.home)!r})"

    def describe(self) -> dict[str, Any]:
        """The ``DescribeHyperParameterTuningJob`` response."""
        return service.describe_tuning_job(self.workspace.store, self.name)

    @property
    def status(self) -> str:
        return self.workspace.store.get_tuning_job(self.name).status

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Block until the tuning job ends; returns its final description."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout)
        while self.status not in TERMINAL_STATUSES:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"tuning job {self.name} still running after {timeout} s")
            time.sleep(WAIT_POLL_SECONDS)
        return self.describe()

    def stop(self) -> None:
        """Stop the tuning job: running training jobs are stopped, it ends ``Stopped``."""
        request_stop(self.workspace, self.name)

    def training_jobs(self, **options: Any) -> list[dict[str, Any]]:
        """Every training job summary (``ListTrainingJobsForHyperParameterTuningJob``)."""
        return service.all_pages(
            lambda token: service.list_training_jobs_for_tuning_job(
                self.workspace.store, self.name, next_token=token, **options
            ),
            "TrainingJobSummaries",
        )

    def best_training_job(self) -> dict[str, Any] | None:
        return self.describe().get("BestTrainingJob")


def create_tuning_job(
    document: Source,
    *,
    name: str | None = None,
    home: str | os.PathLike[str] | None = None,
    store: str | None = None,
    detach: bool = True,
    warm_start_from: Sequence[str] | None = None,
    warm_start_type: str = "IdenticalDataAndAlgorithm",
    backend: str | None = None,
    ray_address: str | None = None,
) -> TuningJob:
    """Create a tuning job from a ``CreateHyperParameterTuningJob`` document (a JSON or YAML
    file, or a mapping) and start running it.

    With ``detach`` (the default) the job runs in a process of its own and survives this one;
    otherwise it runs in a thread of this process. ``warm_start_from`` names up to five parent
    tuning jobs to start from (``IdenticalDataAndAlgorithm`` or ``TransferLearning``).
    ``backend`` (``local`` or ``ray``, with ``ray_address``) runs its training jobs.
    """
    workspace = Workspace.open(home, store)
    chosen = Backend.choose(backend, ray_address)
    request = load_request(
        document, name=name, warm_start_from=warm_start_from, warm_start_type=warm_start_type
    )
    service.create_tuning_job_record(workspace.store, request)
    job_name = request["HyperParameterTuningJobName"]
    if detach:
        spawn_engine(job_name, workspace.home, workspace.store.url, chosen)
        return TuningJob(job_name, workspace)
    thread = threading.Thread(
        target=run_engine,
        args=(workspace.store, job_name, workspace.home),
        kwargs={"backend": chosen},
        name=f"tunesmith-engine-{job_name}",
        daemon=True,
    )
    thread.start()
    return TuningJob(job_name, workspace, thread)


class TrainingJob:
    """A handle on a single training job (``CreateTrainingJob``) in a workspace."""

    def __init__(self, name: str, workspace: Workspace, thread: threading.Thread | None = None):
        self.name = name
        self.workspace = workspace
        self._thread = thread

    def __repr__(self) -> str:
        return f"TrainingJob({self.name!r}, home={str(self.workspace.home)!r})"

    def describe(self) -> dict[str, Any]:
        """The ``DescribeTrainingJob`` response."""
        return service.describe_training_job(self.workspace.store, self.name)

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Block until the training job ends; returns its final description."""
        if self._thread is not None:
            self._thread.join(timeout)
        from tunesmith.training_job import wait_for_training_job

        wait_for_training_job(self.workspace.store, self.name, timeout)
        return self.describe()

    def stop(self) -> None:
        service.stop_training_job(self.workspace.store, self.name)

    @property
    def log_path(self) -> Path:
        """Its output, both streams in the order they were written."""
        record = self.workspace.store.get_training_job(self.name)
        return training_job_directory(self.workspace.home, self.name, record.tuning_job) / (
            "logs/training.log"
        )

    def output(self, follow: bool = False) -> Iterator[bytes]:
        """Its output so far, in chunks; with ``follow``, then what it writes next, until it has
        ended and every byte it wrote has been read (across a rotation of its log)."""
        path = self.log_path
        while not path.exists():
            if not follow:
                raise ResourceNotFound(f"Training job '{self.name}' has no output yet")
            if self._ended():
                return
            time.sleep(FOLLOW_POLL_SECONDS)
        source = open(path, "rb")  # not a with block: reopened when the log rotates
        ended = False
        try:
            while True:
                if chunk := source.read(1 << 16):
                    yield chunk
                elif follow and _replaced(path, source):
                    source.close()
                    source = open(path, "rb")
                elif not follow or ended:
                    return
                else:
                    # Its log is complete before its end is recorded: one more read after the
                    # end is seen drains it.
                    ended = self._ended()
                    if not ended:
                        time.sleep(FOLLOW_POLL_SECONDS)
        finally:
            source.close()

    def _ended(self) -> bool:
        return self.workspace.store.get_training_job(self.name).status in TERMINAL_STATUSES


def _replaced(path: Path, source: BinaryIO) -> bool:
    """Whether ``path`` now names a newer file than the open ``source`` (a rotated log)."""
    try:
        return os.stat(path).st_ino != os.fstat(source.fileno()).st_ino
    except FileNotFoundError:  # between the rotation and the new file
        return False


def create_training_job(
    document: Source,
    *,
    name: str | None = None,
    home: str | os.PathLike[str] | None = None,
    store: str | None = None,
    wait: bool = True,
) -> TrainingJob:
    """Run one training job from a ``CreateTrainingJob`` document (a JSON or YAML file, or a
    mapping), in a thread of this process; with ``wait``, return when it has ended."""
    from tunesmith.model import load_training_job_document, to_document

    workspace = Workspace.open(home, store)
    request = to_document(load_training_job_document(document))
    if name is not None:
        request["TrainingJobName"] = name
        request = to_document(load_training_job_document(request))
    service.create_training_job_record(workspace.store, request)
    job_name = request["TrainingJobName"]
    from tunesmith.training_job import run_training_job

    thread = threading.Thread(
        target=run_training_job,
        args=(workspace.store, job_name, workspace.home),
        name=f"tunesmith-training-{job_name}",
        daemon=True,
    )
    thread.start()
    job = TrainingJob(job_name, workspace, thread)
    if wait:
        job.wait()
    return job


def resume_tuning_job(
    name: str,
    *,
    home: str | os.PathLike[str] | None = None,
    store: str | None = None,
    detach: bool = True,
    backend: str | None = None,
    ray_address: str | None = None,
) -> TuningJob:
    """Continue a tuning job whose engine stopped (a crash, a reboot); without a ``backend``
    (argument or environment), on the one its last engine ran on."""
    workspace = Workspace.open(home, store)
    chosen = Backend.given(backend, ray_address)
    service.check_resumable(workspace.store, name)
    if detach:
        spawn_engine(name, workspace.home, workspace.store.url, chosen)
        return TuningJob(name, workspace)
    thread = threading.Thread(
        target=run_engine,
        args=(workspace.store, name, workspace.home),
        kwargs={"backend": chosen},
        daemon=True,
    )
    thread.start()
    return TuningJob(name, workspace, thread)


def tuning_job(
    name: str, *, home: str | os.PathLike[str] | None = None, store: str | None = None
) -> TuningJob:
    """A handle on an existing tuning job."""
    workspace = Workspace.open(home, store)
    workspace.store.get_tuning_job(name)
    return TuningJob(name, workspace)


def analytics(
    name: str, *, home: str | os.PathLike[str] | None = None, store: str | None = None
) -> TuningJobAnalytics:
    """A tuning job's results as DataFrames (``.dataframe()``, ``.metrics()``)."""
    from tunesmith.job_analytics import TuningJobAnalytics

    return TuningJobAnalytics(Workspace.open(home, store).store, name)


def describe_tuning_job(
    name: str, *, home: str | os.PathLike[str] | None = None, store: str | None = None
) -> dict[str, Any]:
    return service.describe_tuning_job(Workspace.open(home, store).store, name)


def list_tuning_jobs(
    *, home: str | os.PathLike[str] | None = None, store: str | None = None, **filters: Any
) -> list[dict[str, Any]]:
    """Every tuning job summary (``ListHyperParameterTuningJobs``), newest first."""
    opened = Workspace.open(home, store).store
    return service.all_pages(
        lambda token: service.list_tuning_jobs(opened, next_token=token, **filters),
        "HyperParameterTuningJobSummaries",
    )


def list_training_jobs_for_tuning_job(
    name: str,
    *,
    home: str | os.PathLike[str] | None = None,
    store: str | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    return tuning_job(name, home=home, store=store).training_jobs(**options)


def stop_tuning_job(
    name: str, *, home: str | os.PathLike[str] | None = None, store: str | None = None
) -> None:
    request_stop(Workspace.open(home, store), name)


def delete_tuning_job(
    name: str, *, home: str | os.PathLike[str] | None = None, store: str | None = None
) -> int:
    """Delete a tuning job that has ended, its training jobs and their folder under the home
    (logs, and models packed there; a model written to an ``OutputDataConfig`` path elsewhere
    stays); returns how many training jobs went with it."""
    return remove_tuning_job(Workspace.open(home, store), name)


def remove_tuning_job(workspace: Workspace, name: str) -> int:
    """:func:`delete_tuning_job` in a workspace at hand."""
    deleted = service.delete_tuning_job(workspace.store, name)
    # Files after records: a failure then leaves files no record points to, never the reverse.
    shutil.rmtree(tuning_job_directory(workspace.home, name), ignore_errors=True)
    return deleted


def request_stop(workspace: Workspace, name: str, backend: Backend | None = None) -> int | None:
    """Ask for the tuning job's stop. Its training jobs outlive their engine, so when no engine
    runs the job any more, one is started to stop them and end the job: its pid, else None."""
    service.stop_tuning_job(workspace.store, name)
    if not service.engine_lost(workspace.store.get_tuning_job(name)):
        return None
    return spawn_engine(name, workspace.home, workspace.store.url, backend)


def describe_training_job(
    name: str, *, home: str | os.PathLike[str] | None = None, store: str | None = None
) -> dict[str, Any]:
    return service.describe_training_job(Workspace.open(home, store).store, name)
