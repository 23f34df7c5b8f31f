"""Training jobs on a Ray cluster (``pip install 'tunesmith[ray]'``; tunesmith installed on every
node).

Ray decides where each training job runs and keeps the account of the cluster's resources. A
CPU training job holds a placement group of one bundle of its CPUs (a ``local`` request counts as
one CPU, so the cluster's CPUs bound how many run at once): it reserves them on a node without
starting any process there. Once Ray has created the group, the job runs on that node's host
actor, one per node (a Ray actor holding no resources, started on first need), which runs all
the node's training jobs side by side: one Ray worker process per node, not per job. A GPU
training job runs instead in an actor of its own holding its CPUs and GPUs, as Ray gives GPU ids
(``CUDA_VISIBLE_DEVICES``) to actors, not to bundles. A placement group or a GPU job's actor whose
job ended serves the engine's next job of the same shape, or goes back to Ray when none comes
within ``IDLE_SECONDS``; what is left of them, and the host actors, end with the engine's
runner.

A host runs each script under the same training contract with a
:class:`~tunesmith.runner.local.LocalRunner`, in a folder of the node's own temporary space, and
ships back what happened as it happens, in one call per host for all its jobs: the output lines
(metric values are read from them here, and they go to the job's log here), the start and the
end, and at the end the packed ``model.tar.gz`` (and ``output.tar.gz``), written to the output
path here. A stop reaches the node's runner, which signals the script's process group there (a
job still waiting for its placement group ends without starting); if the host's process dies
instead (with the engine that owned it, say), every job it ran fails, and the host's group guard
(:mod:`tunesmith.runner.group_guard`) stops their scripts' process groups there.

The source folder and the channels' data are read on the node from the paths the document
names: they must be on a file system every node sees at the same path (NFS, a cluster file
system, or one machine).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

import ray
from ray.util.placement_group import (
    PlacementGroup,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

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
_T = TypeVar("_T")

NAMESPACE = "tunesmith"
POLL_SECONDS = 5.0
"""How long one call for news waits on the node before answering with nothing."""
WAIT_SECONDS = 0.2
"""How long the follower waits on the calls in flight before taking in newly started jobs."""
PLACE_SECONDS = 0.05
"""How often the follower looks whether Ray has created the pending placement groups."""
IDLE_SECONDS = 10.0
"""How long a placement group or a GPU actor whose training job ended waits for the next job of
its shape before it goes back to Ray: an engine asks for the next job at once when it has one,
and other users of the cluster get back what it no longer needs (its last jobs may run for
hours)."""
ARTIFACTS = ("model.tar.gz", "output.tar.gz")


@dataclass
class _Ended:
    """The end of a training job, with its packed artifacts."""

    event: TrainingJobEnded
    artifacts: dict[str, bytes] = field(default_factory=dict)


@dataclass
class _NodeJob:
    """A training job as its host sees it."""

    folder: Path
    grace: float
    group: int | None = None
    """The script's process group, once started."""


