"""RetryStrategy: training jobs failed by the infrastructure run again as attempts of the same
training job; script errors do not."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from reliability_support import fork_engine, fork_servers, kill_and_reap, training_processes

import tunesmith
from helpers import tuning_document, wait_for
from tunesmith import service
from tunesmith.api import Workspace
from tunesmith.store import TERMINAL_STATUSES

KILLED_ON_FIRST_ATTEMPT = """
import os, signal
marker = os.path.join(os.environ["SM_CHECKPOINT_DIR"], "attempted")
print("score: 0.5", flush=True)
if not os.path.exists(marker):
    open(marker, "w").close()
    os.kill(os.getpid(), signal.SIGKILL)
print("score: 1.0", flush=True)
"""

WAITS_ON_FIRST_ATTEMPT = """
import os, time
marker = os.path.join(os.environ["SM_CHECKPOINT_DIR"], "attempted")
if not os.path.exists(marker):
    open(marker, "w").close()
    print("ready", flush=True)
    time.sleep(1000)
print("score: 1.0", flush=True)
"""


def _document(name: str, source: Path, retries: int | None, max_jobs: int = 2) -> dict:
    document = tuning_document(name, source, max_jobs=max_jobs, parallel=2)
    if retries is not None:
        document["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": retries}
    return document


def test_a_killed_training_job_is_retried_as_a_new_attempt(home, script_dir) -> None:
    source = script_dir(KILLED_ON_FIRST_ATTEMPT)
    job = tunesmith.create_tuning_job(_document("retried", source, 2), home=home, detach=False)
    doc = job.wait(timeout=120)
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert doc["TrainingJobStatusCounters"]["Completed"] == 2
    store = Workspace.open(home).store
    for summary in job.training_jobs():
        assert summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 1.0
        name = summary["TrainingJobName"]
        # The failed attempt's value is not a result; the attempt itself stays visible.
        assert [p.value for p in store.metric_series(name, "score")] == [0.5, 1.0]
        described = tunesmith.describe_training_job(name, home=home)
        statuses = [t["Status"] for t in described["SecondaryStatusTransitions"]]
        assert statuses == ["Starting", "Training", "Restarting", "Starting", "Training",
                            "Completed"]
        restarting = described["SecondaryStatusTransitions"][2]["StatusMessage"]
        assert restarting.startswith("Attempt 1 failed: ") and "SIGKILL" in restarting
        log = Path(job.workspace.home, "jobs", "retried", name, "logs", "training.log")
        assert log.read_text().count("score: 0.5") == 2


def test_without_retries_an_infrastructure_failure_is_a_retryable_error(
    home, script_dir
) -> None:
    source = script_dir(KILLED_ON_FIRST_ATTEMPT)
    job = tunesmith.create_tuning_job(_document("once", source, None), home=home, detach=False)
    doc = job.wait(timeout=120)
    counters = doc["TrainingJobStatusCounters"]
    assert (counters["RetryableError"], counters["NonRetryableError"]) == (2, 0)


def test_a_script_error_is_not_retried(home, script_dir) -> None:
    source = script_dir("import sys\nsys.exit(3)\n")
    job = tunesmith.create_tuning_job(_document("buggy", source, 3), home=home, detach=False)
    doc = job.wait(timeout=120)
    counters = doc["TrainingJobStatusCounters"]
    assert (counters["RetryableError"], counters["NonRetryableError"]) == (0, 2)
    for summary in job.training_jobs():
        described = tunesmith.describe_training_job(summary["TrainingJobName"], home=home)
        assert "Restarting" not in [t["Status"] for t in described["SecondaryStatusTransitions"]]


def test_a_process_lost_with_its_engine_is_retried_after_resume(home, script_dir) -> None:
    source = script_dir(WAITS_ON_FIRST_ATTEMPT)
    store = Workspace.open(home).store
    service.create_tuning_job_record(store, _document("lost", source, 1, max_jobs=1))
    engine = fork_engine(store.url, "lost", Path(home).resolve())
    log = Path(home, "jobs", "lost")
    wait_for(lambda: any("ready" in p.read_text() for p in log.glob("*/logs/training.log")),
             timeout=60)
    kill_and_reap(engine)
    _lose_training_processes("lost-", Path(home).parent)

    engine = fork_engine(store.url, "lost", Path(home).resolve())
    wait_for(lambda: store.get_tuning_job("lost").status in TERMINAL_STATUSES, timeout=120)
    kill_and_reap(engine)
    [record] = store.training_jobs("lost")
    assert record.status == "Completed" and record.final_objective == 1.0
    restarting = [t for t in record.transitions if t["Status"] == "Restarting"]
    assert len(restarting) == 1 and "left no exit status" in restarting[0]["StatusMessage"]
    assert training_processes("lost-") == []


LOST_THEN_HELD = """
import os, time
with open(os.environ["RUNS_FILE"], "a") as runs:
    runs.write(os.environ["TRAINING_JOB_NAME"] + "\\n")
