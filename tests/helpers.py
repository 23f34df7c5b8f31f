"""Helpers for tests: tuning job documents, waiting on conditions, process trees."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

QUADRATIC = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.0)
parser.add_argument("--n", type=int, default=1)
parser.add_argument("--kind", type=str, default="a")
args, _ = parser.parse_known_args()
bonus = {"a": 0.0, "b": 0.5, "c": 1.0}.get(args.kind, 0.0)
print(f"score: {-(args.x - 0.3) ** 2 - 0.01 * args.n + bonus:.6f}", flush=True)
"""


def tuning_document(
    name: str,
    source_dir: Path,
    *,
    program: str = "train.py",
    strategy: str = "Random",
    max_jobs: int | None = 4,
    parallel: int = 2,
    ranges: dict[str, Any] | None = None,
    objective: str = "score",
    objective_type: str = "Maximize",
    metric_definitions: list[dict[str, str]] | None = None,
    seed: int | None = 7,
    **config: Any,
) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request around a script in ``source_dir``."""
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    limits.update(config.pop("ResourceLimits", {}))
    job_config: dict[str, Any] = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": objective_type, "MetricName": objective},
        "ResourceLimits": limits,
        "ParameterRanges": ranges
        or {
            "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}],
            "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "5"}],
        },
        **config,
    }
    if seed is not None:
        job_config["RandomSeed"] = seed
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": job_config,
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": program,
                "sagemaker_submit_directory": str(source_dir),
            },
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "MetricDefinitions": metric_definitions
                or [{"Name": "score", "Regex": r"score:\s*(-?[0-9.]+)"}],
            },
        },
    }


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def process_running(pid: int) -> bool:
    """Whether a process lives (a zombie, dead but not yet reaped, does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def descendants_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def tunesmith_command() -> list[str]:
    return [sys.executable, "-m", "tunesmith.cli"]


def env_with(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}
