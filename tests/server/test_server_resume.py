"""The server keeps running the tuning jobs created through it: an engine that dies is replaced,
and a restarted server resumes the jobs of the one before."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from server_helpers import kill_training_processes
from serving import KEY_ID, SECRET, boto3_tuning_document, client, start_server

from helpers import tunesmith_command, wait_for
from tunesmith.api import Workspace
from tunesmith.server.engines import process_alive

STEADY = """
import time
time.sleep(1.0)
print("score: 1.0", flush=True)
"""


@pytest.fixture
def steady_source(tmp_path: Path) -> Path:
    folder = tmp_path / "steady"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(STEADY))
    return folder


def engine_pid(home: Path, name: str) -> int | None:
    return Workspace.open(home).store.get_tuning_job(name).engine_pid


def running_training_job(sagemaker: Any, name: str) -> bool:
    return bool(sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, StatusEquals="InProgress")["TrainingJobSummaries"])


def finished(sagemaker: Any, name: str) -> dict[str, Any] | None:
    described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    status = described["HyperParameterTuningJobStatus"]
    return described if status in ("Completed", "Stopped", "Failed") else None


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process_alive(pid), timeout=10)


@pytest.mark.slow
def test_an_engine_killed_under_a_running_server_is_replaced(
    home: Path, steady_source: Path, tmp_path: Path
) -> None:
    server = start_server(home)
    try:
        sagemaker = client(server.url)
        sagemaker.create_hyper_parameter_tuning_job(**boto3_tuning_document(
            "survivor", steady_source, tmp_path / "output", max_jobs=3, parallel=1))
        wait_for(lambda: running_training_job(sagemaker, "survivor"), timeout=60)
        first = engine_pid(home, "survivor")
        assert first is not None
        kill(first)

        wait_for(lambda: engine_pid(home, "survivor") not in (None, first), timeout=30)
        described = wait_for(lambda: finished(sagemaker, "survivor"), timeout=90)
        assert described["HyperParameterTuningJobStatus"] == "Completed"
        counters = described["TrainingJobStatusCounters"]
        assert counters["Completed"] + counters["NonRetryableError"] == 3
        assert counters["Completed"] >= 2
    finally:
        server.stop()
        kill_training_processes(home)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_process(home: Path, port: int) -> subprocess.Popen[bytes]:
    code = f"from tunesmith.server import serve; serve(port={port}, home={str(home)!r})"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "TUNESMITH_ACCESS_KEYS": f"{KEY_ID}:{SECRET}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def answering(url: str) -> bool:
    try:
        client(url).list_training_jobs(MaxResults=1)
    except Exception:
        return False
    return True


@pytest.mark.slow
def test_a_restarted_server_resumes_the_jobs_of_the_one_before(
    home: Path, steady_source: Path, tmp_path: Path
) -> None:
    port = free_port()
    first = server_process(home, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: answering(url), timeout=60)
        sagemaker = client(url)
        sagemaker.create_hyper_parameter_tuning_job(**boto3_tuning_document(
            "resumed", steady_source, tmp_path / "output", max_jobs=3, parallel=1))
        wait_for(lambda: running_training_job(sagemaker, "resumed"), timeout=60)
        # Power loss: the server and the engine it started die at once.
        old_engine = engine_pid(home, "resumed")
        assert old_engine is not None
        first.kill()
        first.wait(timeout=30)
        kill(old_engine)
    finally:
        if first.poll() is None:
            first.kill()

    port = free_port()
    second = server_process(home, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: answering(url), timeout=60)
        sagemaker = client(url)
        described = wait_for(lambda: finished(sagemaker, "resumed"), timeout=90)
        assert described["HyperParameterTuningJobStatus"] == "Completed"
        counters = described["TrainingJobStatusCounters"]
        assert counters["Completed"] + counters["NonRetryableError"] == 3
        assert engine_pid(home, "resumed") is None
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
        kill_training_processes(home)


def test_a_standalone_training_job_left_running_by_a_dead_server_fails(home: Path) -> None:
    store = Workspace.open(home).store
    long_ago = time.time() - 3600
    store.create_training_job(
        name="orphan", arn="arn:aws:sagemaker:us-east-1:000000000000:training-job/orphan",
        tuning_job=None, status="InProgress", secondary_status="Training", hyperparameters={},
        created=long_ago, start_time=long_ago, notes=[], definition={},
        transitions=[{"Status": "Training", "StartTime": long_ago, "StatusMessage": "x"}],
    )
    server = start_server(home)
    try:
        described = client(server.url).describe_training_job(TrainingJobName="orphan")
    finally:
        server.stop()
    assert described["TrainingJobStatus"] == "Failed"
    assert "stopped unexpectedly" in described["FailureReason"]
    assert described["SecondaryStatusTransitions"][-1]["Status"] == "Failed"


def test_the_serve_command_hands_its_store_and_backend_to_the_engines(
    home: Path, steady_source: Path, tmp_path: Path
) -> None:
    """``tunesmith --store URL --backend NAME serve``: the server keeps its jobs in that store,
    and the engines it starts use that store and run their training jobs on that backend."""
    store_url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    port = free_port()
    server = subprocess.Popen(
        [*tunesmith_command(), "--home", str(home), "--store", store_url, "--backend", "local",
         "serve", "--port", str(port)],
        env={**os.environ, "TUNESMITH_ACCESS_KEYS": f"{KEY_ID}:{SECRET}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answering(url), timeout=60)
        sagemaker = client(url)
        sagemaker.create_hyper_parameter_tuning_job(**boto3_tuning_document(
            "elsewhere", steady_source, tmp_path / "output", max_jobs=2, parallel=1))
        engine = wait_for(lambda: Workspace.open(home, store_url).store.get_tuning_job(
            "elsewhere").engine_pid, timeout=60)
        command = psutil.Process(engine).cmdline()
        assert command[command.index("--store") + 1] == store_url, command
        assert command[command.index("--backend") + 1] == "local", command
        described = wait_for(lambda: finished(sagemaker, "elsewhere"), timeout=90)
        assert described["HyperParameterTuningJobStatus"] == "Completed"
        assert not (home / "tunesmith.db").exists()  # nothing went to the home's own store
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        kill_training_processes(home)
