"""The engines of the tuning jobs the server runs: started detached, watched, and restarted when
they are gone.

Each engine runs in a process of its own (``spawn_engine``), not in a thread of the server: a
busy or restarted server then never slows, pauses or interrupts a tuning job, and an engine's
fault cannot take the server down. A watchdog thread looks at every running tuning job of the
store once a second and starts a new engine for any whose engine is gone (its process ended on
this host, or its heartbeat stopped), which also resumes the jobs of a previous server on start.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter

from tunesmith.api import Workspace
from tunesmith.launch import engine_log, spawn_engine
from tunesmith.runner.backend import Backend
from tunesmith.store import Listing, TuningJobRecord

log = logging.getLogger("tunesmith.server")

SCAN_SECONDS = 1.0
STALE_HEARTBEAT_SECONDS = 30.0
"""An engine beats every second; this long without a beat means it is gone, whatever host."""
MAX_RESTARTS = 3
"""Restarts of one job's engine per server run before the job fails instead of looping."""
RUNNING = ("InProgress", "Stopping")


def process_alive(pid: int) -> bool:
    """Whether a process of this host is running (a child that ended is reaped, not alive)."""
    try:
        ended, _ = os.waitpid(pid, os.WNOHANG)
        if ended == pid:
            return False
    except ChildProcessError:
        pass
    except OSError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EngineSupervisor:
    """Starts engines for new tuning jobs and restarts the ones whose engine is gone."""

    def __init__(
        self, workspace: Workspace, *, backend: Backend | None = None,
        scan_seconds: float = SCAN_SECONDS,
    ) -> None:
        self.workspace = workspace
        self.backend = backend
        self.scan_seconds = scan_seconds
        self.host = socket.gethostname()
        self.restarts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="tunesmith-engine-watchdog", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop watching; the engines keep running on their own."""
        self._stop.set()
        self._thread.join()

    def launch(self, name: str) -> int:
        """Start an engine for the tuning job and record it as the job's engine."""
        now = time.time()
        store = self.workspace.store
        pid = spawn_engine(name, self.workspace.home, store.url, self.backend)
        # Recorded at once so that no watchdog (this one or another server's) starts a second
        # engine before this one has written its first heartbeat; only while the job has no
        # other engine, which another server may have started meanwhile (the new engine then
        # finds the job taken and leaves it).
        store.claim_tuning_job(
            name,
            lambda job: job.status in RUNNING
            and ((job.engine_host, job.engine_pid) == (self.host, pid) or self.orphaned(job, now)),
            engine_pid=pid, engine_host=self.host, heartbeat=time.time(),
        )
        return pid

    def orphaned(self, job: TuningJobRecord, now: float) -> bool:
        """Whether the running tuning job has no engine any more."""
        if job.engine_host == self.host and job.engine_pid is not None:
            if not process_alive(job.engine_pid):
                return True
        return now - (job.heartbeat or job.created) > STALE_HEARTBEAT_SECONDS

    def scan(self) -> list[str]:
        """Restart the engines of running tuning jobs that lost theirs; returns their names."""
        store = self.workspace.store
        now = time.time()
        jobs = [j for status in RUNNING for j in store.list_tuning_jobs(Listing(status=status))]
        restarted = []
        for job in jobs:
            if not self.orphaned(job, now):
                continue
            if self.restarts[job.name] >= MAX_RESTARTS:
                self._fail(job.name)
                continue
            self.restarts[job.name] += 1
            log.warning("tuning job %s lost its engine; starting a new one", job.name)
            self.launch(job.name)
            restarted.append(job.name)
        return restarted

    def _fail(self, name: str) -> None:
        now = time.time()
        reason = (
            f"InternalFailure: the tuning engine stopped unexpectedly {MAX_RESTARTS + 1} times; "
            f"see {engine_log(self.workspace.home, name)}"
        )
        self.workspace.store.update_tuning_job(
            name, status="Failed", failure_reason=reason, completion_reason=reason,
            end_time=now, last_modified=now, engine_pid=None, only_if_status=list(RUNNING),
        )

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:
                log.exception("engine watchdog scan failed")
            self._stop.wait(self.scan_seconds)