class TrainingJobHost:
    """On a cluster node: training jobs side by side, each run by one local runner in a folder
    of its own; their news, each item tagged with its training job's name."""

    def __init__(self) -> None:
        self._news: queue.Queue[tuple[str, RunnerEvent | list[str] | _Ended]] = queue.Queue()
        # Ray has already reserved each job's resources on this node: nothing to hold here.
        self._runner = LocalRunner(
            self._on_event, LocalResources(cpus=1, gpus=()), line_sink=self._on_lines
        )
        self._lock = threading.Lock()
        self._jobs: dict[str, _NodeJob] = {}
        self._guard = _start_guard()

    def start(self, spec: TrainingJobSpec) -> None:
        folder = Path(tempfile.mkdtemp(prefix=f"tunesmith-{spec.name}-"))
        node_spec = replace(
            spec,
            directory=folder,
            output_path=folder / "packed",
            metric_definitions=(),
            cpus=max(1, spec.resources.cpus),  # what Ray reserved for it
            resources=SHARES_MACHINE,
            # The engine's interpreter, unless this node has it at the same path too.
            interpreter=spec.interpreter
            if spec.interpreter and Path(spec.interpreter).exists()
            else sys.executable,
        )
        with self._lock:
            self._jobs[spec.name] = _NodeJob(folder, spec.stop_grace_seconds)
        self._runner.start(node_spec)

    def stop(self, name: str, reason: str) -> None:
        self._runner.stop(name, reason)

    def news(self, wait_seconds: float) -> list[tuple[str, Any]]:
        """What happened to any of this host's training jobs since the last call; waits up to
        ``wait_seconds`` for anything."""
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

    def _on_lines(self, name: str, lines: list[str]) -> None:
        self._news.put((name, list(lines)))

    def _on_event(self, event: RunnerEvent) -> None:
        with self._lock:
            job = self._jobs[event.name]
            if isinstance(event, TrainingJobEnded):
                del self._jobs[event.name]
        if isinstance(event, TrainingJobStarted):
            job.group = event.pid  # the script's process group, led by the started process
            self._tell_guard(f"+{event.pid} {job.grace}")
        if not isinstance(event, TrainingJobEnded):
            self._news.put((event.name, event))
            return
        if job.group is not None:
            self._tell_guard(f"-{job.group}")
        artifacts = {}
        for name in ARTIFACTS:
            path = job.folder / "packed" / name
            if event.model_artifacts is not None and path.exists():
                artifacts[name] = path.read_bytes()
        shutil.rmtree(job.folder, ignore_errors=True)
        self._news.put((event.name, _Ended(event, artifacts)))


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


_HostActor = ray.remote(max_concurrency=8)(TrainingJobHost)
_CONNECT_LOCK = threading.Lock()


