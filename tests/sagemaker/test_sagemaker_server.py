"""tunesmith.sagemaker against a tunesmith server, through boto3: the same calls as embedded."""

from __future__ import annotations

import textwrap

import boto3
import pytest
from serving import KEY_ID, REGION, SECRET, start_server

from tunesmith.sagemaker import ContinuousParameter, HyperparameterTuner, Session, SKLearn

SCRIPT = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.5)
args, _ = parser.parse_known_args()
print(f"score: {-(args.x - 0.3) ** 2:.6f}", flush=True)
"""


@pytest.mark.slow
def test_tuner_through_a_server(tmp_path) -> None:
    server = start_server(tmp_path / "server-home")
    try:
        source, data, output = tmp_path / "src", tmp_path / "data", tmp_path / "output"
        for folder in (source, data, output):
            folder.mkdir()
        (source / "train.py").write_text(textwrap.dedent(SCRIPT))
        (data / "data.csv").write_text("1\n")
        boto_session = boto3.Session(
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name=REGION
        )
        session = Session(boto_session=boto_session, endpoint_url=server.url)
        estimator = SKLearn(
            "train.py", source_dir=str(source), role="local", instance_type="ml.m5.large",
            instance_count=1, framework_version="1.2-1", output_path=str(output),
            sagemaker_session=session,
            metric_definitions=[{"Name": "score", "Regex": r"score:\s*(-?[0-9.]+)"}],
        )
        tuner = HyperparameterTuner(
            estimator, "score", {"x": ContinuousParameter(0.0, 1.0)},
            strategy="Random", max_jobs=3, max_parallel_jobs=2, base_tuning_job_name="remote",
        )
        tuner.fit({"train": str(data)}, wait=False)
        tuner.wait()
        description = tuner.describe()
        assert description["HyperParameterTuningJobStatus"] == "Completed"
        assert description["TrainingJobStatusCounters"]["Completed"] == 3
        frame = tuner.analytics().dataframe()
        assert len(frame) == 3 and frame["FinalObjectiveValue"].notna().all()
        assert tuner.best_training_job() == description["BestTrainingJob"]["TrainingJobName"]
    finally:
        server.stop()
