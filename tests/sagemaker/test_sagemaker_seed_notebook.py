"""The seed's notebook, run with the SDK imports changed and small budgets; its ``.ipynb`` twin."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tunesmith import api

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def script_cells(source: str) -> list[tuple[str, str]]:
    """``(kind, text)`` of each ``# %%`` cell of a percent-format script."""
    cells = []
    for block in re.split(r"^# %%", source, flags=re.M)[1:]:
        header, _, body = block.partition("\n")
        body = body.strip("\n")
        if header.strip() == "[markdown]":
            body = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#")
                for line in body.splitlines()
            )
            cells.append(("markdown", body))
        else:
            cells.append(("code", body))
    return cells


def test_the_notebook_is_the_scripts_twin() -> None:
    notebook = json.loads((EXAMPLES / "seed_notebook.ipynb").read_text())
    cells = [(cell["cell_type"], "".join(cell["source"])) for cell in notebook["cells"]]
    assert cells == script_cells((EXAMPLES / "seed_notebook.py").read_text())


def test_the_notebook_changes_only_the_imports() -> None:
    source = (EXAMPLES / "seed_notebook.py").read_text()
    assert not re.search(r"^\s*(import|from) sagemaker\b", source, flags=re.M)
    for call in (
        'estimator.fit({"train": s3_data_url}, wait=True)',
        "random_tuner = HyperparameterTuner(**tuner_parameters)",
        'random_tuner.fit({"train": s3_data_url}, wait=False)',
        'bayesian_tuner.fit({"train": s3_data_url}, wait=False)',
        "warm_start_type=WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM",
        "visualize_tuning_job([random_tuner, bayesian_tuner], advanced=True, trials_only=True)",
    ):
        assert call in source, call


@pytest.mark.slow
def test_the_seed_notebook_runs_locally_with_small_budgets(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "seed_notebook.py", tmp_path / "seed_notebook.py")
    (tmp_path / "digits").mkdir()
    shutil.copy(EXAMPLES / "digits" / "train.py", tmp_path / "digits" / "train.py")
    home = tmp_path / "home"
    env = {
        **os.environ,
        "TUNESMITH_HOME": str(home),
        "SEED_MAX_JOBS": "2",
        "SEED_MAX_PARALLEL_JOBS": "2",
    }
    env.pop("TUNESMITH_STORE", None)
    run = subprocess.run(
        [sys.executable, "seed_notebook.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "pre: " in run.stdout and "f1: " in run.stdout  # the single training job's output

    jobs = {
        s["HyperParameterTuningJobName"].split("-")[0]: s for s in api.list_tuning_jobs(home=home)
    }
    assert sorted(jobs) == ["bayesian", "random", "warmstart"]
    described = {
        base: api.describe_tuning_job(s["HyperParameterTuningJobName"], home=home)
        for base, s in jobs.items()
    }
    for description in described.values():
        assert description["HyperParameterTuningJobStatus"] == "Completed"
        assert description["TrainingJobStatusCounters"]["Completed"] == 2
    random, bayesian = described["random"], described["bayesian"]
    assert random["HyperParameterTuningJobConfig"]["Strategy"] == "Random"
    assert bayesian["HyperParameterTuningJobConfig"]["Strategy"] == "Bayesian"
    # Started with wait=False, the two ran together.
    assert bayesian["CreationTime"] < random["HyperParameterTuningEndTime"]
    parents = described["warmstart"]["WarmStartConfig"]["ParentHyperParameterTuningJobs"]
    assert {p["HyperParameterTuningJobName"] for p in parents} == {
        random["HyperParameterTuningJobName"],
        bayesian["HyperParameterTuningJobName"],
    }
    assert "warm start from" in run.stdout
