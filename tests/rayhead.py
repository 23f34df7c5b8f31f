"""A throwaway local Ray cluster for tests: ``ray start --head --block`` on loopback with free
ports and a temporary folder of its own, stopped afterwards with every process it started."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psutil

AUTHLESS = {"RAY_AUTH_MODE": "disabled"}
"""A throwaway loopback cluster needs no token, whatever token files the machine holds; its
drivers must say the same."""


def _free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def _ray_command() -> str:
    beside = Path(sys.executable).parent / "ray"
    return str(beside) if beside.exists() else "ray"


@contextmanager
def ray_head(num_cpus: int = 2, num_gpus: int = 0, start_timeout: float = 90.0) -> Iterator[str]:
    """Start a Ray head node declaring ``num_gpus`` GPUs (Ray only counts them: none need
    exist); yields its address (``127.0.0.1:PORT``)."""
    folder = Path(tempfile.mkdtemp(prefix="ts-ray-"))
    gcs, client, agent, agent_grpc, runtime_env, metrics = _free_ports(6)
    command = [
        _ray_command(), "start", "--head", "--block", "--disable-usage-stats",
        "--node-ip-address=127.0.0.1", f"--port={gcs}", f"--num-cpus={num_cpus}",
        f"--num-gpus={num_gpus}", "--include-dashboard=false", f"--temp-dir={folder}",
        f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={agent}",
        f"--dashboard-agent-grpc-port={agent_grpc}", f"--runtime-env-agent-port={runtime_env}",
        f"--metrics-export-port={metrics}", "--object-store-memory=100000000",
    ]
    with open(folder / "head.log", "wb") as out:
        head = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, **AUTHLESS})
    try:
        _wait_until_listening(head, gcs, start_timeout, folder / "head.log")
        yield f"127.0.0.1:{gcs}"
    finally:
        _stop(head)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_listening(head: subprocess.Popen, port: int, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start failed:\n{log.read_text(errors='replace')[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the Ray head did not listen on port {port} within {timeout} s")


def _stop(head: subprocess.Popen) -> None:
    """SIGTERM to the blocking ``ray start`` (it stops what it started), then make sure: every
    process it started is gone, by id."""
    try:
        started = psutil.Process(head.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        started = []
    head.send_signal(signal.SIGTERM)
    try:
        head.wait(30)
    except subprocess.TimeoutExpired:
        head.kill()
        head.wait(10)
    _, alive = psutil.wait_procs(started, timeout=15)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
