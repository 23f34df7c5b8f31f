"""Every operation of the server through the real boto3 client: responses, paginators, waiters
and error codes."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from server_helpers import raw_request, store_snapshot, training_job_request
from serving import KEY_ID, SECRET, RunningServer, boto3_tuning_document

from helpers import wait_for
from tunesmith import service
from tunesmith.api import Workspace, load_request
from tunesmith.training import tuning_job_directory

SLOW = """
import time
print("score: 0.5", flush=True)
time.sleep(120)
"""

TERMINAL = ("Completed", "Stopped", "Failed")


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"]


def tuning_status(sagemaker: Any, name: str) -> str:
    return sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )["HyperParameterTuningJobStatus"]


@pytest.fixture(scope="module")
def slow_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("slow")
    (folder / "train.py").write_text(textwrap.dedent(SLOW))
    return folder


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("output")


@pytest.mark.slow
def test_a_tuning_job_runs_to_its_end_and_is_described_as_boto3_expects(
    sagemaker: Any, source: Path, output: Path
) -> None:
    document = boto3_tuning_document("quadratic", source, output, max_jobs=4, parallel=2)
    document["Tags"] = [{"Key": "team", "Value": "search"}]
    arn = sagemaker.create_hyper_parameter_tuning_job(**document)["HyperParameterTuningJobArn"]
    assert arn.endswith(":hyper-parameter-tuning-job/quadratic")
    wait_for(lambda: tuning_status(sagemaker, "quadratic") in TERMINAL, timeout=90)

    described = sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="quadratic")
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 4
    assert described["ObjectiveStatusCounters"]["Succeeded"] == 4
    assert isinstance(described["CreationTime"], datetime)
    assert described["HyperParameterTuningEndTime"] >= described["CreationTime"]
    best = described["BestTrainingJob"]
    metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
    assert metric["MetricName"] == "score" and isinstance(metric["Value"], float)
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "search"}]

    listed = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="quadratic", SortBy="FinalObjectiveMetricValue",
        SortOrder="Descending",
    )["TrainingJobSummaries"]
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in listed]
    assert values == sorted(values, reverse=True) and values[0] == metric["Value"]

    paginator = sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    pages = list(paginator.paginate(HyperParameterTuningJobName="quadratic",
                                    PaginationConfig={"PageSize": 1}))
    assert len(pages) == 4
    names = [s["TrainingJobName"] for page in pages for s in page["TrainingJobSummaries"]]
    assert sorted(names) == names and len(set(names)) == 4
    completed = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="quadratic", StatusEquals="Completed")["TrainingJobSummaries"]
    assert len(completed) == 4

    training = sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert training["TrainingJobStatus"] == "Completed"
    assert training["TuningJobArn"] == arn
    assert training["HyperParameters"]["_tuning_objective_metric"] == "score"
    assert {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]} == {
        "score": metric["Value"]}
    assert [t["Status"] for t in training["SecondaryStatusTransitions"]][-1] == "Completed"

    everything = sagemaker.list_training_jobs(NameContains="quadratic")["TrainingJobSummaries"]
    assert {s["TrainingJobName"] for s in everything} == set(names)

    assert error_code(sagemaker.create_hyper_parameter_tuning_job, **document) == "ResourceInUse"


def test_an_invalid_tuning_job_is_a_validation_error_and_changes_nothing(
    sagemaker: Any, running: RunningServer, source: Path, output: Path
) -> None:
    document = boto3_tuning_document(
        "backwards", source, output,
        ranges={"ContinuousParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "0"}]},
    )
    before = store_snapshot(running.home)
    with pytest.raises(ClientError) as caught:
        sagemaker.create_hyper_parameter_tuning_job(**document)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "MinValue" in error["Message"] or "MaxValue" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert store_snapshot(running.home) == before


@pytest.mark.slow
def test_stop_then_delete_a_tuning_job(
    sagemaker: Any, running: RunningServer, slow_source: Path, output: Path
) -> None:
    document = boto3_tuning_document("stopme", slow_source, output, max_jobs=3, parallel=1)
    sagemaker.create_hyper_parameter_tuning_job(**document)
    wait_for(lambda: sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="stopme", StatusEquals="InProgress")["TrainingJobSummaries"],
        timeout=60)
    assert error_code(sagemaker.delete_hyper_parameter_tuning_job,
                      HyperParameterTuningJobName="stopme") == "ResourceInUse"

    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stopme")
    assert tuning_status(sagemaker, "stopme") in ("Stopping", "Stopped")
    wait_for(lambda: tuning_status(sagemaker, "stopme") == "Stopped", timeout=60)
    summaries = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="stopme")["TrainingJobSummaries"]
    assert [s["TrainingJobStatus"] for s in summaries] == ["Stopped"]
    assert error_code(sagemaker.stop_hyper_parameter_tuning_job,
                      HyperParameterTuningJobName="stopme") == "ValidationException"

    assert tuning_job_directory(running.home, "stopme").is_dir()
    sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="stopme")
    assert not tuning_job_directory(running.home, "stopme").exists()  # its files go with it
    assert error_code(sagemaker.describe_hyper_parameter_tuning_job,
                      HyperParameterTuningJobName="stopme") == "ResourceNotFound"
    assert error_code(sagemaker.delete_hyper_parameter_tuning_job,
                      HyperParameterTuningJobName="stopme") == "ResourceNotFound"


@pytest.fixture(scope="module")
def listed_jobs(running: RunningServer, source: Path, output: Path) -> list[str]:
    """Five finished tuning jobs written straight into the store, a day apart."""
    store = Workspace.open(running.home).store
    names = [f"listed-{i}" for i in range(5)]
    start = time.time() - 10 * 86400
    for i, name in enumerate(names):
        service.create_tuning_job_record(
            store, load_request(boto3_tuning_document(name, source, output))
        )
        moment = start + i * 86400
        store.update_tuning_job(
            name, created=moment, last_modified=moment + 3600, end_time=moment + 3600,
            status="Failed" if i == 4 else "Completed",
        )
    return names


def test_listing_tuning_jobs_filters_sorts_and_pages(sagemaker: Any, listed_jobs: list[str]
                                                     ) -> None:
    def names(**options: Any) -> list[str]:
        response = sagemaker.list_hyper_parameter_tuning_jobs(**{"NameContains": "listed",
                                                                   **options})
        summaries = response["HyperParameterTuningJobSummaries"]
        return [s["HyperParameterTuningJobName"] for s in summaries]

    assert names() == listed_jobs
    assert names(SortBy="CreationTime", SortOrder="Descending") == listed_jobs[::-1]
    assert names(StatusEquals="Failed") == ["listed-4"]
    assert names(NameContains="LISTED-2") == ["listed-2"]
    start = time.time() - 10 * 86400
    middle = datetime.fromtimestamp(start + 2.5 * 86400, UTC)
    assert names(CreationTimeAfter=middle, SortOrder="Ascending") == listed_jobs[3:]
    assert names(CreationTimeBefore=middle, SortOrder="Ascending") == listed_jobs[:3]
    assert names(LastModifiedTimeAfter=middle + timedelta(hours=2),
                 SortOrder="Ascending") == listed_jobs[3:]
    assert names(LastModifiedTimeBefore=middle, SortOrder="Ascending") == listed_jobs[:3]

    first = sagemaker.list_hyper_parameter_tuning_jobs(NameContains="listed", MaxResults=2,
                                                       SortBy="Name", SortOrder="Ascending")
    assert [s["HyperParameterTuningJobName"] for s in first["HyperParameterTuningJobSummaries"]
            ] == listed_jobs[:2]
    second = sagemaker.list_hyper_parameter_tuning_jobs(
        NameContains="listed", MaxResults=2, SortBy="Name", SortOrder="Ascending",
        NextToken=first["NextToken"])
    assert [s["HyperParameterTuningJobName"] for s in second["HyperParameterTuningJobSummaries"]
            ] == listed_jobs[2:4]

    paginator = sagemaker.get_paginator("list_hyper_parameter_tuning_jobs")
    pages = list(paginator.paginate(NameContains="listed", SortBy="Name", SortOrder="Ascending",
                                    PaginationConfig={"PageSize": 2}))
    assert [len(p["HyperParameterTuningJobSummaries"]) for p in pages] == [2, 2, 1]
    summary = pages[0]["HyperParameterTuningJobSummaries"][0]
    assert summary["Strategy"] == "Random"
    assert summary["HyperParameterTuningJobStatus"] == "Completed"
    assert summary["ResourceLimits"]["MaxParallelTrainingJobs"] == 2

    assert error_code(sagemaker.list_hyper_parameter_tuning_jobs,
                      SortBy="Size") == "ValidationException"
    assert error_code(sagemaker.list_hyper_parameter_tuning_jobs,
                      NextToken="not-a-token") == "ValidationException"


@pytest.mark.slow
def test_a_standalone_training_job_runs_and_the_waiter_sees_it_end(
    sagemaker: Any, source: Path, output: Path
) -> None:
    request = training_job_request("single", source, output, x="0.3", n="1")
    request["Tags"] = [{"Key": "kind", "Value": "single"}]
    arn = sagemaker.create_training_job(**request)["TrainingJobArn"]
    assert arn.endswith(":training-job/single")
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="single", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})

    described = sagemaker.describe_training_job(TrainingJobName="single")
    assert described["TrainingJobStatus"] == "Completed"
    assert "TuningJobArn" not in described
    assert described["HyperParameters"]["x"] == "0.3"
    assert described["FinalMetricDataList"][0]["MetricName"] == "score"
    assert described["FinalMetricDataList"][0]["Value"] == pytest.approx(-0.01)
    assert described["TrainingEndTime"] >= described["TrainingStartTime"]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "kind", "Value": "single"}]

    summaries = sagemaker.list_training_jobs(NameContains="single")["TrainingJobSummaries"]
    assert [(s["TrainingJobName"], s["TrainingJobStatus"]) for s in summaries] == [
        ("single", "Completed")]
    assert error_code(sagemaker.create_training_job, **request) == "ResourceInUse"
    assert error_code(sagemaker.stop_training_job,
                      TrainingJobName="single") == "ValidationException"


@pytest.mark.slow
def test_stop_a_standalone_training_job(sagemaker: Any, slow_source: Path, output: Path) -> None:
    sagemaker.create_training_job(**training_job_request("sleeper", slow_source, output))
    wait_for(lambda: "FinalMetricDataList" in sagemaker.describe_training_job(
        TrainingJobName="sleeper"), timeout=30)
    listed = sagemaker.list_training_jobs(StatusEquals="InProgress")["TrainingJobSummaries"]
    assert "sleeper" in [s["TrainingJobName"] for s in listed]
    sagemaker.stop_training_job(TrainingJobName="sleeper")
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="sleeper", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    described = sagemaker.describe_training_job(TrainingJobName="sleeper")
    assert described["TrainingJobStatus"] == "Stopped"
    assert described["FinalMetricDataList"][0]["Value"] == 0.5


def test_a_training_job_the_server_cannot_run_is_refused(
    sagemaker: Any, running: RunningServer, source: Path, output: Path
) -> None:
    before = store_snapshot(running.home)
    missing = training_job_request("missing", source, output)
    missing["HyperParameters"]["sagemaker_program"] = "absent.py"
    assert error_code(sagemaker.create_training_job, **missing) == "ValidationException"
    remote = training_job_request("remote", source, output)
    remote["InputDataConfig"] = [{"ChannelName": "train", "DataSource": {
        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train"}}}]
    assert error_code(sagemaker.create_training_job, **remote) == "ValidationException"
    assert store_snapshot(running.home) == before


def test_list_training_jobs_pages_through_every_training_job(
    sagemaker: Any, running: RunningServer, listed_jobs: list[str]
) -> None:
    store = Workspace.open(running.home).store
    now = time.time()
    names = [f"paged-{i:02d}" for i in range(12)]
    for i, name in enumerate(names):
        store.create_training_job(
            name=name, arn=f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}",
            tuning_job=listed_jobs[0], status="Completed", secondary_status="Completed",
            hyperparameters={}, created=now - 100 + i, start_time=now - 100 + i,
            end_time=now - 50 + i, notes=[], transitions=[],
        )
    first = sagemaker.list_training_jobs(NameContains="paged")
    assert [s["TrainingJobName"] for s in first["TrainingJobSummaries"]] == names[:10]
    assert "NextToken" in first
    everything = sagemaker.get_paginator("list_training_jobs").paginate(NameContains="paged")
    assert [s["TrainingJobName"] for page in everything
            for s in page["TrainingJobSummaries"]] == names
    pages = list(sagemaker.get_paginator("list_training_jobs").paginate(
        NameContains="paged", SortBy="Name", SortOrder="Descending",
        PaginationConfig={"PageSize": 5}))
    assert [len(p["TrainingJobSummaries"]) for p in pages] == [5, 5, 2]
    assert [s["TrainingJobName"] for p in pages for s in p["TrainingJobSummaries"]
            ] == names[::-1]
    after = datetime.fromtimestamp(now - 90.5, UTC)
    recent = sagemaker.list_training_jobs(NameContains="paged", CreationTimeAfter=after,
                                          SortBy="CreationTime", SortOrder="Ascending")
    assert [s["TrainingJobName"] for s in recent["TrainingJobSummaries"]] == names[10:]
    summary = recent["TrainingJobSummaries"][0]
    assert summary["TrainingJobStatus"] == "Completed"
    assert isinstance(summary["TrainingEndTime"], datetime)
    assert sagemaker.list_training_jobs(NameContains="paged", StatusEquals="Failed"
                                        )["TrainingJobSummaries"] == []


def test_tags_are_added_listed_in_pages_and_deleted(sagemaker: Any, listed_jobs: list[str]
                                                    ) -> None:
    arn = sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=listed_jobs[1])["HyperParameterTuningJobArn"]
    tags = [{"Key": f"key-{i:02d}", "Value": f"value {i}"} for i in range(60)]
    assert sagemaker.add_tags(ResourceArn=arn, Tags=tags[:50])["Tags"] == tags[:50]
    sagemaker.add_tags(ResourceArn=arn, Tags=tags[50:])
    pages = list(sagemaker.get_paginator("list_tags").paginate(
        ResourceArn=arn, PaginationConfig={"PageSize": 50}))
    assert [len(p["Tags"]) for p in pages] == [50, 10]
    assert [t for p in pages for t in p["Tags"]] == tags
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=[t["Key"] for t in tags[1:50]])
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=[t["Key"] for t in tags[50:]])
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == tags[:1]

    unknown = "arn:aws:sagemaker:us-east-1:000000000000:training-job/nothing-here"
    assert error_code(sagemaker.add_tags, ResourceArn=unknown, Tags=tags[:1]) == "ResourceNotFound"
    assert error_code(sagemaker.list_tags, ResourceArn=unknown) == "ResourceNotFound"
    assert error_code(sagemaker.list_tags, ResourceArn="arn:nonsense") == "ValidationException"


def test_missing_resources_are_resource_not_found(sagemaker: Any) -> None:
    for call, kwargs in [
        (sagemaker.describe_hyper_parameter_tuning_job, {"HyperParameterTuningJobName": "nope"}),
        (sagemaker.stop_hyper_parameter_tuning_job, {"HyperParameterTuningJobName": "nope"}),
        (sagemaker.list_training_jobs_for_hyper_parameter_tuning_job,
         {"HyperParameterTuningJobName": "nope"}),
        (sagemaker.describe_training_job, {"TrainingJobName": "nope"}),
        (sagemaker.stop_training_job, {"TrainingJobName": "nope"}),
    ]:
        assert error_code(call, **kwargs) == "ResourceNotFound", call


def test_protocol_errors_answer_in_the_aws_shape(running: RunningServer) -> None:
    status, body = raw_request(running.url, "DescribeHyperParameterTuningJob", b"{not json")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = raw_request(running.url, "DescribeHyperParameterTuningJob",
                               json.dumps({"HyperParameterTuningJobName": 7}).encode())
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = raw_request(running.url, "DescribeHyperParameterTuningJob",
                               json.dumps({"HyperParameterTuningJobName": "bad_name!"}).encode())
    assert (status, body["__type"]) == (400, "ValidationException")
    assert "HyperParameterTuningJobName" in body["message"]
    status, body = raw_request(running.url, "DescribeHyperParameterTuningJob", b"{}")
    assert (status, body["__type"]) == (400, "ValidationException")
    assert "Member must not be null" in body["message"]
    status, body = raw_request(running.url, "CreateEndpoint", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = raw_request(running.url, None, b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = raw_request(running.url, "ListTrainingJobs",
                               b'{"NextToken": "' + b"x" * (2 << 20) + b'"}')
    assert (status, body["__type"]) == (413, "ValidationException")
    status, body = raw_request(running.url, "ListTrainingJobs", b'{"MaxResults": NaN}')
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = raw_request(running.url, "ListTags",
                               b'{"ResourceArn": "\\ud800"}')
    assert (status, body["__type"]) == (400, "SerializationException")


def test_plain_boto3_finds_the_server_through_the_environment(
    running: RunningServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", running.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    sagemaker = boto3.client("sagemaker")
    assert sagemaker.meta.endpoint_url == running.url
    assert "TrainingJobSummaries" in sagemaker.list_training_jobs(MaxResults=1)