class _OwnSigterm(logging.Filter):
    """Drops Ray's warning that it sets no SIGTERM handler when joined off the main thread:
    the engine handles SIGTERM itself (a stop), so there is nothing for the user to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("SIGTERM handler is not set")


def connect(address: str | None) -> None:
    """Join the Ray cluster at ``address`` (once per process; ``None``: Ray's own default)."""
    with _CONNECT_LOCK:
        if not ray.is_initialized():
            logging.getLogger("ray._private.worker").addFilter(_OwnSigterm())
            ray.init(
                address=address,
                namespace=NAMESPACE,
                log_to_driver=False,
                configure_logging=False,
            )


@dataclass
class _Host:
    """A host actor as the engine sees it: a node's (``node`` set), running any number of CPU
    training jobs, or a GPU training job's own."""

    actor: Any
    node: str | None
    jobs: dict[str, _RemoteJob] = field(default_factory=dict)
    polling: bool = False
    """A call for its news is in flight."""


@dataclass
class _RemoteJob:
    spec: TrainingJobSpec
    log_file: TextIO
    extractor: MetricExtractor
    group: PlacementGroup | None = None
    """A CPU training job's placement group, which holds its CPUs on a node."""
    node: str | None = None
    """The node of its placement group, once created."""
    host: _Host | None = None
    """Where it runs, once placed."""
    stop_reason: str | None = None
    started: bool = False
    """Its host has started the script (its ``start`` call returned)."""


class RayRunner(Runner):
    """Runs training jobs on the Ray cluster at ``address``: a CPU training job in a placement
    group of its own, run by its node's host actor; a GPU training job in an actor of its own.

    One thread follows every training job: it waits on the object references of all the calls
    in flight at once (each job's ``start`` and each host's pending ``news``), so a burst of
    ends is handled in one wake-up and the engine's host needs no thread per slot; between
    waits it looks which pending placement groups Ray has created.
    """

    def __init__(self, sink: EventSink, address: str | None = None) -> None:
        super().__init__(sink)
        connect(address)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        """Notified when a call is put in flight, a job waits for its place, a job is stopped or
        the runner closes."""
        self._jobs: dict[str, _RemoteJob] = {}
        self._placing: list[_RemoteJob] = []
        """CPU training jobs whose placement group Ray has not created yet."""
        self._hosts: dict[str, _Host] = {}
        """The host actor of each node that has run a CPU training job, by node id."""
        self._calls: dict[Any, tuple[_Host, _RemoteJob | None]] = {}
        """The calls in flight: object reference -> (its host, its job for a ``start``, None
        for a ``news``)."""
        self._idle_groups: dict[int, list[tuple[PlacementGroup, str, float]]] = {}
        """Placement groups (their nodes, when they went idle) whose training job ended, by
        CPUs, kept for the next job of the same shape: no wait for Ray to place it again."""
        self._idle_actors: dict[tuple[int, int], list[tuple[_Host, float]]] = {}
        """GPU training jobs' actors (when they went idle) whose job ended, kept for the next
        job of the same shape: starting a Ray worker costs far more than reusing one."""
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
            paths.log.parent.mkdir(parents=True, exist_ok=True)
            job = _RemoteJob(
                spec, open(paths.log, "a", encoding="utf-8"),
                MetricExtractor(spec.metric_definitions),
            )
            self._jobs[spec.name] = job
            cpus, gpus = _shape(spec)
            if gpus:
                # Ray gives GPUs (CUDA_VISIBLE_DEVICES) to actors, not to placement groups.
                idle = self._idle_actors.get((cpus, gpus))
                if idle:
                    self._launch(job, idle.pop()[0])
                    return
                released = self._release_idle()
                self._launch(job, _Host(
                    _HostActor.options(num_cpus=cpus, num_gpus=gpus).remote(), None
                ))
            else:
                idle_groups = self._idle_groups.get(cpus)
                if idle_groups:
                    job.group, job.node, _ = idle_groups.pop()
                    self._launch(job, self._host_on(job.node))
                    return
                released = self._release_idle()
                # Holds the CPUs on a node without starting any process there.
                job.group = placement_group([{"CPU": cpus}])
                self._placing.append(job)
                self._changed.notify()
        released()

    def stop(self, name: str, reason: str) -> None:
        with self._lock:
            job = self._jobs.get(name)
            if job is None or job.stop_reason is not None:
                return
            job.stop_reason = reason
            # Before its start has returned the host may be starting the script already: the
            # stop is sent right after that. A job still waiting for its place ends unstarted.
            if job.started:
                assert job.host is not None
                job.host.actor.stop.remote(name, reason)
            self._changed.notify()

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
            release = self._release_idle()
            hosts = [host.actor for host in self._hosts.values()]
            self._hosts.clear()
        release()
        for actor in hosts:
            ray.kill(actor, no_restart=True)

    # -- the training jobs, followed from here ---------------------------------------------------

    def _host_on(self, node: str) -> _Host:
        """The node's host actor, started on first need (under the lock)."""
        host = self._hosts.get(node)
        if host is None:
            actor = _HostActor.options(
                num_cpus=0,  # the training jobs' placement groups hold the CPUs
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
            ).remote()
            host = self._hosts[node] = _Host(actor, node)
        return host

    def _launch(self, job: _RemoteJob, host: _Host) -> None:
        """Start ``job`` on ``host`` (under the lock)."""
        job.host = host
        host.jobs[job.spec.name] = job
        # The start and, unless one is in flight, a call for news at once: the host runs them
        # side by side, its news waiting for the start's first events, so a launch costs no
        # round trip here.
        self._calls[host.actor.start.remote(job.spec)] = (host, job)
        if not host.polling:
            host.polling = True
            self._calls[host.actor.news.remote(POLL_SECONDS)] = (host, None)
        self._changed.notify()

    def _follow(self) -> None:
        placed_at = 0.0
        while True:
            expired = time.monotonic() - IDLE_SECONDS
            with self._lock:
                release = self._take_idle(lambda _, since, expired=expired: since < expired)
            release()
            with self._changed:
                while not self._calls and not self._placing and not (
                    self._closed and not self._jobs
                ):
                    expiry = self._next_expiry()
                    if expiry is not None and expiry <= 0:
                        break
                    self._changed.wait(expiry)
                if not self._calls and not self._placing:
                    if self._closed and not self._jobs:
                        return
                    continue  # what has been idle too long goes back to Ray
                refs = list(self._calls)
                wait = PLACE_SECONDS if self._placing else WAIT_SECONDS
                if not refs:
                    self._changed.wait(wait)
            if time.monotonic() >= placed_at + PLACE_SECONDS:
                placed_at = time.monotonic()
                self._place()
            if not refs:
                continue
            # A job started meanwhile joins the next wait: its first news takes longer anyway.
            ready, _ = ray.wait(refs, num_returns=1, timeout=wait)
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in ready:
                with self._lock:
                    host, job = self._calls.pop(ref, (None, None))
                if host is None:
                    continue  # a call of a host that has failed already
                try:
                    result = ray.get(ref)
                except Exception as error:  # never leave a job unreported
                    self._host_failed(host, error)
                    continue
                if job is not None:
                    self._started(job)
                else:
                    self._news(host, result)

    def _place(self) -> None:
        """Start the jobs whose placement group Ray has created; end those stopped meanwhile."""
        with self._lock:
            placing = list(self._placing)
        for job in placing:
            with self._lock:
                if job not in self._placing:
                    continue  # handed the place of a job that ended meanwhile
            node = None
            if job.stop_reason is None:
                assert job.group is not None
                # A call to Ray's control store, not ``ready()``: that would start a worker.
                if not job.group.wait(timeout_seconds=0):
                    continue
                node = placement_group_table(job.group)["bundles_to_node_id"][0]
            with self._lock:
                if job not in self._placing:
                    continue
                self._placing.remove(job)
                job.node = node
                if node is not None and job.stop_reason is None:
                    self._launch(job, self._host_on(node))
                    continue
            ended = TrainingJobEnded(
                job.spec.name, "Stopped", "Stopped", time.time(), failure_reason=job.stop_reason
            )
            self._end(job, ended, reusable=node is not None)

    def _started(self, job: _RemoteJob) -> None:
        with self._lock:
            if self._jobs.get(job.spec.name) is not job:
                return  # it has ended already
            job.started = True
            if job.stop_reason is not None and job.host is not None:  # asked while starting
                job.host.actor.stop.remote(job.spec.name, job.stop_reason)

    def _news(self, host: _Host, items: list[tuple[str, Any]]) -> None:
        for name, item in items:
            job = host.jobs.get(name)
            if job is None:
                continue
            if isinstance(item, list):
                self._lines(job, item)
            elif isinstance(item, _Ended):
                self._end(job, self._ended(job, item), reusable=True)
            else:
                self._emit(item)
        with self._lock:
            # A host without jobs is asked again once one starts there.
            host.polling = bool(host.jobs)
            if host.polling:
                self._calls[host.actor.news.remote(POLL_SECONDS)] = (host, None)

    def _host_failed(self, host: _Host, error: Exception) -> None:
        """Its actor failed: every job it ran has failed (the node's group guard stops their
        scripts), and the next job on its node gets a new host actor. The idle placement groups
        on its node are given back too, in case the node itself has gone."""
        with self._lock:
            for ref in [ref for ref, (owner, _) in self._calls.items() if owner is host]:
                del self._calls[ref]
            owned = host.node is not None and self._hosts.get(host.node) is host
            gone = host.node if owned else None
            if gone is not None:
                del self._hosts[gone]
            release = self._take_idle(lambda node, _: gone is not None and node == gone)
            jobs = list(host.jobs.values())
            host.polling = False
        if host.node is not None:  # a GPU job's own actor goes with its job, in ``_end``
            ray.kill(host.actor, no_restart=True)
        release()
        for job in jobs:
            self._failed(job, error)

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
        """Report ``job``'s end; keep its placement group or its own actor for the next job of
        its shape when ``reusable``, else give them back to Ray."""
        job.log_file.close()
        host, group = job.host, job.group
        replaced = None
        with self._lock:
            del self._jobs[job.spec.name]
            if host is not None:
                del host.jobs[job.spec.name]
            kept = reusable and not self._closed
            if kept and group is not None:
                assert job.node is not None
                waiting = next((j for j in self._placing if j.stop_reason is None
                                and _shape(j.spec)[0] == _shape(job.spec)[0]), None)
                if waiting is not None:  # its place is this one: no wait for Ray
                    self._placing.remove(waiting)
                    replaced, waiting.group, waiting.node = waiting.group, group, job.node
                    self._launch(waiting, self._host_on(job.node))
                elif self._waiting():
                    kept = False  # another shape waits for what it holds
                else:
                    self._idle_groups.setdefault(_shape(job.spec)[0], []).append(
                        (group, job.node, time.monotonic()))
            elif kept and host is not None:
                kept = not self._waiting()
                if kept:
                    self._idle_actors.setdefault(_shape(job.spec), []).append(
                        (host, time.monotonic()))
        if replaced is not None:
            remove_placement_group(replaced)
        if not kept and group is not None:
            remove_placement_group(group)
        elif not kept and host is not None and host.node is None:
            ray.kill(host.actor, no_restart=True)
        self._emit(ended)

    def _waiting(self) -> bool:
        """Whether a training job waits for resources Ray has not given it yet: a CPU one for
        its placement group, a GPU one for its actor (under the lock)."""
        return bool(self._placing) or any(
            job.host is not None and job.host.node is None and not job.started
            for job in self._jobs.values()
        )

    def _next_expiry(self) -> float | None:
        """Seconds until the longest idle placement group or actor goes back to Ray, None when
        none is idle (under the lock)."""
        since = [t for held in self._idle_groups.values() for _, _, t in held]
        since += [t for hosts in self._idle_actors.values() for _, t in hosts]
        left = min(since, default=math.inf) + IDLE_SECONDS - time.monotonic()
        return left if math.isfinite(left) else None  # an infinite wait is no timeout

    def _release_idle(self) -> Callable[[], None]:
        """Take every idle placement group and actor from the pool (under the lock), as a new
        shape needs what they hold or the runner closes; what gives them back to Ray, to call
        outside the lock."""
        return self._take_idle(lambda _node, _since: True)

    def _take_idle(self, which: Callable[[str | None, float], bool]) -> Callable[[], None]:
        """Take from the pool the idle placement groups and actors that ``which(node, idle
        since)`` picks (under the lock); what gives them back to Ray, to call outside it."""
        groups: list[PlacementGroup] = []
        actors: list[Any] = []
        for held in self._idle_groups.values():
            taken, held[:] = _split(held, lambda idle: which(idle[1], idle[2]))
            groups += [group for group, _, _ in taken]
        for hosts in self._idle_actors.values():
            taken_hosts, hosts[:] = _split(hosts, lambda idle: which(idle[0].node, idle[1]))
            actors += [host.actor for host, _ in taken_hosts]

        def release() -> None:
            for group in groups:
                remove_placement_group(group)
            for actor in actors:
                ray.kill(actor, no_restart=True)

        return release

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
    """What ``spec`` holds on Ray: its CPUs (at least one) and GPUs."""
    return max(1, spec.resources.cpus), spec.resources.gpus


def _split(entries: list[_T], picked: Callable[[_T], bool]) -> tuple[list[_T], list[_T]]:
    """The entries ``picked`` chooses and the others, each asked once, in their order."""
    taken: list[_T] = []
    kept: list[_T] = []
    for entry in entries:
        (taken if picked(entry) else kept).append(entry)
    return taken, kept
