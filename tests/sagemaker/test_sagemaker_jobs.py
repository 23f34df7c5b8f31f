"""tunesmith.sagemaker against real tuning and training jobs in an embedded tunesmith home.

Only the embedded session is exercised here; ``Session(endpoint_url=...)`` builds a boto3
client for a tunesmith server and is covered with the server.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from helpers import wait_for
from tunesmith.api import Workspace
from tunesmith.model.errors import ValidationException
from tunesmith.sagemaker import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    Session,
    SKLearn,
    TrainingJobAnalytics,
    UnexpectedStatusException,
)
from tunesmith.sagemaker.analytics import RESULT_COLUMNS, training_jobs_dataframe

SCRIPT = """
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.5)
parser.add_argument("--kind", type=str, default="a")
parser.add_argument("--n", type=int, default=1)
parser.add_argument("--sleep", type=float, default=0.0)
args, _ = parser.parse_known_args()
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data.csv")).read().split()
print(f"args: x={args.x} kind={args.kind} n={args.n} rows={len(rows)}", flush=True)
import time
time.sleep(args.sleep)
bonus = {"a": 0.0, "b": 0.5}[args.kind]
for step in range(3):
    print(f"score: {-(args.x - 0.3) ** 2 + bonus + 0.1 * step:.6f}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as out:
    out.write(str(args.x))
"""
METRICS = [{"Name": "score", "Regex": r"score:\s*(-?[0-9.]+)"}]
RANGES = {"x": ContinuousParameter(0.0, 1.0), "kind": CategoricalParameter(["a", "b"])}


def workspace(root: Path, script: str = SCRIPT) -> tuple[Session, Path, Path]:
    """A session on a fresh home, a source folder holding ``script`` and a data folder."""
    source, data = root / "src", root / "data"
    source.mkdir(parents=True)
    data.mkdir()
    (source / "train.py").write_text(textwrap.dedent(script))
    (data / "data.csv").write_text("1\n2\n3\n")
    return Session(home=root / "home"), source, data


def estimator(session: Session, source: Path, **hyperparameters: Any) -> SKLearn:
    return SKLearn(
        "train.py",
        source_dir=str(source),
        instance_type="ml.m5.large",
        framework_version="1.2-1",
        metric_definitions=METRICS,
        hyperparameters={"n": 2, **hyperparameters},
        sagemaker_session=session,
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[HyperparameterTuner, Session]:
    """A Random tuner whose three training jobs have run, two at a time."""
    session, source, data = workspace(tmp_path_factory.mktemp("finished"))
    tuner = HyperparameterTuner(
        estimator(session, source),
        "score",
        RANGES,
        strategy="Random",
        max_jobs=3,
        max_parallel_jobs=2,
        random_seed=11,
        base_tuning_job_name="random",
    )
    tuner.fit({"train": str(data)}, wait=True)
    return tuner, session


@pytest.mark.slow
def test_tuner_runs_its_training_jobs_with_decoded_hyperparameters(finished: Any) -> None:
    tuner, session = finished
    description = tuner.describe()
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"]["Completed"] == 3
    best = session.describe_training_job(tuner.best_training_job())
    assert best["TrainingJobStatus"] == "Completed"
    log = session.training_log(best["TrainingJobName"])
    assert log is not None
    printed = log.read_text()
    kind = best["HyperParameters"]["kind"]
    assert kind in ('"a"', '"b"')  # sent JSON-quoted, as framework estimators send them
    assert f"kind={kind.strip(chr(34))} n=2 rows=3" in printed  # ...and received decoded


@pytest.mark.slow
def test_attach_on_a_finished_tuning_job(finished: Any) -> None:
    tuner, session = finished
    name = tuner.latest_tuning_job.name
    attached = HyperparameterTuner.attach(name, sagemaker_session=session)
    assert isinstance(attached.estimator, SKLearn)
    assert attached.latest_tuning_job.name == name
    assert attached.base_tuning_job_name == "random"
    assert attached.describe()["HyperParameterTuningJobStatus"] == "Completed"
    assert attached.hyperparameter_ranges() == tuner.hyperparameter_ranges()
    assert (attached.strategy, attached.max_jobs, attached.random_seed) == ("Random", 3, 11)
    attached.wait()  # returns at once: the job has ended
    assert attached.best_training_job() == tuner.best_training_job()
    best = attached.best_estimator()
    assert best.latest_training_job is not None
    assert best.latest_training_job.name == tuner.best_training_job()
    assert best._hyperparameters["n"] == 2
    assert 0.0 <= best._hyperparameters["x"] <= 1.0
    assert best._hyperparameters["kind"] in ("a", "b")
    assert best.model_data.endswith("model.tar.gz")
    with pytest.raises(ValidationException, match="already ended"):
        attached.stop_tuning_job()


@pytest.mark.slow
def test_analytics_of_a_tuning_job(finished: Any) -> None:
    tuner, session = finished
    frame = tuner.analytics().dataframe()
    assert sorted(frame.columns[:2]) == ["kind", "x"]
    assert list(frame.columns[2:]) == list(RESULT_COLUMNS)
    assert len(frame) == 3
    assert set(frame["TrainingJobStatus"]) == {"Completed"}
    assert set(frame["TuningJobName"]) == {tuner.latest_tuning_job.name}
    assert set(frame["kind"]) <= {"a", "b"}
    for _, row in frame.iterrows():
        # The final objective is the last score printed: step 2 adds 0.2.
        expected = -((row["x"] - 0.3) ** 2) + {"a": 0.0, "b": 0.5}[row["kind"]] + 0.2
        assert row["FinalObjectiveValue"] == pytest.approx(expected, abs=1e-5)
        assert row["TrainingElapsedTimeSeconds"] >= 0
    store = Workspace.open(session.home).store
    shared = training_jobs_dataframe(store, tuner.latest_tuning_job.name)
    assert shared.equals(frame)


@pytest.mark.slow
def test_training_job_analytics_has_every_printed_value(finished: Any) -> None:
    tuner, session = finished
    frame = TrainingJobAnalytics(tuner.best_training_job(), sagemaker_session=session).dataframe()
    assert list(frame.columns) == ["timestamp", "metric_name", "value"]
    assert list(frame["metric_name"]) == ["score"] * 3
    assert frame["timestamp"].iloc[0] == 0 and frame["timestamp"].is_monotonic_increasing
    steps = frame["value"].diff().dropna()
    assert steps.tolist() == pytest.approx([0.1, 0.1], abs=1e-5)
    only_other = TrainingJobAnalytics(
        tuner.best_training_job(), metric_names=["loss"], sagemaker_session=session
    ).dataframe()
    assert only_other.empty and list(only_other.columns) == ["timestamp", "metric_name", "value"]


@pytest.mark.slow
def test_stopping_a_running_tuning_job(tmp_path: Path) -> None:
    session, source, data = workspace(tmp_path)
    tuner = HyperparameterTuner(
        estimator(session, source, sleep=60),
        "score",
        RANGES,
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=1,
    )
    tuner.fit({"train": str(data)}, wait=False)
    wait_for(lambda: tuner.describe()["TrainingJobStatusCounters"]["InProgress"] == 1)
    tuner.stop_tuning_job()
    tuner.wait()  # Stopped is an accepted end, as in the SDK
    description = tuner.describe()
    assert description["HyperParameterTuningJobStatus"] == "Stopped"
    assert description["TrainingJobStatusCounters"]["Completed"] == 0


@pytest.mark.slow
def test_estimator_fit_runs_one_training_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session, source, data = workspace(tmp_path)
    trained = estimator(session, source, x=0.25, kind="b")
    trained.fit({"train": str(data)}, wait=True, logs=True)
    assert "args: x=0.25 kind=b n=2 rows=3" in capsys.readouterr().out
    assert trained.latest_training_job is not None
    description = trained.latest_training_job.describe()
    assert description["TrainingJobStatus"] == "Completed"
    assert description["HyperParameters"]["kind"] == '"b"'
    assert description["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert trained.model_data.endswith("model.tar.gz")
    metrics = trained.training_job_analytics.dataframe()
    assert metrics["value"].iloc[-1] == pytest.approx(-((0.25 - 0.3) ** 2) + 0.5 + 0.2, abs=1e-5)


@pytest.mark.slow
def test_a_failed_training_job_raises_with_its_reason(tmp_path: Path) -> None:
    session, source, data = workspace(tmp_path, "raise SystemExit('the data is broken')\n")
    broken = estimator(session, source)
    with pytest.raises(UnexpectedStatusException, match=r"Failed.*the data is broken") as error:
        broken.fit({"train": str(data)}, logs=False)
    assert error.value.actual_status == "Failed"


@pytest.mark.slow
def test_stopping_a_training_job_started_without_waiting(tmp_path: Path) -> None:
    session, source, data = workspace(tmp_path)
    trained = estimator(session, source, sleep=60)
    trained.fit({"train": str(data)}, wait=False)
    job = trained.latest_training_job
    assert job is not None
    wait_for(
        lambda: (
            job.describe()["TrainingJobStatus"] == "InProgress"
            and "args:"
            in (
                session.training_log(job.name).read_text()
                if session.training_log(job.name).exists()
                else ""
            )
        )
    )
    job.stop()
    assert job.wait(logs=False)["TrainingJobStatus"] == "Stopped"
