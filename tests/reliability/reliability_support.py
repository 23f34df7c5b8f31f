"""Shared pieces of the reliability tests: engines to kill, process checks, the figures file."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import psutil

import tunesmith.runner.local
import tunesmith.strategies.random  # noqa: F401
from tunesmith import service
from tunesmith.launch import run_engine
from tunesmith.store import Store

FIGURES_ENV = "TUNESMITH_RELIABILITY_FIGURES"
"""Where the figures go as JSON (``make reliability``: benchmarks/results/reliability.json);
unset, they are only printed, so that a test run leaves the working tree as it was."""

RECORDS_ITS_RUNS = """
import os, sys, time
with open(os.environ["RUNS_FILE"], "a") as runs:
    runs.write(f"{{os.environ['TRAINING_JOB_NAME']}} {{os.getpid()}}\\n")
x = float(sys.argv[sys.argv.index("--x") + 1])
for step in range({steps}):
    time.sleep({pause})
    print(f"score: {{x + step:.6f}}", flush=True)
"""
"""A training script that notes each run of itself and prints ``steps`` objective values."""


FORKED: list[int] = []
"""Engines forked by the running test, killed after it whatever its outcome."""


def fork_engine(store_url: str, name: str, home: Path) -> int:
    """An engine process for the tuning job, resumed the way ``tunesmith resume`` does it (the
    job must be resumable), forked from this process so it starts in milliseconds."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setsid()
            store = Store(store_url)
            service.check_resumable(store, name)
            run_engine(store, name, home)
            code = 0
        finally:
            os._exit(code)
    FORKED.append(pid)
    return pid


def kill_and_reap(pid: int) -> None:
    """kill -9 an engine process of ours and wait until it is gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def training_processes(prefix: str) -> list[psutil.Process]:
    """Live processes of training jobs whose names start with ``prefix``: named so in their
    environment, or writing into a training job's capture file (a script forked from the warm
    pool shows its fork server's environment)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            name = process.environ().get("TRAINING_JOB_NAME", "") or _capturing(process.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if name.startswith(prefix):
            found.append(process)
    return found


def _capturing(pid: int) -> str:
    """The training job whose capture file (``<job folder>/runner/output``) is the process's
    standard output, or ""."""
    try:
        output = Path(os.readlink(f"/proc/{pid}/fd/1"))
    except OSError:
        return ""
    return output.parent.parent.name if output.parts[-2:] == ("runner", "output") else ""


def fork_servers(folder: Path) -> list[psutil.Process]:
    """Live fork servers of the warm pool started for training jobs under ``folder``."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and any(
                    a.endswith("fork_server.py") for a in process.cmdline()) \
                    and Path(process.cwd()).is_relative_to(folder):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def runs_per_training_job(runs_file: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    if runs_file.exists():
        for line in runs_file.read_text().splitlines():
            name = line.split()[0]
            counts[name] = counts.get(name, 0) + 1
    return counts


def record_figures(section: str, figures: dict[str, Any]) -> None:
    """Print figures and, with ``TUNESMITH_RELIABILITY_FIGURES`` set, keep them in that JSON
    file under ``section`` (the other sections are kept)."""
    print(f"{section}: {json.dumps(figures, sort_keys=True)}")
    if not os.environ.get(FIGURES_ENV):
        return
    path = Path(os.environ[FIGURES_ENV])
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        document = {}
    document[section] = figures
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
