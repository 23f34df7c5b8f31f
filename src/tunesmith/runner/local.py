"""Training jobs as local processes, each in its own process group.

Every training job has one supervisor thread and one waiter thread. The waiter blocks until the
script's main process exits (without reaping it, so its process group id cannot be reused) and
wakes the supervisor. The supervisor multiplexes, on one selector: the script's stdout and
stderr, and a wake pipe poked by the waiter and by ``stop``. Its select timeout is the next
deadline (the job's runtime limit, or the end of a stop's grace period), so nothing polls.

Output is read in chunks of at most ``READ_BYTES`` and cut into lines; a line longer than
``MAX_LINE_CHARS`` is cut too, so memory stays bounded whatever a script prints. All lines go to
the job's ``logs/training.log`` in arrival order; the metric values of one read burst go to the
sink as one ``MetricsObserved`` event.

When the main process exits, whatever else is left in its process group is killed, as a
container's processes die with it. ``model/`` is packed to ``model.tar.gz`` (and a non-empty
``output/data/`` to ``output.tar.gz``) after a ``Completed`` and after a ``Stopped`` end: SageMaker
uploads the model of a stopped job too, which is what the SIGTERM grace period is for.
"""

from __future__ import annotations

import codecs
import logging
import os
import selectors
import signal
import subprocess
import tarfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from tunesmith.metrics import MetricExtractor
from tunesmith.model.errors import ValidationException
from tunesmith.runner.base import (
    EventSink,
    MetricsObserved,
    Runner,
    TrainingJobEnded,
    TrainingJobSpec,
    TrainingJobStarted,
)
from tunesmith.runner.contract import TrainingJobPaths, TrainingProcess, TrainingSetupError, prepare
from tunesmith.runner.pool import PooledProcess, WarmPool
from tunesmith.runner.resources import LocalResources, ResourceRequest, this_machine

log = logging.getLogger(__name__)

READ_BYTES = 64 * 1024
MAX_LINE_CHARS = 64 * 1024
STDERR_TAIL_LINES = 20
MAX_FAILURE_REASON = 1024
DRAIN_SECONDS = 2.0
"""How long output is still read after the process group is gone (a process that left the
group may hold the pipes open)."""
MAX_RUNTIME_REASON = "Training job runtime exceeded MaxRuntimeInSeconds ({limit:g} s)"
LineSink = Callable[[str, list[str]], None]
"""Called with a training job's name and a burst of its output lines."""


@dataclass
class _Job:
    spec: TrainingJobSpec
    wake_read: int
    wake_write: int
    process: subprocess.Popen[bytes] | PooledProcess | None = None
    stop_reason: str | None = None
    secondary_status: str = "Stopped"
    exited: bool = False
    thread: threading.Thread | None = None

    def wake(self) -> None:
        try:
            os.write(self.wake_write, b"x")
        except OSError:  # the supervisor already closed the pipe: the job has ended
            pass


