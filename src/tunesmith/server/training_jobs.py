"""Standalone training jobs (``CreateTrainingJob``): one run of a script, outside any tuning job.

The server runs each one in a thread of its own with ``run_training_job``, as
``tunesmith.create_training_job`` does, so it is recorded the same way whoever started it;
``StopTrainingJob`` asks it to stop through the store. What a previous server left running and
nothing runs any more is marked ``Failed`` when the next one starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from tunesmith import service
from tunesmith.api import Workspace
from tunesmith.model import load_training_job_document, to_document
from tunesmith.model.errors import ValidationException
from tunesmith.recording import advance
from tunesmith.server.engines import process_alive
from tunesmith.store import Listing
from tunesmith.training_job import run_training_job

log = logging.getLogger("tunesmith.server")

STARTUP_GRACE_SECONDS = 30.0
"""How long a training job may stay without a process before it counts as lost."""
RUNNING = ("InProgress", "Stopping")


class StandaloneTrainingJobs:
    """Runs the ``CreateTrainingJob`` training jobs of a server, one thread each."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def create(self, params: Mapping[str, Any]) -> str:
        """Record and start a training job from a ``CreateTrainingJob`` request; returns its
        ARN."""
        request = to_document(load_training_job_document(params))
        arn = service.create_training_job_record(self.workspace.store, request)
        name = request["TrainingJobName"]
        thread = threading.Thread(
            target=self._run, args=(name,), name=f"tunesmith-training-{name}", daemon=True
        )
        with self._lock:
            self._threads[name] = thread
        thread.start()
        return arn

    def stop(self, name: str) -> None:
        """Stop a standalone training job, as ``StopTrainingJob``."""
        store = self.workspace.store
        record = store.get_training_job(name)
        if record.tuning_job is not None:
            raise ValidationException(
                f"Training job '{name}' belongs to hyperparameter tuning job "
                f"'{record.tuning_job}'; stop the tuning job instead"
            )
        service.stop_training_job(store, name)
        if not self._runs(name, record.pid):
            # Nobody runs it (its server is gone): it ends here.
            self._end(name, "Stopped", "Stopped by request")

    def close(self) -> None:
        """Stop the running training jobs (they end ``Stopped``) and wait until they have."""
        with self._lock:
            threads = dict(self._threads)
        for name in threads:
            try:
                service.stop_training_job(self.workspace.store, name)
            except ValidationException:
                pass  # it ended meanwhile
        for thread in threads.values():
            thread.join()

    def fail_lost(self) -> list[str]:
        """Mark ``Failed`` the running standalone training jobs no process runs any more (a
        server that ran them was killed); returns their names."""
        now = time.time()
        lost = []
        for status in RUNNING:
            for record in self.workspace.store.list_training_jobs(Listing(status=status)):
                if record.tuning_job is not None or self._runs(record.name, record.pid):
                    continue
                if record.pid is None and now - record.created < STARTUP_GRACE_SECONDS:
                    continue
                self._end(record.name, "Failed",
                          "The server running this training job stopped unexpectedly")
                lost.append(record.name)
        return lost

    def _run(self, name: str) -> None:
        try:
            run_training_job(self.workspace.store, name, self.workspace.home)
        except Exception:
            log.exception("training job %s could not be run", name)
            self._end(name, "Failed", "The server could not run this training job")
        finally:
            with self._lock:
                del self._threads[name]

    def _runs(self, name: str, pid: int | None) -> bool:
        with self._lock:
            if name in self._threads:
                return True
        return pid is not None and process_alive(pid)

    def _end(self, name: str, status: str, reason: str) -> None:
        store = self.workspace.store
        transitions = list(store.get_training_job(name).transitions)
        now = time.time()
        advance(transitions, status, now, reason)
        store.update_training_job(
            name, status=status, secondary_status=status, end_time=now, failure_reason=reason,
            transitions=transitions,
        )
