"""Training jobs as local processes, each in its own process group, that outlive the engine.

A training job runs as ``/bin/sh`` (the group leader) running the script. The script writes
both streams straight into the job's capture file (``runner/output``, ``O_APPEND``); the shell
writes the script's exit status into ``runner/exit-status`` when it ends, and ignores nothing
the script should see (SIGTERM reaches the whole group and the shell waits for the script). So
a training job keeps running, and its output and end stay known, when the engine that started it
dies: a later runner *adopts* it (:meth:`LocalRunner.adopt`) from ``runner/process.json``, which
names its pid and the kernel's start time of that pid, so a reused pid is never taken for it.
A Python script forked from the warm worker pool has no shell: its fork server writes both files.

Every training job has one supervisor thread. It sleeps on one selector holding a wake pipe
(poked by ``stop``), a pidfd of the shell (readable when it exits) and an inotify descriptor of
the capture file (readable when the script writes); its timeout is the next deadline (the job's
runtime limit, or the end of a stop's grace period), so nothing polls. Output is read in bursts
of at most ``BURST_BYTES`` and cut into lines; all lines go to ``logs/training.log`` in order
(rotated, see :mod:`tunesmith.runner.capture`); the metric values of one burst go to the sink as
one ``MetricsObserved`` event with the capture offset after its lines.

When the shell exits, whatever else is left in its process group is killed, as a container's
processes die with it. ``model/`` is packed to ``model.tar.gz`` (and a non-empty
``output/data/`` to ``output.tar.gz``) after a ``Completed`` and after a ``Stopped`` end: SageMaker
uploads the model of a stopped job too, which is what the SIGTERM grace period is for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import tarfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

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
from tunesmith.runner.capture import (
    MAX_LINE_CHARS,
    READ_BYTES,
    CaptureReader,
    FileWatch,
    RotatingLog,
)
from tunesmith.runner.contract import TrainingJobPaths, TrainingProcess, TrainingSetupError, prepare
from tunesmith.runner.pool import PooledProcess, ProcessFiles, WarmPool
from tunesmith.runner.resources import LocalResources, ResourceRequest, this_machine

__all__ = ["MAX_LINE_CHARS", "READ_BYTES", "LocalRunner"]

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 20
MAX_FAILURE_REASON = 1024
PACK_LEVEL = 1
"""gzip level of ``model.tar.gz`` and ``output.tar.gz``: packing delays a job's end, hence the
next job's start, and level 6 makes a model a tenth smaller in twice the time."""
POLL_SECONDS = 0.25
"""How often the capture file is looked at where no inotify tells when it is written."""
REAP_SECONDS = 5.0
"""How long an adopted forked script may stay unreaped after it ended."""
MAX_RUNTIME_REASON = "Training job runtime exceeded MaxRuntimeInSeconds ({limit:g} s)"
NEVER_STARTED = "never"
"""What the shell writes as exit status when its runner died before letting the script run."""
WRAPPER = (
    # A trapped (not ignored) TERM: the shell waits for the script, which gets the default
    # dispositions back on exec and decides itself what a stop means.
    "trap : TERM INT HUP\n"
    # Run nothing until the runner has recorded this process (its pid and start time).
    'IFS= read -r go || { echo ' + NEVER_STARTED + ' > "$1"; exit 70; }\n'
    'status="$1"; shift\n'
    # The shell's own stderr goes nowhere: it would report a killed script ("Killed") in the
    # script's output. The script replaces a subshell, which applies its redirections itself.
    'exec 3>&2 2>/dev/null\n'
    '( exec "$@" 2>&3 3>&- ) </dev/null\n'
    'echo $? > "$status"\n'
)
LineSink = Callable[[str, list[str]], None]
"""Called with a training job's name and a burst of its output lines."""
LOST_REASON = (
    "InternalServerError: the training job's process ended while no engine watched it and left "
    "no exit status"
)


@dataclass(frozen=True)
class _Files:
    """The runner's own files in a training job's folder."""

    root: Path

    @property
    def folder(self) -> Path:
        return self.root / "runner"

    @property
    def capture(self) -> Path:
        return self.folder / "output"

    @property
    def exit_status(self) -> Path:
        return self.folder / "exit-status"

    @property
    def record(self) -> Path:
        return self.folder / "process.json"


