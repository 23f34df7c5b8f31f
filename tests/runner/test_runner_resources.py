"""Resources per training job: the instance type table, overrides, and exclusive local GPUs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import tunesmith
from helpers import tuning_document
from tunesmith.model.errors import ValidationException
from tunesmith.runner.resources import LocalResources, ResourceRequest, training_job_resources


def _definition(instance_type: str, count: int = 1, **environment: str) -> dict:
    return {
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": count},
        "Environment": environment,
    }


@pytest.mark.parametrize(
    "instance_type, count, cpus, gpus",
    [
        ("local", 1, 0, 0),
        ("ml.m5.large", 1, 2, 0),
        ("ml.c5.18xlarge", 1, 72, 0),
        ("ml.t3.medium", 1, 2, 0),
        ("ml.g4dn.xlarge", 1, 4, 1),
        ("ml.g5.12xlarge", 2, 96, 8),
        ("ml.p3.2xlarge", 1, 8, 1),
        ("ml.p4d.24xlarge", 1, 96, 8),
    ],
)
def test_instance_types_map_to_cpus_and_gpus(
    instance_type: str, count: int, cpus: int, gpus: int
) -> None:
    request = training_job_resources(_definition(instance_type, count))
    assert (request.cpus, request.gpus) == (cpus, gpus)


def test_environment_overrides_the_instance_type_and_local_gpu_takes_every_gpu() -> None:
    request = training_job_resources(
        _definition("ml.g5.xlarge", TUNESMITH_NUM_CPUS="3", TUNESMITH_NUM_GPUS="0")
    )
    assert (request.cpus, request.gpus) == (3, 0)
    assert request.field == "Environment.TUNESMITH_NUM_GPUS"
    assert training_job_resources(_definition("local_gpu"), machine_gpus=2).gpus == 2
    with pytest.raises(ValidationException, match=r"Environment\.TUNESMITH_NUM_GPUS"):
        training_job_resources(_definition("ml.m5.large", TUNESMITH_NUM_GPUS="two"))


def test_slots_never_oversubscribe_and_missing_gpus_are_a_validation_error() -> None:
    machine = LocalResources(cpus=8, gpus=(0, 1))
    assert machine.slots(ResourceRequest(0, 0)) is None
    assert machine.slots(ResourceRequest(2, 0)) == 4
    assert machine.slots(ResourceRequest(2, 1)) == 2
    assert machine.slots(ResourceRequest(32, 0)) == 1
    with pytest.raises(ValidationException, match=r"ResourceConfig.InstanceType asks for 4 GPU"):
        machine.slots(ResourceRequest(4, 4))
    with pytest.raises(ValidationException, match="machine has none"):
        LocalResources(cpus=8, gpus=()).slots(ResourceRequest(4, 1))


def test_hold_waits_for_a_free_gpu_and_can_be_cancelled() -> None:
    machine = LocalResources(cpus=4, gpus=(0,))
    one_gpu = ResourceRequest(1, 1)
    cancelled = threading.Event()
    outcome: list[object] = []
    with machine.hold(one_gpu, lambda: False) as first:
        assert first == (0,)

        def second() -> None:
            with machine.hold(one_gpu, cancelled.is_set) as given:
                outcome.append(given)

        waiter = threading.Thread(target=second)
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive() and not outcome
        cancelled.set()
        machine.wake()
        waiter.join(10)
    assert outcome == [None]
    with machine.hold(one_gpu, lambda: False) as again:
        assert again == (0,)


TRACE = """
import json, os, sys, time
start = time.time()
time.sleep(0.4)
with open(os.environ["TRACE"], "a") as trace:
    trace.write(json.dumps([os.environ.get("CUDA_VISIBLE_DEVICES"), start, time.time(),
                            os.environ["SM_NUM_CPUS"]]) + "\\n")
print("score: 1", flush=True)
"""


@pytest.mark.slow
def test_local_gpus_are_assigned_exclusively(home: Path, script_dir, monkeypatch) -> None:
    monkeypatch.setenv("TUNESMITH_LOCAL_GPUS", "0,1")
    monkeypatch.setenv("TUNESMITH_LOCAL_CPUS", "16")
    trace = home.parent / "trace.jsonl"
    document = tuning_document("gpus", script_dir(TRACE), max_jobs=6, parallel=4)
    document["TrainingJobDefinition"]["ResourceConfig"] = {
        "InstanceType": "ml.g4dn.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 1,
    }
    document["TrainingJobDefinition"]["Environment"] = {"TRACE": str(trace)}
    job = tunesmith.create_tuning_job(document, home=home, detach=False)
    assert job.wait(timeout=120)["HyperParameterTuningJobStatus"] == "Completed"

    runs = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(runs) == 6
    assert {device for device, *_ in runs} == {"0", "1"}
    assert {cpus for *_, cpus in runs} == {"4"}
    for i, (device, start, end, _) in enumerate(runs):
        for other, other_start, other_end, _ in runs[i + 1 :]:
            if other == device:
                assert end <= other_start or other_end <= start


def test_gpus_asked_of_a_machine_without_any_fail_the_tuning_job(
    home: Path, script_dir, monkeypatch
) -> None:
    monkeypatch.setenv("TUNESMITH_LOCAL_GPUS", "")
    document = tuning_document("nogpu", script_dir(), max_jobs=2)
    document["TrainingJobDefinition"]["ResourceConfig"] = {
        "InstanceType": "ml.p3.2xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 1,
    }
    job = tunesmith.create_tuning_job(document, home=home, detach=False)
    described = job.wait(timeout=60)
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        "ValidationException: ResourceConfig.InstanceType asks for 1 GPU(s)"
    )
    assert "TrainingJobStatusCounters" in described
    assert described["TrainingJobStatusCounters"]["Completed"] == 0
