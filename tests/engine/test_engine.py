"""The tuning loop end to end, with real training processes."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

import tunesmith
from helpers import process_running, tuning_document, wait_for
from tunesmith import service
from tunesmith.api import Workspace, load_request
from tunesmith.launch import run_engine
from tunesmith.model.shapes import DescribeHyperParameterTuningJobResponse

SLEEPY = """
import time, sys
print("score: 0.5", flush=True)
time.sleep(60)
"""


def run(document: dict, home: Path, **kwargs) -> dict:
    job = tunesmith.create_tuning_job(document, home=home, detach=False, **kwargs)
    return job.wait(timeout=120)


def test_random_job_runs_every_training_job_within_the_parallel_limit(home, script_dir) -> None:
    doc = run(tuning_document("quad", script_dir(), max_jobs=6, parallel=2), home)
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert doc["TrainingJobStatusCounters"]["Completed"] == 6
    assert doc["ObjectiveStatusCounters"]["Succeeded"] == 6
    summaries = tunesmith.list_training_jobs_for_tuning_job("quad", home=home)
    assert [s["TrainingJobName"][:9] for s in summaries] == [f"quad-{i:03d}-" for i in range(1, 7)]
    assert all(re.fullmatch(r"quad-\d{3}-[0-9a-f]{8}", s["TrainingJobName"]) for s in summaries)
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    best = doc["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(values)
    for s in summaries:
        assert 0 <= float(s["TunedHyperParameters"]["x"]) <= 1
        assert s["TunedHyperParameters"]["n"] in {"1", "2", "3", "4", "5"}
    # Never more than MaxParallelTrainingJobs at once.
    edges = sorted(
        [(s["TrainingStartTime"], 1) for s in summaries]
        + [(s["TrainingEndTime"], -1) for s in summaries]
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak <= 2
    assert doc["ConsumedResources"]["RuntimeInSeconds"] >= 0
    DescribeHyperParameterTuningJobResponse.model_validate(doc)


def test_training_job_description_follows_the_contract(home, script_dir) -> None:
    run(tuning_document("quad", script_dir(), max_jobs=1, parallel=1), home)
    name = tunesmith.list_training_jobs_for_tuning_job("quad", home=home)[0]["TrainingJobName"]
    training = tunesmith.describe_training_job(name, home=home)
    assert training["TrainingJobStatus"] == "Completed"
    assert training["HyperParameters"]["_tuning_objective_metric"] == "score"
    assert [m["MetricName"] for m in training["FinalMetricDataList"]] == ["score"]
    assert [t["Status"] for t in training["SecondaryStatusTransitions"]] == [
        "Starting",
        "Training",
        "Completed",
    ]
    assert Path(training["ModelArtifacts"]["S3ModelArtifacts"]).name == "model.tar.gz"
    log = home / "jobs" / "quad" / name / "logs" / "training.log"
    assert "score:" in log.read_text()


def test_grid_runs_each_combination_once(home, script_dir) -> None:
    ranges = {
        "CategoricalParameterRanges": [
            {"Name": "kind", "Values": ["a", "b", "c"]},
            {"Name": "n", "Values": ["1", "2"]},
        ]
    }
    doc = run(
        tuning_document(
            "grid", script_dir(), strategy="Grid", max_jobs=None, ranges=ranges, seed=None
        ),
        home,
    )
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    combos = {
        tuple(sorted(s["TunedHyperParameters"].items()))
        for s in tunesmith.list_training_jobs_for_tuning_job("grid", home=home)
    }
    assert len(combos) == 6
    assert doc["BestTrainingJob"]["TunedHyperParameters"]["kind"] == "c"


def test_target_objective_value_completes_the_job_early(home, script_dir) -> None:
    document = tuning_document(
        "target",
        script_dir(),
        max_jobs=30,
        parallel=1,
        TuningJobCompletionCriteria={"TargetObjectiveMetricValue": -10.0},
    )
    doc = run(document, home)
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert doc["TrainingJobStatusCounters"]["Completed"] == 1
    record = Workspace.open(home).store.get_tuning_job("target")
    assert "TargetObjectiveMetricValue" in record.completion_reason


def test_best_objective_not_improving_completes_the_job(home, script_dir) -> None:
    constant = script_dir('print("score: 1.0")\n')
    document = tuning_document(
        "flat",
        constant,
        max_jobs=30,
        parallel=1,
        TuningJobCompletionCriteria={
            "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}
        },
    )
    doc = run(document, home)
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert doc["TrainingJobStatusCounters"]["Completed"] == 4
    assert doc["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] == 3


def test_tuning_job_runtime_limit_stops_it(home, script_dir) -> None:
    document = tuning_document(
        "clock",
        script_dir("import time\nprint('score: 1')\ntime.sleep(30)\n"),
        max_jobs=50,
        parallel=1,
        ResourceLimits={"MaxRuntimeInSeconds": 120},
    )
    # AWS's minimum is 120 s; the engine honours whatever the stored document says.
    request = load_request(document)
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxRuntimeInSeconds"] = 2
    workspace = Workspace.open(home)
    service.create_tuning_job_record(workspace.store, request)
    started = time.monotonic()
    assert run_engine(workspace.store, "clock", workspace.home) == "Completed"
    assert time.monotonic() - started < 20
    doc = tunesmith.describe_tuning_job("clock", home=home)
    assert doc["TrainingJobStatusCounters"]["Stopped"] == 1
    assert "MaxRuntimeInSeconds" in workspace.store.get_tuning_job("clock").completion_reason


def test_five_failed_training_jobs_fail_the_tuning_job(home, script_dir) -> None:
    crash = script_dir("import sys\nprint('oh no: bad input', file=sys.stderr)\nsys.exit(3)\n")
    doc = run(tuning_document("crash", crash, max_jobs=20, parallel=1), home)
    assert doc["HyperParameterTuningJobStatus"] == "Failed"
    assert doc["TrainingJobStatusCounters"]["NonRetryableError"] == 5
    assert "oh no: bad input" in doc["FailureReason"]


def test_script_crashing_at_import_fails_its_training_jobs(home, script_dir) -> None:
    broken = script_dir("import module_that_does_not_exist\n")
    doc = run(tuning_document("imports", broken, max_jobs=5, parallel=2), home)
    assert doc["HyperParameterTuningJobStatus"] == "Failed"
    summary = tunesmith.list_training_jobs_for_tuning_job("imports", home=home)[0]
    assert summary["TrainingJobStatus"] == "Failed"
    assert "module_that_does_not_exist" in summary["FailureReason"]


def test_job_without_objective_is_completed_with_objective_failed(home, script_dir) -> None:
    silent = script_dir("print('nothing to see')\n")
    doc = run(tuning_document("silent", silent, max_jobs=2, parallel=1), home)
    summaries = tunesmith.list_training_jobs_for_tuning_job("silent", home=home)
    assert [s["TrainingJobStatus"] for s in summaries] == ["Completed", "Completed"]
    assert [s["ObjectiveStatus"] for s in summaries] == ["Failed", "Failed"]
    assert doc["ObjectiveStatusCounters"]["Failed"] == 2
    assert doc["HyperParameterTuningJobStatus"] == "Failed"
    assert "score" in doc["FailureReason"]


def test_non_numeric_match_is_reported(home, script_dir) -> None:
    words = script_dir("print('score: abc')\n")
    run(
        tuning_document(
            "words",
            words,
            max_jobs=1,
            parallel=1,
            metric_definitions=[{"Name": "score", "Regex": r"score:\s*(\S+)"}],
        ),
        home,
    )
    summary = tunesmith.list_training_jobs_for_tuning_job("words", home=home)[0]
    assert summary["ObjectiveStatus"] == "Failed"
    assert "abc" in summary["FailureReason"]


def test_training_job_runtime_limit(home, script_dir) -> None:
    document = tuning_document("slow", script_dir(SLEEPY), max_jobs=1, parallel=1)
    document["TrainingJobDefinition"]["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    started = time.monotonic()
    doc = run(document, home)
    assert time.monotonic() - started < 20
    summary = tunesmith.list_training_jobs_for_tuning_job("slow", home=home)[0]
    assert summary["TrainingJobStatus"] == "Stopped"
    training = tunesmith.describe_training_job(summary["TrainingJobName"], home=home)
    assert training["SecondaryStatus"] == "MaxRuntimeExceeded"
    # A stopped job keeps the objective value it printed.
    assert summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.5
    assert doc["HyperParameterTuningJobStatus"] == "Completed"


def test_stop_ends_stopped_and_leaves_no_process(home, script_dir) -> None:
    job = tunesmith.create_tuning_job(
        tuning_document("stopme", script_dir(SLEEPY), max_jobs=10, parallel=2), home=home
    )
    store = job.workspace.store
    running = wait_for(lambda: [r for r in store.training_jobs("stopme") if r.pid], timeout=60)
    wait_for(lambda: len([r for r in store.training_jobs("stopme") if r.pid]) == 2, timeout=60)
    pids = [r.pid for r in store.training_jobs("stopme")]
    assert running
    job.stop()
    doc = job.wait(timeout=60)
    assert doc["HyperParameterTuningJobStatus"] == "Stopped"
    assert doc["TrainingJobStatusCounters"]["Stopped"] == 2
    for pid in pids:
        assert not process_running(pid)


def test_describe_shows_live_progress_from_another_process(home, script_dir) -> None:
    slowish = script_dir("import time\nprint('score: 1', flush=True)\ntime.sleep(0.5)\n")
    job = tunesmith.create_tuning_job(
        tuning_document("live", slowish, max_jobs=6, parallel=1), home=home
    )
    assert job.status == "InProgress"
    seen = wait_for(
        lambda: (
            (d := job.describe())["TrainingJobStatusCounters"]["Completed"] >= 1
            and d["HyperParameterTuningJobStatus"] == "InProgress"
            and d
        ),
        timeout=60,
    )
    assert seen["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 1.0
    assert job.wait(timeout=60)["TrainingJobStatusCounters"]["Completed"] == 6


def test_two_tuning_jobs_at_once_on_one_home(home, script_dir) -> None:
    source = script_dir()
    jobs = [
        tunesmith.create_tuning_job(tuning_document(n, source, max_jobs=8, parallel=2), home=home)
        for n in ("first", "second")
    ]
    for job in jobs:
        doc = job.wait(timeout=120)
        assert doc["HyperParameterTuningJobStatus"] == "Completed"
        assert doc["TrainingJobStatusCounters"]["Completed"] == 8


def test_second_job_with_the_same_name_is_resource_in_use(home, script_dir) -> None:
    document = tuning_document("dup", script_dir(), max_jobs=1, parallel=1)
    run(document, home)
    with pytest.raises(tunesmith.ResourceInUse, match="dup"):
        tunesmith.create_tuning_job(document, home=home)
    assert (
        tunesmith.describe_tuning_job("dup", home=home)["HyperParameterTuningJobStatus"]
        == "Completed"
    )


def test_unknown_job_is_resource_not_found(home) -> None:
    with pytest.raises(tunesmith.ResourceNotFound):
        tunesmith.describe_tuning_job("missing", home=home)


def test_script_removed_after_creation_fails_its_training_jobs(home, script_dir) -> None:
    source = script_dir()
    document = tuning_document("gone", source, max_jobs=5, parallel=1)
    workspace = Workspace.open(home)
    # Validation checks the program exists, so remove it between creation and run.
    service.create_tuning_job_record(workspace.store, load_request(document))
    os.remove(source / "train.py")
    assert run_engine(workspace.store, "gone", workspace.home) == "Failed"
    summary = tunesmith.list_training_jobs_for_tuning_job("gone", home=home)[0]
    assert summary["TrainingJobStatus"] == "Failed"
    assert "train.py" in summary["FailureReason"]


@pytest.mark.slow
def test_convergence_completes_a_flat_job(home, script_dir) -> None:
    flat = script_dir('print("score: 1.0")\n')
    document = tuning_document(
        "converge",
        flat,
        max_jobs=60,
        parallel=2,
        TuningJobCompletionCriteria={"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}},
    )
    doc = run(document, home)
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert "ConvergenceDetectedTime" in doc["TuningJobCompletionDetails"]
    assert doc["TrainingJobStatusCounters"]["Completed"] < 60
    record = Workspace.open(home).store.get_tuning_job("converge")
    assert record.completion_reason.startswith("Convergence detected")
