"""A Bayesian tuning job killed mid-search continues the same search when resumed: the new
engine's strategy knows every training job run before the kill."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_support import fork_engine, kill_and_reap

from helpers import tuning_document, wait_for
from tunesmith import service
from tunesmith.api import Workspace
from tunesmith.engine import TuningEngine
from tunesmith.launch import run_engine

STEADY = "import sys, time\nx = float(sys.argv[sys.argv.index('--x') + 1])\n" \
         "time.sleep(0.3)\nprint(f'score: {-(x - 0.3) ** 2:.6f}', flush=True)\n"


@pytest.mark.slow
def test_a_resumed_bayesian_job_continues_its_search(home, script_dir) -> None:
    document = tuning_document(
        "bayes", script_dir(STEADY), strategy="Bayesian", max_jobs=8, parallel=2,
        ranges={"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
    )
    store = Workspace.open(home).store
    service.create_tuning_job_record(store, document)
    engine = fork_engine(store.url, "bayes", Path(home).resolve())
    wait_for(lambda: store.counters("bayes").completed >= 4, timeout=120)
    kill_and_reap(engine)
    before = {r.name for r in store.training_jobs("bayes") if r.status == "Completed"}

    engines: list[TuningEngine] = []
    service.check_resumable(store, "bayes")
    assert run_engine(store, "bayes", Path(home).resolve(), on_start=engines.append) == "Completed"

    records = store.training_jobs("bayes")
    told = {trial.trial_id for trial in engines[0].strategy.trials}
    assert before <= told and told == {r.name for r in records}
    assert len(records) == 8 and all(r.status == "Completed" for r in records)
    assert len({r.hyperparameters["x"] for r in records}) == 8
