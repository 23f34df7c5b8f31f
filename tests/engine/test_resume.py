"""An engine killed with SIGKILL, then resumed: nothing finished is lost or run twice, and
the training jobs it was running are adopted."""

from __future__ import annotations

import json
import os
import signal

import pytest

import tunesmith
from helpers import process_running, tuning_document, wait_for
from tunesmith import service
from tunesmith.api import Workspace

STEADY = "import time\nprint('score: 1', flush=True)\ntime.sleep(0.4)\n"


@pytest.mark.parametrize("start", ["pool", "cold"])
def test_resume_after_kill_keeps_finished_training_jobs(
    home, script_dir, monkeypatch, start: str
) -> None:
    monkeypatch.setenv("TUNESMITH_ENGINE_SILENCE_SECONDS", "1")
    monkeypatch.setenv("TUNESMITH_POOL", "1" if start == "pool" else "0")
    job = tunesmith.create_tuning_job(
        tuning_document("crashy", script_dir(STEADY), max_jobs=8, parallel=2), home=home
    )
    store = Workspace.open(home).store
    wait_for(lambda: store.counters("crashy").completed >= 3, timeout=60)
    engine_pid = store.get_tuning_job("crashy").engine_pid
    os.kill(engine_pid, signal.SIGKILL)
    wait_for(lambda: not service.engine_alive(store.get_tuning_job("crashy")), timeout=30)
    before = {r.name: r for r in store.training_jobs("crashy") if r.status == "Completed"}
    running = [r for r in store.training_jobs("crashy") if r.status == "InProgress"]
    orphans = [r.pid for r in running if r.pid is not None]

    resumed = tunesmith.resume_tuning_job("crashy", home=home, detach=False)
    doc = resumed.wait(timeout=120)

    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    after = store.training_jobs("crashy")
    assert len(after) == 8
    assert len({r.name for r in after}) == 8
    for name, record in before.items():
        assert store.get_training_job(name) == record
    # The training jobs running at the crash were adopted, not run again: same process, one
    # objective value each, completed.
    for record in running:
        adopted = store.get_training_job(record.name)
        assert adopted.status == "Completed"
        assert adopted.pid == record.pid or record.pid is None
        assert len(store.metric_series(record.name, "score")) == 1
    for pid in orphans:
        assert not process_running(pid)
    counters = doc["TrainingJobStatusCounters"]
    assert counters["Completed"] == 8
    # Its engines recorded what ran its training jobs, for whichever resumes it next.
    assert json.loads(store.get_tuning_job("crashy").backend or "{}").get("name") == "local"
    del job


def test_resume_refuses_running_and_finished_jobs(home, script_dir) -> None:
    sleepy = script_dir("import time\nprint('score: 1', flush=True)\ntime.sleep(60)\n")
    job = tunesmith.create_tuning_job(tuning_document("alive", sleepy, max_jobs=1), home=home)
    store = Workspace.open(home).store
    wait_for(lambda: store.get_tuning_job("alive").heartbeat, timeout=30)
    with pytest.raises(tunesmith.TunesmithError, match="still being run"):
        tunesmith.resume_tuning_job("alive", home=home)
    job.stop()
    job.wait(60)
    with pytest.raises(tunesmith.ValidationException, match="already ended"):
        tunesmith.resume_tuning_job("alive", home=home)