@dataclass
class _Process:
    """The shell leading a training job's process group; ``popen`` is ``None`` when the job was
    adopted (the shell is not this process's child)."""

    pid: int
    start_ticks: int | None
    popen: subprocess.Popen[bytes] | None
    pidfd: int | None
    """Readable once the shell has exited; ``None`` if it had exited before it was adopted."""
    pooled: PooledProcess | None = None
    """Set when the script was forked from the warm worker pool (no shell: the script leads
    its group, and the pool reports its exit status)."""
    forked: bool = False
    """An adopted script forked from the warm worker pool: its fork server (or init, if that
    went too) reaps it after writing its exit status."""


@dataclass
class _Job:
    spec: TrainingJobSpec
    wake_read: int
    wake_write: int
    adopt_offset: int | None = None
    adopting: bool = False
    process: _Process | None = None
    stop_reason: str | None = None
    secondary_status: str = "Stopped"
    exited: bool = False
    thread: threading.Thread | None = None
    closing: list[Callable[[], None]] = field(default_factory=list)
    """What to close once the job's end is reported: closing an inotify descriptor waits for
    the kernel's grace period (milliseconds) and must not delay the next job."""

    def wake(self) -> None:
        try:
            os.write(self.wake_write, b"x")
        except OSError:  # the supervisor already closed the pipe: the job has ended
            pass


