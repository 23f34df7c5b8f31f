"""Hyperband and early stopping through the engine, with real training processes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tunesmith
from helpers import process_running, tuning_document
from tunesmith.api import Workspace
from tunesmith.model import hyperband_resources

# Prints a learning curve, one value per epoch, for as long as it is let run (epochs < 0) or
# for --epochs epochs; a child process shows that a stop reaches the whole process tree.
CURVE = """
import argparse, os, subprocess, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--epochs", type=int, default=-1)
parser.add_argument("--pids", type=str)
args, _ = parser.parse_known_args()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(os.path.join(args.pids, f"{os.getpid()}-{child.pid}"), "w"):
    pass
epoch = 0
while epoch != args.epochs:
    epoch += 1
    print(f"loss: {3 * (args.x - 0.3) ** 2 + 0.3 / epoch:.6f}", flush=True)
    time.sleep(0.2)
"""
RANGES = {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}
LOSS = [{"Name": "loss", "Regex": r"loss:\s*([0-9.]+)"}]


def curve_document(name: str, source: Path, pids: Path, **config) -> dict:
    document = tuning_document(
        name,
        source,
        ranges=RANGES,
        objective="loss",
        objective_type="Minimize",
        metric_definitions=LOSS,
        **config,
    )
    statics = document["TrainingJobDefinition"]["StaticHyperParameters"]
    statics["pids"] = str(pids)
    return document


def run(document: dict, home: Path) -> dict:
    return tunesmith.create_tuning_job(document, home=home, detach=False).wait(timeout=180)


def losses(home: Path, training_job: str) -> list[float]:
    series = Workspace.open(home).store.metric_series(training_job, "loss")
    return [p.value for p in sorted(series, key=lambda p: p.step)]


def assert_no_process_survives(pids: Path) -> None:
    started = [int(p) for f in pids.iterdir() for p in f.name.split("-")]
    assert started
    assert [p for p in started if process_running(p)] == []


@pytest.mark.slow
def test_hyperband_stops_jobs_at_rungs_and_past_max_resource(home, script_dir, tmp_path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    document = curve_document(
        "hb",
        script_dir(CURVE),
        pids,
        strategy="Hyperband",
        max_jobs=6,
        parallel=2,
        StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
    )
    doc = run(document, home)
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    # The script never ends by itself: every job is stopped, at a rung or past MaxResource.
    assert doc["TrainingJobStatusCounters"]["Stopped"] == 6
    reasons = []
    for summary in tunesmith.list_training_jobs_for_tuning_job("hb", home=home):
        training = tunesmith.describe_training_job(summary["TrainingJobName"], home=home)
        assert training["TrainingJobStatus"] == "Stopped"
        reason = training["FailureReason"]
        reasons.append(reason)
        rung = re.search(r"\(resource (\d+)\).*loss ([0-9.]+) ", reason)
        stop_step = 10 if "went past MaxResource 9" in reason else int(rung.group(1))
        curve = losses(home, summary["TrainingJobName"])
        # A stopped job keeps its last objective value.
        assert len(curve) >= stop_step
        final = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert final == pytest.approx(curve[-1])
        if rung is not None:
            assert float(rung.group(2)) == pytest.approx(curve[stop_step - 1], abs=1e-6)
    # Job 003 belongs to the bracket without rungs (brackets follow the sequence number).
    assert sum("went past MaxResource 9" in r for r in reasons) >= 1
    assert any(re.match(r"Hyperband: rung \d \(resource [13]\)", r) for r in reasons)
    assert_no_process_survives(pids)


# A scripted learning curve per training job, chosen by the job's sequence number: loss
# a + b / epoch for 9 epochs. With MinResource 1 and MaxResource 9 the brackets are
# 0: rungs (1, 3); 1: rung (3,); 2: none; jobs 1..8 fall in brackets 1 0 2 0 0 1 0 2.
SCRIPTED = """
import argparse, os, re, subprocess, sys, time
CURVES = {1: (0.4, 0.3), 2: (0.5, 0.5), 3: (2.0, 0.0), 4: (0.2, 1.0),
          5: (0.3, 0.6), 6: (0.45, 0.3), 7: (0.6, 0.2), 8: (2.0, 0.0)}
parser = argparse.ArgumentParser()
parser.add_argument("--pids", type=str)
args, _ = parser.parse_known_args()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(os.path.join(args.pids, f"{os.getpid()}-{child.pid}"), "w"):
    pass
a, b = CURVES[int(re.search(r"-(\\d+)-[^-]*$", os.environ["TRAINING_JOB_NAME"]).group(1))]
for epoch in range(1, 10):
    print(f"loss: {a + b / epoch:.6f}", flush=True)
    time.sleep(0.1)
