"""The Ray backend against a real local Ray head: a tuning job runs its training jobs on Ray,
gets their output, metrics and models back here, and stops in the middle; CPU training jobs share
their node's host actor and hold placement groups, given back when the runner closes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import ray
from rayhead import AUTHLESS, ray_head
from runner_support import Recorder

import tunesmith
import tunesmith.runner.ray as ray_runner
from helpers import (
    descendants_of,
    process_running,
    tunesmith_command,
    tuning_document,
    wait_for,
)
from tunesmith.api import Workspace
from tunesmith.runner.base import TrainingJobEnded, TrainingJobSpec, TrainingJobStarted
from tunesmith.runner.ray import RayRunner
from tunesmith.runner.resources import ResourceRequest
from tunesmith.training import training_job_directory

TRAIN = """
import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
args, _ = parser.parse_known_args()
print(f"score: {-(args.x - 0.3) ** 2:.6f}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as model:
    model.write(f"x={args.x} cpus={os.environ['SM_NUM_CPUS']}")
time.sleep(float(os.environ.get("PAUSE", "1")))
print("done", flush=True)
"""


LONG_TRAIN = """echo $$ > "$PID_FILE.partial" && mv "$PID_FILE.partial" "$PID_FILE"
sleep 600
"""
ENGINE = """
import sys, threading
from pathlib import Path
from tunesmith.runner.base import TrainingJobEnded, TrainingJobSpec, TrainingJobStarted
from tunesmith.runner.ray import RayRunner
from tunesmith.runner.resources import ResourceRequest

started = threading.Event()


def sink(event):
    if isinstance(event, TrainingJobStarted):
        started.set()
    if isinstance(event, TrainingJobEnded):
        partial = Path(sys.argv[4] + ".partial")
        partial.write_text(f"{event.status} {event.failure_reason}")
        partial.replace(sys.argv[4])


runner = RayRunner(sink, sys.argv[1])
source = Path(sys.argv[2])
runner.start(TrainingJobSpec(
    name="orphaned", directory=source.parent / "job", source_dir=source, entry_point="train.sh",
    hyperparameters={}, environment={"PID_FILE": sys.argv[3]}, resources=ResourceRequest(1, 0),
    stop_grace_seconds=2.0,
))
started.wait()
threading.Event().wait()  # until killed
"""
"""An engine's stand-in: starts one long training job on the Ray cluster, writes how it ended
to a file, and waits."""
HELD_TRAIN = """echo $$ > "$PID_FILE.partial" && mv "$PID_FILE.partial" "$PID_FILE"
while [ ! -e "$RELEASE" ]; do sleep 0.1; done
echo done
"""
"""Runs until the file ``RELEASE`` names exists."""
SEES_ITS_HOST = (
    'group=$(cut -d" " -f5 /proc/$$/stat)\n'
    'echo "$CUDA_VISIBLE_DEVICES $(cut -d" " -f4 /proc/$group/stat)" > "$SEEN"\n'
)
"""Writes its GPUs and the Ray worker above its process group to the file ``SEEN`` names."""
HEAD_CPUS = 2
HEAD_GPUS = 1
"""Declared only: Ray hands out GPU ids without looking for a device."""


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    with ray_head(num_cpus=HEAD_CPUS, num_gpus=HEAD_GPUS) as address:
        yield address
        # This process joined the cluster (the runners and the tests' own Ray calls), and a Ray
        # driver whose cluster has gone ends its process a minute later: leave it first.
        ray.shutdown()


def train_document(
    name: str, script_dir: Any, monkeypatch: pytest.MonkeyPatch, **limits: int
) -> dict[str, Any]:
    """A tuning job of ``TRAIN`` over ``x`` in [0, 1], for a driver of the test's loopback
    head."""
    for variable, value in AUTHLESS.items():
        monkeypatch.setenv(variable, value)
    return tuning_document(
        name, script_dir(TRAIN),
        ranges={"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
        **limits,
    )


@pytest.mark.slow
def test_tuning_job_on_ray_runs_and_stops_in_the_middle(
    home: Path, script_dir, ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = train_document("onray", script_dir, monkeypatch, max_jobs=20, parallel=4)
    definition = document["TrainingJobDefinition"]
    definition["Environment"] = {"PAUSE": "1.5"}
    definition["OutputDataConfig"] = {"S3OutputPath": str(tmp_path / "models")}
    job = tunesmith.create_tuning_job(
        document, home=home, backend="ray", ray_address=ray_address
    )
    store = Workspace.open(home).store

    def running_after_some_completed() -> bool:
        assert store.get_tuning_job("onray").status == "InProgress", job.describe()
        records = store.training_jobs("onray")
        return sum(r.status == "Completed" for r in records) >= 2 and any(
            r.status == "InProgress" and r.start_time for r in records
        )

    wait_for(running_after_some_completed, timeout=150, interval=0.2)
    # The Ray cluster has 2 CPUs: never more than 2 at once, whatever MaxParallelTrainingJobs.
    assert sum(r.status == "InProgress" for r in store.training_jobs("onray")) <= 2
    job.stop()
    described = job.wait(timeout=120)

    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    records = store.training_jobs("onray")
    assert len(records) < 20
    completed = [r for r in records if r.status == "Completed"]
    stopped = [r for r in records if r.status == "Stopped"]
    assert len(completed) >= 2 and stopped
    for record in completed:
        assert record.final_objective is not None
        model = Path(record.model_artifacts)
        assert model == tmp_path / "models" / record.name / "output" / "model.tar.gz"
        with tarfile.open(model) as archive:
            member = archive.extractfile("model.txt")
            assert member is not None
            assert member.read().decode() == f"x={record.hyperparameters['x']} cpus=1"
        log = training_job_directory(home, record.name, "onray") / "logs" / "training.log"
        lines = log.read_text().splitlines()
        assert lines[0].startswith("score: ") and lines[-1] == "done"
    for record in stopped:
        assert record.failure_reason == "Stopped by request"
    for record in records:
        if record.pid is not None:
            assert not process_running(record.pid)


def _ray_worker_of(script: int) -> psutil.Process:
    """The Ray worker process running ``script``: the parent of its process group's leader (the
    contract's shell)."""
    worker = psutil.Process(psutil.Process(os.getpgid(script)).ppid())
    assert worker.cmdline()[0].startswith("ray::TrainingJobHost"), worker.cmdline()
    return worker


def _source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Path:
    """``tmp_path/source`` holding ``train.sh``, for a driver of the test's loopback head."""
    for variable, value in AUTHLESS.items():
        monkeypatch.setenv(variable, value)
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.sh").write_text(script)
    return source


def _held_spec(tmp_path: Path, name: str, gpus: int) -> TrainingJobSpec:
    """A training job of ``tmp_path/source/train.sh`` holding one CPU and ``gpus`` GPUs, which
    writes its pid to ``<name>.pid`` and runs until ``tmp_path/release`` exists."""
    return TrainingJobSpec(
        name=name, directory=tmp_path / name, source_dir=tmp_path / "source",
        entry_point="train.sh", hyperparameters={}, resources=ResourceRequest(1, gpus),
        stop_grace_seconds=2.0,
        environment={"PID_FILE": str(tmp_path / f"{name}.pid"),
                     "RELEASE": str(tmp_path / "release"),
                     "SEEN": str(tmp_path / f"{name}.seen")},
    )


@pytest.mark.slow
def test_cpu_training_jobs_share_their_nodes_host_and_give_everything_back_at_close(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _source(tmp_path, monkeypatch, HELD_TRAIN)
    release = tmp_path / "release"
    events = Recorder()

    def spec(name: str) -> TrainingJobSpec:
        return _held_spec(tmp_path, name, gpus=0)

    runner = RayRunner(events, ray_address)
    try:
        # As many one-CPU training jobs as the head has CPUs, all running at once.
        names = [f"held-{i}" for i in range(HEAD_CPUS)]
        for name in names:
            runner.start(spec(name))
        pid_files = [tmp_path / f"{name}.pid" for name in names]
        wait_for(lambda: all(f.exists() for f in pid_files), timeout=120, interval=0.2)
        workers = {_ray_worker_of(int(f.read_text())).pid for f in pid_files}
        assert len(workers) == 1  # one Ray worker process runs them all
        (host,) = workers
        # Their placement groups hold every CPU: one more training job waits for its place,
        # and stopped there it ends without ever starting.
        assert ray.available_resources().get("CPU", 0) == 0
        runner.start(spec("waiting"))
        runner.stop("waiting", "Stopped by request")
        stopped = events.ended("waiting")
        assert stopped.status == "Stopped" and stopped.failure_reason == "Stopped by request"
        # One more waits for its place, and takes the first one freed.
        runner.start(spec("queued"))
        release.touch()
        for name in [*names, "queued"]:
            assert events.ended(name, timeout=60).status == "Completed"
        assert not any(isinstance(e, TrainingJobStarted) for e in events.of("waiting"))
        assert not (tmp_path / "waiting.pid").exists()
        assert runner.running() == []
    finally:
        release.touch()
        runner.close()
    # Every CPU is Ray's again, no placement group is left and the host actor has ended.
    wait_for(lambda: ray.available_resources().get("CPU", 0) == HEAD_CPUS, timeout=30)
    assert all(g["state"] == "REMOVED" for g in ray.util.placement_group_table().values())
    wait_for(lambda: not process_running(host), timeout=30)


@pytest.mark.slow
def test_gpu_training_jobs_run_in_actors_of_their_own_holding_their_gpus(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the script saw: its GPUs, and the Ray worker above its process group.
    _source(tmp_path, monkeypatch, SEES_ITS_HOST + HELD_TRAIN)
    release = tmp_path / "release"
    events = Recorder()
    monkeypatch.setattr(ray_runner, "IDLE_SECONDS", float("inf"))  # kept however slow the test
    runner = RayRunner(events, ray_address)
    try:
        for name, gpus in (("cpu", 0), ("gpu-1", 1), ("gpu-2", 1)):
            runner.start(_held_spec(tmp_path, name, gpus))
        pid = {name: tmp_path / f"{name}.pid" for name in ("cpu", "gpu-1", "gpu-2")}
        wait_for(lambda: pid["cpu"].exists() and pid["gpu-1"].exists(), timeout=120,
                 interval=0.2)
        cpu_host = _ray_worker_of(int(pid["cpu"].read_text())).pid
        gpu_host = _ray_worker_of(int(pid["gpu-1"].read_text())).pid
        assert gpu_host != cpu_host
        assert (tmp_path / "gpu-1.seen").read_text().split() == ["0", str(gpu_host)]
        assert ray.available_resources().get("GPU", 0) == 0
        release.touch()
        for name in pid:
            assert events.ended(name, timeout=60).status == "Completed"
        # The second GPU training job waited for the only GPU: the first one's actor gave it
        # back rather than waiting idle for a job of its shape, and the second one's ran it.
        def first(kind: type, name: str) -> int:
            return next(i for i, e in enumerate(events.events)
                        if isinstance(e, kind) and e.name == name)

        assert first(TrainingJobEnded, "gpu-1") < first(TrainingJobStarted, "gpu-2")
        device, second_host = (tmp_path / "gpu-2.seen").read_text().split()
        assert device == "0" and int(second_host) != gpu_host
        wait_for(lambda: not process_running(gpu_host), timeout=30)
        # With nothing waiting, an actor whose job ended runs the next job of its shape.
        runner.start(_held_spec(tmp_path, "gpu-3", 1))
        assert events.ended("gpu-3", timeout=60).status == "Completed"
        assert (tmp_path / "gpu-3.seen").read_text().split() == ["0", second_host]
    finally:
        release.touch()
        runner.close()
    wait_for(lambda: ray.available_resources().get("GPU", 0) == HEAD_GPUS, timeout=30)
    wait_for(lambda: not process_running(int(second_host)), timeout=30)


@pytest.mark.slow
def test_what_ended_training_jobs_held_goes_back_to_ray_once_idle(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No job of their shape comes: a placement group and a GPU actor kept for one go back to
    Ray while the runner is still open (an engine's last jobs may run for hours)."""
    _source(tmp_path, monkeypatch, SEES_ITS_HOST + HELD_TRAIN)
    (tmp_path / "release").touch()  # the jobs end as soon as they have started
    monkeypatch.setattr(ray_runner, "IDLE_SECONDS", 1.0)
    events = Recorder()
    runner = RayRunner(events, ray_address)
    try:
        for name, gpus in (("cpu", 0), ("gpu", 1)):
            runner.start(_held_spec(tmp_path, name, gpus))
        for name in ("cpu", "gpu"):
            assert events.ended(name, timeout=60).status == "Completed"
        gpu_host = int((tmp_path / "gpu.seen").read_text().split()[1])
        wait_for(lambda: ray.available_resources().get("CPU", 0) == HEAD_CPUS
                 and ray.available_resources().get("GPU", 0) == HEAD_GPUS, timeout=30)
        assert all(g["state"] == "REMOVED" for g in ray.util.placement_group_table().values())
        wait_for(lambda: not process_running(gpu_host), timeout=30)
    finally:
        runner.close()

@pytest.mark.slow
def test_a_script_ends_when_its_host_actor_dies(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path, monkeypatch, LONG_TRAIN)
    pid_file = tmp_path / "script.pid"
    end_file = tmp_path / "ended"
    engine = subprocess.Popen(
        [sys.executable, "-c", ENGINE, ray_address, str(source), str(pid_file), str(end_file)],
        start_new_session=True,
    )
    group = None
    try:
        wait_for(pid_file.exists, timeout=120, interval=0.2)
        script = int(pid_file.read_text())
        group = os.getpgid(script)
        # The group's leader (the contract's shell), the script and what it started.
        started = wait_for(lambda: descendants_of(script), timeout=30)
        processes = [group, script, *(p.pid for p in started)]
        assert all(process_running(pid) for pid in processes)
        # The host actor's process (the shell's parent) killed outright, as the out-of-memory
        # killer does: it cleans nothing up itself.
        os.kill(_ray_worker_of(script).pid, signal.SIGKILL)
        wait_for(lambda: not any(process_running(pid) for pid in processes), timeout=60,
                 interval=0.2)
        # The engine hears that the training job failed with its host.
        wait_for(end_file.exists, timeout=60, interval=0.2)
        assert end_file.read_text().startswith("Failed InternalServerError: ")
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
        if group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def test_joining_from_an_engine_thread_prints_nothing(ray_address: str) -> None:
    """An engine joins the cluster from its own thread; Ray's note that it then leaves SIGTERM
    alone is not for the user (the engine handles SIGTERM itself)."""
    probe = (
        "import sys, threading\n"
        "from tunesmith.runner.ray import connect\n"
        "joining = threading.Thread(target=connect, args=(sys.argv[1],))\n"
        "joining.start()\n"
        "joining.join()\n"
        "import ray\n"
        "print(ray.is_initialized())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, ray_address], capture_output=True, text=True,
        timeout=120, env={**os.environ, **AUTHLESS},
    )
    assert result.returncode == 0 and result.stdout.strip() == "True", result.stderr
    assert "SIGTERM" not in result.stderr, result.stderr


@pytest.mark.slow
def test_a_tuning_job_resumed_without_a_backend_runs_on_the_one_it_recorded(
    home: Path, script_dir, ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUNESMITH_BACKEND", raising=False)
    monkeypatch.setenv("TUNESMITH_ENGINE_SILENCE_SECONDS", "1")
    document = train_document("backonray", script_dir, monkeypatch, max_jobs=4, parallel=1)
    document["TrainingJobDefinition"]["OutputDataConfig"] = {"S3OutputPath": str(tmp_path)}
    tunesmith.create_tuning_job(document, home=home, backend="ray", ray_address=ray_address)
    store = Workspace.open(home).store
    engine = wait_for(lambda: store.get_tuning_job("backonray").engine_pid, timeout=60)
    wait_for(lambda: any(r.status == "Completed" for r in store.training_jobs("backonray")),
             timeout=150, interval=0.2)
    os.kill(engine, signal.SIGKILL)
    wait_for(lambda: not process_running(engine), timeout=30)
    on_ray = {"name": "ray", "ray_address": ray_address}
    assert json.loads(store.get_tuning_job("backonray").backend) == on_ray

    resumed = tunesmith.resume_tuning_job("backonray", home=home)  # no backend named
    wait_for(lambda: store.get_tuning_job("backonray").engine_pid not in (None, engine),
             timeout=60)
    # The resumed engine records what it runs on, as every engine does when it takes a job.
    assert json.loads(store.get_tuning_job("backonray").backend) == on_ray
    described = resumed.wait(timeout=300)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] >= 3
    shown = subprocess.run(
        [*tunesmith_command(), "--home", str(home), "describe", "backonray"],
        capture_output=True, text=True, timeout=60,
    ).stdout
    assert f"ray at {ray_address}" in " ".join(shown.split()), shown
