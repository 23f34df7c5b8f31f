"""Training jobs on a Ray cluster (``pip install 'tunesmith[ray]'``; tunesmith installed on every
node).

Each training job runs in a Ray actor, placed by Ray where the job's resources are free: its
``ResourceRequest`` becomes the actor's ``num_cpus``/``num_gpus`` (a ``local`` request counts as
one CPU, so the cluster's CPUs bound how many run at once). An actor whose job ended runs the
engine's next job of the same shape, as Ray Tune reuses its actors; the engine's actors end with
the engine's runner. On its node the actor runs the
script under the same training contract with a :class:`~tunesmith.runner.local.LocalRunner`, in a
folder of the node's own temporary space, and ships back what happened as it happens: the output
lines (metric values are read from them here, and they go to the job's log here), the start and
the end, and at the end the packed ``model.tar.gz`` (and ``output.tar.gz``), written to the output
path here. A stop reaches the node's runner, which signals the script's process group there;
if the actor's process dies instead (with the engine that owned it, say), the actor's group guard
(:mod:`tunesmith.runner.group_guard`) stops the script's process group there.

The source folder and the channels' data are read on the node from the paths the document
names: they must be on a file system every node sees at the same path (NFS, a cluster file
system, or one machine).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import ray

from tunesmith.metrics import MetricExtractor
from tunesmith.model.errors import ValidationException
from tunesmith.runner import group_guard
from tunesmith.runner.base import (
    SHARES_MACHINE,
    EventSink,
    MetricsObserved,
    Runner,
    RunnerEvent,
    TrainingJobEnded,
    TrainingJobSpec,
    TrainingJobStarted,
)
from tunesmith.runner.contract import TrainingJobPaths
from tunesmith.runner.local import LocalRunner
from tunesmith.runner.resources import LocalResources, ResourceRequest

log = logging.getLogger(__name__)

NAMESPACE = "tunesmith"
POLL_SECONDS = 5.0
"""How long one call for news waits on the node before answering with nothing."""
WAIT_SECONDS = 0.2
"""How long the follower waits on the calls in flight before taking in newly started jobs."""
ARTIFACTS = ("model.tar.gz", "output.tar.gz")


@dataclass
class _Ended:
    """The end of a training job, with its packed artifacts."""

    event: TrainingJobEnded
    artifacts: dict[str, bytes] = field(default_factory=dict)


class NodeTrainingJob:
    """On a cluster node: training jobs one after the other, each run by a local runner in a
    folder of its own."""

    def __init__(self) -> None:
        self._news: queue.Queue[RunnerEvent | tuple[str, list[str]] | _Ended] = queue.Queue()
        # Ray has already placed the job where its resources are: nothing more to hold here.
        self._runner = LocalRunner(
            self._on_event, LocalResources(cpus=1, gpus=()), line_sink=self._on_lines
        )
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._name: str | None = None
        self._grace = 0.0
        self._group: int | None = None
        self._guard = _start_guard()

    def start(self, spec: TrainingJobSpec) -> None:
        folder = Path(tempfile.mkdtemp(prefix=f"tunesmith-{spec.name}-"))
        node_spec = replace(
            spec,
            directory=folder,
            output_path=folder / "packed",
            metric_definitions=(),
            cpus=max(1, spec.resources.cpus),  # what the actor was given
            resources=SHARES_MACHINE,
            # The engine's interpreter, unless this node has it at the same path too.
            interpreter=spec.interpreter
            if spec.interpreter and Path(spec.interpreter).exists()
            else sys.executable,
        )
        with self._lock:
            self._folder, self._name = folder, spec.name
            self._grace = spec.stop_grace_seconds
            self._runner.start(node_spec)

    def stop(self, name: str, reason: str) -> None:
        with self._lock:
            if name == self._name:
                self._runner.stop(name, reason)

    def news(self, wait_seconds: float) -> list[Any]:
        """What happened since the last call; waits up to ``wait_seconds`` for anything."""
        try:
            items = [self._news.get(timeout=wait_seconds)]
        except queue.Empty:
            return []
        while True:
            try:
                items.append(self._news.get_nowait())
            except queue.Empty:
                return items

    def _tell_guard(self, line: str) -> None:
        # A guard that is gone leaves the job running, only unguarded.
        with contextlib.suppress(OSError):
            os.write(self._guard, f"{line}\n".encode())

    def _on_lines(self, _name: str, lines: list[str]) -> None:
        self._news.put(("lines", list(lines)))

    def _on_event(self, event: RunnerEvent) -> None:
        if isinstance(event, TrainingJobStarted):
            self._group = event.pid  # the script's process group, led by the started process
            self._tell_guard(f"+{event.pid} {self._grace}")
        if not isinstance(event, TrainingJobEnded):
            self._news.put(event)
            return
        if self._group is not None:
            self._tell_guard(f"-{self._group}")
            self._group = None
        assert self._folder is not None
        artifacts = {}
        for name in ARTIFACTS:
            path = self._folder / "packed" / name
            if event.model_artifacts is not None and path.exists():
                artifacts[name] = path.read_bytes()
        shutil.rmtree(self._folder, ignore_errors=True)
        self._news.put(_Ended(event, artifacts))


def _start_guard() -> int:
    """Start this actor's group guard (:mod:`tunesmith.runner.group_guard`); the writing end of
    its input, which no other process inherits, so it closes when this process dies."""
    read, write = os.pipe()
    try:
        subprocess.run(
            [sys.executable, "-S", group_guard.__file__],
            stdin=read,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            check=True,
        )
    finally:
        os.close(read)
    return write


_NodeActor = ray.remote(max_concurrency=4)(NodeTrainingJob)
_CONNECT_LOCK = threading.Lock()


def connect(address: str | None) -> None:
    """Join the Ray cluster at ``address`` (once per process; ``None``: Ray's own default)."""
    with _CONNECT_LOCK:
        if not ray.is_initialized():
            ray.init(
                address=address,
                namespace=NAMESPACE,
                log_to_driver=False,
                configure_logging=False,
            )


@dataclass
class _RemoteJob:
    spec: TrainingJobSpec
    actor: Any
    log_file: TextIO
    extractor: MetricExtractor
    stop_reason: str | None = None
    started: bool = False
    """The actor has started the script (its ``start`` call returned)."""


class RayRunner(Runner):
    """Runs each training job as a Ray actor on the cluster at ``address``.

    One thread follows every training job: it waits on the object references of all the calls
    in flight at once (each job's ``start`` and its pending ``news``), so a burst of ends is
    handled in one wake-up and the engine's host needs no thread per slot.
    """

    def __init__(self, sink: EventSink, address: str | None = None) -> None:
        super().__init__(sink)
        connect(address)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        """Notified when a call is put in flight or the runner closes."""
        self._jobs: dict[str, _RemoteJob] = {}
        self._calls: dict[Any, tuple[_RemoteJob, str]] = {}
        """The calls in flight: object reference -> (its job, ``start`` or ``news``)."""
        self._idle: dict[tuple[int, int], list[Any]] = {}
        """Actors whose training job ended, kept for the next job of the same shape: starting
        a Ray worker costs far more than reusing one."""
        self._closed = False
        self._follower = threading.Thread(target=self._follow, name="ray-runner", daemon=True)
        self._follower.start()

    def slots(self, request: ResourceRequest) -> int | None:
        # A job must fit on one node: one that fits nowhere would wait for a place forever.
        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        for kind, asked in (("CPU", max(1, request.cpus)), ("GPU", request.gpus)):
            largest = max((int(node.get(kind, 0)) for node in nodes), default=0)
            if asked > largest:
                have = f"at most {largest}" if largest else "none"
                raise ValidationException(
                    f"{request.field} asks for {asked} {kind}(s) per training job but the nodes "
                    f"of the Ray cluster have {have}"
                )
        total = ray.cluster_resources()
        cpus, gpus = int(total.get("CPU", 0)), int(total.get("GPU", 0))
        fits = [cpus // max(1, request.cpus)]
        if request.gpus:
            fits.append(gpus // request.gpus)
        return max(1, min(fits))

    def start(self, spec: TrainingJobSpec) -> None:
        paths = TrainingJobPaths(Path(spec.directory).absolute())
        with self._lock:
            if self._closed:
                raise RuntimeError("the runner is closed")
            if spec.name in self._jobs:
                raise ValueError(f"training job {spec.name} is already running")
            shape = _shape(spec)
            idle = self._idle.get(shape)
            actor = (
                idle.pop()
                if idle
                else _NodeActor.options(num_cpus=shape[0], num_gpus=shape[1]).remote()
            )
            paths.log.parent.mkdir(parents=True, exist_ok=True)
            job = _RemoteJob(
                spec, actor, open(paths.log, "a", encoding="utf-8"),
                MetricExtractor(spec.metric_definitions),
            )
            self._jobs[spec.name] = job
            # Both calls at once: the actor runs them side by side, its news waiting for the
            # start's first events, so a launch costs no round trip here.
            self._calls[actor.start.remote(spec)] = (job, "start")
            self._calls[actor.news.remote(POLL_SECONDS)] = (job, "news")
            self._changed.notify()

    def stop(self, name: str, reason: str) -> None:
        with self._lock:
            job = self._jobs.get(name)
            if job is None or job.stop_reason is not None:
                return
            job.stop_reason = reason
            # Before its start has returned the actor may be starting the script already: the
            # stop is sent right after that (killing the actor would leave the script running).
            if job.started:
                job.actor.stop.remote(name, reason)

    def running(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            names = list(self._jobs)
            self._changed.notify()
        for name in names:
            self.stop(name, "The runner was closed")
        self._follower.join()  # it ends once every job's end has been reported
        with self._lock:
            idle = [actor for actors in self._idle.values() for actor in actors]
            self._idle.clear()
        for actor in idle:
            ray.kill(actor, no_restart=True)

    # -- the training jobs, followed from here ---------------------------------------------------

    def _follow(self) -> None:
        while True:
            with self._changed:
                while not self._calls and not (self._closed and not self._jobs):
                    self._changed.wait()
                if not self._calls:
                    return
                refs = list(self._calls)
            # A job started meanwhile joins the next wait: its first news takes longer anyway.
            ready, _ = ray.wait(refs, num_returns=1, timeout=WAIT_SECONDS)
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in ready:
                with self._lock:
                    job, call = self._calls.pop(ref, (None, ""))
                    if job is None or self._jobs.get(job.spec.name) is not job:
                        continue  # a call of a job that has ended already (its actor failed)
                try:
                    result = ray.get(ref)
                    if call == "start":
                        self._started(job)
                    else:
                        self._news(job, result)
                except Exception as error:  # never leave a job unreported
                    self._failed(job, error)

    def _started(self, job: _RemoteJob) -> None:
        with self._lock:
            job.started = True
            if job.stop_reason is not None:  # asked while the actor was being placed
                job.actor.stop.remote(job.spec.name, job.stop_reason)

    def _news(self, job: _RemoteJob, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, tuple):
                self._lines(job, item[1])
            elif isinstance(item, _Ended):
                self._end(job, self._ended(job, item), reusable=True)
                return
            else:
                self._emit(item)
        with self._lock:
            self._calls[job.actor.news.remote(POLL_SECONDS)] = (job, "news")

    def _failed(self, job: _RemoteJob, error: Exception) -> None:
        spec = job.spec
        if job.stop_reason is not None and not job.started:  # its actor died unstarted
            ended = TrainingJobEnded(
                spec.name, "Stopped", "Stopped", time.time(), failure_reason=job.stop_reason
            )
        else:
            log.warning("training job %s: %s", spec.name, error)
            reason = (
                "InternalServerError: the Ray actor running the training job failed: "
                f"{type(error).__name__}: {error}"
            )
            ended = TrainingJobEnded(
                spec.name, "Failed", "Failed", time.time(), failure_reason=reason[:1024]
            )
        self._end(job, ended, reusable=False)

    def _end(self, job: _RemoteJob, ended: TrainingJobEnded, reusable: bool) -> None:
        job.log_file.close()
        with self._lock:
            del self._jobs[job.spec.name]
            for ref in [ref for ref, (owner, _) in self._calls.items() if owner is job]:
                del self._calls[ref]
            kept = reusable and not self._closed
            if kept:
                self._idle.setdefault(_shape(job.spec), []).append(job.actor)
        if not kept:
            ray.kill(job.actor, no_restart=True)
        self._emit(ended)

    def _lines(self, job: _RemoteJob, lines: list[str]) -> None:
        job.log_file.write("\n".join(lines) + "\n")
        job.log_file.flush()
        values = job.extractor.feed_lines(lines, time.time())
        if values:
            self._emit(MetricsObserved(job.spec.name, tuple(values)))

    def _ended(self, job: _RemoteJob, item: _Ended) -> TrainingJobEnded:
        spec, event = job.spec, item.event
        model = None
        if item.artifacts:
            paths = TrainingJobPaths(Path(spec.directory).absolute())
            target = Path(spec.output_path) if spec.output_path is not None else paths.output
            target.mkdir(parents=True, exist_ok=True)
            for name, data in item.artifacts.items():
                partial = target / f"{name}.partial"
                partial.write_bytes(data)
                partial.replace(target / name)
            model = str(target / "model.tar.gz")
        return replace(
            event, model_artifacts=model, notes=tuple(event.notes) + tuple(job.extractor.notes())
        )

    def _emit(self, event: RunnerEvent) -> None:
        try:
            self.sink(event)
        except Exception:
            log.exception("event sink failed on %r", event)


def _shape(spec: TrainingJobSpec) -> tuple[int, int]:
    """What an actor for ``spec`` holds: its CPUs (at least one) and GPUs."""
    return max(1, spec.resources.cpus), spec.resources.gpus