with open(os.environ["RUNS_FILE"]) as runs:
    run = len(runs.read().splitlines())
if run == 1:  # lost with its engine
    print("ready", flush=True)
    time.sleep(1000)
while run == 2 and not os.path.exists(os.environ["RUNS_FILE"] + ".release"):
    time.sleep(0.02)
print("score: 1.0", flush=True)
"""


def _lose_training_processes(prefix: str, folder: Path) -> None:
    """The machine loses the training processes, exit status and all: with the fork servers
    that would write it, for scripts forked from the warm pool."""
    training = training_processes(prefix)
    for server in {p.parent() for p in training} & set(fork_servers(folder)):
        server.kill()
    for group in {os.getpgid(p.pid) for p in training}:
        os.killpg(group, signal.SIGKILL)
    wait_for(lambda: not training_processes(prefix), timeout=20)


@pytest.mark.slow
def test_a_lost_training_job_is_replaced_within_the_budget(
    home, script_dir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs_file = tmp_path / "runs.txt"
    monkeypatch.setenv("RUNS_FILE", str(runs_file))
    source = script_dir(LOST_THEN_HELD)
    store = Workspace.open(home).store
    document = tuning_document("replaced", source, max_jobs=2, parallel=1)
    service.create_tuning_job_record(store, document)
    engine = fork_engine(store.url, "replaced", Path(home).resolve())
    wait_for(lambda: runs_file.exists(), timeout=60)
    kill_and_reap(engine)
    _lose_training_processes("replaced-", tmp_path)

    # The next engine replaces the lost one, and dies while the replacement runs.
    engine = fork_engine(store.url, "replaced", Path(home).resolve())
    wait_for(lambda: len(runs_file.read_text().splitlines()) == 2, timeout=60)
    kill_and_reap(engine)
    engine = fork_engine(store.url, "replaced", Path(home).resolve())
    Path(f"{runs_file}.release").touch()
    wait_for(lambda: store.get_tuning_job("replaced").status in TERMINAL_STATUSES, timeout=120)
    kill_and_reap(engine)

    records = store.training_jobs("replaced")
    [lost] = [r for r in records if r.status == "Failed"]
    replacement = lost.failure_reason.rpartition("replaced by training job ")[2]
    assert "left no exit status" in lost.failure_reason
    assert store.get_training_job(replacement).hyperparameters == lost.hyperparameters
    assert [r.seq for r in records] == [1, 2, 3]
    doc = service.describe_tuning_job(store, "replaced")
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    counters = doc["TrainingJobStatusCounters"]
    assert (counters["Completed"], counters["RetryableError"]) == (2, 1)
    assert runs_file.read_text().splitlines() == [r.name for r in records]
    assert [lost.name, replacement] == [r.name for r in records[:2]]
    assert training_processes("replaced-") == []
