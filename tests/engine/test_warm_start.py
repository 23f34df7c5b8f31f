"""Warm start from parent tuning jobs: validation, inherited trials, lineage."""

from __future__ import annotations

import pytest

import tunesmith
from helpers import QUADRATIC, tuning_document
from tunesmith.api import Workspace
from tunesmith.space import SearchSpace
from tunesmith.warm_start import inherited_trials, lineage

GRID = {
    "CategoricalParameterRanges": [
        {"Name": "kind", "Values": ["a", "b", "c"]},
        {"Name": "n", "Values": ["1", "2"]},
    ]
}


def finished(document: dict, home, **kwargs) -> dict:
    return tunesmith.create_tuning_job(document, home=home, detach=False, **kwargs).wait(120)


@pytest.fixture
def parent(home, script_dir):
    source = script_dir()
    finished(tuning_document("parent", source, max_jobs=4, parallel=2), home)
    return source


def test_child_inherits_parent_trials_and_reports_overall_best(home, parent) -> None:
    doc = finished(
        tuning_document("child", parent, max_jobs=2, parallel=1, seed=99),
        home,
        warm_start_from=["parent"],
    )
    assert doc["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    assert doc["TrainingJobStatusCounters"]["Completed"] == 2
    values = [
        s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for job in ("parent", "child")
        for s in tunesmith.list_training_jobs_for_tuning_job(job, home=home)
    ]
    overall = doc["OverallBestTrainingJob"]
    assert overall["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(values)
    assert overall["TuningJobName"] in {"parent", "child"}


def test_grid_child_never_repeats_a_parent_combination(home, script_dir) -> None:
    source = script_dir()
    finished(
        tuning_document("gparent", source, strategy="Grid", max_jobs=3, ranges=GRID, seed=None),
        home,
    )
    finished(
        tuning_document("gchild", source, strategy="Grid", max_jobs=None, ranges=GRID, seed=None),
        home,
        warm_start_from=["gparent"],
    )
    combos = [
        tuple(sorted(s["TunedHyperParameters"].items()))
        for job in ("gparent", "gchild")
        for s in tunesmith.list_training_jobs_for_tuning_job(job, home=home)
    ]
    assert len(combos) == len(set(combos)) == 6


def test_three_generations(home, parent) -> None:
    finished(
        tuning_document("second", parent, max_jobs=2, parallel=1), home, warm_start_from=["parent"]
    )
    doc = finished(
        tuning_document("third", parent, max_jobs=1, parallel=1), home, warm_start_from=["second"]
    )
    store = Workspace.open(home).store
    assert [r.name for r in lineage(store, "third")] == ["second", "parent"]
    space = SearchSpace.from_parameter_ranges(
        store.get_tuning_job("third").request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    )
    trials = inherited_trials(store, "third", space, maximize=True)
    assert sorted({t.source for t in trials}) == ["parent", "second"] and len(trials) == 6
    best_of_all = max(t.loss * -1 for t in trials if t.loss is not None)
    own = doc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    overall = doc["OverallBestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert overall == max(best_of_all, own)


def test_unknown_parent_is_resource_not_found(home, script_dir) -> None:
    with pytest.raises(tunesmith.ResourceNotFound, match="'ghost'"):
        tunesmith.create_tuning_job(
            tuning_document("orphan", script_dir()), home=home, warm_start_from=["ghost"]
        )


def test_running_parent_is_rejected(home, script_dir) -> None:
    sleepy = script_dir("import time\nprint('score: 1', flush=True)\ntime.sleep(60)\n")
    running = tunesmith.create_tuning_job(tuning_document("busy", sleepy, max_jobs=1), home=home)
    try:
        with pytest.raises(tunesmith.ValidationException, match="'busy' is InProgress"):
            tunesmith.create_tuning_job(
                tuning_document("eager", sleepy), home=home, warm_start_from=["busy"]
            )
    finally:
        running.stop()
        running.wait(60)


def test_more_than_five_parents_is_rejected(home, script_dir) -> None:
    with pytest.raises(tunesmith.ValidationException, match="ParentHyperParameterTuningJobs"):
        tunesmith.create_tuning_job(
            tuning_document("many", script_dir()),
            home=home,
            warm_start_from=[f"p{i}" for i in range(6)],
        )


def test_objective_must_match(home, parent) -> None:
    with pytest.raises(tunesmith.ValidationException, match="objective"):
        tunesmith.create_tuning_job(
            tuning_document("minimizer", parent, objective_type="Minimize"),
            home=home,
            warm_start_from=["parent"],
        )


def test_parameter_type_must_not_change(home, parent) -> None:
    ranges = {"CategoricalParameterRanges": [{"Name": "x", "Values": ["0.1", "0.2"]}]}
    with pytest.raises(tunesmith.ValidationException, match="'x' is Categorical"):
        tunesmith.create_tuning_job(
            tuning_document("retyped", parent, ranges=ranges), home=home, warm_start_from=["parent"]
        )


def test_identical_needs_same_script_transfer_learning_does_not(home, parent, script_dir) -> None:
    changed = script_dir(QUADRATIC + "\n# a new version of the algorithm\n")
    with pytest.raises(tunesmith.ValidationException, match="source folder"):
        tunesmith.create_tuning_job(
            tuning_document("same", changed), home=home, warm_start_from=["parent"]
        )
    doc = finished(
        tuning_document("transfer", changed, max_jobs=1, parallel=1),
        home,
        warm_start_from=["parent"],
        warm_start_type="TransferLearning",
    )
    assert doc["HyperParameterTuningJobStatus"] == "Completed"


def test_identical_needs_same_data(home, script_dir, tmp_path) -> None:
    source = script_dir()
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("1,2\n")

    def with_data(name: str) -> dict:
        document = tuning_document(name, source, max_jobs=1, parallel=1)
        document["TrainingJobDefinition"]["InputDataConfig"] = [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(data)}},
            }
        ]
        return document

    finished(with_data("dparent"), home)
    (data / "train.csv").write_text("3,4\n")
    with pytest.raises(tunesmith.ValidationException, match="data channels"):
        tunesmith.create_tuning_job(with_data("dchild"), home=home, warm_start_from=["dparent"])


def test_deleted_parent_is_skipped_and_failed_empty_parent_rejected(
    home, parent, script_dir
) -> None:
    finished(
        tuning_document("kid", parent, max_jobs=1, parallel=1), home, warm_start_from=["parent"]
    )
    store = Workspace.open(home).store
    store.delete_tuning_job("parent")
    assert lineage(store, "kid") == []
    assert "OverallBestTrainingJob" in tunesmith.describe_tuning_job("kid", home=home)
    broken = script_dir("import sys\nsys.exit(1)\n")
    finished(tuning_document("broken", broken, max_jobs=5, parallel=1), home)
    with pytest.raises(tunesmith.ValidationException, match="nothing to start from"):
        tunesmith.create_tuning_job(
            tuning_document("hopeful", broken), home=home, warm_start_from=["broken"]
        )
