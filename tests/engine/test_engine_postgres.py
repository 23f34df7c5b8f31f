"""Several engines on one PostgreSQL store at once: separate tuning jobs side by side, and
engines racing for the same tuning job, of which exactly one runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tunesmith
from helpers import QUADRATIC, env_with, tunesmith_command, tuning_document
from tunesmith import service
from tunesmith.api import load_request
from tunesmith.store import Store

PAUSED = QUADRATIC + "\nimport time\ntime.sleep(0.3)\n"


@pytest.mark.slow
def test_two_engines_run_two_tuning_jobs_on_one_store(
    home: Path, script_dir, postgres_url: str
) -> None:
    source = script_dir(PAUSED)
    jobs = [
        tunesmith.create_tuning_job(
            tuning_document(name, source, max_jobs=4, parallel=2), home=home, store=postgres_url
        )
        for name in ("left", "right")
    ]
    for job in jobs:
        assert job.wait(timeout=120)["HyperParameterTuningJobStatus"] == "Completed"
    store = Store(postgres_url)
    for name in ("left", "right"):
        records = store.training_jobs(name)
        assert [r.seq for r in records] == [1, 2, 3, 4]
        assert all(r.status == "Completed" and r.final_objective is not None for r in records)
        assert store.get_tuning_job(name).engine_pid is None

    cli = [*tunesmith_command(), "--home", str(home), "--store", postgres_url]
    listed = subprocess.run([*cli, "list", "--json"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    summaries = json.loads(listed.stdout)["HyperParameterTuningJobSummaries"]
    assert sorted(s["HyperParameterTuningJobName"] for s in summaries) == ["left", "right"]
    described = subprocess.run(
        [*cli, "describe", "left", "--json"], capture_output=True, text=True, timeout=60
    )
    assert described.returncode == 0, described.stderr
    document = json.loads(described.stdout)
    assert document["TrainingJobStatusCounters"]["Completed"] == 4
    assert document["BestTrainingJob"]["TrainingJobName"].startswith("left-")


@pytest.mark.slow
def test_engines_racing_for_one_tuning_job_run_it_once(
    home: Path, script_dir, postgres_url: str
) -> None:
    store = Store(postgres_url)
    request = load_request(tuning_document("contested", script_dir(PAUSED), max_jobs=4))
    service.create_tuning_job_record(store, request)
    # As left by an engine that died on another host long ago.
    store.update_tuning_job(
        "contested", engine_pid=1, engine_host="elsewhere", heartbeat=time.time() - 3600
    )
    command = [
        sys.executable,
        "-m",
        "tunesmith.launch",
        "contested",
        "--home",
        str(home),
        "--store",
        postgres_url,
    ]
    engines = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env_with(PYTHONUNBUFFERED="1"),
        )
        for _ in range(3)
    ]
    outcomes = [(e.wait(timeout=120), e.stderr.read()) for e in engines]
    for engine in engines:
        engine.stdout.close()
        engine.stderr.close()

    winners = [code for code, _ in outcomes if code == 0]
    losers = [err for code, err in outcomes if code != 0]
    assert len(winners) == 1, outcomes
    assert all("ConflictException" in err and "already being run" in err for err in losers)
    assert store.get_tuning_job("contested").status == "Completed"
    records = store.training_jobs("contested")
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert all(r.status == "Completed" for r in records)


def test_only_one_of_concurrent_claims_takes_a_tuning_job(script_dir, postgres_url: str) -> None:
    store = Store(postgres_url)
    request = load_request(tuning_document("claimed", script_dir(), max_jobs=1))
    service.create_tuning_job_record(store, request)
    barrier = threading.Barrier(8)
    taken: list[int] = []

    def claim(worker: int) -> None:
        barrier.wait()
        if store.claim_tuning_job(
            "claimed", lambda job: job.engine_pid is None, engine_pid=worker, heartbeat=time.time()
        ):
            taken.append(worker)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(taken) == 1
    assert store.get_tuning_job("claimed").engine_pid == taken[0]
