"""Single training jobs (CreateTrainingJob), outside any tuning job."""

from __future__ import annotations

import pytest

import tunesmith
from helpers import wait_for
from tunesmith import service
from tunesmith.api import Workspace
from tunesmith.model.shapes import DescribeTrainingJobResponse


def training_document(name: str, source_dir, **algorithm) -> dict:
    return {
        "TrainingJobName": name,
        "HyperParameters": {
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": str(source_dir),
            "x": "0.25",
        },
        "AlgorithmSpecification": {
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "score", "Regex": r"score:\s*(-?[0-9.]+)"}],
            **algorithm,
        },
    }


def test_single_training_job_runs_and_is_described(home, script_dir) -> None:
    job = tunesmith.create_training_job(training_document("once", script_dir()), home=home)
    doc = job.describe()
    assert doc["TrainingJobStatus"] == "Completed"
    assert "TuningJobArn" not in doc
    assert doc["HyperParameters"]["x"] == "0.25"
    assert [m["MetricName"] for m in doc["FinalMetricDataList"]] == ["score"]
    assert doc["FinalMetricDataList"][0]["Value"] == pytest.approx(-(0.25 - 0.3) ** 2 - 0.01)
    assert "score:" in job.log_path.read_text()
    DescribeTrainingJobResponse.model_validate(doc)
    listed = service.list_training_jobs(Workspace.open(home).store)["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in listed] == ["once"]


def test_container_entrypoint_replaces_the_program(home, script_dir) -> None:
    source = script_dir("import os, sys\nprint('args', sys.argv[1:], os.environ['SM_HP_X'])\n")
    document = training_document(
        "entry", source,
        ContainerEntrypoint=["python3", "train.py"], ContainerArguments=["--flag", "1"],
    )
    job = tunesmith.create_training_job(document, home=home)
    assert job.describe()["TrainingJobStatus"] == "Completed"
    assert "args ['--flag', '1'] 0.25" in job.log_path.read_text()


def test_stop_a_single_training_job(home, script_dir) -> None:
    sleepy = script_dir("import time\nprint('score: 1', flush=True)\ntime.sleep(60)\n")
    job = tunesmith.create_training_job(training_document("nap", sleepy), home=home, wait=False)
    store = Workspace.open(home).store
    wait_for(lambda: store.get_training_job("nap").pid, timeout=60)
    job.stop()
    assert job.wait(timeout=60)["TrainingJobStatus"] == "Stopped"
    with pytest.raises(tunesmith.ValidationException, match="already ended"):
        job.stop()


def test_duplicate_training_job_name_is_resource_in_use(home, script_dir) -> None:
    tunesmith.create_training_job(training_document("twice", script_dir()), home=home)
    with pytest.raises(tunesmith.ResourceInUse, match="twice"):
        tunesmith.create_training_job(training_document("twice", script_dir()), home=home)
