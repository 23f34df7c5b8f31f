"""Limits and hygiene: no process outlives any kind of stop; logs stay within their cap."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from reliability_support import FORKED, fork_engine, kill_and_reap, training_processes

import tunesmith
from helpers import tuning_document, wait_for
from tunesmith import service
from tunesmith.api import Workspace
from tunesmith.launch import spawn_engine
from tunesmith.store import TERMINAL_STATUSES

SPAWNS_CHILDREN = """
import subprocess, sys, time
subprocess.Popen(["sleep", "1000"])
grandchild = "import subprocess, time; subprocess.Popen(['sleep', '1000']); time.sleep(1000)"
subprocess.Popen([sys.executable, "-c", grandchild])
print("score: 1", flush=True)
time.sleep(1000)
"""


def _ready(home: Path, name: str, count: int) -> bool:
    logs = Path(home, "jobs", name).glob("*/logs/training.log")
    return sum("score: 1" in log.read_text() for log in logs) >= count


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind", ["stop", "tuning-job-runtime", "training-job-runtime", "sigterm-to-engine",
             "stop-while-engine-dead"],
)
def test_no_process_outlives_a_stop(home, script_dir, kind: str) -> None:
    name = f"tree-{kind}"[:32]
    document = tuning_document(name, script_dir(SPAWNS_CHILDREN), max_jobs=2, parallel=2)
    if kind == "tuning-job-runtime":
        document["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxRuntimeInSeconds"] = 8
    if kind == "training-job-runtime":
        document["TrainingJobDefinition"]["StoppingCondition"] = {"MaxRuntimeInSeconds": 6}
    store = Workspace.open(home).store
    service.create_tuning_job_record(store, document)
    if kind == "sigterm-to-engine":  # a detached engine, as `tunesmith tune --detach` starts
        engine = spawn_engine(name, Path(home).resolve(), store.url)
        FORKED.append(engine)
    else:
        engine = fork_engine(store.url, name, Path(home).resolve())
    wait_for(lambda: _ready(home, name, 2), timeout=60)
    wait_for(lambda: len(training_processes(f"{name}-")) >= 2 * 4, timeout=30)
    if kind == "stop":
        tunesmith.stop_tuning_job(name, home=home)
    elif kind == "sigterm-to-engine":
        os.kill(engine, signal.SIGTERM)
    elif kind == "stop-while-engine-dead":
        kill_and_reap(engine)
        tunesmith.stop_tuning_job(name, home=home)
        engine = fork_engine(store.url, name, Path(home).resolve())
    wait_for(lambda: store.get_tuning_job(name).status in TERMINAL_STATUSES, timeout=60)
    kill_and_reap(engine)
    assert training_processes(f"{name}-") == []
    statuses = {r.status for r in store.training_jobs(name)}
    expected = "Completed" if kind.endswith("runtime") else "Stopped"
    assert store.get_tuning_job(name).status == expected
    assert statuses == {"Stopped"}


def test_training_log_is_rotated_at_its_cap(home, script_dir, monkeypatch) -> None:
    monkeypatch.setenv("TUNESMITH_LOG_MAX_BYTES", "100000")
    source = script_dir(
        "for i in range(3000):\n"
        "    print('x' * 99)\n"
        "    if i % 100 == 0:\n"
        "        print(f'score: {i}', flush=True)\n"
    )
    job = tunesmith.create_tuning_job(
        tuning_document("chatty", source, max_jobs=1, parallel=1), home=home, detach=False
    )
    doc = job.wait(timeout=120)
    assert doc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 2900
    name = doc["BestTrainingJob"]["TrainingJobName"]
    logs = Path(home, "jobs", "chatty", name, "logs")
    assert sorted(p.name for p in logs.iterdir()) == ["training.log", "training.log.1"]
    assert all(p.stat().st_size <= 100000 for p in logs.iterdir())
    store = Workspace.open(home).store
    assert len(store.metric_series(name, "score")) == 30