class LocalRunner(Runner):
    """Runs each training job as a process of its own session on this host, once the CPUs and
    GPUs it asks for are free."""

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
        self._add(_Job(spec, *_wake_pipe()))

    def adopt(self, spec: TrainingJobSpec, log_offset: int | None) -> None:
        self._add(_Job(spec, *_wake_pipe(), adopt_offset=log_offset, adopting=True))

    def _add(self, job: _Job) -> None:
        spec = job.spec
        with self._lock:
            if self._closed or spec.name in self._jobs:
                os.close(job.wake_read)
                os.close(job.wake_write)
            if self._closed:
                raise RuntimeError("the runner is closed")
            if spec.name in self._jobs:
                raise ValueError(f"training job {spec.name} is already running")
            job.thread = threading.Thread(
                target=self._supervise, args=(job,), name=f"training-job-{spec.name}", daemon=True
            )
            self._jobs[spec.name] = job
        job.thread.start()

    def stop(self, name: str, reason: str) -> None:
        self._request_stop(name, reason, "Stopped")

    def running(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def slots(self, request: ResourceRequest) -> int | None:
        return self.resources.slots(request)

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
                    ended = self._adopt(job) if job.adopting else self._run(job)
        except ValidationException as error:
            ended = _ended(job.spec, "Failed", f"ClientError: {error.message}")
        except Exception as error:  # never leave a job unreported or its processes behind
            log.exception("training job %s: runner failure", job.spec.name)
            if job.process is not None:
                _kill_group(job.process, signal.SIGKILL, job.spec.name)
                _reap(job.process)
            ended = TrainingJobEnded(
                job.spec.name, "Failed", "Failed", time.time(), retryable=True,
                failure_reason=f"InternalServerError: {error}"[:MAX_FAILURE_REASON],
            )
        finally:
            if job.process is not None and job.process.pidfd is not None:
                os.close(job.process.pidfd)
        with self._lock:
            del self._jobs[job.spec.name]
            os.close(job.wake_read)
            os.close(job.wake_write)
        self._emit(ended)
        for close in job.closing:
            close()

    def _run(self, job: _Job) -> TrainingJobEnded:
        spec = job.spec
        try:
            extractor = MetricExtractor(spec.metric_definitions)
            process = prepare(spec)
        except (TrainingSetupError, ValidationException, OSError) as error:
            return _ended(spec, "Failed", f"ClientError: {error}")
        files = _Files(process.paths.root)
        if (problem := _not_executable(process)) is not None:
            return _ended(spec, "Failed", f"ClientError: cannot execute {process.argv[0]}: "
                          f"{problem}")
        self._pool.prepare(process)  # outside the lock: a server may take seconds to warm up
        with self._lock:
            if job.stop_reason is not None:
                return _ended(spec, "Stopped", job.stop_reason, job.secondary_status)
            job.process, offset, started = _launch(process, files, spec.attempt, self._pool)
        self._emit(TrainingJobStarted(spec.name, job.process.pid, started))
        return self._follow(job, process.paths, extractor, offset)

    def _adopt(self, job: _Job) -> TrainingJobEnded:
        """Follow a job an earlier runner started; start it if that runner never let it run."""
        spec = job.spec
        files = _Files(TrainingJobPaths(Path(spec.directory).absolute()).root)
        record = _read_record(files)
        status = _read_text(files.exit_status)
        if record is None or record.get("attempt") != spec.attempt or status == NEVER_STARTED:
            return self._run(job)
        extractor = MetricExtractor(spec.metric_definitions)
        with self._lock:
            job.process = _attach(record)
        self._emit(TrainingJobStarted(spec.name, job.process.pid, record["started"]))
        offset = job.adopt_offset if job.adopt_offset is not None else record["capture_start"]
        return self._follow(job, TrainingJobPaths(files.root), extractor, offset)

    def _follow(
        self, job: _Job, paths: TrainingJobPaths, extractor: MetricExtractor, offset: int
    ) -> TrainingJobEnded:
        files = _Files(paths.root)
        follow = _Follow(job, files, extractor, self._emit, offset, self.line_sink)
        try:
            output_tail = follow.run(RotatingLog(paths.log))
        finally:
            follow.close()
        return self._outcome(job, paths, files, extractor, output_tail)

    def _outcome(
        self, job: _Job, paths: TrainingJobPaths, files: _Files, extractor: MetricExtractor,
        output_tail: deque[str],
    ) -> TrainingJobEnded:
        assert job.process is not None
        spec, code = job.spec, _exit_code(job.process, files)
        notes = extractor.notes()
        retryable = lost = False
        if job.stop_reason is not None:
            status, reason, secondary = "Stopped", job.stop_reason, job.secondary_status
        elif code == 0:
            status, reason, secondary = "Completed", None, "Completed"
        elif code is None:
            status, secondary, reason, retryable, lost = "Failed", "Failed", LOST_REASON, True, True
        else:
            status, secondary = "Failed", "Failed"
            reason = _failure_reason(paths, code, output_tail)
            # Killed from outside (the kernel's OOM killer, an operator) or out of memory:
            # the infrastructure failed the script, not the script itself.
            retryable = code < 0 or any(line.startswith("MemoryError") for line in output_tail)
        artifacts = None
        if status != "Failed":
            try:
                artifacts = _pack(paths, spec.output_path)
            except OSError as error:
                status, secondary, retryable = "Failed", "Failed", True
                reason = f"InternalServerError: cannot pack the model: {error}"
        return TrainingJobEnded(
            spec.name, status, secondary, time.time(), exit_code=code,  # type: ignore[arg-type]
            failure_reason=reason, model_artifacts=artifacts, notes=notes, retryable=retryable,
            lost=lost,
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
        self, job: _Job, files: _Files, extractor: MetricExtractor, emit: EventSink, offset: int,
        line_sink: LineSink | None = None,
    ) -> None:
        assert job.process is not None
        self.job = job
        self.line_sink = line_sink
        self.process = job.process
        self.extractor = extractor
        self.emit = emit
        self.reader = CaptureReader(files.capture, offset)
        self.watch = FileWatch(files.capture)
        self.output_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        limit = job.spec.max_runtime_seconds
        self.runtime_deadline = time.monotonic() + limit if limit is not None else None
        self.kill_deadline: float | None = None
        self.terminated = False

    def close(self) -> None:
        self.reader.close()
        self.job.closing.append(self.watch.close)

    def run(self, log_file: RotatingLog) -> deque[str]:
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.job.wake_read, selectors.EVENT_READ)
                if self.process.pidfd is not None:
                    selector.register(self.process.pidfd, selectors.EVENT_READ)
                else:
                    self.job.exited = True
                pooled = self.process.pooled
                if pooled is not None:
                    # The server tells the script's end before the kernel has taken a large
                    # process down; the pidfd tells it should the server go away.
                    selector.register(pooled.fileno(), selectors.EVENT_READ)
                if self.watch.fd is not None:
                    selector.register(self.watch.fd, selectors.EVENT_READ)
                more = True
                while not self.job.exited:
                    for key, _ in selector.select(0 if more else self._timeout()):
                        if key.fd == self.job.wake_read:
                            os.read(key.fd, 1024)
                        elif key.fd == self.watch.fd:
                            self.watch.clear()
                        elif key.fd == self.process.pidfd:
                            self.job.exited = True
                        elif pooled is not None and key.fd == pooled.fileno():
                            if pooled.take_news():
                                self.job.exited = True
                            elif pooled.server_gone:
                                selector.unregister(key.fd)
                    more = self._publish(log_file)
                    self._control()
            self._end_group()
            # Whatever the group wrote before it ended, to the last unfinished line.
            while self._publish(log_file):
                pass
            self._publish(log_file, final=True)
        finally:
            log_file.close()
        return self.output_tail

    def _timeout(self) -> float | None:
        deadlines = [d for d in (self.runtime_deadline, self.kill_deadline) if d is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        if self.watch.fd is None:
            timeout = POLL_SECONDS if timeout is None else min(timeout, POLL_SECONDS)
        return timeout

    def _publish(self, log_file: RotatingLog, final: bool = False) -> bool:
        """Read a burst of lines and pass them on; whether more may be waiting."""
        if final:
            lines, at_end = self.reader.flush(), True
        else:
            lines, at_end = self.reader.read()
        if lines:
            tail = lines[-STDERR_TAIL_LINES:]
            self.output_tail.extend(line[:MAX_FAILURE_REASON] for line in tail)
            log_file.write(lines)
            if self.line_sink is not None:
                self.line_sink(self.job.spec.name, lines)
            values = self.extractor.feed_lines(lines, time.time())
            if values:
                self.emit(MetricsObserved(self.job.spec.name, tuple(values), self.reader.offset))
        return not at_end

    def _control(self) -> None:
        """Act on a stop request or a passed deadline."""
        now = time.monotonic()
        if self.job.exited:
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
            _kill_group(self.process, signal.SIGTERM, self.job.spec.name)
            self.kill_deadline = now + max(0.0, self.job.spec.stop_grace_seconds)
        if self.kill_deadline is not None and now >= self.kill_deadline:
            self.kill_deadline = None
            _kill_group(self.process, signal.SIGKILL, self.job.spec.name)

    def _end_group(self) -> None:
        """Leftovers of the group die with its leader; then the leader may be reaped."""
        _kill_group(self.process, signal.SIGKILL, self.job.spec.name)
        _reap(self.process)


def _wake_pipe() -> tuple[int, int]:
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    return wake_read, wake_write


def _spawn(process: TrainingProcess, files: _Files) -> subprocess.Popen[bytes]:
    """Start the training job's process group: the shell that runs the script once told to."""
    with open(files.capture, "ab") as capture:
        return subprocess.Popen(
            ["/bin/sh", "-c", WRAPPER, "tunesmith-training", str(files.exit_status),
             *process.argv],
            cwd=process.cwd,
            env=process.env,
            stdin=subprocess.PIPE,
            stdout=capture,
            stderr=capture,
            start_new_session=True,
        )


def _launch(
    process: TrainingProcess, files: _Files, attempt: int, pool: WarmPool
) -> tuple[_Process, int, float]:
    """Start the process, record it where a later runner finds it, then let the script run;
    returns the process, the capture offset its output starts at, and its start time."""
    files.folder.mkdir(parents=True, exist_ok=True)
    files.exit_status.unlink(missing_ok=True)
    files.capture.touch()
    offset = files.capture.stat().st_size
    started = time.time()
    # The pool's server records the process before it lets the script run, and writes its exit
    # status, as the shell of a cold start does: the job outlives this runner and is adopted.
    recorded = ProcessFiles(files.record, {"attempt": attempt, "capture_start": offset,
                                           "started": started, "pooled": True},
                            files.exit_status)
    with open(files.capture, "ab") as capture:
        pooled = pool.start(process, stdout=capture, stderr=capture, files=recorded)
    if pooled is not None:
        ticks = _start_ticks(pooled.pid)
        return _Process(pooled.pid, ticks, None, _pidfd(pooled.pid), pooled), offset, started
    popen = _spawn(process, files)
    started = time.time()
    ticks = _start_ticks(popen.pid)
    record = {
        "pid": popen.pid, "start_ticks": ticks, "attempt": attempt,
        "capture_start": offset, "started": started,
    }
    _write_record(files, record)
    assert popen.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        popen.stdin.write(b"go\n")
        popen.stdin.close()
    return _Process(popen.pid, ticks, popen, _pidfd(popen.pid)), offset, started


def _write_record(files: _Files, record: dict) -> None:
    partial = files.record.with_name(files.record.name + ".partial")
    partial.write_text(json.dumps(record))
    partial.replace(files.record)


def _reap(process: _Process) -> None:
    """Collect the ended group leader (a child of this process or of the pool's server); for an
    adopted forked one, wait until its server has written its exit status and reaped it."""
    if process.popen is not None:
        process.popen.wait()
    elif process.pooled is not None:
        process.pooled.wait()
    elif process.forked:
        # Not this process's child: nothing tells when it is reaped but /proc (a few ms).
        deadline = time.monotonic() + REAP_SECONDS
        while _zombie(process.pid, process.start_ticks) and time.monotonic() < deadline:
            time.sleep(0.005)


def _attach(record: dict) -> _Process:
    """The recorded process if it still runs (and is that process, not a reuse of its pid)."""
    pid, ticks = int(record["pid"]), record.get("start_ticks")
    pidfd = _pidfd(pid)
    # Checked after opening the pidfd: the descriptor then surely names the checked process.
    if pidfd is not None and (ticks is None or _start_ticks(pid) != ticks):
        os.close(pidfd)
        pidfd = None
    return _Process(pid, ticks, None, pidfd, forked=bool(record.get("pooled")))


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


def _proc_stat(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command's name (its state first, its start
    time at index 19); ``None`` if the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot; ``None`` if it is gone or a
    zombie."""
    fields = _proc_stat(pid)
    return None if fields is None or fields[0] == "Z" else int(fields[19])


def _zombie(pid: int, ticks: int | None) -> bool:
    """Whether ``pid`` is the process started at ``ticks``, ended but not yet reaped."""
    fields = _proc_stat(pid)
    return fields is not None and fields[0] == "Z" and int(fields[19]) == ticks


def _read_record(files: _Files) -> dict | None:
    try:
        record = json.loads(files.record.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _exit_code(process: _Process, files: _Files) -> int | None:
    """The script's exit code (negative: killed by that signal), from the shell's status file,
    else from the shell itself (killed with its group); ``None`` when nothing tells."""
    if process.pooled is not None:
        return process.pooled.wait()
    text = _read_text(files.exit_status)
    if text and text.isdigit():
        code = int(text)
        # A shell reports a script killed by signal N as 128 + N.
        return -(code - 128) if 128 < code < 128 + signal.NSIG else code
    if process.popen is not None:
        return process.popen.returncode
    return None


def _not_executable(process: TrainingProcess) -> str | None:
    """Why the program cannot be executed, or ``None`` if it can."""
    program = process.argv[0]
    if os.sep in program:
        path = Path(process.cwd, program)
        if not path.is_file():
            return "No such file or directory"
        return None if os.access(path, os.X_OK) else "Permission denied"
    found = shutil.which(program, path=process.env.get("PATH", os.defpath))
    return None if found else "No such file or directory"


def _kill_group(process: _Process | None, sig: signal.Signals, name: str) -> None:
    """Signal the training job's process group. While the shell lives, or is this process's
    unreaped child, its pid names the group; an adopted group whose shell is gone is found
    member by member, each checked to be this training job's."""
    if process is None:
        return
    leader_known = process.popen is not None or process.pooled is not None
    if leader_known or _start_ticks(process.pid) == process.start_ticks:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        return
    for pid in _members_of(process.pid, name):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _members_of(group: int, name: str) -> list[int]:
    """Processes of process group ``group`` whose environment names the training job."""
    members = []
    marker = f"TRAINING_JOB_NAME={name}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = _proc_stat(entry)
            if fields is None or int(fields[2]) != group:
                continue
            if marker in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                members.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return members


def _ended(
    spec: TrainingJobSpec, status: str, reason: str, secondary: str | None = None
) -> TrainingJobEnded:
    return TrainingJobEnded(
        spec.name, status, secondary or status, time.time(),  # type: ignore[arg-type]
        failure_reason=reason[:MAX_FAILURE_REASON],
    )


def _failure_reason(paths: TrainingJobPaths, code: int, output_tail: deque[str]) -> str:
    """The script's own ``output/failure``, else its last lines of output, SageMaker's way."""
    try:
        written = paths.failure.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        written = ""
    if written:
        return written[:MAX_FAILURE_REASON]
    if code < 0:
        exit_text = f"killed by signal {_signal_name(-code)}"
    else:
        exit_text = f"exit code {code}"
    head = f"AlgorithmError: ExecuteUserScriptError: {exit_text}"
    message = "\n".join(line for line in output_tail if line.strip())
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
    with tarfile.open(partial, "w:gz", compresslevel=PACK_LEVEL) as tar:
        for entry in sorted(folder.iterdir()):
            tar.add(entry, arcname=entry.name)
    partial.replace(archive)