class LocalRunner(Runner):
    """Runs each training job as a subprocess of this process, once the CPUs and GPUs it asks
    for are free on this machine."""

    def __init__(
        self,
        sink: EventSink,
        resources: LocalResources | None = None,
        line_sink: LineSink | None = None,
    ) -> None:
        super().__init__(sink)
        self.resources = resources or this_machine()
        self.line_sink = line_sink
        """Also receives every burst of output lines (a remote runner ships them home)."""
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._closed = False
        self._pool = WarmPool()

    def start(self, spec: TrainingJobSpec) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the runner is closed")
            if spec.name in self._jobs:
                raise ValueError(f"training job {spec.name} is already running")
            wake_read, wake_write = os.pipe()
            os.set_blocking(wake_write, False)
            job = _Job(spec, wake_read, wake_write)
            job.thread = threading.Thread(
                target=self._supervise, args=(job,), name=f"training-job-{spec.name}", daemon=True
            )
            self._jobs[spec.name] = job
        job.thread.start()

    def stop(self, name: str, reason: str) -> None:
        self._request_stop(name, reason, "Stopped")

    def slots(self, request: ResourceRequest) -> int | None:
        return self.resources.slots(request)

    def running(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for job in jobs:
            self._request_stop(job.spec.name, "The runner was closed", "Stopped")
        for job in jobs:
            assert job.thread is not None
            job.thread.join()
        self._pool.close()

    # -- one training job ------------------------------------------------------------------

    def _request_stop(self, name: str, reason: str, secondary_status: str) -> None:
        with self._lock:
            job = self._jobs.get(name)
            if job is None or job.stop_reason is not None or job.exited:
                return
            job.stop_reason = reason
            job.secondary_status = secondary_status
            # Under the lock: the supervisor closes the pipe under it once the job has ended.
            job.wake()
        self.resources.wake()  # a job still waiting for resources ends at once

    def _supervise(self, job: _Job) -> None:
        request = job.spec.resources
        if job.spec.gpus:  # assigned by the caller already
            request = replace(request, gpus=0)
        try:
            with self.resources.hold(request, lambda: job.stop_reason is not None) as gpus:
                if gpus is None:
                    assert job.stop_reason is not None
                    ended = _ended(job.spec, "Stopped", job.stop_reason, job.secondary_status)
                else:
                    if gpus:
                        job.spec = replace(job.spec, gpus=gpus)
                    ended = self._run(job)
        except ValidationException as error:
            ended = _ended(job.spec, "Failed", f"ClientError: {error.message}")
        except Exception as error:  # never leave a job unreported or its processes behind
            log.exception("training job %s: runner failure", job.spec.name)
            if job.process is not None:
                _kill_group(job.process, signal.SIGKILL)
                job.process.wait()
            ended = TrainingJobEnded(
                job.spec.name, "Failed", "Failed", time.time(),
                failure_reason=f"InternalServerError: {error}"[:MAX_FAILURE_REASON],
            )
        with self._lock:
            del self._jobs[job.spec.name]
            os.close(job.wake_read)
            os.close(job.wake_write)
        self._emit(ended)

    def _run(self, job: _Job) -> TrainingJobEnded:
        spec = job.spec
        try:
            extractor = MetricExtractor(spec.metric_definitions)
            process = prepare(spec)
        except (TrainingSetupError, ValidationException, OSError) as error:
            return _ended(spec, "Failed", f"ClientError: {error}")
        self._pool.prepare(process)  # outside the lock: a server may take seconds to warm up
        with open(process.paths.log, "a", encoding="utf-8") as log_file:
            with self._lock:
                if job.stop_reason is not None:
                    return _ended(spec, "Stopped", job.stop_reason, job.secondary_status)
                try:
                    job.process = _spawn(process, self._pool)
                except OSError as error:
                    return _ended(spec, "Failed", f"ClientError: cannot execute "
                                  f"{process.argv[0]}: {error.strerror or error}")
            self._emit(TrainingJobStarted(spec.name, job.process.pid, time.time()))
            waiter = threading.Thread(
                target=_wait_for_exit, args=(job,), name=f"training-job-{spec.name}-wait",
                daemon=True,
            )
            waiter.start()
            stderr_tail = _Follow(
                job, process, log_file, extractor, self._emit, self.line_sink
            ).run()
            waiter.join()
        return self._outcome(job, process, extractor, stderr_tail)

    def _outcome(
        self, job: _Job, process: TrainingProcess, extractor: MetricExtractor,
        stderr_tail: deque[str],
    ) -> TrainingJobEnded:
        assert job.process is not None
        spec, code = job.spec, job.process.returncode
        notes = extractor.notes()
        if job.stop_reason is not None:
            status, reason, secondary = "Stopped", job.stop_reason, job.secondary_status
        elif code == 0:
            status, reason, secondary = "Completed", None, "Completed"
        else:
            status, secondary = "Failed", "Failed"
            reason = _failure_reason(process, code, stderr_tail)
        artifacts = None
        if status != "Failed":
            try:
                artifacts = _pack(process.paths, spec.output_path)
            except OSError as error:
                status, secondary = "Failed", "Failed"
                reason = f"InternalServerError: cannot pack the model: {error}"
        return TrainingJobEnded(
            spec.name, status, secondary, time.time(), exit_code=code,
            failure_reason=reason, model_artifacts=artifacts, notes=notes,
        )

    def _emit(self, event: TrainingJobStarted | MetricsObserved | TrainingJobEnded) -> None:
        try:
            self.sink(event)
        except Exception:  # a broken sink must not leave processes unsupervised
            log.exception("event sink failed on %r", event)


class _Follow:
    """The supervisor's loop: read output, honour stop requests and deadlines, end with the
    process group."""

    def __init__(
        self,
        job: _Job,
        process: TrainingProcess,
        log_file: IO[str],
        extractor: MetricExtractor,
        emit: EventSink,
        line_sink: LineSink | None = None,
    ) -> None:
        assert job.process is not None and job.process.stdout and job.process.stderr
        self.job = job
        self.line_sink = line_sink
        self.popen = job.process
        self.log_file = log_file
        self.extractor = extractor
        self.emit = emit
        self.streams = {
            self.popen.stdout.fileno(): _LineSplitter(),
            self.popen.stderr.fileno(): _LineSplitter(),
        }
        self.stderr_fd = self.popen.stderr.fileno()
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        limit = job.spec.max_runtime_seconds
        self.runtime_deadline = time.monotonic() + limit if limit is not None else None
        self.kill_deadline: float | None = None
        self.drain_deadline: float | None = None
        self.terminated = False

    def run(self) -> deque[str]:
        with selectors.DefaultSelector() as selector:
            for fd in self.streams:
                selector.register(fd, selectors.EVENT_READ)
            selector.register(self.job.wake_read, selectors.EVENT_READ)
            while self.streams or self.drain_deadline is None:
                ready = selector.select(self._timeout())
                lines: list[str] = []
                for key, _ in ready:
                    if key.fd == self.job.wake_read:
                        os.read(key.fd, 1024)
                    else:
                        data = os.read(key.fd, READ_BYTES)
                        splitter = self.streams[key.fd]
                        if data:
                            self._take(key.fd, splitter.feed(data), lines)
                        else:
                            selector.unregister(key.fd)
                            self._take(key.fd, self.streams.pop(key.fd).flush(), lines)
                self._publish(lines)
                self._control()
                if self.drain_deadline is not None and time.monotonic() >= self.drain_deadline:
                    break
        for stream in (self.popen.stdout, self.popen.stderr):
            assert stream is not None
            stream.close()
        return self.stderr_tail

    def _timeout(self) -> float | None:
        deadlines = [
            d for d in (self.runtime_deadline, self.kill_deadline, self.drain_deadline)
            if d is not None
        ]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _take(self, fd: int, new: list[str], lines: list[str]) -> None:
        if fd == self.stderr_fd and new:
            self.stderr_tail.extend(line[:MAX_FAILURE_REASON] for line in new[-STDERR_TAIL_LINES:])
        lines.extend(new)

    def _publish(self, lines: list[str]) -> None:
        if not lines:
            return
        self.log_file.write("\n".join(lines))
        self.log_file.write("\n")
        self.log_file.flush()
        if self.line_sink is not None:
            self.line_sink(self.job.spec.name, lines)
        values = self.extractor.feed_lines(lines, time.time())
        if values:
            self.emit(MetricsObserved(self.job.spec.name, tuple(values)))

    def _control(self) -> None:
        """Act on the process's exit, a stop request or a passed deadline."""
        now = time.monotonic()
        if self.drain_deadline is not None:
            return
        if self.job.exited:
            # Leftovers of the group die with the main process; then it may be reaped.
            _kill_group(self.popen, signal.SIGKILL)
            self.popen.wait()
            self.runtime_deadline = self.kill_deadline = None
            self.drain_deadline = now + DRAIN_SECONDS
            return
        if self.job.stop_reason is None and self.runtime_deadline is not None \
                and now >= self.runtime_deadline:
            limit = self.job.spec.max_runtime_seconds or 0.0
            with_reason = MAX_RUNTIME_REASON.format(limit=limit)
            self.job.stop_reason, self.job.secondary_status = with_reason, "MaxRuntimeExceeded"
            self.runtime_deadline = None
        if self.job.stop_reason is not None and not self.terminated:
            self.terminated = True
            self.runtime_deadline = None
            _kill_group(self.popen, signal.SIGTERM)
            self.kill_deadline = now + max(0.0, self.job.spec.stop_grace_seconds)
        if self.kill_deadline is not None and now >= self.kill_deadline:
            self.kill_deadline = None
            _kill_group(self.popen, signal.SIGKILL)


class _LineSplitter:
    """Bytes in, complete lines out; holds at most one unfinished line of bounded length."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, data: bytes) -> list[str]:
        text = self._partial + self._decoder.decode(data)
        if "\r\n" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        self._partial = lines.pop()
        if len(self._partial) >= MAX_LINE_CHARS:
            lines.append(self._partial)
            self._partial = ""
        return lines

    def flush(self) -> list[str]:
        rest = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        return [rest] if rest else []


def _spawn(process: TrainingProcess, pool: WarmPool) -> subprocess.Popen[bytes] | PooledProcess:
    """The training job's process: forked from the warm worker pool when it can take the job,
    else started cold."""
    pooled = pool.start(process, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if pooled is not None:
        return pooled
    return subprocess.Popen(
        process.argv,
        cwd=process.cwd,
        env=process.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait_for_exit(job: _Job) -> None:
    """Block until the main process exits, leaving it unreaped (its pid keeps naming the group
    until the supervisor has killed what is left of it)."""
    assert job.process is not None
    try:
        if isinstance(job.process, PooledProcess):
            job.process.wait_exited()
        else:
            os.waitid(os.P_PID, job.process.pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        pass
    job.exited = True
    job.wake()


def _kill_group(
    process: subprocess.Popen[bytes] | PooledProcess | None, sig: signal.Signals
) -> None:
    if process is None:
        return
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _ended(
    spec: TrainingJobSpec, status: str, reason: str, secondary: str | None = None
) -> TrainingJobEnded:
    return TrainingJobEnded(
        spec.name, status, secondary or status, time.time(),  # type: ignore[arg-type]
        failure_reason=reason[:MAX_FAILURE_REASON],
    )


def _failure_reason(process: TrainingProcess, code: int, stderr_tail: deque[str]) -> str:
    """The script's own ``output/failure``, else its last stderr lines, SageMaker's way."""
    try:
        written = process.paths.failure.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        written = ""
    if written:
        return written[:MAX_FAILURE_REASON]
    if code < 0:
        exit_text = f"killed by signal {_signal_name(-code)}"
    else:
        exit_text = f"exit code {code}"
    head = f"AlgorithmError: ExecuteUserScriptError: {exit_text}"
    message = "\n".join(line for line in stderr_tail if line.strip())
    if not message:
        return head
    room = MAX_FAILURE_REASON - len(head) - len(', ErrorMessage ""')
    if len(message) > room:
        message = "…" + message[-(room - 1):]
    return f'{head}, ErrorMessage "{message}"'


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _pack(paths: TrainingJobPaths, output_path: Path | None) -> str:
    """Pack ``model/`` (and ``output/data/`` when it holds anything); the model's path."""
    target = Path(output_path) if output_path is not None else paths.output
    target.mkdir(parents=True, exist_ok=True)
    model = target / "model.tar.gz"
    _tar(paths.model, model)
    if any(paths.output_data.iterdir()):
        _tar(paths.output_data, target / "output.tar.gz")
    return str(model)


def _tar(folder: Path, archive: Path) -> None:
    partial = archive.with_name(archive.name + ".partial")
    with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
        for entry in sorted(folder.iterdir()):
            tar.add(entry, arcname=entry.name)
    partial.replace(archive)
