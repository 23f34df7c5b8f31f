"""kill -9 of the engine at random points of a 30-training-job run, resumed after each kill:
no finished training job lost, none run twice, none counted twice, counters exact, no orphan
process left."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import psutil
import pytest
from reliability_support import (
    RECORDS_ITS_RUNS,
    fork_engine,
    fork_servers,
    kill_and_reap,
    record_figures,
    runs_per_training_job,
    training_processes,
)

from helpers import tuning_document, wait_for
from tunesmith import service
from tunesmith.api import Workspace
from tunesmith.launch import spawn_engine
from tunesmith.model.errors import ValidationException
from tunesmith.store import TERMINAL_STATUSES

TRAINING_JOBS = 30
KILLS = 50
STEPS = 3


@pytest.mark.slow
@pytest.mark.parametrize("start", ["pool", "cold"])
def test_kill_9_at_random_points_loses_and_repeats_nothing(
    home: Path, script_dir, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, start: str
) -> None:
    # Python scripts are forked from the warm pool by default; a cold start runs under a shell.
    monkeypatch.setenv("TUNESMITH_POOL", "1" if start == "pool" else "0")
    runs_file = tmp_path / "runs.txt"
    monkeypatch.setenv("RUNS_FILE", str(runs_file))
    source = script_dir(RECORDS_ITS_RUNS.format(steps=STEPS, pause=0.8))
    document = tuning_document(
        "killed", source, strategy="Random", max_jobs=TRAINING_JOBS, parallel=2,
        ranges={"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
    )
    workspace = Workspace.open(home)
    store = workspace.store
    service.create_tuning_job_record(store, document)
    chance = random.Random(20261123)
    finished: dict[str, tuple] = {}
    lost = changed = kills = real_engines = 0
    started = time.monotonic()

    # Killed again and again until it ends: the kill points spread over the whole run.
    while store.get_tuning_job("killed").status not in TERMINAL_STATUSES:
        # Now and then a real detached engine, as `tunesmith resume --detach` starts it.
        if kills % 10 == 9:
            try:
                service.check_resumable(store, "killed")
            except ValidationException:  # it has just ended
                break
            pid = spawn_engine("killed", workspace.home, store.url)
            real_engines += 1
            time.sleep(chance.uniform(0.0, 2.0))
        else:
            forked = time.time()
            pid = fork_engine(store.url, "killed", workspace.home)
            if chance.random() < 0.8:
                # Most kills strike an engine at work, after it has rebuilt its state.
                wait_for(lambda since=forked: (store.get_tuning_job("killed").heartbeat or 0)
                         > since or store.get_tuning_job("killed").status in TERMINAL_STATUSES,
                         timeout=60)
                time.sleep(chance.uniform(0.0, 0.6))
            else:
                time.sleep(chance.uniform(0.0, 0.3))
        kill_and_reap(pid)
        kills += 1
        now = {r.name: r for r in store.training_jobs("killed")}
        for name, seen in finished.items():
            record = now.get(name)
            if record is None:
                lost += 1
            elif (record.status, record.end_time, record.final_objective) != seen:
                changed += 1
        for name, record in now.items():
            if record.status in TERMINAL_STATUSES and name not in finished:
                finished[name] = (record.status, record.end_time, record.final_objective)

    pid = fork_engine(store.url, "killed", workspace.home)
    wait_for(lambda: store.get_tuning_job("killed").status in TERMINAL_STATUSES, timeout=240)
    kill_and_reap(pid)
    duration = time.monotonic() - started

    records = store.training_jobs("killed")
    runs = runs_per_training_job(runs_file)
    duplicated = sum(count - 1 for count in runs.values() if count > 1)
    counted_twice = sum(
        1 for r in records if len(store.metric_series(r.name, "score")) != STEPS
    )
    # A fork server of the warm pool ends with its last child, or with its engine.
    _, servers_left = psutil.wait_procs(fork_servers(tmp_path), timeout=30)
    orphans = training_processes("killed-") + servers_left
    forked = sum(json.loads(p.read_text()).get("pooled", False)
                 for p in workspace.home.glob("jobs/killed/*/runner/process.json"))
    doc = service.describe_tuning_job(store, "killed")
    record_figures("kill_points" if start == "pool" else "kill_points_cold", {
        "training_jobs": TRAINING_JOBS, "kill_points": kills, "of_them_detached_engines":
        real_engines, "lost": lost, "changed_after_finishing": changed,
        "duplicated": duplicated, "counted_twice": counted_twice, "orphans": len(orphans),
        "forked_from_the_warm_pool": forked,
        "seconds": round(duration, 1),
    })

    assert kills >= KILLS
    assert forked == (TRAINING_JOBS if start == "pool" else 0)
    assert (lost, changed, duplicated, counted_twice, orphans) == (0, 0, 0, 0, [])
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert sorted(r.seq for r in records) == list(range(1, TRAINING_JOBS + 1))
    assert sorted(runs) == sorted(r.name for r in records)
    assert doc["TrainingJobStatusCounters"] == {
        "Completed": TRAINING_JOBS, "InProgress": 0, "RetryableError": 0,
        "NonRetryableError": 0, "Stopped": 0,
    }
    assert doc["ObjectiveStatusCounters"] == {
        "Succeeded": TRAINING_JOBS, "Pending": 0, "Failed": 0,
    }
    for record in records:
        x = float(record.hyperparameters["x"])
        assert record.final_objective == pytest.approx(x + STEPS - 1, abs=1e-5)
    best = max(records, key=lambda r: r.final_objective or 0.0)
    assert doc["BestTrainingJob"]["TrainingJobName"] == best.name