child.kill()
"""


@pytest.mark.slow
def test_hyperband_promotes_and_stops_scripted_curves_at_rungs(home, script_dir, tmp_path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    document = curve_document(
        "hbs",
        script_dir(SCRIPTED),
        pids,
        strategy="Hyperband",
        max_jobs=8,
        parallel=1,  # one job after the other: each rung sees the jobs before it, in order
        StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
    )
    doc = run(document, home)
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    jobs = {
        int(s["TrainingJobName"].split("-")[1]): s
        for s in tunesmith.list_training_jobs_for_tuning_job("hbs", home=home)
    }
    # Rung 1 of bracket 0 keeps the best so far while fewer than three jobs reached it (4 is
    # worse than 2 there), then the best floor(n / 3) (5 and 7 are); at resource 3, 5 beats 2,
    # and 7 falls behind both. Bracket 1 judges only at resource 3, apart from bracket 0: 6 is
    # behind 1. Bracket 2 never stops a job, however bad.
    expected_stops = {
        4: "Hyperband: rung 1 (resource 1) of bracket 1: loss 1.2 not in the top 1/3 of 2 "
        "training jobs (cut-off 1)",
        6: "Hyperband: rung 1 (resource 3) of bracket 2: loss 0.55 not in the top 1/3 of 2 "
        "training jobs (cut-off 0.5)",
        7: "Hyperband: rung 2 (resource 3) of bracket 1: loss 0.666667 not in the top 1/3 of 3 "
        "training jobs (cut-off 0.5)",
    }
    assert sorted(jobs) == list(range(1, 9))
    for seq, summary in jobs.items():
        name = summary["TrainingJobName"]
        curve = losses(home, name)
        final = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert final == pytest.approx(curve[-1])  # a stopped job keeps its last value
        training = tunesmith.describe_training_job(name, home=home)
        if seq in expected_stops:
            assert summary["TrainingJobStatus"] == "Stopped"
            assert training["FailureReason"] == expected_stops[seq]
            rung = int(re.search(r"\(resource (\d+)\)", expected_stops[seq]).group(1))
            assert rung <= len(curve) < 9
        else:
            assert summary["TrainingJobStatus"] == "Completed", training.get("FailureReason")
            assert len(curve) == 9
    assert doc["TrainingJobStatusCounters"]["Stopped"] == 3
    assert_no_process_survives(pids)


@pytest.mark.slow
def test_hyperband_lets_a_script_that_ends_at_max_resource_complete(
    home, script_dir, tmp_path
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    # No StrategyConfig: MaxResource comes from the epochs hyperparameter.
    document = curve_document("hbe", script_dir(CURVE), pids, strategy="Hyperband", max_jobs=4)
    document["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"] = "9"
    doc = run(document, home)
    counters = doc["TrainingJobStatusCounters"]
    assert counters["Completed"] >= 1  # job 003 belongs to the bracket without rungs
    assert counters["Completed"] + counters["Stopped"] == 4
    for summary in tunesmith.list_training_jobs_for_tuning_job("hbe", home=home):
        curve = losses(home, summary["TrainingJobName"])
        if summary["TrainingJobStatus"] == "Completed":
            assert len(curve) == 9
        else:
            training = tunesmith.describe_training_job(summary["TrainingJobName"], home=home)
            assert training["FailureReason"].startswith("Hyperband: rung")
    assert_no_process_survives(pids)


@pytest.mark.slow
def test_early_stopping_auto_stops_jobs_behind_the_median(home, script_dir, tmp_path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    document = curve_document(
        "es",
        script_dir(CURVE),
        pids,
        strategy="Random",
        max_jobs=12,
        parallel=2,
        TrainingJobEarlyStoppingType="Auto",
    )
    document["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"] = "6"
    doc = run(document, home)
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    counters = doc["TrainingJobStatusCounters"]
    assert counters["Stopped"] >= 1
    assert counters["Completed"] + counters["Stopped"] == 12
    for summary in tunesmith.list_training_jobs_for_tuning_job("es", home=home):
        name = summary["TrainingJobName"]
        curve = losses(home, name)
        final = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert final == pytest.approx(curve[-1])
        if summary["TrainingJobStatus"] == "Stopped":
            training = tunesmith.describe_training_job(name, home=home)
            assert training["FailureReason"].startswith("Median stopping rule: best loss")
            assert 1 <= len(curve) < 6
        else:
            assert len(curve) == 6
    assert_no_process_survives(pids)


def test_max_resource_is_inferred_from_an_epochs_hyperparameter(script_dir) -> None:
    for name in ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs"):
        document = tuning_document("hb", script_dir(), strategy="Hyperband")
        document["TrainingJobDefinition"]["StaticHyperParameters"][name] = '"27"'
        assert hyperband_resources(document) == (1, 27)
    document["HyperParameterTuningJobConfig"]["StrategyConfig"] = {
        "HyperbandStrategyConfig": {"MinResource": 3, "MaxResource": 81}
    }
    assert hyperband_resources(document) == (3, 81)


def test_hyperband_without_max_resource_or_epochs_is_rejected(home, script_dir) -> None:
    document = tuning_document("hb", script_dir(), strategy="Hyperband")
    with pytest.raises(tunesmith.ValidationException, match="MaxResource"):
        tunesmith.create_tuning_job(document, home=home, detach=False)


def test_hyperband_with_early_stopping_auto_is_rejected(home, script_dir) -> None:
    document = tuning_document(
        "hb",
        script_dir(),
        strategy="Hyperband",
        TrainingJobEarlyStoppingType="Auto",
        StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
    )
    with pytest.raises(tunesmith.ValidationException, match="TrainingJobEarlyStoppingType"):
        tunesmith.create_tuning_job(document, home=home, detach=False)
